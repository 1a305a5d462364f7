// The watcher core with injected attestations, stream, ticks and cursor:
// what it attests and when, what it subscribes to, how a burst of
// notifications is coalesced, how it ends. Deterministic: attestations finish
// when the test resolves them, ticks fire when the test fires them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransportError, InternalError } from '../../src/errors.js';
import { boundHostAk, movedBetween, watch, type WatchOptions } from '../../src/watch/watcher.js';
import type { WatchLine } from '../../src/watch/lines.js';
import { MAX_SOURCES_PER_BATCH } from '../../src/watch/trigger.js';
import { FakeWorld, INSTANCE, SERVICE, TARGET, event, report, result } from './fake-deps.js';

const OPTIONS: WatchOptions = { target: TARGET, intervalMs: 60_000, exitOnFailure: false, reattestOnNotification: true, requireTrustedController: false };

function start(world: FakeWorld, options: Partial<WatchOptions> = {}, deps = world.deps()) {
  const ac = new AbortController();
  const done = watch({ ...OPTIONS, ...options }, deps, ac.signal);
  return { ac, done };
}

/** A watch whose first attestation was trusted and which has subscribed to the VM's controller. */
async function subscribed() {
  const w = new FakeWorld();
  const { ac, done } = start(w);
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  return { w, ac, done };
}

test('a burst of 1,000 notifications: one attestation runs, one waits with every later notification merged into it; the cursor ends at the last seq', { timeout: 20_000 }, async () => {
  const w = new FakeWorld();
  const { ac, done } = start(w);
  await w.until(() => w.attests.length === 1);
  assert.equal(w.attests[0]!.input.trigger.kind, 'initial');
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  assert.equal(w.stream.options.service, SERVICE);
  assert.equal(w.stream.options.instance, INSTANCE);
  assert.equal(w.stream.options.afterSeq, undefined);

  const sources = ['http://vmm-a.test/l/vmm-a', 'http://vmm-b.test/l/vmm-b'];
  w.stream.push(...Array.from({ length: 1000 }, (_, i) => event(i + 1, sources[i % 2], sources[(i + 1) % 2])));
  await w.until(() => w.linesOf('notification').length === 1000, '1,000 event lines');
  // every notification was read while the first attestation runs: nothing piled up
  assert.equal(w.attests.length, 2);
  assert.equal(w.inFlight, 1);
  const actions = w.linesOf('notification').map((l) => l.action);
  assert.deepEqual([actions[0], actions[1], new Set(actions.slice(2))], ['attest', 'queued', new Set(['coalesced'])]);
  const first = w.attests[1]!.input.trigger;
  assert.ok(first.kind === 'migration' && first.batch.count === 1 && first.batch.lastSeq === 1);

  w.attests[1]!.resolve(report('trusted', { result: result('trusted', ['cc', 'dd']), host: 'http://vmm-b.test/l/vmm-b' }));
  await w.until(() => w.attests.length === 3);
  const merged = w.attests[2]!.input.trigger;
  assert.ok(merged.kind === 'migration');
  assert.deepEqual([merged.batch.count, merged.batch.firstSeq, merged.batch.lastSeq], [999, 2, 1000]);
  // the distinct sources of the merged notifications, to check for migrate-out
  assert.deepEqual(new Set(merged.batch.sources), new Set(sources));
  assert.equal(merged.batch.latest.seq, 1000);
  // the previous attestation's host is handed on (for an unannounced move)
  assert.equal(w.attests[2]!.input.previous?.host, 'http://vmm-b.test/l/vmm-b');
  w.attests[2]!.resolve(report());
  await w.until(() => w.savedSeqs.includes(1000));
  assert.equal(w.attests.length, 3, 'nothing else was asked for');
  assert.equal(w.maxInFlight, 1);
  assert.deepEqual(w.savedSeqs, [1, 1000]);

  ac.abort();
  const { summary, error } = await done;
  assert.equal(error, null);
  assert.equal(summary.stoppedBy, 'signal');
  assert.equal(summary.notifications, 1000);
  assert.deepEqual(summary.byTrigger, { initial: 1, interval: 0, migration: 2 });
  assert.deepEqual([summary.coalescer.maxInFlight, summary.coalescer.maxQueued, summary.coalescer.coalesced], [1, 1, 998]);
  assert.equal(w.stream.aborted, true, 'the stream was closed');
  // the path change is reported once, announced
  const migrated = w.linesOf('migrated');
  assert.equal(migrated.length, 2);
  assert.deepEqual([migrated[0]!.fromPath, migrated[0]!.toPath, migrated[0]!.announced], [['aa', 'bb'], ['cc', 'dd'], true]);
});

