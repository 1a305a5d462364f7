// Audit runs in the state file (schema version 5, and 6 for compressed
// results), on real SQLite files: a version-4 file gains them when opened and keeps its results (which belong to
// no run); a run's counts come from the results it stored; changes are
// counted against the previous *finished* run of the same inventory and
// shard; a run goes with its last result when pruned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openState, type StateStore } from '../../src/state/index.js';
import { SCHEMA_VERSION } from '../../src/state/schema.js';
import { stateFileAtVersion, tempDir } from './tmp.js';

const T0 = Date.UTC(2026, 10, 20);
const HOUR = 3_600_000;

/** One audit run of `verdicts` (target → verdict), finished unless `finished` is false. */
function auditRun(s: StateStore, at: number, verdicts: Record<string, string>, opts: { inventory?: string; shard?: string | null; finished?: boolean; interrupted?: string } = {}): number {
  const id = s.beginAuditRun({ startedAt: at, inventory: opts.inventory ?? 'fleet.yaml', shard: opts.shard ?? null, planned: Object.keys(verdicts).length });
  let i = 0;
  for (const [target, verdict] of Object.entries(verdicts)) s.appendResult({ time: at + ++i, target, verdict, runId: id });
  if (opts.finished !== false) s.finishAuditRun(id, { finishedAt: at + 1000, exitCode: Object.values(verdicts).every((v) => v === 'trusted') ? 0 : 1, interrupted: opts.interrupted ?? null, failureCodes: [] });
  return id;
}

test('a version-4 file opens at the current version: its results kept, in no run; no run listed', async (t) => {
  const file = join(tempDir(t), 'v4.db');
  const db = stateFileAtVersion(file, 4);
  db.prepare(`INSERT INTO result (time, target, instance_id, verdict, findings, platform_path, blob) VALUES (?, ?, NULL, 'trusted', '[]', NULL, '{}')`).run(T0, 'https://old.example');
  db.close();

  const s = await openState(file, { create: false });
  t.after(() => s.close());
  assert.equal(SCHEMA_VERSION, 9);
  assert.equal(s.schemaVersion, 9);
  const [old] = s.history();
  assert.deepEqual([old!.target, old!.runId], ['https://old.example', null]);
  assert.deepEqual(s.auditRuns(), []);
  const id = auditRun(s, T0 + HOUR, { 'https://a.example': 'trusted' });
  assert.deepEqual(s.history({ run: id }).map((e) => e.target), ['https://a.example']);
});

test('counts come from the stored results; changes are against the previous finished run of the same inventory and shard', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  t.after(() => s.close());
  const a = 'https://a.example';
  const b = 'https://b.example';
  const c = 'https://c.example';
  const r1 = auditRun(s, T0, { [a]: 'trusted', [b]: 'trusted', [c]: 'incomplete' });
  // another inventory, and another shard of this one: never compared with it
  const other = auditRun(s, T0 + HOUR, { [a]: 'not-trusted' }, { inventory: 'other.yaml' });
  const shard = auditRun(s, T0 + HOUR, { [a]: 'not-trusted' }, { shard: '1/2' });
  // killed after two results: listed, but not what the next run is compared with
  const killed = auditRun(s, T0 + 2 * HOUR, { [a]: 'not-trusted', [b]: 'not-trusted' }, { finished: false });
  const r2 = auditRun(s, T0 + 3 * HOUR, { [a]: 'not-trusted', [b]: 'trusted', [c]: 'trusted', 'https://d.example': 'trusted' });

  const runs = s.auditRuns();
  assert.deepEqual(runs.map((r) => r.id), [r2, killed, shard, other, r1], 'newest first (by start, then id)');
  const byId = new Map(runs.map((r) => [r.id, r]));
  const latest = byId.get(r2)!;
  assert.deepEqual([latest.recorded, latest.trusted, latest.notTrusted, latest.unreachable, latest.exitCode], [4, 3, 1, 0, 1]);
  assert.deepEqual(latest.since, {
    runId: r1,
    worse: 1,
    better: 1,
    other: 0,
    added: 1,
    gone: 0,
    changes: [
      { target: a, before: 'trusted', now: 'not-trusted' },
      { target: c, before: 'incomplete', now: 'trusted' },
    ],
  });
  const k = byId.get(killed)!;
  assert.deepEqual([k.finishedAt, k.exitCode, k.failureCodes, k.recorded, k.planned, k.notTrusted], [null, null, null, 2, 2, 2]);
  assert.equal(k.since?.runId, r1, 'a killed run is compared with the run before it too');
  assert.equal(byId.get(r1)!.since, null, 'the first run of its inventory');
  assert.equal(runs.filter((r) => r.inventory === 'other.yaml' || r.shard === '1/2').every((r) => r.since === null), true);
  assert.deepEqual(s.auditRuns({ since: T0 + 2 * HOUR }).map((r) => r.id), [r2, killed]);
  assert.deepEqual(s.auditRuns({ limit: 1 }).map((r) => r.id), [r2]);

  // a run finishes once; bad input is refused
  assert.throws(() => s.finishAuditRun(r2, { finishedAt: T0, exitCode: 0, interrupted: null, failureCodes: [] }), /audit run \d+ is no longer there to finish/);
  assert.throws(() => s.beginAuditRun({ startedAt: T0, inventory: 'fleet.yaml', shard: '1-of-2', planned: 1 }), /invalid shard/);
  assert.throws(() => s.appendResult({ time: T0, target: a, verdict: 'trusted', runId: 0 }), /invalid runId/);
});

