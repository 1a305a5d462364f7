// The history and prune queries on a real SQLite file: each filter of `history` (an instance or a prefix of
// it, a run, a time range, and any mix) returns exactly the newest matching results, and is answered through
// an index, not by reading the history around what it asks for (a run's or an instance's results read every
// newer result row, the whole file for an old run); a prune chunk finds its rows through the time index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState, type StateStore } from '../../src/state/index.js';
import { historyQuery, pruneChunkQuery } from '../../src/state/store.js';
import { tempDir } from './tmp.js';

const T0 = Date.UTC(2026, 10, 1);
const HOUR = 3_600_000;
// ids that share prefixes ("ab…" twice, "abc…" once), one starting with "f" (the last hex digit: the range's end is "fg")
const INSTANCES = ['ab' + '0'.repeat(62), 'abc' + '1'.repeat(61), 'f' + '2'.repeat(63), '3'.repeat(64)];

interface Stored {
  id: number;
  time: number;
  instanceId: string | null;
  runId: number | null;
}

/** Four hourly audit runs of eight VMs (instances round the list, one VM without one, one unreachable) and attest results between them. */
async function prepare(file: string): Promise<{ store: StateStore; stored: Stored[]; runs: number[] }> {
  const store = await openState(file);
  const stored: Stored[] = [];
  const runs: number[] = [];
  for (let r = 0; r < 4; r++) {
    const at = T0 + r * HOUR;
    const runId = store.beginAuditRun({ startedAt: at, inventory: '/srv/fleet.yaml', shard: null, planned: 8 });
    runs.push(runId);
    for (let v = 0; v < 8; v++) {
      // times out of id order within a run: the order shown is by time
      const time = at + ((v * 5) % 8) * 1000;
      const instanceId = v === 7 ? null : INSTANCES[v % INSTANCES.length]!;
      const id = store.appendResult({ time, target: `https://vm-${v}.example`, instanceId, verdict: v === 6 ? 'unreachable' : 'trusted', runId, result: { r, v } });
      stored.push({ id, time, instanceId, runId });
    }
    store.finishAuditRun(runId, { finishedAt: at + 10_000, exitCode: 0, interrupted: null, failureCodes: [] });
    const time = at + 30 * 60_000;
    stored.push({ id: store.appendResult({ time, target: 'https://one.example', instanceId: INSTANCES[1]!, verdict: 'trusted', result: { attest: r } }), time, instanceId: INSTANCES[1]!, runId: null });
  }
  return { store, stored, runs };
}

const newestFirst = (a: Stored, b: Stored): number => b.time - a.time || b.id - a.id;

test('every history filter, alone and mixed, returns the newest matching results in order', async (t) => {
  const { store, stored, runs } = await prepare(join(tempDir(t), 'state.db'));
  t.after(() => store.close());
  const filters = [
    {},
    { limit: 5 },
    { instance: INSTANCES[0]! },
    { instance: 'ab' },
    { instance: 'ABC' },
    { instance: 'f' },
    { instance: 'f2' },
    { instance: '4' },
    { run: runs[0]! },
    { run: runs[3]!, limit: 3 },
    { run: 999 },
    { since: T0 + HOUR },
    { since: T0 + HOUR, until: T0 + 2 * HOUR + 3000 },
    { instance: 'ab', run: runs[1]! },
    { instance: 'abc', since: T0 + 2 * HOUR, limit: 2 },
    { run: runs[2]!, since: T0 + 2 * HOUR + 2000, until: T0 + 2 * HOUR + 5000 },
  ];
  for (const f of filters) {
    const { instance, run, since, until, limit } = f as { instance?: string; run?: number; since?: number; until?: number; limit?: number };
    const prefix = instance?.toLowerCase();
    const expected = stored
      .filter((s) => prefix === undefined || (s.instanceId !== null && s.instanceId.startsWith(prefix)))
      .filter((s) => run === undefined || s.runId === run)
      .filter((s) => since === undefined || s.time >= since)
      .filter((s) => until === undefined || s.time <= until)
      .sort(newestFirst)
      .slice(0, limit ?? 100)
      .map((s) => s.id);
    assert.deepEqual(
      store.history(f).map((e) => e.id),
      expected,
      JSON.stringify(f),
    );
  }
});

test('history filters are answered through an index: no filter reads the result rows around what it asks for', async (t) => {
  const file = join(tempDir(t), 'state.db');
  (await prepare(file)).store.close();
  const db = new Database(file, { readonly: true });
  t.after(() => db.close());
  const plan = (sql: string, params: Record<string, unknown>): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail).join('\n');
  for (const prefix of [false, true]) {
    for (const run of [false, true]) {
      for (const since of [false, true]) {
        for (const until of [false, true]) {
          const p = plan(historyQuery({ prefix, since, until, run }), {
            limit: 50,
            ...(prefix && { prefix: 'ab', prefixEnd: 'abg' }),
            ...(since && { since: T0 }),
            ...(until && { until: T0 + HOUR }),
            ...(run && { run: 2 }),
          });
          const what = JSON.stringify({ prefix, run, since, until });
          // rows are read by id, for the results chosen; choosing them reads an index (or the rows it finds), never the table
          assert.match(p, /SEARCH result USING INTEGER PRIMARY KEY \(rowid=\?\)/, `${what}\n${p}`);
          assert.doesNotMatch(p, /SCAN result(?! USING COVERING INDEX result_by_time)/, `${what}\n${p}`);
          // a run's newest: from result_by_run_time alone, in order (result_by_run is by URL: every row of the run was read)
          if (run && !prefix) assert.match(p, /SEARCH result USING COVERING INDEX result_by_run_time \(run_id=\?/, `${what}\n${p}`);
          else if (run) assert.match(p, /SEARCH result USING (COVERING )?INDEX result_by_run(_time)? \(run_id=\?/, `${what}\n${p}`);
          else if (prefix && !since && !until) assert.match(p, /SEARCH result USING COVERING INDEX result_by_instance \(instance_id>\? AND instance_id<\?\)/, `${what}\n${p}`);
          else if (!prefix) assert.match(p, /(SEARCH|SCAN) result USING COVERING INDEX result_by_time/, `${what}\n${p}`);
          // an instance within a time range: either index serves (each bounds what is read to what was asked for)
          else assert.match(p, /SEARCH result USING (COVERING )?INDEX result_by_(instance \(instance_id>\? AND instance_id<\?\)|time \(time)/, `${what}\n${p}`);
        }
      }
    }
  }
});

test('a prune chunk finds the oldest rows through the time index, not by walking the table', async (t) => {
  const file = join(tempDir(t), 'state.db');
  (await prepare(file)).store.close();
  const db = new Database(file, { readonly: true });
  t.after(() => db.close());
  for (const table of ['result', 'observation'] as const) {
    const p = (db.prepare(`EXPLAIN QUERY PLAN ${pruneChunkQuery(table)}`).all({ before: T0, running: T0 }) as { detail: string }[]).map((r) => r.detail).join('\n');
    assert.match(p, new RegExp(`SEARCH ${table} USING (COVERING )?INDEX ${table}_by_time \\(time<\\?\\)`), p);
    assert.doesNotMatch(p, new RegExp(`SCAN ${table}\\b`), p);
  }
});