test('subscribes only to the migrationService of a verified top layer, resumes after the saved cursor, and follows a new controller', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  w.cursors.set(`${SERVICE} ${INSTANCE}`, 41);
  const { ac, done } = start(w);
  await w.until(() => w.attests.length === 1);
  // the top layer did not verify: no controller to trust
  w.attests[0]!.resolve(report('not-trusted', { migrationService: null, instance: null, host: null }));
  await w.until(() => w.linesOf('attested').length === 1);
  await w.tick();
  await w.until(() => w.attests.length === 2);
  assert.equal(w.streams.length, 0);
  assert.equal(w.attests[1]!.input.trigger.kind, 'interval');
  assert.equal(w.attests[1]!.input.previous, null);
  w.attests[1]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  assert.equal(w.stream.options.afterSeq, 41, 'resumes after the cursor in the state file');
  const first = w.stream;

  // a later certificate names another controller: the old stream closes, a new one opens
  await w.tick();
  await w.until(() => w.attests.length === 3);
  w.attests[2]!.resolve(report('trusted', { migrationService: 'http://other.test/m/ctl' }));
  await w.until(() => w.streams.length === 2);
  assert.equal(first.aborted, true);
  assert.equal(w.stream.options.service, 'http://other.test/m/ctl');
  ac.abort();
  const { summary } = await done;
  assert.equal(summary.failures, 1);
  assert.equal(summary.firstFailure?.error?.code, 'QUOTE_SIGNATURE_INVALID');
});

test('--exit-on-failure: the first result not trusted ends the watch', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const { done } = start(w, { exitOnFailure: true });
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  w.stream.push(event(1));
  await w.until(() => w.attests.length === 2);
  w.attests[1]!.resolve(report('not-trusted'));
  const { summary, error } = await done;
  assert.equal(error, null);
  assert.equal(summary.stoppedBy, 'failure');
  assert.equal(summary.firstFailure?.verdict, 'not-trusted');
  assert.equal(w.stream.aborted, true);
});

test('a trusted Migration System: the controller is attested before its notifications count, and again at each interval', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const { ac, done } = start(w, { requireTrustedController: true });
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.controllerAttests.length === 1);
  assert.equal(w.controllerAttests[0]!.service, SERVICE);
  assert.equal(w.streams.length, 0, 'no subscription before the controller was attested');
  w.controllerAttests[0]!.resolve({ result: result('not-trusted', []), trusted: false });
  await w.until(() => w.streams.length === 1);
  w.stream.push(event(1));
  await w.until(() => w.linesOf('notification').length === 1);
  assert.equal(w.linesOf('notification')[0]!.action, 'ignored');
  assert.equal(w.attests.length, 1, 'a notification from an untrusted controller causes nothing');
  assert.deepEqual(w.linesOf('controller').map((l) => [l.trusted, l.verdict]), [[false, 'not-trusted']]);

  await w.tick();
  await w.until(() => w.controllerAttests.length === 2 && w.attests.length === 2);
  w.controllerAttests[1]!.resolve({ result: result('trusted', []), trusted: true });
  w.attests[1]!.resolve(report());
  await w.until(() => w.linesOf('controller').length === 2);
  w.stream.push(event(2));
  await w.until(() => w.attests.length === 3);
  assert.equal(w.linesOf('notification')[1]!.action, 'attest');
  w.attests[2]!.resolve(report());
  ac.abort();
  const { summary } = await done;
  assert.equal(summary.controllerAttestations, 2);
  assert.equal(summary.failures, 1, 'the untrusted controller counts as a failure');
});

