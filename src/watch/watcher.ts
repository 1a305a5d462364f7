// The watcher: attests one VM, then again on every migration notification
// and every interval, and says what changed. Pure orchestration: attesting,
// subscribing, the clock and output are injected (the `watch` command wires
// the real ones), so tests drive it without sleeps.
//
// Rules it keeps:
// - Notifications are hints, never evidence. It subscribes only to the
//   Migration Controller named by the VM's VERIFIED AK certificate
//   (migrationService), only once the top layer verified, and follows the
//   certificate when a later one names another controller. Each notification
//   only causes an attestation from the top, as the interval does.
// - Where the policy requires a trusted Migration System, the controller is
//   attested first (and at each interval) and notifications are acted on only
//   while it is trusted.
// - At most one attestation runs per VM, with at most one waiting, into which
//   every later notification is merged (coalescer.ts): a burst of any size
//   costs a bounded number of attestations and bounded memory.
// - The resume cursor (last seq handled) is saved only once an attestation
//   covering it finished: a crash replays notifications, never loses them.

import { setMaxListeners } from 'node:events';
import { asVtpmError, type CodeTable, type VtpmError } from '../errors.js';
import type { MigrationEvent, MigrationStreamStatus } from '../transport/migration-stream.js';
import type { AttestationResult, Verdict } from '../verify/result.js';
import { Coalescer, type CoalescerStats } from './coalescer.js';
import type { ErrorLine, WatchLine } from './lines.js';
import { sameUri, type SourceReport } from './source-check.js';
import { batchOf, mergeTriggers, type AttestTrigger } from './trigger.js';

export const DEFAULT_INTERVAL_MS = 5 * 60_000;
/** the watch command's gap between an attestation and the next one caused by notifications */
export const DEFAULT_NOTIFICATION_GAP_MS = 5_000;

export const WATCH_CODES = {
  MIGRATION_SOURCE_NOT_FOLLOWED: { kind: 'verification', summary: 'a source platform named only by a notification (not the VM\'s verified previous host) was not attested: notifications are unsigned; migration.requireSourceMigrateOut in the policy turns the check on' },
  WATCH_INSTANCE_CHANGED: { kind: 'verification', summary: 'the watched target answers as another vTPM instance than the one the watch began with, or with a verified certificate naming none (another VM, a new vTPM, or a physical machine at that address); a failure of the watch, every time' },
} as const satisfies CodeTable;

/** Dropped stream events (invalid, foreign, duplicate, other types) shown per connection before they are only counted. */
export const MAX_DROPPED_SHOWN = 10;

/** Where the VM was last seen: its verified host and platform path. */
export interface HostSnapshot {
  /** the VM certificate's deepAttestation (verified) */
  host: string | null;
  /** AK key ids of the layers below */
  platformPath: string[];
  /** the instance the VM's verified certificate named there (absent: the one this watch follows) */
  instance?: string | null;
  /** the walk stopped above the bottom layer: platformPath is only the start of the path (absent: the whole path) */
  cutShort?: boolean;
  /**
   * The AK the VM's host (at `host`) quoted with the last time its binding to the VM held (boundHostAk), at this
   * attestation or an earlier one of the same host; null or absent: not known. The source check asks the previous
   * host to answer with it.
   */
  hostAk?: string | null;
}

/**
 * The AK of the VM's host (platformPath[0]) where the walk shows it hosting the VM: its quote chained to the VM's
 * (binding.nonce-chain) and its verified table hosting the instance (binding.hosted-instance), no binding check
 * failing. A layer that quoted at the host's URL without hosting the VM (a relay to a platform the VM left long
 * ago, an old quote replayed) is no evidence of the host's AK: taken as it, one attestation failing at a relay
 * made the relayed platform the "previous host" the next source check expected, and the same relay then passed it.
 */
