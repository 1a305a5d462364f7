// ima.denied on real lists whose file digests are not SHA-256 content hashes though they have SHA-256's
// size: Keylime's SM3 list (ima_hash=sm3), and an ima-ngv2 list with an fs-verity digest. Neither can ever
// equal the SHA-256 of a denied file, so a SHA-256 deny list cannot check them: the rule fails rather than
// passing for want of a match. Replayed against the PCR 10 they give, as the walker hands them to the policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseImaList } from '../../src/eventlog/ima/parse.js';
import { replayIma } from '../../src/eventlog/ima/replay.js';
import { verifyLogsAgainstQuote } from '../../src/eventlog/verify-logs.js';
import { evaluatePolicy } from '../../src/policy/evaluate.js';
import { factsToJson, parseFactsJson } from '../../src/policy/evidence-json.js';
import type { ImaFacts } from '../../src/policy/evidence.js';
import { logFacts } from '../../src/verify/facts.js';
import { corpusPath } from '../helpers/paths.js';
import { input, layerPolicy, vmLayer } from '../policy/fixtures.js';
import { assertFail, assertPass } from '../policy/rule-helpers.js';

const sha = (alg: string, data: Buffer | string): Buffer => createHash(alg).update(data).digest();
const le32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** IMA facts of a list, replayed against the PCR 10 it gives in `bank`, as the walker makes them. */
function factsOf(bytes: Buffer, bank: 'sha1' | 'sha256'): ImaFacts {
  const quoted = new Map([[bank, replayIma(parseImaList(bytes), bank).pcrs]]);
  const logs = verifyLogsAgainstQuote({ ima: bytes }, quoted);
  assert.equal(logs.ok, true);
  return logFacts(logs).ima!;
}

const denied = (digests: string[]) => layerPolicy(`select: { position: 0 }\nima:\n  denied: ${JSON.stringify(digests)}`);