test('migration.reattestOnNotification false: notifications are noted (cursor saved), only the interval attests', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const { ac, done } = start(w, { reattestOnNotification: false });
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  w.stream.push(event(1), event(2));
  await w.until(() => w.savedSeqs.length === 2);
  assert.deepEqual(w.linesOf('notification').map((l) => l.action), ['noted', 'noted']);
  assert.equal(w.attests.length, 1);
  ac.abort();
  await done;
});

test('a stream that fails is reported, and the next attestation subscribes again', { timeout: 10_000 }, async () => {
  const { w, ac, done } = await subscribed();
  w.stream.status({ type: 'connected', url: `${SERVICE}/v1/migrations`, resumeAfter: undefined });
  w.stream.fail(new TransportError('TRANSPORT_HTTP_STATUS', 'HTTP 404', { status: 404 }));
  await w.until(() => w.linesOf('stream').some((l) => l.status === 'failed'));
  const failed = w.linesOf('stream').find((l) => l.status === 'failed')!;
  assert.equal(failed.error?.code, 'TRANSPORT_HTTP_STATUS');
  await w.tick();
  await w.until(() => w.attests.length === 2);
  w.attests[1]!.resolve(report());
  await w.until(() => w.streams.length === 2);
  assert.deepEqual(w.linesOf('stream').map((l) => l.status), ['subscribing', 'connected', 'failed', 'subscribing']);
  ac.abort();
  await done;
});

test('SIGINT while an attestation runs: its signal aborts, the watch waits for it and ends cleanly; an aborted attestation says nothing', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const { ac, done } = start(w);
  await w.until(() => w.attests.length === 1);
  ac.abort();
  await w.until(() => w.attests[0]!.input.signal.aborted);
  let ended = false;
  void done.then(() => (ended = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(ended, false, 'waits for the running attestation');
  w.attests[0]!.resolve(report('incomplete', { aborted: true }));
  const { summary, error } = await done;
  assert.equal(error, null);
  assert.deepEqual([summary.stoppedBy, summary.attestations, summary.failures], ['signal', 0, 0]);
  assert.equal(w.linesOf('attested').length, 0);
});

test('an attestation that throws (state file unusable) ends the watch with that error', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const { done } = start(w);
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.reject(new TransportError('STATE_BUSY', 'locked', {}));
  const { summary, error } = await done;
  assert.equal(summary.stoppedBy, 'error');
  assert.equal(error?.code, 'STATE_BUSY');
});

test('a bug in the stream handling ends the watch as an internal error, not silently', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const { done } = start(w);
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  w.stream.fail(new InternalError('boom', {}));
  const { summary, error } = await done;
  assert.equal(summary.stoppedBy, 'error');
  assert.equal(error?.kind, 'internal');
});

test('output backpressure: while a printed line waits for a slow reader, no further notification is read', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  let release: (() => void) | null = null;
  const base = w.deps();
  const deps = {
    ...base,
    emit: (line: Parameters<typeof base.emit>[0]) => {
      base.emit(line);
      if (line.type === 'notification') return new Promise<void>((r) => (release = r));
    },
  };
  const { ac, done } = start(w, {}, deps);
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  w.stream.push(event(1), event(2), event(3));
  await w.until(() => w.linesOf('notification').length === 1);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(w.stream.pulled, 1, 'the second notification stays unread');
  release!();
  await w.until(() => w.linesOf('notification').length === 2);
  assert.equal(w.stream.pulled, 2);
  release!();
  await w.until(() => w.linesOf('notification').length === 3);
  release!();
  ac.abort();
  w.attests[1]?.resolve(report());
  w.attests[2]?.resolve(report());
  await done;
});

test('a reader that stopped reading does not hold the shutdown: SIGTERM while a printed line waits ends the watch', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const base = w.deps();
  const deps = {
    ...base,
    emit: (line: Parameters<typeof base.emit>[0]) => {
      base.emit(line);
      if (line.type === 'notification') return new Promise<void>(() => {}); // the pipe never drains
    },
  };
  const { ac, done } = start(w, {}, deps);
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  w.stream.push(event(1));
  await w.until(() => w.linesOf('notification').length === 1);
  ac.abort();
  await w.until(() => w.attests.length === 2);
  w.attests[1]!.resolve(report('incomplete', { aborted: true }));
  const { summary, error } = await done;
  assert.equal(error, null);
  assert.equal(summary.stoppedBy, 'signal');
});