export function boundHostAk(result: { platformPath?: unknown; layers?: unknown } | null | undefined): string | null {
  const path = result?.platformPath;
  const layers = result?.layers;
  if (!Array.isArray(path) || typeof path[0] !== 'string' || !Array.isArray(layers)) return null;
  const host = layers.find((l: unknown) => (l as { position?: unknown } | null)?.position === 1) as { checks?: unknown; akKeyId?: unknown } | undefined;
  // the layer's own AK, where the result names it, is the path's first: a path and layers that disagree say nothing
  if (!Array.isArray(host?.checks) || (host.akKeyId !== undefined && host.akKeyId !== path[0])) return null;
  const binding = (host.checks as unknown[]).filter((c): c is { id: string; status: unknown } => typeof (c as { id?: unknown } | null)?.id === 'string' && (c as { id: string }).id.startsWith('binding.'));
  const held = (id: string): boolean => binding.some((c) => c.id === id && c.status === 'pass');
  return held('binding.hosted-instance') && held('binding.nonce-chain') && binding.every((c) => c.status !== 'fail') ? path[0] : null;
}

/**
 * Did the VM move between two attestations whose top layer verified? Two whole paths differ; a path of a walk cut
 * short (a layer below unreachable, or not verified) is only the start of one: it differs when it is not the start
 * of the other, or, nothing of it known, when the certificate names another host.
 */
export function movedBetween(last: HostSnapshot, now: HostSnapshot): boolean {
  if (!last.cutShort && !now.cutShort) return last.platformPath.join('>') !== now.platformPath.join('>');
  const [shorter, longer] = last.platformPath.length <= now.platformPath.length ? [last.platformPath, now.platformPath] : [now.platformPath, last.platformPath];
  if (shorter.some((ak, i) => longer[i] !== ak)) return true;
  return shorter.length === 0 && last.host !== null && now.host !== null && !sameUri(last.host, now.host);
}

export interface AttestInput {
  trigger: AttestTrigger;
  /** where the VM was at the previous attestation whose top layer verified */
  previous: HostSnapshot | null;
  signal: AbortSignal;
}

export interface AttestReport {
  result: AttestationResult;
  /** the top layer's verified instanceId (hex), or null when it did not verify or names none */
  instance: string | null;
  /**
   * the top layer's certificate path and quote verified: a null `instance` is then what answers at the target (a
   * machine whose certificate names no vTPM instance), not a walk that could not tell
   */
  topVerified?: boolean;
  /** the top layer's verified migrationService, or null */
  migrationService: string | null;
  /** the top layer's verified deepAttestation, or null */
  host: string | null;
  /** the walk stopped above the bottom layer (result.platformPath is only the start of the path) */
  cutShort?: boolean;
  sources: SourceReport[];
  /** the attestation was cut short by shutdown: it says nothing */
  aborted?: boolean;
  /**
   * Given no previous host (the first attestation of a watch), where the state file last saw the instance the
   * VM's certificate names verified (a watch before this one, which stopped or crashed, or an audit): that host
   * was checked as the one the VM left, as a watch that kept running would have.
   */
  previous?: HostSnapshot;
}

export interface ControllerReport {
  result: AttestationResult;
  trusted: boolean;
}

export interface SubscribeOptions {
  service: string;
  instance: string;
  afterSeq: number | undefined;
  /** the time of afterSeq's event (ms since the epoch), if known: later events at or below it are new (see migrationEvents) */
  afterTime?: number | undefined;
  signal: AbortSignal;
  /** a promise it returns (a line waiting for a slow reader) is to be waited for before the stream reads or reconnects */
  onStatus: (status: MigrationStreamStatus) => Promise<void> | void;
}

export interface WatchDeps {
  attest(input: AttestInput): Promise<AttestReport>;
  attestController(service: string, signal: AbortSignal): Promise<ControllerReport>;
  subscribe(options: SubscribeOptions): AsyncIterable<MigrationEvent>;
  /** the last seq handled, and its event's time (ms since the epoch, see eventCursorTime) if known */
  loadCursor(service: string, instance: string): { seq: number; time?: number | undefined } | null;
  /** records `seq` as the last handled, with the time its event carries (the controller's clock) */
  saveCursor(service: string, instance: string, seq: number, eventTime: Date): void;
  /** waits `ms` for the next periodic attestation; resolves early when `signal` aborts */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  now(): Date;
  /** prints a line; a promise means "wait before printing more" (stdout backpressure: a slow reader holds the watcher back) */
  emit(line: WatchLine): void | Promise<void>;
}

