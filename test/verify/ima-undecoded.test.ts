// A binary IMA list names each entry's template, and the template hash covers the template data only: whoever
// serves the list can rename an entry's template. Renamed to a template the reader does not know, the entry's
// fields cannot be read, the list still replays to PCR 10, and the entry used to drop out of the facts: an
// allow-list and a denied list passed without ever seeing the file. Now such entries are kept as undecoded, and
// both rules fail on them. A real binary list (TSS sample) replayed against the PCR 10 it gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseImaList } from '../../src/eventlog/ima/parse.js';
import { replayIma } from '../../src/eventlog/ima/replay.js';
import { verifyLogsAgainstQuote } from '../../src/eventlog/verify-logs.js';
import { evaluatePolicy } from '../../src/policy/evaluate.js';
import { factsToJson, parseFactsJson } from '../../src/policy/evidence-json.js';
import type { ImaFacts } from '../../src/policy/evidence.js';
import { generatePolicy } from '../../src/policy/generate.js';
import { logFacts } from '../../src/verify/facts.js';
import { corpusPath } from '../helpers/paths.js';
import { input, layerPolicy, vmLayer } from '../policy/fixtures.js';
import { assertFail, assertPass } from '../policy/rule-helpers.js';

/** The binary list with entry `target`'s template renamed (its data, and so its template hash, unchanged). */
function renamed(bytes: Buffer, target: number, name: string): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  for (let i = 0; off + 28 <= bytes.length; i++) {
    const nameLen = bytes.readUInt32LE(off + 24);
    const dataLen = bytes.readUInt32LE(off + 28 + nameLen);
    const end = off + 32 + nameLen + dataLen;
    if (i !== target) parts.push(bytes.subarray(off, end));
    else {
      const head = Buffer.from(bytes.subarray(off, off + 28));
      head.writeUInt32LE(Buffer.byteLength(name, 'latin1'), 24);
      parts.push(head, Buffer.from(name, 'latin1'), bytes.subarray(off + 28 + nameLen, end));
    }
    off = end;
  }
  return Buffer.concat(parts);
}

test('a binary IMA entry renamed to an unknown template is not out of sight: allowList and denied fail on it', (t) => {
  const file = corpusPath(t, 'ima', 'tss_sml-ima-ng-sha1.bin');
  if (!file) return;
  const original = readFileSync(file);
  const quoted = new Map([['sha1' as const, replayIma(parseImaList(original), 'sha1').pcrs]]);
  const factsOf = (bytes: Buffer): ImaFacts => {
    const logs = verifyLogsAgainstQuote({ ima: bytes }, quoted);
    assert.equal(logs.ok, true, 'the renamed list still replays: the name is not in the template hash');
    return logFacts(logs).ima!;
  };
  const good = factsOf(original);
  const hidden = good.entries[2]!;
  assert.equal(hidden.path, '/usr/bin/sh');
  // the policy allows every other file, and denies the one renamed
  const allow: Record<string, string[]> = {};
  for (const e of good.entries) if (e !== hidden) (allow[e.path] ??= []).push(e.digest);
  const allowList = layerPolicy(`select: { position: 0 }\nima:\n  allowList: ${JSON.stringify(allow)}`);
  const denied = layerPolicy(`select: { position: 0 }\nima:\n  denied: ["${hidden.digest}"]`);
  assertFail(evaluatePolicy(allowList, input([{ ...vmLayer(), ima: good }])), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  assertFail(evaluatePolicy(denied, input([{ ...vmLayer(), ima: good }])), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');

  const ima = factsOf(renamed(original, 2, 'ima-zz'));
  assert.equal(ima.entries.some((e) => e.path === hidden.path), false);
  const layer = { ...vmLayer(), ima };
  const a = assertFail(evaluatePolicy(allowList, input([layer])), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  assert.match(a.message, /^1 entry whose file name or digest cannot be read \(first: entry 2, template "ima-zz"\)$/);
  const d = assertFail(evaluatePolicy(denied, input([layer])), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
  assert.match(d.message, /cannot be checked against the denied digests$/);
  assert.deepEqual(ima.undecoded, [{ entry: 2, template: 'ima-zz' }]);
  // a denied list the other entries do not hit still passes on the list as the kernel wrote it
  assertPass(evaluatePolicy(layerPolicy(`select: { position: 0 }\nima:\n  denied: ["${'ab'.repeat(20)}"]`), input([{ ...vmLayer(), ima: good }])), 'layer[0].ima.denied');

  // a facts file keeps them
  const back = parseFactsJson(JSON.stringify(factsToJson(input([layer]))));
  assert.deepEqual(back.layers[0]!.ima!.undecoded, [{ entry: 2, template: 'ima-zz' }]);
  assertFail(evaluatePolicy(allowList, { ...back, now: new Date() }), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');

  // policy init says that the allow-list it writes fails on this very list
  const generated = generatePolicy([layer], { name: 'g' });
  assert.match(generated.yaml, /# the reference has 1 entry whose file name or digest cannot be read \(first: entry 2, template "ima-zz"\): the allow-list fails on them/);
});
