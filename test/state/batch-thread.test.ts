// The audit's state writes on a thread of their own (src/state/batch-thread.ts),
// on real SQLite files and a real simulator over HTTP on 127.0.0.1: the
// thread's assessments are the in-thread StateBatcher's, finding for finding;
// what it stores is durable once `stored` counts it; a failure on the thread
// is thrown on this side as the same typed error, never lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { InternalError, ParseError, TransportError, UsageError, VtpmError } from '../../src/errors.js';
import { baselinePolicy } from '../../src/policy/index.js';
import { startSimulator } from '../../src/simulator/start.js';
import { stateAssessor } from '../../src/state/assess.js';
import { OffThreadBatcher } from '../../src/state/batch-thread.js';
import { errorFrom, errorMessage } from '../../src/state/batch-thread-protocol.js';
import { openState } from '../../src/state/index.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { liveSource } from '../../src/transport/layer-source.js';
import { loadTrustStore } from '../../src/cli/trust-files.js';
import { drawTopNonce } from '../../src/verify/nonce-chain.js';
import { walk, type EvidenceSource } from '../../src/verify/walker.js';
import { pcrMismatchAtVmmResult, trustedResult } from '../report/fixtures.js';
import { tempDir } from './tmp.js';

const newRun = (store: Awaited<ReturnType<typeof openState>>): number => store.beginAuditRun({ startedAt: Date.now(), inventory: '/fleet.yaml', shard: null, planned: 10, label: null });

test('the state thread assesses every walk as the in-thread assessor does: clock rollback, hosting and claims, finding for finding', { timeout: 60_000 }, async (t) => {
  const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 2 } });
  t.after(() => sim.close());
  const dir = tempDir(t);
  const inThread = await openState(join(dir, 'in-thread.db'));
  t.after(() => inThread.close());
  const main = await openState(join(dir, 'off-thread.db'));
  const offThread = OffThreadBatcher.start(main, { runId: newRun(main) });
  t.after(() => offThread.close());
  const { store: trust } = loadTrustStore([sim.trustDir]);
  const client = new EvidenceClient({ timeoutMs: 5_000 });
  t.after(() => client.close());

  const compared: string[][] = [];
  const attest = async (name: string) => {
    const target = sim.platform.layer(name).url;
    const now = new Date();
    const ctx = { target, time: now.getTime(), receivedAt: () => now.getTime() + 5 };
    const result = await walk(
      {
        target,
        topNonce: drawTopNonce(now, target),
        trust,
        policy: baselinePolicy(),
        policySource: { source: 'baseline', builtin: true },
        at: now,
        // both assess the same verified walk: one on the state thread, one here
        assess: async (verified, layers) => {
          const here = await stateAssessor(inThread, ctx)(verified, layers);
          const there = await offThread.assessor(ctx)(verified, layers);
          assert.deepEqual(there, here);
          compared.push(there.checks.map((c) => c.code ?? c.id));
          return there;
        },
      },
      liveSource(client) as EvidenceSource,
    );
    return result.result;
  };

  const first = await attest('vm-0001');
  assert.equal(first.verdict, 'trusted', first.reason);
  await attest('vm-0002');
  const vm = sim.platform.layer('vm-0001').tpm;
  const backup = vm.exportState();
  vm.advanceClock(60_000);
  assert.equal((await attest('vm-0001')).verdict, 'trusted');
  vm.importState(backup); // the vTPM's state restored from a backup: its clock went back
  const restored = await attest('vm-0001');
  assert.equal(restored.verdict, 'not-trusted');
  const codes = compared.at(-1)!;
  assert.ok(codes.some((c) => c === 'CLOCK_WENT_BACK' || c === 'RESTORE_FROM_BACKUP'), `a rollback finding in ${codes.join(', ')}`);
  assert.equal(compared.length, 4);
  await offThread.flush();
});

test('results recorded on the state thread are durable once stored counts them, with the run\'s failure codes; close commits the rest', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const main = await openState(file);
  const runId = newRun(main);
  const commits: number[] = [];
  const batcher = OffThreadBatcher.start(main, { runId, maxResults: 2, maxDelayMs: 60_000, onCommit: (n) => commits.push(n) });
  t.after(() => batcher.close().catch(() => {}));
  const reader = await openState(file);
  t.after(() => reader.close());

  batcher.record(trustedResult({ name: 'vm-1' }));
  batcher.record(pcrMismatchAtVmmResult({ name: 'vm-2' }));
  batcher.record(pcrMismatchAtVmmResult({ name: 'vm-3' }));
  await batcher.flush();
  assert.equal(batcher.stored, 3);
  assert.equal(reader.history().length, 3, 'what stored counts is visible to another connection');
  assert.deepEqual(
    reader.auditRun(runId)?.failureCodes?.map((c) => [c.code, c.count]),
    [['POLICY_PCR_VALUE', 2]],
  );
  batcher.record(trustedResult({ name: 'vm-4' }));
  await batcher.close();
  assert.equal(batcher.stored, 4);
  assert.deepEqual(commits.at(-1), 4);
  assert.deepEqual(
    reader.history().map((e) => e.target).sort(),
    [1, 2, 3, 4].map((i) => `https://vm-${i}.prod.example:8443`),
  );
  assert.ok(reader.history().every((e) => e.runId === runId));
  assert.deepEqual(reader.integrityCheck(), ['ok']);
});

