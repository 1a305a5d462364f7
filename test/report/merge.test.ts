// Merging shard reports (`vtpm-verify report`, src/report/merge.ts): shards
// of one audit merge into the fleet's run, with what they do not cover named;
// reports that are not the shards of one audit are refused
// (REPORT_MISMATCH), each way they can differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shardOf } from '../../src/audit/shard.js';
import type { AuditRun } from '../../src/report/json-report.js';
import { ReportMerger, coverageGaps, mergedSources, unlabelledSpreadWarning } from '../../src/report/merge.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { fleet } from './fleet.js';

const TOOL = { name: 'vtpm-verify', version: '9.9.9' };
const { results } = fleet(60);
const keyOf = (r: AttestationResult): string => r.name ?? r.target;

function runOf(index: number | undefined, count = 3, extra: Partial<AuditRun> = {}): AuditRun {
  return {
    tool: { name: 'vtpm-verify', version: '0.1.0' },
    startedAt: `2026-11-27T02:0${index ?? 0}:00.000Z`,
    finishedAt: `2026-11-27T02:0${index ?? 0}:30.000Z`,
    inventory: '/config/fleet.yaml',
    ...(index !== undefined ? { shard: { index, count } } : {}),
    hostname: `pod-${index ?? 'all'}`,
    exitCode: 0,
    ...extra,
  };
}

const shardResults = (index: number, count = 3) => results.filter((r) => shardOf(keyOf(r), count) === index);

test('three shards merge into the whole fleet: every VM once, the run spanning them, nothing missing', () => {
  const m = new ReportMerger();
  const order: string[] = [];
  for (const index of [2, 0, 1]) {
    m.addReport(`audit-${index}.json`, runOf(index));
    for (const r of shardResults(index)) {
      assert.equal(m.addResult(r), order.length);
      order.push(keyOf(r));
    }
  }
  assert.deepEqual([...order].sort(), results.map(keyOf).sort());
  const { run, complete } = m.finish(TOOL);
  assert.equal(complete, true);
  assert.deepEqual(run.tool, TOOL);
  assert.equal(run.startedAt, '2026-11-27T02:00:00.000Z');
  assert.equal(run.finishedAt, '2026-11-27T02:02:30.000Z');
  assert.equal(run.inventory, '/config/fleet.yaml');
  assert.equal(run.shard, undefined);
  assert.equal(run.hostname, undefined);
  assert.deepEqual(run.merged?.reports.map((r) => [r.file, r.shard?.index, r.hostname, r.results]), [
    ['audit-2.json', 2, 'pod-2', shardResults(2).length],
    ['audit-0.json', 0, 'pod-0', shardResults(0).length],
    ['audit-1.json', 1, 'pod-1', shardResults(1).length],
  ]);
  assert.equal(run.merged?.missingShards, undefined);
  assert.deepEqual(coverageGaps(run), []);
  assert.equal(mergedSources(run.merged!), '3 reports, shards 0, 1, 2 of 3');
});

test('with the inventory: results take its order, and its VMs without a result are named (the first 100, all counted)', () => {
  const many = Array.from({ length: 250 }, (_, i) => ({ key: `other-${i}`, index: i }));
  const vms = [...results.map((r, i) => ({ key: keyOf(r), index: 1000 + i })), ...many];
  const m = new ReportMerger({ file: 'fleet.yaml', vms });
  m.addReport('audit-1.json', runOf(1));
  for (const r of shardResults(1)) assert.equal(m.addResult(r), 1000 + results.indexOf(r));
  const { run, complete } = m.finish(TOOL);
  assert.equal(complete, false);
  assert.deepEqual(run.merged?.missingShards, [0, 2]);
  const missing = vms.filter((v) => !shardResults(1).some((r) => keyOf(r) === v.key));
  assert.equal(run.merged?.missingVms?.count, missing.length);
  assert.deepEqual(run.merged?.missingVms?.names, missing.slice(0, 100).map((v) => v.key));
  // one report keeps its own shard and host in the run
  assert.deepEqual(run.shard, { index: 1, count: 3 });
  assert.equal(run.hostname, 'pod-1');
  assert.deepEqual(coverageGaps(run), ['no report for shards 0, 2 of 3', `${missing.length} VM(s) of the inventory have no result`]);

  const stranger = new ReportMerger({ file: 'fleet.yaml', vms: many });
  stranger.addReport('audit-1.json', runOf(1));
  const err = assertThrowsCode(() => stranger.addResult(shardResults(1)[0]!), 'REPORT_MISMATCH');
  assert.equal(err.details['check'], 'vm.inventory');
});

