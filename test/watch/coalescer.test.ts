// Single flight per key with one waiting request, and how notifications merge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer } from '../../src/watch/coalescer.js';
import { MAX_SOURCES_PER_BATCH, batchOf, mergeTriggers, type AttestTrigger } from '../../src/watch/trigger.js';
import { event } from './fake-deps.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('per key: one job runs, one waits, later requests merge into the waiting one; keys do not wait for each other', async () => {
  const running = new Map<string, number>();
  let maxPerKey = 0;
  const jobs: { key: string; request: number[]; done: ReturnType<typeof deferred> }[] = [];
  const c = new Coalescer<string, number[]>(
    async (key, request) => {
      running.set(key, (running.get(key) ?? 0) + 1);
      maxPerKey = Math.max(maxPerKey, running.get(key)!);
      const done = deferred();
      jobs.push({ key, request, done });
      await done.promise;
      running.set(key, running.get(key)! - 1);
    },
    (a, b) => [...a, ...b],
  );
  assert.equal(c.request('vm-1', [1]), 'started');
  assert.equal(c.request('vm-2', [1]), 'started');
  assert.equal(c.request('vm-1', [2]), 'queued');
  for (let i = 3; i <= 1000; i++) assert.equal(c.request('vm-1', [i]), 'coalesced');
  assert.deepEqual(jobs.map((j) => [j.key, j.request]), [['vm-1', [1]], ['vm-2', [1]]]);
  assert.equal(c.active, 2);

  jobs[0]!.done.resolve();
  await new Promise((r) => setImmediate(r));
  assert.equal(jobs.length, 3);
  assert.equal(jobs[2]!.key, 'vm-1');
  assert.equal(jobs[2]!.request.length, 999);
  assert.equal(c.request('vm-1', [1001]), 'queued', 'a request after the merged job started waits again');
  jobs[2]!.done.resolve();
  jobs[1]!.done.resolve();
  await new Promise((r) => setImmediate(r));
  jobs[3]!.done.resolve();
  await c.idle();
  assert.equal(jobs.length, 4);
  assert.equal(maxPerKey, 1);
  assert.deepEqual(c.stats, { started: 4, coalesced: 998, maxInFlight: 1, maxQueued: 1 });
  assert.equal(c.active, 0);
});

test('a job that fails goes to onError and the waiting request still runs', async () => {
  const errors: unknown[] = [];
  const seen: string[] = [];
  const gate = deferred();
  const c = new Coalescer<string, string>(
    async (_key, r) => {
      seen.push(r);
      if (r === 'first') {
        await gate.promise;
        throw new Error('broken');
      }
    },
    (_a, b) => b,
    (_key, err) => errors.push(err),
  );
  c.request('k', 'first');
  c.request('k', 'second');
  gate.resolve();
  await c.idle();
  assert.deepEqual(seen, ['first', 'second']);
  assert.equal((errors[0] as Error).message, 'broken');
});

test('clearWaiting drops the waiting request (shutdown); idle() resolves when the running job ends', async () => {
  const gate = deferred();
  const seen: number[] = [];
  const c = new Coalescer<string, number>(
    async (_k, r) => {
      seen.push(r);
      await gate.promise;
    },
    (a, b) => a + b,
  );
  c.request('k', 1);
  c.request('k', 2);
  c.clearWaiting();
  gate.resolve();
  await c.idle();
  assert.deepEqual(seen, [1]);
});

test('triggers: notifications win over interval and initial; batches keep counts, seq range, latest and a capped list of distinct sources', () => {
  const m = (seq: number, from: string): AttestTrigger => ({ kind: 'migration', batch: batchOf('s', event(seq, from)) });
  assert.equal(mergeTriggers({ kind: 'interval' }, { kind: 'interval' }).kind, 'interval');
  assert.equal(mergeTriggers({ kind: 'initial' }, { kind: 'interval' }).kind, 'initial');
  assert.equal(mergeTriggers({ kind: 'interval' }, m(1, 'http://a')).kind, 'migration');
  assert.equal(mergeTriggers(m(1, 'http://a'), { kind: 'interval' }).kind, 'migration');
  let t: AttestTrigger = m(1, 'http://a');
  for (let i = 2; i <= 100; i++) t = mergeTriggers(t, m(i, `http://host-${i % 20}`));
  t = mergeTriggers(t, m(101, 'http://host-3'));
  assert.ok(t.kind === 'migration');
  assert.deepEqual([t.batch.count, t.batch.firstSeq, t.batch.lastSeq, t.batch.latest.seq], [101, 1, 101, 101]);
  assert.equal(t.batch.sources.length, MAX_SOURCES_PER_BATCH);
  assert.equal(new Set(t.batch.sources).size, MAX_SOURCES_PER_BATCH);
  assert.equal(t.batch.sources.at(-1), 'http://host-3', 'the most recent source is kept, last');
  assert.ok(t.batch.sourcesDropped > 0);
  // a batch from another controller replaces the old one (its seqs count differently)
  const other: AttestTrigger = { kind: 'migration', batch: batchOf('other', event(7, 'http://z')) };
  const replaced = mergeTriggers(t, other);
  assert.ok(replaced.kind === 'migration' && replaced.batch.service === 'other' && replaced.batch.count === 1);
  // a controller counting again (reinstalled) mid-batch: the last to arrive is the latest, and its seq the cursor's
  const recount = mergeTriggers(m(100, 'http://old'), m(1, 'http://new'));
  assert.ok(recount.kind === 'migration');
  assert.deepEqual([recount.batch.firstSeq, recount.batch.lastSeq, recount.batch.latest.seq, recount.batch.latest.from], [100, 1, 1, 'http://new']);
});