export interface WatchOptions {
  /** the VM's evidence endpoint */
  target: string;
  intervalMs: number;
  exitOnFailure: boolean;
  /** policy migration.reattestOnNotification */
  reattestOnNotification: boolean;
  /** policy migration.requireTrustedController */
  requireTrustedController: boolean;
  /**
   * An attestation caused by notifications starts at least this long after the
   * previous attestation started (default 0: at once). Notifications merge
   * while it waits, so a controller streaming them without end cannot make the
   * watch attest (and record a result) back to back.
   */
  notificationGapMs?: number;
  /** the vTPM instance (hex) expected at the target (--instance); otherwise the one the first attestation shows is pinned */
  expectInstance?: string;
}

export interface WatchSummary {
  target: string;
  instance: string | null;
  platformPath: string[];
  lastVerdict: Verdict | null;
  attestations: number;
  byTrigger: Record<AttestTrigger['kind'], number>;
  /** attestations that were not trusted */
  failures: number;
  /** attestations that could not be completed (a layer unreachable, a transport error): neither trusted nor failures */
  incomplete: number;
  /** notifications received */
  notifications: number;
  sourceChecks: number;
  controllerAttestations: number;
  coalescer: CoalescerStats;
  /** why the watch ended */
  stoppedBy: 'signal' | 'failure' | 'error';
  /** the first result that was not trusted (VM or controller) */
  firstFailure: { target: string; verdict: Verdict; reason: string; error?: ErrorLine } | null;
}

export interface WatchOutcome {
  summary: WatchSummary;
  /** what ended the watch when it was an error (state file unusable, a bug): the caller exits with its kind */
  error: VtpmError | null;
}

interface Subscription {
  service: string;
  instance: string;
  abort: AbortController;
  /** false while the policy requires a trusted controller and it is not (or not yet) attested trusted */
  trusted: boolean;
  done: Promise<void>;
}

function errorLine(e: { code: string; message: string } | undefined): ErrorLine | undefined {
  return e ? { code: e.code, message: e.message } : undefined;
}