test('an interrupted shard leaves the fleet incomplete; the VMs it never started are summed', () => {
  const m = new ReportMerger();
  m.addReport('a.json', runOf(0, 2, { interrupted: { signal: 'SIGTERM', notStarted: 7 }, exitCode: 3 }));
  m.addReport('b.json', runOf(1, 2, { interrupted: { signal: 'SIGINT', notStarted: 5 }, exitCode: 3 }));
  const { run, complete } = m.finish(TOOL);
  assert.equal(complete, false);
  assert.deepEqual(run.interrupted, { signal: 'SIGTERM,SIGINT', notStarted: 12 });
  assert.deepEqual(coverageGaps(run), ['interrupted (SIGTERM,SIGINT) with 12 VM(s) not started']);

  // stopped once every VM had started: the shard still covers them all
  const late = new ReportMerger();
  late.addReport('a.json', runOf(undefined, 1, { interrupted: { signal: 'SIGTERM', notStarted: 0 } }));
  const after = late.finish(TOOL);
  assert.equal(after.complete, true);
  assert.deepEqual(after.run.interrupted, { signal: 'SIGTERM', notStarted: 0 });
  assert.deepEqual(coverageGaps(after.run), []);
});

test('one whole report is complete on its own', () => {
  const m = new ReportMerger();
  m.addReport('audit.json', runOf(undefined));
  for (const r of results) m.addResult(r);
  const { run, complete } = m.finish(TOOL);
  assert.equal(complete, true);
  assert.equal(run.hostname, 'pod-all');
  assert.equal(mergedSources(run.merged!), '1 report');
});

test('one inventory file named two ways (fleet.yaml, ./fleet.yaml) is one inventory: its shards merge', () => {
  for (const [a, b] of [
    ['fleet.yaml', './fleet.yaml'],
    ['/config/fleet.yaml', '/config/./x/../fleet.yaml'],
    ['config/fleet.yaml', 'config//fleet.yaml'],
  ] as const) {
    const m = new ReportMerger();
    m.addReport('a.json', runOf(0, 2, { inventory: a }));
    for (const r of shardResults(0, 2)) m.addResult(r);
    m.addReport('b.json', runOf(1, 2, { inventory: b }));
    for (const r of shardResults(1, 2)) m.addResult(r);
    const { run, complete } = m.finish(TOOL);
    assert.equal(complete, true, `${a} and ${b}`);
    assert.equal(run.inventory, a, 'named as the first report names it');
  }
});

test('reports that are not the shards of one audit are refused, each way', () => {
  const refused = (second: AuditRun, check: string | undefined, first: AuditRun = runOf(0)): void => {
    const m = new ReportMerger();
    m.addReport('first.json', first);
    const err = assertThrowsCode(() => m.addReport('second.json', second), 'REPORT_MISMATCH');
    if (check) assert.equal(err.details['check'], check);
    assert.equal(err.details['file'], 'second.json');
  };
  refused(runOf(1, 3, { inventory: '/config/other.yaml' }), 'run.inventory');
  refused(runOf(1, 3, { inventory: 'fleet.yaml' }), 'run.inventory');
  refused(runOf(1, 3, { inventory: '/other/../config/fleet.yaml/x' }), 'run.inventory');
  refused(runOf(1, 3, { inventory: undefined }), 'run.inventory');
  refused(runOf(1, 4), 'run.shard.count');
  refused(runOf(0), 'run.shard.index');
  refused(runOf(undefined), 'run.shard');
  refused(runOf(1), 'run.shard', runOf(undefined));
  refused(runOf(undefined), 'run.shard', runOf(undefined));
  assertThrowsCode(() => new ReportMerger().addReport('x.json', runOf(3, 3)), 'REPORT_MISMATCH');
});

test('a VM twice, or outside the shard its report names, is refused', () => {
  const m = new ReportMerger();
  m.addReport('audit-0.json', runOf(0));
  const [first] = shardResults(0);
  m.addResult(first!);
  let err = assertThrowsCode(() => m.addResult(first!), 'REPORT_MISMATCH');
  assert.match(err.message, /is in audit-0\.json twice/);
  m.addReport('audit-1.json', runOf(1));
  err = assertThrowsCode(() => m.addResult(first!), 'REPORT_MISMATCH');
  assert.match(err.message, /is in both audit-0\.json and audit-1\.json/);
  err = assertThrowsCode(() => m.addResult(shardResults(2)[0]!), 'REPORT_MISMATCH');
  assert.equal(err.details['check'], 'vm.shard');
  assert.equal(err.details['expected'], 1);
  assert.equal(err.details['actual'], 2);
  assertThrowsCode(() => new ReportMerger().finish(TOOL), 'REPORT_INVALID');
});