test('a flood of dropped stream events prints the first few, then how many more', { timeout: 10_000 }, async () => {
  const { w, ac, done } = await subscribed();
  for (let i = 0; i < 1000; i++) w.stream.status({ type: 'skipped', reason: 'invalid' });
  w.stream.push(event(1));
  await w.until(() => w.linesOf('notification').length === 1);
  const skipped = w.linesOf('stream').filter((l) => l.status === 'skipped');
  assert.equal(skipped.length, 11);
  assert.equal(skipped.at(-1)!.reason, '990 more events skipped or ignored');
  ac.abort();
  w.attests[1]?.resolve(report());
  await done;
});

test('once the watch stops, its stream says nothing more: a status after the stop prints no line', { timeout: 10_000 }, async () => {
  const { w, ac, done } = await subscribed();
  w.stream.status({ type: 'skipped', reason: 'invalid' });
  const before = w.linesOf('stream').length;
  ac.abort();
  // what a stream still reading its last bytes would report
  w.stream.options.onStatus({ type: 'skipped', reason: 'foreign', seq: 7 });
  w.stream.options.onStatus({ type: 'disconnected', error: undefined, delivered: 0 });
  await done;
  assert.equal(w.linesOf('stream').length, before);
});

test('another vTPM answering at the target: WATCH_INSTANCE_CHANGED every time, its host and controller not followed', { timeout: 10_000 }, async () => {
  const { w, ac, done } = await subscribed();
  const other = 'ef'.repeat(32);
  for (const n of [2, 3]) {
    await w.tick();
    await w.until(() => w.attests.length === n);
    // a genuine, trusted VM: but not the one this watch began with
    w.attests[n - 1]!.resolve(report('trusted', { instance: other, host: 'http://vmm-x.test/l/x', migrationService: 'http://other.test/m/ctl', result: result('trusted', ['ee', 'ff']) }));
    await w.until(() => w.linesOf('finding').length === n - 1);
  }
  const findings = w.linesOf('finding');
  assert.deepEqual(findings.map((f) => [f.code, f.status, f.instance]), [['WATCH_INSTANCE_CHANGED', 'fail', other], ['WATCH_INSTANCE_CHANGED', 'fail', other]]);
  assert.match(findings[0]!.message, new RegExp(`answers as instance ${other}, not ${INSTANCE}`));
  assert.deepEqual(w.linesOf('attested').map((l) => l.instance), [INSTANCE, other, other], 'each attestation is still reported as what it was');
  assert.equal(w.linesOf('migrated').length, 0, 'not a migration of the watched VM');
  assert.equal(w.streams.length, 1, 'the other instance\'s controller is not subscribed to');
  ac.abort();
  const { summary } = await done;
  assert.deepEqual([summary.failures, summary.instance, summary.firstFailure?.error?.code], [2, INSTANCE, 'WATCH_INSTANCE_CHANGED']);

  // with --exit-on-failure the first one ends the watch
  const w2 = new FakeWorld();
  const second = start(w2, { exitOnFailure: true });
  await w2.until(() => w2.attests.length === 1);
  w2.attests[0]!.resolve(report());
  await w2.tick();
  await w2.until(() => w2.attests.length === 2);
  w2.attests[1]!.resolve(report('trusted', { instance: other }));
  const ended = await second.done;
  assert.equal(ended.summary.stoppedBy, 'failure');
});

test('watch lines escape what servers and notifications wrote: no terminal control reaches the screen', async () => {
  const { renderLine } = await import('../../src/watch/lines.js');
  const { PLAIN } = await import('../../src/cli/output.js');
  const evil = '\u001b]0;PWNED\u0007\u001b[2J\u001b[31mFAKE: all good';
  const lines = [
    renderLine({ type: 'notification', time: '2026-11-27T00:00:00.000Z', seq: 1, instance: INSTANCE, from: `http://h/${evil}`, to: 'http://b/', eventTime: '2026-11-27T00:00:00Z', action: 'attest' }, PLAIN),
    renderLine({ type: 'source', time: '2026-11-27T00:00:00.000Z', instance: INSTANCE, source: `http://h/${evil}`, status: 'not-checked', code: 'TRANSPORT_REFUSED', message: evil, sourceVerdict: null, unannounced: false }, PLAIN),
    renderLine({ type: 'attested', time: '2026-11-27T00:00:00.000Z', target: TARGET, trigger: 'initial', verdict: 'not-trusted', instance: null, platformPath: [], reason: evil, error: { code: 'X', message: evil }, findings: [] }, PLAIN),
    renderLine({ type: 'stream', time: '2026-11-27T00:00:00.000Z', service: SERVICE, status: 'failed', reason: evil }, PLAIN),
  ];
  for (const l of lines) {
    assert.doesNotMatch(l, /[\u0000-\u001f\u007f-\u009f]/, l);
    assert.match(l, /\\u001b\]0;PWNED\\u0007/);
  }
});