test('ima.denied: an SM3 list (same size as SHA-256) cannot be checked against SHA-256 digests, and fails', (t) => {
  const file = corpusPath(t, 'ima', 'keylime_ima-log-sm3_256');
  if (!file) return;
  const bytes = readFileSync(file);
  const ima = factsOf(bytes, 'sha256');
  const files = ima.entries.filter((e) => e.bootAggregate !== true);
  assert.ok(files.length > 0 && files.every((e) => e.algo === 'sm3_256' && e.digest.length === 64), JSON.stringify(files.slice(0, 2)));
  const layer = { ...vmLayer(), ima };
  // the SHA-256 of any file: it can never be an SM3 digest, so no entry could ever hit it
  const r = assertFail(evaluatePolicy(denied([sha('sha256', 'xmrig').toString('hex')]), input([layer])), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
  assert.match(r.message, new RegExp(`^${files.length} measured file\\(s\\) have a sm3_256 digest, and the denied list has no digest of that algorithm \\(only sha256\\)`));
  // a denied SHA-1 list is no better
  assertFail(evaluatePolicy(denied([sha('sha1', 'xmrig').toString('hex')]), input([layer])), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
});

test('ima.denied: an fs-verity digest (ima-ngv2 "verity:sha256:") is not the file\'s SHA-256, and fails; "ima:sha256:" is checked', () => {
  const content = 'the denied binary';
  const line = (type: string, name: string, digest: Buffer): string => {
    const dng = Buffer.concat([Buffer.from(`${type}:sha256:\0`), digest]);
    const nng = Buffer.from(`${name}\0`, 'latin1');
    const data = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng]);
    return `10 ${sha('sha1', data).toString('hex')} ima-ngv2 ${type}:sha256:${digest.toString('hex')} ${name}`;
  };
  // fs-verity's digest of the file: a hash over its descriptor, not of its content (any other value will do here)
  const verityDigest = sha('sha256', Buffer.concat([Buffer.from('fs-verity descriptor of '), Buffer.from(content)]));
  const listOf = (lines: string[]) => Buffer.from(lines.join('\n') + '\n');
  const policy = denied([sha('sha256', content).toString('hex')]);

  const verity = factsOf(listOf([line('ima', '/usr/bin/bash', sha('sha256', 'bash')), line('verity', '/usr/local/bin/xmrig', verityDigest)]), 'sha1');
  assert.deepEqual(verity.entries.map((e) => e.digestType), ['ima', 'verity']);
  const r = assertFail(evaluatePolicy(policy, input([{ ...vmLayer(), ima: verity }])), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
  assert.match(r.message, /^1 measured file\(s\) have a verity:sha256 digest, .*\(first: \/usr\/local\/bin\/xmrig\)$/);
  assert.deepEqual((r.actual as { entries: { digest: string }[] }).entries.map((e) => e.digest), [`verity:sha256:${verityDigest.toString('hex')}`]);

  // the same file measured by content: checked, and denied
  const byContent = factsOf(listOf([line('ima', '/usr/bin/bash', sha('sha256', 'bash')), line('ima', '/usr/local/bin/xmrig', sha('sha256', content))]), 'sha1');
  assertFail(evaluatePolicy(policy, input([{ ...vmLayer(), ima: byContent }])), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
  // and a list of allowed files by content passes
  const clean = factsOf(listOf([line('ima', '/usr/bin/bash', sha('sha256', 'bash'))]), 'sha1');
  assertPass(evaluatePolicy(policy, input([{ ...vmLayer(), ima: clean }])), 'layer[0].ima.denied');

  // a facts file keeps the digest type
  const back = parseFactsJson(JSON.stringify(factsToJson(input([{ ...vmLayer(), ima: verity }]))));
  assert.deepEqual(back.layers[0]!.ima!.entries.map((e) => e.digestType), ['ima', 'verity']);
  assertFail(evaluatePolicy(policy, { ...back, now: new Date() }), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
});

test('ima.denied: an fs-verity entry relabelled ima-ng (or ima-sig) keeps its digest type, and still fails', () => {
  // The template name is not in the template hash: whoever sends the list can call an ima-ngv2 entry ima-ng, whose
  // d-ng field the kernel writes as "<alg>:" only. Its "verity:sha256:" prefix still says what the digest is of.
  const content = 'the denied binary';
  const verityDigest = sha('sha256', Buffer.concat([Buffer.from('fs-verity descriptor of '), Buffer.from(content)]));
  const entry = (template: string, type: string, name: string, digest: Buffer, sig?: Buffer): string => {
    const dng = Buffer.concat([Buffer.from(`${type}:sha256:\0`), digest]);
    const nng = Buffer.from(`${name}\0`, 'latin1');
    const parts = [le32(dng.length), dng, le32(nng.length), nng];
    if (sig) parts.push(le32(sig.length), sig);
    const data = Buffer.concat(parts);
    return `10 ${sha('sha1', data).toString('hex')} ${template} ${type}:sha256:${digest.toString('hex')} ${name}${sig ? ` ${sig.toString('hex')}` : ''}`;
  };
  const listOf = (lines: string[]) => Buffer.from(lines.join('\n') + '\n');
  const policy = denied([sha('sha256', content).toString('hex')]);
  const bash = entry('ima-ngv2', 'ima', '/usr/bin/bash', sha('sha256', 'bash'));
  for (const relabelled of [entry('ima-ng', 'verity', '/usr/local/bin/xmrig', verityDigest), entry('ima-sig', 'verity', '/usr/local/bin/xmrig', verityDigest, Buffer.from('0603', 'hex'))]) {
    const ima = factsOf(listOf([bash, relabelled]), 'sha1');
    const r = assertFail(evaluatePolicy(policy, input([{ ...vmLayer(), ima }])), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
    assert.match(r.message, /verity:sha256 digest/);
    assert.equal(ima.entries[1]!.digestType, 'verity', relabelled);
  }
});

test('ima: an ima-ng entry relabelled as the legacy "ima" template is refused (the kernel names at most 255 bytes there)', () => {
  // A legacy entry's hash input is its 20-byte digest and its name zero-padded to 256 bytes: with a name of 256 bytes
  // or more, any template data of 276 bytes or more reads as one. An ima-ng entry of a denied file at a long path
  // (root chooses where it runs from) then replays as it did, with bytes of its own data as a SHA-1 "digest".
  const content = 'the denied binary';
  const path = `/tmp/${'a'.repeat(250)}/xmrig`;
  const dng = Buffer.concat([Buffer.from('sha1:\0'), sha('sha1', content)]);
  const nng = Buffer.from(`${path}\0`, 'latin1');
  const data = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng]);
  const templateHash = sha('sha1', data).toString('hex');
  const bash = (() => {
    const d = Buffer.concat([Buffer.from('sha1:\0'), sha('sha1', 'bash')]);
    const n = Buffer.from('/usr/bin/bash\0');
    const td = Buffer.concat([le32(d.length), d, le32(n.length), n]);
    return `10 ${sha('sha1', td).toString('hex')} ima-ng sha1:${sha('sha1', 'bash').toString('hex')} /usr/bin/bash`;
  })();
  const honest = `10 ${templateHash} ima-ng sha1:${sha('sha1', content).toString('hex')} ${path}`;
  const policy = denied([sha('sha1', content).toString('hex')]);
  assertFail(evaluatePolicy(policy, input([{ ...vmLayer(), ima: factsOf(Buffer.from(`${bash}\n${honest}\n`), 'sha1') }])), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');

  const relabelledAscii = Buffer.concat([Buffer.from(`${bash}\n10 ${templateHash} ima ${data.subarray(0, 20).toString('hex')} `), data.subarray(20), Buffer.from('\n')]);
  // the binary list: pcr, template hash, name, then the legacy digest and a length-prefixed name
  const binaryEntry = (name: string, digest: Buffer, rest: Buffer): Buffer => Buffer.concat([le32(10), Buffer.from(templateHash, 'hex'), le32(name.length), Buffer.from(name), digest, le32(rest.length), rest]);
  const relabelledBinary = binaryEntry('ima', data.subarray(0, 20), data.subarray(20));
  for (const [what, bytes] of [['ascii', relabelledAscii], ['binary', relabelledBinary]] as const) {
    assert.throws(() => parseImaList(bytes), (e: Error & { code?: string }) => e.code === 'IMA_FIELD_INVALID' && /255/.test(e.message), what);
  }
  // a legacy name of up to 255 bytes is read as before
  const name = `/${'b'.repeat(254)}`;
  const legacyData = Buffer.concat([sha('sha1', 'x'), Buffer.from(name), Buffer.alloc(1)]);
  const legacy = parseImaList(Buffer.from(`10 ${sha('sha1', legacyData).toString('hex')} ima ${sha('sha1', 'x').toString('hex')} ${name}\n`));
  assert.equal(legacy.entries[0]!.fields.name, name);
});
