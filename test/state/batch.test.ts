// Batched state writes for fleet audits, on real SQLite files: what a batch
// holds is invisible to other connections (and lost on a crash) until its
// commit; `stored` counts only committed results; a batch commits at
// maxResults, after maxDelayMs, on flush and on close; a refused record
// leaves the batch intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TransportError } from '../../src/errors.js';
import { openState } from '../../src/state/index.js';
import { StateBatcher } from '../../src/state/batch.js';
import { pcrMismatchAtVmmResult, trustedResult, unreachablePhysicalResult } from '../report/fixtures.js';
import { tempDir } from './tmp.js';

test('a batch is one transaction: invisible until committed, then durable; stored counts only committed results', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const writer = await openState(file);
  const reader = await openState(file);
  t.after(() => reader.close());
  const commits: number[] = [];
  const batcher = new StateBatcher(writer, { maxResults: 3, maxDelayMs: 60_000, onCommit: (n) => commits.push(n) });

  batcher.record(trustedResult({ name: 'vm-1' }));
  batcher.record(trustedResult({ name: 'vm-2' }));
  assert.equal(batcher.stored, 0);
  assert.equal(writer.batchOpen, true);
  assert.equal(reader.history().length, 0, 'another connection sees nothing of an open batch');

  batcher.record(trustedResult({ name: 'vm-3' })); // the third commits
  assert.equal(batcher.stored, 3);
  assert.equal(writer.batchOpen, false);
  assert.equal(reader.history().length, 3);

  batcher.record(trustedResult({ name: 'vm-4' }));
  batcher.flush();
  assert.equal(batcher.stored, 4);
  batcher.record(trustedResult({ name: 'vm-5' }));
  batcher.close(); // commits what is pending
  assert.deepEqual(commits, [3, 4, 5]);
  assert.deepEqual(
    reader.history().map((e) => e.target).sort(),
    [1, 2, 3, 4, 5].map((i) => `https://vm-${i}.prod.example:8443`),
  );
  assert.deepEqual(reader.integrityCheck(), ['ok']);
});

test('a batch open too long commits on its own (the write lock is not held for a slow audit)', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const writer = await openState(file);
  const reader = await openState(file);
  t.after(() => reader.close());
  let committed!: () => void;
  const done = new Promise<void>((resolve) => (committed = resolve));
  const batcher = new StateBatcher(writer, { maxResults: 1000, maxDelayMs: 20, onCommit: () => committed() });
  batcher.record(trustedResult({ name: 'slow' }));
  const alive = setInterval(() => undefined, 1000); // the batcher's timer does not keep a process alive by itself
  await done;
  clearInterval(alive);
  assert.equal(batcher.stored, 1);
  assert.equal(reader.history().length, 1);
  batcher.close();
});

test('a record the store refuses leaves the batch intact; the rest is committed', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const store = await openState(file);
  const batcher = new StateBatcher(store, { maxResults: 10 });
  batcher.record(trustedResult({ name: 'good-1' }));
  // an invalid record (time not an integer) is refused by the store
  assert.throws(() => batcher.record({ ...trustedResult({ name: 'bad' }), finishedAt: 'not a time' }));
  batcher.record(trustedResult({ name: 'good-2' }));
  batcher.close();
  const reader = await openState(file);
  t.after(() => reader.close());
  assert.deepEqual(
    reader.history().map((e) => e.target).sort(),
    ['https://good-1.prod.example:8443', 'https://good-2.prod.example:8443'],
  );
});

test('once it has held the write lock holdMs, batch after batch, the batcher lets it go for yieldMs: another writer gets it at once', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const store = await openState(file);
  // another writer, as attest or watch on the same file (no busy timeout here: it must get the lock at once)
  const other = new Database(file, { timeout: 0 });
  t.after(() => other.close());
  const batcher = new StateBatcher(store, { maxResults: 2, maxDelayMs: 0, holdMs: 0, yieldMs: 200 });
  const assess = (): Promise<unknown> => batcher.assessor({ target: 'https://vm.example/', time: Date.now() })([]);
  await assess();
  batcher.record(trustedResult({ name: 'vm-1' }));
  batcher.record(trustedResult({ name: 'vm-2' })); // commits: the lock was held holdMs (0)
  assert.equal(batcher.stored, 2);
  // VMs keep coming, as in a fast audit: before, the next batch began at once, and a waiting writer starved
  const assessed = assess();
  assert.equal(store.batchOpen, false, 'the next assessment waits for yieldMs before it takes the lock again');
  batcher.record(trustedResult({ name: 'vm-3' })); // meanwhile a result is its own transaction
  assert.equal(store.batchOpen, false);
  assert.equal(batcher.stored, 3);
  other.exec('BEGIN IMMEDIATE');
  other.exec('COMMIT');
  await assessed;
  assert.equal(store.batchOpen, true, 'then the batches go on');
  batcher.record(trustedResult({ name: 'vm-4' }));
  batcher.close();
  const reader = await openState(file);
  t.after(() => reader.close());
  assert.equal(reader.history().length, 4);
});