test('a merged report reads again only alone, and what it lacked stays lacking', () => {
  const m = new ReportMerger({ file: 'fleet.yaml', vms: results.map((r, index) => ({ key: keyOf(r), index })) });
  m.addReport('audit-0.json', runOf(0));
  for (const r of shardResults(0)) m.addResult(r);
  const partial = m.finish(TOOL);
  assert.equal(partial.complete, false);

  const again = new ReportMerger();
  again.addReport('fleet.json', partial.run);
  for (const r of shardResults(0)) again.addResult(r);
  const { run, complete } = again.finish(TOOL);
  assert.equal(complete, false);
  assert.deepEqual(run.merged, partial.run.merged, 'the sources and the gaps carry over');
  assert.deepEqual(coverageGaps(run), coverageGaps(partial.run));

  // with the inventory, what is missing comes from the results read
  const withInventory = new ReportMerger({ file: 'fleet.yaml', vms: results.map((r, index) => ({ key: keyOf(r), index })) });
  withInventory.addReport('fleet.json', partial.run);
  for (const r of shardResults(0)) withInventory.addResult(r);
  assert.equal(withInventory.finish(TOOL).run.merged?.missingVms?.count, results.length - shardResults(0).length);

  for (const order of [
    ['fleet.json', 'audit-1.json'],
    ['audit-1.json', 'fleet.json'],
  ]) {
    const mixed = new ReportMerger();
    const runs: Record<string, AuditRun> = { 'fleet.json': partial.run, 'audit-1.json': runOf(1) };
    mixed.addReport(order[0]!, runs[order[0]!]!);
    const err = assertThrowsCode(() => mixed.addReport(order[1]!, runs[order[1]!]!), 'REPORT_MISMATCH');
    assert.match(err.message, /fleet\.json is a merged report: it is read alone/);
  }
});

test('a merged report read alone must agree with the reports it lists: an edit cannot make a partial fleet whole', () => {
  // shards 0 and 1 of 3, shard 1 interrupted with 4 VMs not started
  const m = new ReportMerger();
  m.addReport('audit-0.json', runOf(0));
  for (const r of shardResults(0)) m.addResult(r);
  m.addReport('audit-1.json', runOf(1, 3, { interrupted: { signal: 'SIGTERM', notStarted: 4 } }));
  for (const r of shardResults(1)) m.addResult(r);
  const partial = m.finish(TOOL).run;
  assert.deepEqual(partial.merged?.missingShards, [2]);
  const held = [...shardResults(0), ...shardResults(1)];
  const readAlone = (run: AuditRun, rs: readonly AttestationResult[] = held) => {
    const again = new ReportMerger();
    again.addReport('fleet.json', run);
    for (const r of rs) again.addResult(r);
    return again.finish(TOOL);
  };
  assert.equal(readAlone(partial).complete, false);

  const edited = (fn: (run: AuditRun) => void): AuditRun => {
    const run = structuredClone(partial);
    fn(run);
    return run;
  };
  // the missing shard taken out of missingShards: shard 2 of 3 is still not among its reports
  let err = assertThrowsCode(() => readAlone(edited((run) => delete run.merged!.missingShards)), 'REPORT_INVALID');
  assert.equal(err.details['check'], 'run.merged.missingShards');
  assert.match(err.message, /^fleet\.json is a merged report that contradicts itself: its run\.merged\.reports lack shard\(s\) 2 of 3, but its missingShards says none/);
  // ... or with its report's shard relabelled to look like the one missing
  err = assertThrowsCode(() => readAlone(edited((run) => (run.merged!.reports[1]!.shard = { index: 0, count: 3 }))), 'REPORT_INVALID');
  assert.match(err.message, /list a shard twice/);
  // the interruption dropped from the run, its report still saying 4 VMs were not started
  err = assertThrowsCode(() => readAlone(edited((run) => delete run.interrupted)), 'REPORT_INVALID');
  assert.equal(err.details['check'], 'run.interrupted');
  // a result taken out (a failing VM, say), the summary recounted
  err = assertThrowsCode(() => readAlone(partial, held.slice(1)), 'REPORT_INVALID');
  assert.equal(err.details['check'], 'run.merged.reports.results');
  assert.deepEqual([err.details['expected'], err.details['actual']], [held.length, held.length - 1]);
  // a whole report merged names no missing shard
  const whole = new ReportMerger();
  whole.addReport('audit.json', runOf(undefined));
  for (const r of results) whole.addResult(r);
  const wholeRun = whole.finish(TOOL).run;
  assert.equal(readAlone(wholeRun, results).complete, true);
  assertThrowsCode(() => readAlone({ ...wholeRun, merged: { ...wholeRun.merged!, missingShards: [1] } }, results), 'REPORT_INVALID');
});

