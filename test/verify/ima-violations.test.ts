// IMA violations end to end on a real list: Keylime's archived ima-template
// list has nine violations (bash here-document files under /tmp, written
// while measured). Replayed against the PCR 10 it gives, the facts the policy
// sees carry them, and an allow-list made of every measured file still fails
// on them, excludes or not (a violation's path is not attested), unless
// `violations: allow` is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseImaList } from '../../src/eventlog/ima/parse.js';
import { replayIma } from '../../src/eventlog/ima/replay.js';
import { verifyLogsAgainstQuote } from '../../src/eventlog/verify-logs.js';
import { evaluatePolicy } from '../../src/policy/evaluate.js';
import { logFacts } from '../../src/verify/facts.js';
import { corpusPath } from '../helpers/paths.js';
import { input, layerPolicy, vmLayer } from '../policy/fixtures.js';
import { assertFail, assertPass } from '../policy/rule-helpers.js';

test('a real IMA list with violations: the policy sees them, and fails on them unless allowed', (t) => {
  const file = corpusPath(t, 'ima', 'keylime_archive_ascii_runtime_measurements_ima');
  if (!file) return;
  const bytes = readFileSync(file);
  const quoted = new Map([['sha1' as const, replayIma(parseImaList(bytes), 'sha1').pcrs]]);
  const logs = verifyLogsAgainstQuote({ ima: bytes }, quoted);
  assert.equal(logs.ok, true);
  const ima = logFacts(logs).ima!;
  assert.equal(ima.violations!.length, 9);
  assert.ok(ima.violations!.every((v) => v.path?.startsWith('/tmp/sh-thd-')), JSON.stringify(ima.violations));

  const layer = { ...vmLayer(), ima };
  const digests = new Map<string, Set<string>>();
  for (const e of ima.entries) digests.set(e.path, (digests.get(e.path) ?? new Set()).add(e.digest));
  const allowList = JSON.stringify(Object.fromEntries([...digests].map(([path, d]) => [path, [...d]])));
  const policy = (extra: string) => layerPolicy(`select: { position: 0 }\nima:\n  allowList: ${allowList}\n${extra}`);
  const failed = assertFail(evaluatePolicy(policy(''), input([layer])), 'layer[0].ima.allowList', 'POLICY_IMA_VIOLATION');
  assert.match(failed.message, /^9 violation\(s\): a file open for write while measured, its content unknown \(first: entry \d+, claiming \/tmp\/sh-thd-/);
  assertFail(evaluatePolicy(policy('  excludes: ["/tmp/sh-thd-[0-9]+"]'), input([layer])), 'layer[0].ima.allowList', 'POLICY_IMA_VIOLATION');
  assertPass(evaluatePolicy(policy('  violations: allow'), input([layer])), 'layer[0].ima.allowList');
});