test('a batch whose commit fails (a full disk) counts as not stored, and the batcher stores nothing after it', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const store = await openState(file);
  const batcher = new StateBatcher(store, { maxResults: 2 });
  const db = (store as unknown as { db: Database.Database }).db;
  const commit = store.commitBatch.bind(store);
  let full = true;
  store.commitBatch = () => {
    if (!full) return commit();
    full = false;
    // what SQLite does when the disk fills up at COMMIT: the transaction is rolled back and the COMMIT fails (SQLITE_FULL)
    db.exec('ROLLBACK');
    throw new TransportError('STATE_IO_ERROR', 'commit batch failed: database or disk is full');
  };
  batcher.record(trustedResult({ name: 'vm-1' }));
  assert.throws(() => batcher.record(trustedResult({ name: 'vm-2' })), /disk is full/);
  // the audit goes on with the VMs in flight: before, their batch committed and counted the lost one's results as stored
  assert.throws(() => batcher.record(trustedResult({ name: 'vm-3' })), /disk is full/);
  assert.throws(() => batcher.close(), /disk is full/);
  const reader = await openState(file);
  t.after(() => reader.close());
  assert.equal(batcher.stored, reader.history().length, 'stored counts what the file holds');
  assert.equal(batcher.stored, 0);
});

test('a batch that cannot begin (the lock held beyond the busy timeout) fails the batcher: later results do not each wait for the lock again', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const store = await openState(file, { busyTimeoutMs: 0 });
  const other = new Database(file);
  t.after(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  const batcher = new StateBatcher(store);
  assert.throws(() => batcher.record(trustedResult({ name: 'vm-1' })), (err: Error & { code?: string }) => err.code === 'STATE_BUSY');
  other.exec('COMMIT');
  // with a 10 s busy timeout, each of the audit's VMs in flight waited 10 s more, one after the other
  assert.throws(() => batcher.record(trustedResult({ name: 'vm-2' })), (err: Error & { code?: string }) => err.code === 'STATE_BUSY');
  await assert.rejects(batcher.assessor({ target: 'https://vm.example/', time: 0 })([]), (err: Error & { code?: string }) => err.code === 'STATE_BUSY');
  assert.throws(() => batcher.close(), (err: Error & { code?: string }) => err.code === 'STATE_BUSY');
  assert.equal(batcher.stored, 0);
});

test('a result recorded while the lock is let go that finds it held beyond the busy timeout fails the batcher, as a batch that cannot begin does', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const store = await openState(file, { busyTimeoutMs: 0 });
  const other = new Database(file);
  t.after(() => other.close());
  const batcher = new StateBatcher(store, { maxResults: 1, maxDelayMs: 60_000, holdMs: 0, yieldMs: 60_000 });
  batcher.record(trustedResult({ name: 'vm-1' })); // commits: the lock was held holdMs (0), and is let go
  assert.equal(batcher.stored, 1);
  other.exec('BEGIN IMMEDIATE'); // another writer takes it, and keeps it beyond the busy timeout
  assert.throws(() => batcher.record(trustedResult({ name: 'vm-2' })), (err: Error & { code?: string }) => err.code === 'STATE_BUSY');
  other.exec('COMMIT');
  // with a 10 s busy timeout, each of the audit's VMs in flight waited 10 s more, one after the other
  assert.throws(() => batcher.record(trustedResult({ name: 'vm-3' })), (err: Error & { code?: string }) => err.code === 'STATE_BUSY');
  await assert.rejects(batcher.assessor({ target: 'https://vm.example/', time: 0 })([]), (err: Error & { code?: string }) => err.code === 'STATE_BUSY');
  assert.throws(() => batcher.close(), (err: Error & { code?: string }) => err.code === 'STATE_BUSY');
  const reader = await openState(file);
  t.after(() => reader.close());
  assert.equal(batcher.stored, reader.history().length);
  assert.equal(batcher.stored, 1);
});