test('absurd shard counts are refused; long lists of missing shards and signals are cut in words', () => {
  assertThrowsCode(() => new ReportMerger().addReport('x.json', runOf(0, 4_294_967_296)), 'REPORT_INVALID');
  const m = new ReportMerger();
  m.addReport('a.json', runOf(0, 10_000, { interrupted: { signal: 'S'.repeat(40), notStarted: 1 } }));
  m.addReport('b.json', runOf(1, 10_000, { interrupted: { signal: 'T'.repeat(40), notStarted: 2 } }));
  const { run } = m.finish(TOOL);
  assert.equal(run.merged?.missingShards?.length, 9_998);
  assert.deepEqual(run.interrupted, { signal: '2 different signals', notStarted: 3 });
  const [shards] = coverageGaps(run);
  assert.equal(shards, `no report for shards ${Array.from({ length: 20 }, (_, i) => i + 2).join(', ')} and 9978 more of 10000`);
});

test("run labels: the shards of one run share theirs, a shard left from another run is refused, --run-label names the one expected", () => {
  const labelled = (label: string | undefined) => (index: number) => runOf(index, 3, label === undefined ? {} : { label });
  const tonight = labelled('audit-29001234');
  const m = new ReportMerger();
  for (const index of [0, 1, 2]) {
    m.addReport(`audit-${index}.json`, tonight(index));
    for (const r of shardResults(index)) m.addResult(r);
  }
  const { run, complete } = m.finish(TOOL);
  assert.equal(complete, true);
  assert.equal(run.label, 'audit-29001234');
  assert.deepEqual(run.merged?.reports.map((r) => r.label), ['audit-29001234', 'audit-29001234', 'audit-29001234']);

  // last night's shard 2, still on the volume: another label, or none (an audit before labels)
  for (const stale of [labelled('audit-29000794')(2), labelled(undefined)(2)]) {
    const mixed = new ReportMerger();
    mixed.addReport('audit-0.json', tonight(0));
    const err = assertThrowsCode(() => mixed.addReport('audit-2.json', stale), 'REPORT_MISMATCH');
    assert.equal(err.details['check'], 'run.label');
    assert.match(err.message, /share their run label/);
  }
  // shards without labels merge as before; with --run-label each must carry it
  const plain = new ReportMerger();
  plain.addReport('audit-0.json', labelled(undefined)(0));
  plain.addReport('audit-1.json', labelled(undefined)(1));
  const required = new ReportMerger(undefined, 'audit-29001234');
  required.addReport('audit-0.json', tonight(0));
  for (const other of [labelled(undefined)(1), labelled('audit-29000794')(1)]) {
    const err = assertThrowsCode(() => new ReportMerger(undefined, 'audit-29001234').addReport('audit-1.json', other), 'REPORT_MISMATCH');
    assert.deepEqual([err.details['check'], err.details['expected']], ['run.label', 'audit-29001234']);
  }

  // a merged report read alone: its sources must carry its label
  const again = new ReportMerger();
  again.addReport('fleet.json', run);
  const edited: AuditRun = { ...run, merged: { ...run.merged!, reports: run.merged!.reports.map((r, i) => (i === 1 ? { ...r, label: 'audit-29000794' } : r)) } };
  const err = assertThrowsCode(() => new ReportMerger().addReport('fleet.json', edited), 'REPORT_INVALID');
  assert.equal(err.details['check'], 'run.label');
});

test('shards without run labels that started more than 12 h apart are merged with a warning: one may be left from an earlier run', () => {
  const at = (index: number, startedAt: string, label?: string): AuditRun => runOf(index, 2, { startedAt, finishedAt: startedAt, ...(label ? { label } : {}) });
  const merge = (a: AuditRun, b: AuditRun) => {
    const m = new ReportMerger();
    m.addReport('audit-0.json', a);
    m.addReport('audit-1.json', b);
    return m.finish(TOOL).run.merged!;
  };
  assert.equal(unlabelledSpreadWarning(merge(at(0, '2026-11-27T02:17:00Z'), at(1, '2026-11-27T13:00:00Z'))), undefined);
  assert.match(unlabelledSpreadWarning(merge(at(0, '2026-11-27T02:17:00Z'), at(1, '2026-11-26T02:17:05Z')))!, /started 24 h apart \(audit-1\.json first, audit-0\.json last\).*--run-label/);
  // labels say it for sure: no guess then
  assert.equal(unlabelledSpreadWarning(merge(at(0, '2026-11-27T02:17:00Z', 'j'), at(1, '2026-11-26T02:17:05Z', 'j'))), undefined);
});
