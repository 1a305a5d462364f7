// The failure list (`audit --json`, `report --json`, the terminal): one line
// per VM not trusted or unreachable, kept in memory until the end. `report`
// builds it from reports written elsewhere, whose reason and error message
// the schema does not bound: they are cut, the reports keep them whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runReportCommand, type ReportCommandResult } from '../../src/cli/actions/report.js';
import { FAILURES_SHOWN, FAILURE_TEXT_MAX, cutFailureText, failureOf, renderFailures, type AuditFailure } from '../../src/report/failures.js';
import { PLAIN } from '../../src/cli/output.js';
import { renderAuditReportJson, type AuditReport } from '../../src/report/json-report.js';
import { summarize } from '../../src/report/summary.js';
import { tempDir } from '../helpers/tmp.js';
import { pcrMismatchAtVmmResult } from './fixtures.js';
import { fleet } from './fleet.js';

test("a failure's message and reason are cut at FAILURE_TEXT_MAX characters; short ones are kept as they are", () => {
  const r = pcrMismatchAtVmmResult({ name: 'vm-long' });
  const short = failureOf(r);
  assert.equal(short.reason, r.reason);
  assert.equal(short.message, r.error!.message);

  r.reason = `layer 1: ${'r'.repeat(5_000_000)}`;
  r.error!.message = `PCR 7: ${'m'.repeat(5_000_000)}`;
  const long = failureOf(r);
  assert.equal(long.reason.length, FAILURE_TEXT_MAX);
  assert.equal(long.message.length, FAILURE_TEXT_MAX);
  assert.ok(long.reason.startsWith('layer 1: rrr') && long.reason.endsWith('…'));
  assert.ok(long.message.startsWith('PCR 7: mmm') && long.message.endsWith('…'));
  // no half of a surrogate pair at the cut
  const emoji = cutFailureText(`${'x'.repeat(FAILURE_TEXT_MAX - 2)}😀😀😀`);
  assert.ok(emoji.length <= FAILURE_TEXT_MAX);
  assert.equal(Buffer.from(emoji, 'utf8').toString('utf8'), emoji);
  assert.equal(cutFailureText('x'.repeat(FAILURE_TEXT_MAX)), 'x'.repeat(FAILURE_TEXT_MAX));
});

test('report: failing VMs with megabytes of reason each give a short failure list; the merged report keeps them whole', async (t) => {
  const dir = tempDir(t, 'vtpm-failures-');
  const f = fleet();
  const { shard: _shard, ...run } = f.run; // a whole report: any VM names
  const big = 'x'.repeat(2_000_000);
  const results = f.results.map((r) => (r.verdict === 'trusted' ? r : { ...r, reason: `${r.reason} ${big}`, ...(r.error ? { error: { ...r.error, message: `${r.error.message} ${big}` } } : {}) }));
  const input = join(dir, 'audit.json');
  writeFileSync(input, renderAuditReportJson(run, summarize(results), results));
  const out = join(dir, 'merged.json');
  const outcome = await runReportCommand({ reports: [input], out: { json: out }, unreachableOk: false, allowPartial: false, json: true, verbose: false });
  const result = outcome.result as ReportCommandResult;
  assert.equal(outcome.exitCode, 1);
  assert.equal(result.failures.length, f.notTrusted.length + f.unreachable.length);
  for (const failure of result.failures) {
    assert.ok(failure.reason.length <= FAILURE_TEXT_MAX && failure.message.length <= FAILURE_TEXT_MAX, failure.name);
  }
  assert.ok(JSON.stringify(result.failures).length < result.failures.length * 4 * FAILURE_TEXT_MAX);
  const merged = JSON.parse(readFileSync(out, 'utf8')) as AuditReport;
  assert.deepEqual(
    merged.results.filter((r) => r.verdict !== 'trusted').map((r) => r.reason.length),
    results.filter((r) => r.verdict !== 'trusted').map((r) => r.reason.length),
  );
});

test('the terminal list shows the not trusted first: unreachable VMs early in the inventory do not push the VM behind exit 1 under "... and N more"', () => {
  const unreachable: AuditFailure[] = Array.from({ length: 25 }, (_, i) => ({ name: `vm-${String(i).padStart(2, '0')}`, verdict: 'incomplete', code: 'TRANSPORT_REFUSED', layer: 1, message: 'connection refused' }) as AuditFailure);
  const tampered = { name: 'vm-99', verdict: 'not-trusted', code: 'POLICY_PCR_VALUE', layer: 0, message: 'PCR 7 differs' } as AuditFailure;
  const lines = renderFailures([...unreachable, tampered], PLAIN, false);
  assert.match(lines[2]!, /✗ vm-99  POLICY_PCR_VALUE at layer 0/);
  assert.equal(lines.filter((l) => /^  [✗?] /.test(l)).length, FAILURES_SHOWN);
  assert.match(lines.at(-1)!, /\.\.\. and 6 more, unreachable or incomplete \(--verbose lists all/);
  // the rest keep inventory order
  assert.match(lines[3]!, /\? vm-00 /);
  const many = renderFailures([...unreachable, ...Array.from({ length: 22 }, () => tampered)], PLAIN, false);
  assert.match(many.at(-1)!, /and 27 more, 2 not trusted, 25 unreachable or incomplete/);
  assert.equal(renderFailures([...unreachable, tampered], PLAIN, true).length, 2 + 26);
});