test('a result the state thread cannot store is thrown by the next record (once: the results in flight are still stored), by flush and by close', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const main = await openState(file);
  const batcher = OffThreadBatcher.start(main, { runId: newRun(main), maxResults: 100 });
  t.after(() => batcher.close().catch(() => {}));
  batcher.record(trustedResult({ name: 'good-1' }));
  // a time the store refuses
  batcher.record({ ...trustedResult({ name: 'bad' }), finishedAt: 'not a time' });
  batcher.record(trustedResult({ name: 'good-2' }));
  // the flush itself is answered (the batch holds good-1 and good-2), but the failure came first
  const refused = (err: unknown) => err instanceof VtpmError && err.code === 'INTERNAL_ERROR' && /invalid time/.test(err.message);
  await assert.rejects(batcher.flush(), refused);
  assert.equal(batcher.stored, 2);
  // the next record hands its result over, then says what failed (the audit starts no more VMs)
  assert.throws(() => batcher.record(trustedResult({ name: 'in-flight-1' })), refused);
  batcher.record(trustedResult({ name: 'in-flight-2' }));
  await assert.rejects(batcher.close(), refused);
  assert.equal(batcher.stored, 4);
  const reader = await openState(file);
  t.after(() => reader.close());
  assert.deepEqual(
    reader.history().map((e) => e.target).sort(),
    ['good-1', 'good-2', 'in-flight-1', 'in-flight-2'].map((n) => `https://${n}.prod.example:8443`),
  );
});

test('errors cross from the state thread with their kind (the exit code), code, message and details, whatever the class is called there', () => {
  for (const err of [
    new TransportError('STATE_BUSY', 'locked', { path: '/s.db', sqlite: 'SQLITE_BUSY' }),
    new UsageError('STATE_NOT_FOUND', 'no file', { path: '/s.db' }),
    new ParseError('TPM_TRUNCATED', 'short', {}),
    new InternalError('bug', { field: 'time' }),
  ]) {
    const back = errorFrom(errorMessage(err));
    assert.equal(back.constructor, err.constructor);
    assert.deepEqual([back.kind, back.code, back.message, back.details], [err.kind, err.code, err.message, err.details]);
    // a bundler renaming the class (TransportError2) changes nothing that matters
    const renamed = errorFrom({ ...errorMessage(err), name: `${err.name}2` });
    assert.deepEqual([renamed.kind, renamed.code, renamed.message], [err.kind, err.code, err.message]);
  }
  const plain = errorFrom(errorMessage(new RangeError('offset out of range')));
  assert.deepEqual([plain.kind, plain.code], ['internal', 'INTERNAL_ERROR']);
  // details that cannot cross (a cause kept as an Error, a bigint) do not stop the error from crossing
  assert.deepEqual(errorMessage(new TransportError('STATE_IO_ERROR', 'disk', { n: 1n })).details, {});
});

test('a state file replaced at its path after the audit opened it: the state thread writes nothing to the other file, and says why', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state.db');
  const main = await openState(file);
  const other = await openState(join(dir, 'other.db'));
  other.close();
  renameSync(join(dir, 'other.db'), file);
  const batcher = OffThreadBatcher.start(main, { runId: newRun(main) });
  t.after(() => batcher.close().catch(() => {}));
  batcher.record(trustedResult({ name: 'vm-1' }));
  await assert.rejects(batcher.flush(), (err: unknown) => err instanceof VtpmError && err.code === 'STATE_UNWRITABLE' && /replaced/.test(err.message));
  await assert.rejects(batcher.close(), (err: unknown) => err instanceof VtpmError && err.code === 'STATE_UNWRITABLE');
  const reader = await openState(file);
  t.after(() => reader.close());
  assert.equal(reader.history().length, 0);
});

test('a state thread that ends unexpectedly fails the call waiting and every later one (INTERNAL_ERROR), and close still closes the store', async (t) => {
  const main = await openState(join(tempDir(t), 'state.db'));
  const batcher = OffThreadBatcher.start(main, { runId: newRun(main), workerUrl: new URL('data:text/javascript,process.exit(7)') });
  t.after(() => batcher.close().catch(() => {}));
  await assert.rejects(batcher.flush(), (err: unknown) => err instanceof VtpmError && err.code === 'INTERNAL_ERROR' && /ended unexpectedly \(exit code 7\)/.test(err.message));
  assert.throws(() => batcher.record(trustedResult()), (err: unknown) => err instanceof VtpmError && err.code === 'INTERNAL_ERROR');
  await assert.rejects(batcher.close(), (err: unknown) => err instanceof VtpmError && err.code === 'INTERNAL_ERROR');
  assert.throws(() => main.history(), (err: unknown) => err instanceof VtpmError, 'the store is closed');
});