test('a write inside a batch that makes SQLite roll the whole transaction back (SQLITE_FULL) loses the batch: not counted as stored, nothing committed after it', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const store = await openState(file);
  const batcher = new StateBatcher(store, { maxResults: 100, maxDelayMs: 60_000 });
  const db = (store as unknown as { db: Database.Database }).db;
  batcher.record(trustedResult({ name: 'vm-1' }));
  batcher.record(trustedResult({ name: 'vm-2' }));
  // the file may not grow any more: the next write fails with SQLITE_FULL, as on a full disk (or a full $TMPDIR
  // for SQLite's statement journal), and SQLite rolls back the whole batch, vm-1 and vm-2 included
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const big = (name: string) => ({ ...trustedResult({ name }), summary: 'x'.repeat(200_000) });
  assert.throws(() => batcher.record(big('vm-3')), (err: { code?: string }) => err.code === 'STATE_IO_ERROR');
  db.pragma('max_page_count = 1073741823');
  // the VMs still in flight: before, each of these committed on its own, and the next commit counted the lost results as stored
  assert.throws(() => batcher.record(trustedResult({ name: 'vm-4' })), /disk is full/);
  assert.throws(() => batcher.close(), /disk is full/);
  const reader = await openState(file);
  t.after(() => reader.close());
  assert.equal(reader.history().length, 0, 'the batch was rolled back whole, and nothing was written after it');
  assert.equal(batcher.stored, 0, 'stored counts what the file holds');
  assert.deepEqual(reader.integrityCheck(), ['ok']);
});

test('closing a store whose open batch was lost throws the batch\'s error, and closes the file all the same', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const store = await openState(file);
  const db = (store as unknown as { db: Database.Database }).db;
  const batcher = new StateBatcher(store, { maxResults: 100, maxDelayMs: 60_000 });
  batcher.record(trustedResult({ name: 'vm-1' }));
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const big = { ...trustedResult({ name: 'vm-2' }), summary: 'x'.repeat(200_000) };
  assert.throws(() => batcher.record(big), (err: { code?: string }) => err.code === 'STATE_IO_ERROR');
  assert.equal(store.batchOpen, true);
  // the store itself, not through the batcher (whose flush ends the batch first)
  assert.throws(() => store.close(), /disk is full/);
  assert.equal(db.open, false, 'the SQLite handle is closed');
  assert.doesNotThrow(() => store.close(), 'closing again is a no-op');
});

test("an audit run's failure codes are written with each batch, in its transaction: what a killed run stored is listed with its codes", async (t) => {
  const file = join(tempDir(t), 'state.db');
  const writer = await openState(file);
  const reader = await openState(file);
  t.after(() => reader.close());
  const runId = writer.beginAuditRun({ startedAt: Date.now(), inventory: '/srv/fleet.yaml', shard: null, planned: 10 });
  const batcher = new StateBatcher(writer, { runId, maxResults: 3, maxDelayMs: 60_000, holdMs: 0, yieldMs: 60_000 });
  const codesNow = (): unknown => reader.auditRun(runId)!.failureCodes;
  batcher.record(pcrMismatchAtVmmResult({ name: 'vm-1' }));
  batcher.record(trustedResult({ name: 'vm-2' }));
  assert.equal(codesNow(), null, 'nothing of an open batch is visible, its codes neither');
  batcher.record(unreachablePhysicalResult({ name: 'vm-3' })); // commits
  const first = [
    { code: 'POLICY_PCR_VALUE', count: 1 },
    { code: 'TRANSPORT_CONNECT_TIMEOUT', count: 1 },
  ];
  assert.deepEqual(codesNow(), first);
  assert.equal(reader.auditRun(runId)!.finishedAt, null);
  // the lock let go (yieldMs): a result is its own transaction, with the codes it changes
  batcher.record(pcrMismatchAtVmmResult({ name: 'vm-4' }));
  assert.equal(writer.batchOpen, false);
  assert.deepEqual(codesNow(), [
    { code: 'POLICY_PCR_VALUE', count: 2 },
    { code: 'TRANSPORT_CONNECT_TIMEOUT', count: 1 },
  ]);
  // the same counts as the audit's summary gives at the end
  const { summarize } = await import('../../src/report/summary.js');
  assert.deepEqual(
    codesNow(),
    summarize([pcrMismatchAtVmmResult(), unreachablePhysicalResult(), pcrMismatchAtVmmResult()]).failureCodes,
  );
  batcher.close();
});

test('a run that stored only trusted results lists no failure codes (an empty list) once its first batch is committed', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const writer = await openState(file);
  const runId = writer.beginAuditRun({ startedAt: Date.now(), inventory: '/srv/fleet.yaml', shard: null, planned: 2 });
  const batcher = new StateBatcher(writer, { runId, maxResults: 2, maxDelayMs: 60_000 });
  batcher.record(trustedResult({ name: 'vm-1' }));
  batcher.record(trustedResult({ name: 'vm-2' }));
  assert.deepEqual(writer.auditRun(runId)!.failureCodes, []);
  batcher.close();
});