export async function watch(options: WatchOptions, deps: WatchDeps, signal: AbortSignal): Promise<WatchOutcome> {
  const stop = new AbortController();
  // Every request of an attestation listens for the stop while it is in flight, one listener each, removed
  // when it settles: after a batch of notifications up to MAX_SOURCES_PER_BATCH sources and the previous host
  // are attested at once, beside the interval's wait and the printing, more than node's ten, and node would
  // warn of a leak. The number is bounded by the batch, not by the watch's length.
  setMaxListeners(0, stop.signal);
  let stoppedBy: WatchSummary['stoppedBy'] = 'signal';
  let fatal: VtpmError | null = null;
  const end = (why: WatchSummary['stoppedBy']): void => {
    if (stop.signal.aborted) return;
    stoppedBy = why;
    stop.abort();
  };
  const onAbort = (): void => end('signal');
  if (signal.aborted) end('signal');
  else signal.addEventListener('abort', onAbort, { once: true });

  const iso = (): string => deps.now().toISOString();
  /**
   * Prints a line, waiting while the reader is slow (deps.emit's promise), but never past the stop: a reader
   * that stopped reading must not hold the shutdown (SIGTERM would otherwise wait for it forever).
   */
  const emit = (line: WatchLine): Promise<void> | void => {
    const printed = deps.emit(line);
    if (!printed || stop.signal.aborted) return;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        stop.signal.removeEventListener('abort', done);
        resolve();
      };
      stop.signal.addEventListener('abort', done, { once: true });
      printed.then(done, done);
    });
  };
  const summary: WatchSummary = {
    target: options.target,
    instance: null,
    platformPath: [],
    lastVerdict: null,
    attestations: 0,
    byTrigger: { initial: 0, interval: 0, migration: 0 },
    failures: 0,
    incomplete: 0,
    notifications: 0,
    sourceChecks: 0,
    controllerAttestations: 0,
    coalescer: { started: 0, coalesced: 0, maxInFlight: 0, maxQueued: 0 },
    stoppedBy: 'signal',
    firstFailure: null,
  };
  // where the VM was at the last attestation whose top layer verified; for the first one, the attestation reads
  // where the state file last saw the instance (report.previous)
  let last: HostSnapshot | null = null;
  /** the instance this watch follows: the first one the target's verified certificate named */
  let pinned: string | null = options.expectInstance ?? null;
  let subscription: Subscription | null = null;
  const tasks = new Set<Promise<void>>();
  /** Background work (the stream, the interval): an error it throws ends the watch. */
  const track = (p: Promise<void>): void => {
    const guarded = p.catch((err: unknown) => {
      fatal ??= asVtpmError(err);
      end('error');
    });
    tasks.add(guarded);
    void guarded.finally(() => tasks.delete(guarded));
  };

  const failed = (result: AttestationResult): void => {
    summary.failures++;
    summary.firstFailure ??= { target: result.target, verdict: result.verdict, reason: result.reason, ...(result.error ? { error: errorLine(result.error)! } : {}) };
    if (options.exitOnFailure) end('failure');
  };

  // ---------------------------------------------------------------- attestations

  let lastStart: number | null = null;
  const runAttest = async (_key: string, trigger: AttestTrigger): Promise<void> => {
    if (stop.signal.aborted) return;
    // waits inside the job: notifications that come meanwhile merge into the one waiting behind it
    const gap = options.notificationGapMs ?? 0;
    if (trigger.kind === 'migration' && gap > 0 && lastStart !== null) {
      // never longer than the gap: a wall clock set back (NTP, a migrated verifier) would make it the jump's length
      const wait = Math.min(gap, lastStart + gap - deps.now().getTime());
      if (wait > 0) await deps.sleep(wait, stop.signal);
      if (stop.signal.aborted) return;
    }
    lastStart = deps.now().getTime();
    const report = await deps.attest({ trigger, previous: last, signal: stop.signal });
    if (report.aborted || stop.signal.aborted) return;
    const r = report.result;
    summary.attestations++;
    summary.byTrigger[trigger.kind]++;
    summary.lastVerdict = r.verdict;
    const time = iso();
    const findings = (r.findings ?? []).filter((c) => c.status === 'fail' || c.status === 'warn');
    await emit({
      type: 'attested',
      time,
      target: options.target,
      trigger: trigger.kind,
      ...(trigger.kind === 'migration' ? { events: { count: trigger.batch.count, firstSeq: trigger.batch.firstSeq, lastSeq: trigger.batch.lastSeq } } : {}),
      verdict: r.verdict,
      instance: report.instance,
      platformPath: r.platformPath,
      reason: r.reason,
      ...(r.error ? { error: errorLine(r.error)! } : {}),
      findings: [...new Set(findings.map((c) => c.code).filter((c): c is string => c !== undefined))],
    });
    // Another vTPM answering at the target (another VM, or this one re-created): its result stands for it, but the VM
    // this watch follows is not there. Said every time, and nothing of it is followed: not its host, nor its controller.
    pinned ??= report.instance;
    // A verified top layer naming no instance (a relay to a physical host, whose certificate has no TrustedLayer
    // instance) is not the watched VM either: taken as "nothing to compare", it was reported trusted every time.
    if (pinned !== null && report.instance !== pinned && (report.instance !== null || report.topVerified === true)) {
      const as = report.instance !== null ? `as instance ${report.instance}` : 'with a verified AK certificate that names no vTPM instance';
      const message = options.expectInstance
        ? `${options.target} answers ${as}, not ${pinned}, the instance --instance expects: another VM or vTPM is at this address`
        : `${options.target} answers ${as}, not ${pinned}, the instance this watch began with: another VM or vTPM is at this address (restart the watch to follow it)`;
      await emit({ type: 'finding', time, instance: report.instance, code: 'WATCH_INSTANCE_CHANGED', status: 'fail', message });
      summary.failures++;
      summary.firstFailure ??= { target: options.target, verdict: 'not-trusted', reason: message, error: { code: 'WATCH_INSTANCE_CHANGED', message } };
      if (options.exitOnFailure) end('failure');
      return;
    }
    if (last === null && report.previous) last = report.previous;
    if (report.host !== null) {
      const sameInstance = last?.instance == null || last.instance === report.instance;
      // the host's AK as last bound: a walk at the same host that did not bind (a relay there, a VM mid-migration) keeps it
      const sameHost = last !== null && sameInstance && last.host !== null && sameUri(last.host, report.host);
      const hostAk = boundHostAk(r) ?? (sameHost ? (last!.hostAk ?? null) : null);
      const now: HostSnapshot = { host: report.host, platformPath: r.platformPath, instance: report.instance, ...(report.cutShort ? { cutShort: true } : {}), hostAk };
      // A walk cut short (a layer below unreachable) names only the start of the path: compared as a whole one,
      // it printed a migrated line to that start, and another back to the whole path at the next walk, for a VM
      // that never moved.
      const moved = last !== null && sameInstance && movedBetween(last, now);
      if (last && moved) {
        await emit({
          type: 'migrated',
          time,
          target: options.target,
          instance: report.instance,
          fromPath: last.platformPath,
          toPath: r.platformPath,
          fromHost: last.host,
          toHost: report.host,
          announced: trigger.kind === 'migration',
        });
      }
      // where it did not move, a walk cut short says less of the path than the one before: that one is kept
      last = last && sameInstance && !moved && now.cutShort && last.platformPath.length >= now.platformPath.length ? { ...last, host: now.host, instance: now.instance, hostAk } : now;
      summary.instance = report.instance;
      summary.platformPath = r.platformPath;
    }
    for (const s of report.sources) {
      summary.sourceChecks++;
      await emit({ type: 'source', time, instance: s.instance, source: s.uri, status: s.status, ...(s.code ? { code: s.code } : {}), message: s.message, sourceVerdict: s.sourceVerdict, unannounced: s.unannounced });
    }
    for (const c of findings) {
      // said by the source lines; a notification's destination that the certificate contradicts is not: it is printed here
      if (c.id.startsWith('migration.source')) continue;
      await emit({ type: 'finding', time, instance: report.instance, code: c.code ?? c.id, status: c.status as 'fail' | 'warn', message: c.message });
    }
    if (trigger.kind === 'migration' && report.instance !== null) deps.saveCursor(trigger.batch.service, report.instance, trigger.batch.lastSeq, trigger.batch.latest.time);
    if (r.verdict === 'not-trusted') failed(r);
    else if (r.verdict === 'incomplete') summary.incomplete++;
    if (!stop.signal.aborted && report.migrationService !== null && report.instance !== null) await follow(report.migrationService, report.instance);
  };

  const coalescer = new Coalescer<string, AttestTrigger>(runAttest, mergeTriggers, (_key, err) => {
    fatal ??= asVtpmError(err);
    end('error');
  });
  summary.coalescer = coalescer.stats;
  const request = (trigger: AttestTrigger) => coalescer.request(options.target, trigger);

  // ---------------------------------------------------------------- the controller and its stream

  const attestController = async (sub: Subscription): Promise<void> => {
    const c = await deps.attestController(sub.service, stop.signal);
    if (stop.signal.aborted) return;
    summary.controllerAttestations++;
    sub.trusted = c.trusted;
    const r = c.result;
    await emit({ type: 'controller', time: iso(), service: sub.service, verdict: r.verdict, trusted: c.trusted, reason: r.reason, ...(r.error ? { error: errorLine(r.error)! } : {}) });
    if (r.verdict === 'not-trusted') failed(r);
  };

  /** Subscribes to the controller the VM's verified certificate names (again, when it names another, or the stream ended). */
  const follow = async (service: string, instance: string): Promise<void> => {
    if (subscription && subscription.service === service && subscription.instance === instance) return;
    if (subscription) subscription.abort.abort();
    const sub: Subscription = { service, instance, abort: new AbortController(), trusted: !options.requireTrustedController, done: Promise.resolve() };
    subscription = sub;
    if (options.requireTrustedController) await attestController(sub);
    if (stop.signal.aborted || subscription !== sub) return;
    sub.done = consume(sub);
    track(sub.done);
  };

  const consume = async (sub: Subscription): Promise<void> => {
    const streamSignal = AbortSignal.any([stop.signal, sub.abort.signal]);
    const cursor = deps.loadCursor(sub.service, sub.instance);
    const afterSeq = cursor?.seq;
    // Stream lines wait for a slow reader as the notification lines do: the stream waits for what onStatus
    // returns before reading or reconnecting, so a controller whose events are all dropped (or that only
    // reconnects) cannot pile up lines, nor 'drain' listeners on stdout, while the reader does not read.
    const streamLine = (status: Extract<WatchLine, { type: 'stream' }>['status'], extra: Record<string, unknown> = {}): Promise<void> | void =>
      emit({ type: 'stream', time: iso(), service: sub.service, status, ...extra } as WatchLine);
    // A controller may send any number of events we drop (invalid, foreign, duplicate, other types) without
    // the stream yielding: say the first few per connection, then only how many more there were.
    let dropped = 0;
    const flushDropped = (): Promise<void> | void => {
      const more = dropped - MAX_DROPPED_SHOWN;
      dropped = 0;
      if (more > 0) return streamLine('skipped', { reason: `${more} more events skipped or ignored` });
    };
    await streamLine('subscribing', { resumeAfter: afterSeq ?? null });
    const onStatus = (s: MigrationStreamStatus): Promise<void> | void => {
      if (streamSignal.aborted) return; // stopping: nothing more of this stream is said
      switch (s.type) {
        case 'connected':
          return streamLine('connected', { resumeAfter: s.resumeAfter ?? null });
        case 'disconnected': {
          const line = (): Promise<void> | void => streamLine('disconnected', { ...(s.error ? { error: errorLine(s.error) } : {}), reason: `after ${s.delivered} new event(s)` });
          const flushed = flushDropped();
          return flushed ? flushed.then(line) : line();
        }
        case 'retrying':
          return streamLine('retrying', { attempt: s.attempt, delayMs: s.delayMs });
        case 'skipped':
          if (++dropped > MAX_DROPPED_SHOWN) return;
          return streamLine('skipped', { reason: s.reason, ...(s.seq !== undefined ? { seq: s.seq } : {}), ...(s.error ? { error: errorLine(s.error) } : {}) });
        case 'ignored':
          if (++dropped > MAX_DROPPED_SHOWN) return;
          return streamLine('ignored', { reason: `event type ${s.event}` });
      }
    };
    // the state file's error saving a noted notification's cursor: it ends the watch, as it does when the
    // attestation a notification causes saves it; caught as the stream's, it was a stream failure the watch went on after
    let stateError: unknown = null;
    try {
      for await (const event of deps.subscribe({ service: sub.service, instance: sub.instance, afterSeq, afterTime: cursor?.time, signal: streamSignal, onStatus })) {
        if (streamSignal.aborted) break;
        await flushDropped();
        summary.notifications++;
        let action: Extract<WatchLine, { type: 'notification' }>['action'];
        if (!sub.trusted) action = 'ignored';
        else if (!options.reattestOnNotification) {
          action = 'noted';
          try {
            deps.saveCursor(sub.service, sub.instance, event.seq, event.time);
          } catch (err) {
            throw (stateError = err);
          }
        } else {
          const outcome = request({ kind: 'migration', batch: batchOf(sub.service, event) });
          action = outcome === 'started' ? 'attest' : outcome;
        }
        await emit({ type: 'notification', time: iso(), seq: event.seq, instance: event.instance, from: event.from, to: event.to, eventTime: event.time.toISOString(), action });
      }
      if (!streamSignal.aborted) await streamLine('ended', { reason: 'the controller ended the stream' });
    } catch (err) {
      if (err === stateError) throw err;
      if (streamSignal.aborted) return;
      const e = asVtpmError(err);
      if (e.kind === 'internal') throw e;
      await streamLine('failed', { error: errorLine(e), reason: 'notifications stop; periodic attestation goes on, and the next one subscribes again' });
    }
    // a stream that ended on its own is made again by the next attestation
    if (subscription === sub && !stop.signal.aborted && !sub.abort.signal.aborted) subscription = null;
  };

  // ---------------------------------------------------------------- the interval

  const ticks = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      await deps.sleep(options.intervalMs, stop.signal);
      if (stop.signal.aborted) return;
      request({ kind: 'interval' });
      const sub = subscription as Subscription | null;
      if (options.requireTrustedController && sub) await attestController(sub);
    }
  };

  request({ kind: 'initial' });
  track(ticks());
  await new Promise<void>((resolve) => {
    if (stop.signal.aborted) resolve();
    else stop.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  signal.removeEventListener('abort', onAbort);
  coalescer.clearWaiting();
  (subscription as Subscription | null)?.abort.abort();
  await Promise.all([coalescer.idle(), ...tasks]);
  summary.stoppedBy = fatal ? 'error' : stoppedBy;
  return { summary, error: fatal };
}
