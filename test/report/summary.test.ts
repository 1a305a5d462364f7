// The end-of-audit summary: counts by verdict, the deciding failure code per
// VM, the slowest hosts (deterministic on ties), timing, built incrementally;
// the human table and its JSON form; the failure codes of one result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PLAIN } from '../../src/cli/output.js';
import { NO_CODE, SummaryBuilder, renderSummary, summarize } from '../../src/report/summary.js';
import { fleet } from './fleet.js';
import { failureCodes } from '../../src/report/format.js';
import type { LayerResult } from '../../src/verify/result.js';
import { ANSI, trustedResult, pcrMismatchAtVmmResult, unreachablePhysicalResult } from './fixtures.js';

test('counts by verdict and by deciding failure code; codes add up to the failures', () => {
  const f = fleet();
  const s = summarize(f.results);
  assert.equal(s.total, f.results.length);
  assert.equal(s.trusted, f.trusted.length);
  assert.equal(s.notTrusted, f.notTrusted.length);
  assert.equal(s.unreachable, f.unreachable.length);
  assert.deepEqual(s.failureCodes, [
    { code: 'POLICY_PCR_VALUE', count: f.notTrusted.length - 1 },
    { code: 'TRANSPORT_CONNECT_TIMEOUT', count: f.unreachable.length },
    { code: 'QUOTE_BAD_SIGNATURE', count: 1 },
  ]);
  assert.equal(
    s.failureCodes.reduce((n, c) => n + c.count, 0),
    s.notTrusted + s.unreachable,
  );
});

test('equal counts are ordered by code; a failed result with no code is counted, not lost', () => {
  const a = pcrMismatchAtVmmResult({ name: 'a' });
  const b = unreachablePhysicalResult({ name: 'b' });
  const c = pcrMismatchAtVmmResult({ name: 'c' });
  delete c.error;
  c.layers = [];
  c.chain = [];
  const s = summarize([b, a, c]);
  assert.deepEqual(s.failureCodes, [
    { code: NO_CODE, count: 1 },
    { code: 'POLICY_PCR_VALUE', count: 1 },
    { code: 'TRANSPORT_CONNECT_TIMEOUT', count: 1 },
  ]);
  // without a verdict error, the first failing code of the result is used
  const d = pcrMismatchAtVmmResult({ name: 'd' });
  delete d.error;
  assert.deepEqual(summarize([d]).failureCodes, [{ code: 'POLICY_PCR_VALUE', count: 1 }]);
});

test('slowest hosts: the N slowest, slowest first, ties by name whatever the arrival order', () => {
  const results = [30, 10, 50, 50, 20, 50, 40].map((took, i) => trustedResult({ name: `vm-${'gfedcba'[i]}`, took }));
  const s = summarize(results, 4);
  assert.deepEqual(
    s.slowest.map((h) => [h.ms, h.name]),
    [
      [50, 'vm-b'],
      [50, 'vm-d'],
      [50, 'vm-e'],
      [40, 'vm-a'],
    ],
  );
  assert.deepEqual(summarize([...results].reverse(), 4).slowest, s.slowest);
  assert.equal(s.slowest[0]!.target, 'https://vm-b.prod.example:8443');
  assert.equal(s.slowest[0]!.verdict, 'trusted');
});

test('timing: nearest-rank median and p95, max; null with no usable times', () => {
  const results = Array.from({ length: 20 }, (_, i) => trustedResult({ name: `v${i}`, took: (i + 1) * 10 }));
  assert.deepEqual(summarize(results).timing, { count: 20, medianMs: 100, p95Ms: 190, maxMs: 200 });
  const broken = trustedResult();
  broken.finishedAt = 'not a time';
  const s = summarize([broken]);
  assert.equal(s.timing, null);
  assert.deepEqual(s.slowest, []);
  assert.equal(summarize([]).total, 0);
});

test('the builder, fed one result at a time, equals summarize over the list', () => {
  const f = fleet(60);
  const b = new SummaryBuilder();
  for (const r of f.results) b.add(r);
  assert.deepEqual(b.summary(), summarize(f.results));
  assert.equal(b.summary().slowest.length, 5);
});

test('human table: counts with percentages, codes, slowest hosts, hostile names made safe', () => {
  const f = fleet();
  const evil = f.results.at(-1)!;
  evil.name = `evil${ANSI}`;
  evil.finishedAt = new Date(Date.parse(evil.startedAt) + 60_000).toISOString();
  const text = renderSummary(summarize(f.results), PLAIN);
  const n = f.results.length;
  const pct = (k: number) => `${((100 * k) / n).toFixed(1)}%`;
  assert.match(text, new RegExp(`^Audit summary: ${n} VMs$`, 'm'));
  assert.match(text, new RegExp(`^  ✓ trusted\\s+${f.trusted.length}\\s+${pct(f.trusted.length).replace('.', '\\.')}$`, 'm'));
  assert.match(text, new RegExp(`^  ✗ not trusted\\s+${f.notTrusted.length}\\s+`, 'm'));
  assert.match(text, new RegExp(`^  \\? unreachable\\s+${f.unreachable.length}\\s+`, 'm'));
  assert.match(text, /^Failures by code\n {2}POLICY_PCR_VALUE\s+\d+$/m);
  assert.match(text, /^Slowest hosts\n {2}1 min 0 s {2}evil\\u001b\[2J/m);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f]/);
  assert.match(text, /^Attestation time: median \d+ ms, p95 5\.0 s, max 1 min 0 s$/m);
});

test('JSON form is plain data (round-trips through JSON)', () => {
  const s = summarize(fleet().results);
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
});

test('failureCodes: every failing check, rule, chain rule, finding and deciding error, once each and sorted; passes, warnings and skips never', () => {
  const r = trustedResult();
  assert.deepEqual(failureCodes(r), []);
  const [vm, vmm] = r.layers as [LayerResult, LayerResult];
  vm.checks.push({ id: 'quote.clock', status: 'warn', code: 'CLOCK_NOT_SAFE', message: 'a warning' });
  vm.rules.push({ id: 'x', status: 'not-applicable', code: 'SKIPPED_CODE', message: 'n/a' });
  assert.deepEqual(failureCodes(r), [], 'warnings and not-applicable rules are not failures');
  vmm.checks.push({ id: 'quote.nonce', status: 'fail', code: 'QUOTE_NONCE_MISMATCH', message: 'm' });
  vmm.rules.push({ id: 'layer[1].pcrs', status: 'fail', code: 'POLICY_PCR_VALUE', message: 'm' });
  vm.rules.push({ id: 'layer[0].pcrs', status: 'fail', code: 'POLICY_PCR_VALUE', message: 'the same code twice' });
  r.chain.push({ id: 'chain.depth', status: 'fail', code: 'POLICY_DEPTH', message: 'm' });
  r.findings = [{ id: 'state.clock', status: 'fail', code: 'CLOCK_WENT_BACK', message: 'm' }];
  vmm.status = 'not-trusted';
  vmm.error = { code: 'LAYER_DECIDING', message: 'm' };
  vm.error = { code: 'NOT_DECIDING', message: 'an error on a trusted layer is not a failure' };
  assert.deepEqual(failureCodes(r), ['CLOCK_WENT_BACK', 'LAYER_DECIDING', 'POLICY_DEPTH', 'POLICY_PCR_VALUE', 'QUOTE_NONCE_MISMATCH']);
  r.error = { code: 'AUDIT_ERROR', message: 'm' };
  assert.ok(failureCodes(r).includes('AUDIT_ERROR'));
});