test('the sources of a batch attested at once, each request listening for the stop: no MaxListenersExceededWarning', { timeout: 10_000 }, async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`);
  };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const w = new FakeWorld();
  const { ac, done } = start(w);
  await w.until(() => w.attests.length === 1);
  // as createWatchDeps does: the VM's request, then every source of a full batch and the previous host at once
  const { signal } = w.attests[0]!.input;
  const requests = Array.from({ length: MAX_SOURCES_PER_BATCH + 2 }, () => () => {});
  for (const r of requests) signal.addEventListener('abort', r, { once: true });
  await new Promise<void>((resolve) => setImmediate(resolve));
  for (const r of requests) signal.removeEventListener('abort', r);
  w.attests[0]!.resolve(report());
  ac.abort();
  await done;
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.deepEqual(warnings, []);
});

/**
 * A watch with a notification gap, on a clock the test moves (clock.ms); the gap's waits are listed in gapWaits
 * for the test to end, apart from the interval's (which these tests never fire).
 */
function startWithGap(notificationGapMs: number) {
  const w = new FakeWorld();
  const clock = { ms: Date.UTC(2026, 10, 26, 12, 0, 0) };
  const gapWaits: { ms: number; resolve(): void }[] = [];
  const base = w.deps();
  const deps = w.deps({
    now: () => new Date(clock.ms),
    sleep: (ms, signal) => {
      if (ms === OPTIONS.intervalMs) return base.sleep(ms, signal);
      return new Promise<void>((resolve) => {
        gapWaits.push({ ms, resolve });
        w.changed();
      });
    },
  });
  return { w, gapWaits, clock, ...start(w, { notificationGapMs }, deps) };
}

test('notifications without end: an attestation they cause starts only a gap after the previous one started, and those that come meanwhile merge into it', { timeout: 10_000 }, async () => {
  const { w, gapWaits, clock, ac, done } = startWithGap(5_000);
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);

  // a second after the initial attestation began: the notification waits out the other four
  clock.ms += 1_000;
  w.stream.push(event(1));
  await w.until(() => gapWaits.length === 1);
  assert.equal(gapWaits[0]!.ms, 4_000);
  assert.equal(w.attests.length, 1, 'not attested during the gap');
  w.stream.push(...Array.from({ length: 50 }, (_, i) => event(i + 2)));
  await w.until(() => w.linesOf('notification').length === 51);
  assert.equal(w.attests.length, 1);
  clock.ms += 4_000;
  gapWaits[0]!.resolve();
  await w.until(() => w.attests.length === 2);
  const first = w.attests[1]!.input.trigger;
  assert.ok(first.kind === 'migration' && first.batch.lastSeq === 1);
  w.attests[1]!.resolve(report());
  // the 50 merged notifications wait a whole gap after the attestation that just began
  await w.until(() => gapWaits.length === 2);
  assert.equal(gapWaits[1]!.ms, 5_000);
  assert.equal(w.attests.length, 2);
  clock.ms += 5_000;
  gapWaits[1]!.resolve();
  await w.until(() => w.attests.length === 3);
  const merged = w.attests[2]!.input.trigger;
  assert.ok(merged.kind === 'migration');
  assert.deepEqual([merged.batch.count, merged.batch.firstSeq, merged.batch.lastSeq], [50, 2, 51]);
  w.attests[2]!.resolve(report());
  await w.until(() => w.savedSeqs.includes(51));

  // a notification long after the last attestation: attested at once
  clock.ms += 60_000;
  w.stream.push(event(52));
  await w.until(() => w.attests.length === 4);
  assert.equal(gapWaits.length, 2, 'no wait once the gap has passed');
  w.attests[3]!.resolve(report());
  await w.until(() => w.savedSeqs.includes(52));
  ac.abort();
  const { summary } = await done;
  assert.deepEqual(summary.byTrigger, { initial: 1, interval: 0, migration: 3 });
});

test('a wall clock set back does not stretch the notification gap: the wait is at most the gap', { timeout: 10_000 }, async () => {
  const { w, gapWaits, clock, ac, done } = startWithGap(5_000);
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  // the clock is set back an hour after the initial attestation began
  clock.ms -= 3_600_000;
  w.stream.push(event(1));
  await w.until(() => gapWaits.length === 1);
  assert.equal(gapWaits[0]!.ms, 5_000, 'not an hour and five seconds');
  gapWaits[0]!.resolve();
  await w.until(() => w.attests.length === 2);
  w.attests[1]!.resolve(report());
  await w.until(() => w.savedSeqs.includes(1));
  ac.abort();
  await done;
});

test('an attestation that could not be completed counts as incomplete in the totals, not as trusted nor as a failure', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const { ac, done } = start(w);
  // the initial attestation, then one at the interval
  for (const [i, verdict] of (['incomplete', 'not-trusted'] as const).entries()) {
    if (i > 0) await w.tick();
    await w.until(() => w.attests.length === i + 1);
    w.attests[i]!.resolve(report(verdict, { migrationService: null, instance: null, host: null }));
    await w.until(() => w.linesOf('attested').length === i + 1);
  }
  ac.abort();
  const { summary } = await done;
  assert.deepEqual([summary.attestations, summary.failures, summary.incomplete], [2, 1, 1]);
});

test('the host the first attestation read from the state file stands as where the VM was: a changed path is a migrated line; a state file that cannot be read ends the watch with its error', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const { ac, done } = start(w);
  await w.until(() => w.attests.length === 1);
  // the first attestation knows no previous host: it reads one (watch.ts), and reports what it read
  assert.equal(w.attests[0]!.input.previous, null);
  const seen = { host: 'http://127.0.0.1:9/l/vmm-old', platformPath: ['aa'], instance: INSTANCE };
  w.attests[0]!.resolve(report('trusted', { previous: seen }));
  await w.until(() => w.linesOf('migrated').length === 1);
  const [migrated] = w.linesOf('migrated') as Extract<WatchLine, { type: 'migrated' }>[];
  assert.deepEqual([migrated!.fromHost, migrated!.fromPath], [seen.host, seen.platformPath]);
  await w.tick();
  await w.until(() => w.attests.length === 2);
  // the next attestation compares with this one, as a running watch does
  assert.equal(w.attests[1]!.input.previous?.host, 'http://vmm-a.test/l/vmm-a');
  w.attests[1]!.resolve(report());
  ac.abort();
  await done;

  const broken = new FakeWorld();
  const started = start(broken);
  await broken.until(() => broken.attests.length === 1);
  const corrupt = new TransportError('STATE_CORRUPT', 'state file x is damaged', {});
  broken.attests[0]!.reject(corrupt);
  const outcome = await started.done;
  assert.equal(outcome.error, corrupt);
  assert.equal(outcome.summary.stoppedBy, 'error');
});

test('movedBetween: whole paths compare whole; a path cut short compares as the start of one, and with nothing of it, by host', () => {
  const at = (platformPath: string[], host: string, cutShort = false) => ({ host, platformPath, ...(cutShort ? { cutShort } : {}) });
  const a = 'http://127.0.0.1:9/l/vmm-a';
  const b = 'http://127.0.0.1:9/l/vmm-b';
  assert.equal(movedBetween(at(['aa', 'bb'], a), at(['aa', 'bb'], a)), false);
  assert.equal(movedBetween(at(['aa', 'bb'], a), at(['cc', 'dd'], b)), true);
  assert.equal(movedBetween(at(['aa', 'bb'], a), at(['aa', 'cc'], a)), true);
  // cut short, in either order
  assert.equal(movedBetween(at(['aa', 'bb'], a), at(['aa'], a, true)), false);
  assert.equal(movedBetween(at(['aa'], a, true), at(['aa', 'bb'], a)), false);
  assert.equal(movedBetween(at(['aa'], a, true), at(['cc', 'dd'], b)), true);
  // nothing of the path verified: the host says
  assert.equal(movedBetween(at([], a, true), at(['aa', 'bb'], a)), false);
  assert.equal(movedBetween(at([], 'http://LOCALHOST:9/l/vmm-a', true), at(['aa', 'bb'], 'http://localhost:9/l/vmm-a')), false);
  assert.equal(movedBetween(at([], a, true), at(['cc', 'dd'], b)), true);
  assert.equal(movedBetween(at(['aa', 'bb'], a), at([], b, true)), true);
});

test('migration.reattestOnNotification false: a state file that cannot save the cursor ends the watch with its error, as it does when notifications attest (not a stream failure the watch goes on after)', { timeout: 10_000 }, async () => {
  const w = new FakeWorld();
  const busy = new TransportError('STATE_BUSY', 'state file x stayed locked', {});
  const { done } = start(w, { reattestOnNotification: false }, w.deps({
    saveCursor: () => {
      throw busy;
    },
  }));
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report());
  await w.until(() => w.streams.length === 1);
  w.stream.push(event(1));
  const outcome = await done;
  assert.equal(outcome.error, busy);
  assert.equal(outcome.summary.stoppedBy, 'error');
  assert.deepEqual(w.linesOf('stream').filter((l) => l.status === 'failed'), []);
});

/** A result whose VM host (layer 1) quotes with `ak`; `bound`: its quote chained and its table hosting the VM. */
function hostResult(ak: string, bound: boolean) {
  const checks = [
    { id: 'binding.nonce-chain', status: 'pass', message: '' },
    bound ? { id: 'binding.hosted-instance', status: 'pass', message: '' } : { id: 'binding.hosted-instance', status: 'fail', code: 'VPLATFORM_NOT_HOSTED', message: '' },
  ];
  return result(bound ? 'trusted' : 'not-trusted', [ak, 'pp'], { layers: [{ position: 0, checks: [] }, { position: 1, checks }] as never });
}

test('the previous host\'s AK is the one it quoted with where it hosted the VM: a walk at its URL answered by a platform that does not host the VM (a relay) does not replace it', { timeout: 10_000 }, async () => {
  assert.equal(boundHostAk(hostResult('aa', true)), 'aa');
  assert.equal(boundHostAk(hostResult('xx', false)), null);
  assert.equal(boundHostAk(result('trusted', ['aa'])), null, 'no binding checks: not known');

  const w = new FakeWorld();
  const { ac, done } = start(w);
  const A = 'http://vmm-a.test/l/vmm-a';
  await w.until(() => w.attests.length === 1);
  w.attests[0]!.resolve(report('trusted', { host: A, result: hostResult('aa', true) }));
  await w.tick();
  await w.until(() => w.attests.length === 2);
  assert.equal(w.attests[1]!.input.previous?.hostAk, 'aa');
  // A's URL relayed to a platform the VM left long ago: its AK is not A's
  w.attests[1]!.resolve(report('not-trusted', { host: A, result: hostResult('xx', false) }));
  await w.tick();
  await w.until(() => w.attests.length === 3);
  assert.deepEqual([w.attests[2]!.input.previous?.platformPath[0], w.attests[2]!.input.previous?.hostAk], ['xx', 'aa']);
  // the VM on another host, seen hosting it there: that host's AK; not bound at another host: not known
  w.attests[2]!.resolve(report('trusted', { host: 'http://vmm-b.test/l/vmm-b', result: hostResult('bb', true) }));
  await w.tick();
  await w.until(() => w.attests.length === 4);
  assert.equal(w.attests[3]!.input.previous?.hostAk, 'bb');
  w.attests[3]!.resolve(report('not-trusted', { host: 'http://vmm-c.test/l/vmm-c', result: hostResult('cc', false) }));
  await w.tick();
  await w.until(() => w.attests.length === 5);
  assert.equal(w.attests[4]!.input.previous?.hostAk, null);
  w.attests[4]!.resolve(report());
  ac.abort();
  await done;
});
