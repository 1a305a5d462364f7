// StateStore.prune on a real SQLite file: results and readings older than the
// cut-off go (in chunks, past the chunk size), newer ones stay, a dry run only
// counts, and what rollback detection compares with survives: after pruning
// every old reading, an older clock is still caught as CLOCK_WENT_BACK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../../src/state/index.js';
import { tempDir } from './tmp.js';

const X = 'a1'.repeat(32);
const AK = '000b' + 'cd'.repeat(32);
const PLATFORM = ['000b' + 'ef'.repeat(32)];
const T0 = Date.UTC(2026, 10, 1);
const MINUTE = 60_000;

const reading = (clock: number, minute: number) => ({
  instanceId: X,
  akName: AK,
  clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: true },
  firmwareVersion: 7n,
  platformPath: PLATFORM,
  time: T0 + minute * MINUTE,
  target: 'https://vm.example',
});

/** 12,000 results one minute apart (more than two prune chunks) and 30 readings with a rising clock. */
async function prepare(file: string): Promise<void> {
  const s = await openState(file);
  s.beginBatch();
  for (let i = 0; i < 12_000; i++) s.appendResult({ time: T0 + i * MINUTE, target: `https://vm-${i % 7}.example`, verdict: 'trusted', result: { i, padding: 'x'.repeat(400) } });
  s.commitBatch();
  for (let m = 0; m < 30; m++) assert.deepEqual(s.observe(reading(1_000_000 + m * 60_000, m)).findings, []);
  s.close();
}

const count = (file: string, table: string): number => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

test('prune deletes results and readings recorded before the cut-off, in chunks, and keeps the newer ones', async (t) => {
  const file = join(tempDir(t), 'state.db');
  await prepare(file);
  const s = await openState(file, { create: false });
  t.after(() => s.close());

  const dry = s.prune(T0 + 11_000 * MINUTE, { dryRun: true });
  assert.deepEqual(dry, { before: new Date(T0 + 11_000 * MINUTE).toISOString(), results: 11_000, readings: 30, runs: 0, dryRun: true });
  assert.equal(count(file, 'result'), 12_000, 'a dry run deletes nothing');

  const pruned = s.prune(T0 + 11_000 * MINUTE);
  assert.deepEqual(pruned, { ...dry, dryRun: false });
  assert.equal(count(file, 'result'), 1_000);
  assert.equal(count(file, 'observation'), 0);
  const newest = s.history({ limit: 100_000 });
  assert.equal(newest.length, 1_000);
  assert.equal(newest.at(-1)!.time, new Date(T0 + 11_000 * MINUTE).toISOString(), 'the cut-off itself is kept');
  assert.deepEqual(s.prune(T0 + 11_000 * MINUTE), { ...dry, results: 0, readings: 0, dryRun: false }, 'pruning again finds nothing');

  // the state machine is untouched: the identity, its reading count and its hosting period
  const [identity] = s.identities();
  assert.equal(identity!.readings, 30);
  assert.equal(identity!.last.clock, String(1_000_000 + 29 * 60_000));
  assert.deepEqual(s.keptCounts(), { identities: 1, stays: 1 });
  assert.deepEqual(s.integrityCheck(), ['ok']);
});

test('after pruning every reading, a rolled-back clock is still CLOCK_WENT_BACK (the baseline is not history)', async (t) => {
  const file = join(tempDir(t), 'state.db');
  await prepare(file);
  const s = await openState(file, { create: false });
  t.after(() => s.close());
  assert.equal(s.prune(T0 + 100_000 * MINUTE).readings, 30);
  const codes = s.observe(reading(1_000_000, 31)).findings.map((f) => f.code);
  assert.ok(codes.includes('CLOCK_WENT_BACK'), `findings: ${codes.join(', ')}`);
});

test('vacuum after a prune gives the freed pages back: the file shrinks', async (t) => {
  const file = join(tempDir(t), 'state.db');
  await prepare(file);
  const s = await openState(file, { create: false });
  t.after(() => s.close());
  s.prune(T0 + 11_500 * MINUTE);
  s.vacuum();
  const before = statSync(file).size;
  s.prune(T0 + 100_000 * MINUTE);
  s.vacuum();
  assert.ok(statSync(file).size < before / 2, `${statSync(file).size} bytes after, ${before} before`);
  assert.equal(s.history().length, 0);
  assert.deepEqual(s.integrityCheck(), ['ok']);
});

test('prune rejects a cut-off that is not a whole number of ms', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  t.after(() => s.close());
  assert.throws(() => s.prune(Number.NaN), { code: 'INTERNAL_ERROR' });
});