test('an interrupted run is not what the next run is compared with: a VM it did not reach is not "new", and its change shows', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  t.after(() => s.close());
  const a = 'https://a.example';
  const b = 'https://b.example';
  const c = 'https://c.example';
  const r1 = auditRun(s, T0, { [a]: 'trusted', [b]: 'trusted', [c]: 'trusted' });
  // SIGTERM (a CronJob's deadline) after one VM: b and c never started
  const stopped = auditRun(s, T0 + HOUR, { [a]: 'trusted' }, { interrupted: 'SIGTERM' });
  const r3 = auditRun(s, T0 + 2 * HOUR, { [a]: 'trusted', [b]: 'not-trusted', [c]: 'trusted' });
  const byId = new Map(s.auditRuns().map((r) => [r.id, r]));
  assert.equal(byId.get(stopped)!.since?.runId, r1, 'the interrupted run itself is compared with the run before it');
  assert.deepEqual(byId.get(stopped)!.since?.gone, 2);
  assert.deepEqual(byId.get(r3)!.since, {
    runId: r1,
    worse: 1,
    better: 0,
    other: 0,
    added: 0,
    gone: 0,
    changes: [{ target: b, before: 'trusted', now: 'not-trusted' }],
  });
});

test('prune: a run goes with its last result; a dry run counts it and deletes nothing', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  t.after(() => s.close());
  const old = auditRun(s, T0, { 'https://a.example': 'trusted' });
  // starts before the cut-off, its second result after it: stays while it has one
  const straddling = s.beginAuditRun({ startedAt: T0 + HOUR - 10, inventory: 'fleet.yaml', shard: null, planned: 2 });
  s.appendResult({ time: T0 + HOUR - 5, target: 'https://a.example', verdict: 'trusted', runId: straddling });
  s.appendResult({ time: T0 + HOUR + 5, target: 'https://b.example', verdict: 'trusted', runId: straddling });
  const recent = auditRun(s, T0 + 2 * HOUR, { 'https://a.example': 'trusted' });

  const dry = s.prune(T0 + HOUR, { dryRun: true });
  assert.deepEqual([dry.results, dry.runs], [2, 1]);
  assert.equal(s.auditRuns().length, 3);
  const pruned = s.prune(T0 + HOUR);
  assert.deepEqual([pruned.results, pruned.runs], [2, 1]);
  assert.deepEqual(s.auditRuns().map((r) => r.id), [recent, straddling]);
  assert.equal(s.auditRuns().find((r) => r.id === straddling)!.recorded, 1);
  assert.equal(old < straddling, true);
});
