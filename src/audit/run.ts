// The audit core: attests every VM of a (sharded) inventory down through its
// layers, with bounded concurrency, each VM on its own nonce chain, and hands
// every result to the caller as soon as it is known (reports stream, memory
// stays flat). One VM failing never stops the others: a VM that cannot be
// attested is a result like any other.
//
// Retries: only a walk that could not complete (a layer unreachable: verdict
// incomplete) is attempted again, with a fresh nonce, after an exponential
// backoff with jitter; a verification failure is a finding, never retried
// (retrying would let a flaky attacker shop for a better answer, and the
// evidence would be the same). A VM waiting for its retry does not hold a
// concurrency slot.
//
// What is shared across VMs: the validation cache (parsed certificates and
// verified signature links), the path memo (a host's AK chain, validated for
// its first VM, is not validated again while no validity boundary is
// crossed), the vPlatform log cache (a host's log replays only what is new)
// and the log cache (a log verified against the same quoted PCRs is not
// replayed again). Each is bounded, so memory does not grow with the fleet.

import { setMaxListeners } from 'node:events';
import type { Policy } from '../policy/compile.js';
import type { EvidenceClient } from '../transport/evidence-client.js';
import { liveSource } from '../transport/layer-source.js';
import { sleepUnlessAborted } from '../util/sleep.js';
import { isFinalAnswer, isServerCertificateRefusal } from '../transport/errors.js';
import type { AttestationResult } from '../verify/result.js';
import type { LogVerificationCache } from '../verify/log-cache.js';
import { ParseGate } from '../verify/parse-gate.js';
import { drawTopNonce } from '../verify/nonce-chain.js';
import type { VplatformLogCache } from '../verify/vplatform-cache.js';
import { walk, type EvidenceSource, type WalkOptions } from '../verify/walker.js';
import type { Crl } from '../x509/crl.js';
import type { ValidationCache } from '../x509/cache.js';
import type { PathValidationMemo } from '../x509/path-memo.js';
import type { TopInstanceRegistry } from './instances.js';
import type { TrustStore } from '../x509/trust-store.js';
import { asVtpmError, TransportError, VtpmError } from '../errors.js';
import { HTTP_DEFAULTS, MAX_TIMEOUT_MS } from '../transport/http-client.js';

/** How VMs that share their settings are verified (one per distinct policy + trust). */
export interface AuditProfile {
  policy: Policy;
  policySource: { source: string; builtin: boolean };
  trust: TrustStore;
  crls: readonly Crl[];
}

export interface AuditTarget {
  /** position in the inventory */
  index: number;
  /** the VM's name in the inventory, if it has one */
  name?: string;
  url: string;
  /** the vTPM instance expected at url (64 hex digits): another one there is TARGET_INSTANCE_MISMATCH */
  instanceId?: string;
  group?: string;
  tags: readonly string[];
  profile: AuditProfile;
  /** the HTTP client for the VM's TLS settings (kept-alive connections shared by VMs with the same settings) */
  client: EvidenceClient;
  timeoutMs?: number;
  connectTimeoutMs?: number;
  maxDepth?: number;
}

/** The walker's state hook for one attempt, from the state batcher. */
export type AssessFactory = (target: AuditTarget, ctx: { time: number }) => NonNullable<WalkOptions['assess']>;

export interface AuditRunOptions {
  concurrency: number;
  /** attempts after the first for a VM that could not be attested (transport) */
  retries: number;
  /** the first backoff (default 250 ms); doubled per attempt, with jitter, up to maxRetryDelayMs */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  cache?: ValidationCache;
  vplatformCache?: VplatformLogCache;
  logCache?: LogVerificationCache;
  pathMemo?: PathValidationMemo;
  /** bounds the large logs the audit's walks parse at once (default: one gate per audit, ParseGate's defaults) */
  parseGate?: ParseGate;
  /** the vTPM instances the audit's VMs answered as: a second VM answering as one is AUDIT_DUPLICATE_INSTANCE */
  instances?: TopInstanceRegistry;
  assess?: AssessFactory;
  /** each VM's final result, once (the caller writes it out and lets it go) */
  onResult: (result: AttestationResult, target: AuditTarget) => void;
  /** stops starting VMs (those in flight finish) */
  signal?: AbortSignal;
  /** the evidence source of one attempt (default: live HTTP through the target's client) */
  source?: (target: AuditTarget, signal: AbortSignal | undefined) => EvidenceSource;
  /** the wait before a retry; ends early when `signal` aborts (default: a timer) */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** the clock of the per-VM deadline and of a Retry-After HTTP-date (ms since the epoch); Date.now by default */
  now?: () => number;
}

/**
 * A VM's attestation as a whole (every layer of every attempt) may take this many of its per-request timeouts:
 * a hostile chain of layers each answering just inside the timeout would otherwise hold a slot for
 * depth x timeout x attempts.
 */
export const VM_DEADLINE_TIMEOUTS = 4;

export interface AuditRunStats {
  /** VMs whose result was delivered */
  completed: number;
  /** attempts made in all */
  attempts: number;
  /** VMs attempted more than once */
  retried: number;
  /** VMs not started because the signal aborted */
  skipped: number;
}

export const DEFAULT_RETRY_DELAY_MS = 250;
export const DEFAULT_MAX_RETRY_DELAY_MS = 5_000;
/** The longest wait a server's Retry-After gets (a longer one waits this long). */
export const MAX_RETRY_AFTER_MS = 60_000;

/** A counting semaphore: at most `n` attempts run at once, waiters served in order. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** A timer that a stop ends early (a VM told to come back in a minute must not hold up a SIGTERM). */
const defaultSleep = sleepUnlessAborted;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** An HTTP-date (RFC 9110 section 5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms), ms since the epoch. */
function httpDate(text: string, nowMs: number): number | undefined {
  let f: { day: string; month: string; year: number; time: string[] };
  let m: RegExpExecArray | null;
  if ((m = IMF_FIXDATE.exec(text))) f = { day: m[1]!, month: m[2]!, year: Number(m[3]), time: m.slice(4, 7) };
  else if ((m = RFC850_DATE.exec(text))) {
    // a two-digit year more than 50 years ahead is the most recent past year with those digits (RFC 9110)
    const thisYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    f = { day: m[1]!, month: m[2]!, year, time: m.slice(4, 7) };
  } else if ((m = ASCTIME_DATE.exec(text))) f = { day: m[2]!.trim(), month: m[1]!, year: Number(m[6]), time: m.slice(3, 6) };
  else return undefined;
  const month = MONTHS.indexOf(f.month);
  const day = Number(f.day);
  const [h, mi, sec] = f.time.map(Number) as [number, number, number];
  if (month < 0 || day < 1 || h > 23 || mi > 59 || sec > 60) return undefined;
  const at = Date.UTC(f.year, month, day, h, mi, Math.min(sec, 59));
  // no 31 February: Date.UTC would roll it over into March
  return new Date(at).getUTCDate() === day ? at : undefined;
}

/**
 * How long a server's Retry-After (delta-seconds, or an HTTP-date) asks to wait, in ms from `nowMs`, at most
 * MAX_RETRY_AFTER_MS; undefined for a value that is neither (a negative number, text), 0 for a date passed.
 */
export function retryAfterMs(value: string, nowMs: number): number | undefined {
  if (/^\d+$/.test(value)) return Math.min(MAX_RETRY_AFTER_MS, Number(value) * 1000);
  const at = httpDate(value, nowMs);
  return at === undefined ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - nowMs));
}

/** The backoff before attempt `attempt` (2, 3, ...): base·2^(attempt-2), capped, times a jitter factor in [0.5, 1). */
export function retryDelay(attempt: number, base: number, max: number, random: () => number): number {
  return Math.min(max, base * 2 ** (attempt - 2)) * (0.5 + random() / 2);
}

export async function runAudit(targets: readonly AuditTarget[], callerOptions: AuditRunOptions): Promise<AuditRunStats> {
  // Every request in flight listens for a stop, one listener each, removed when it settles: with more
  // than ten at once node warns of a leak on the signal. So the requests listen on a signal of the
  // audit's own, with no such limit (the concurrency bounds them), and the caller's gets one listener.
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const callerSignal = callerOptions.signal;
  const forwardStop = (): void => stop.abort(callerSignal?.reason);
  if (callerSignal?.aborted) forwardStop();
  else callerSignal?.addEventListener('abort', forwardStop, { once: true });
  try {
    // one gate for the whole audit: sixteen walks parsing the largest logs at once could exhaust the heap
    const parseGate = callerOptions.parseGate ?? new ParseGate();
    // a stop ends the waits there too: a VM cut short is not reported, so it must not parse its logs first
    const stopGate = (): void => parseGate.stop(new TransportError('TRANSPORT_ABORTED', 'the audit was stopped while this layer waited to parse its large logs', {}));
    if (stop.signal.aborted) stopGate();
    else stop.signal.addEventListener('abort', stopGate, { once: true });
    const options = { ...callerOptions, parseGate };
    return await runAuditWith(targets, callerSignal ? { ...options, signal: stop.signal } : options);
  } finally {
    callerSignal?.removeEventListener('abort', forwardStop);
  }
}

async function runAuditWith(targets: readonly AuditTarget[], options: AuditRunOptions): Promise<AuditRunStats> {
  const stats: AuditRunStats = { completed: 0, attempts: 0, retried: 0, skipped: 0 };
  const slots = new Slots(Math.max(1, options.concurrency));
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const base = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const max = options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
  const running = new Set<Promise<void>>();
  let failure: unknown;

  const now = options.now ?? Date.now;
  const audit = async (target: AuditTarget): Promise<void> => {
    // holds a slot on entry
    let result: AttestationResult;
    let attempt = 1;
    // the time the attempts took together (a result's startedAt..finishedAt is its last attempt's)
    let attemptsMs = 0;
    const deadline = { at: now() + VM_DEADLINE_TIMEOUTS * (target.timeoutMs ?? HTTP_DEFAULTS.timeoutMs), now };
    for (;;) {
      stats.attempts++;
      const began = now();
      try {
        result = await attemptOnce(target, options, deadline);
      } finally {
        attemptsMs += Math.max(0, now() - began);
        slots.release();
      }
      // cut short by a stop (its requests were aborted): no result for this VM, it was not audited
      if (options.signal?.aborted && result.verdict === 'incomplete') {
        stats.skipped++;
        return;
      }
      if (result.verdict !== 'incomplete' || !retryable(result) || attempt > options.retries || options.signal?.aborted || now() >= deadline.at) break;
      // a 429 or 503 may say when to come back: no sooner, and that wait is the VM's own time (its deadline)
      const asked = askedWait(result, now());
      const left = deadline.at - now();
      if (asked !== undefined && asked.ms >= left) {
        result = notRetried(result, `the server asked to wait ${seconds(asked.ms)} (Retry-After: ${asked.value}), and only ${seconds(left)} were left of the VM's deadline (${VM_DEADLINE_TIMEOUTS} x its timeout)`);
        break;
      }
      const paused = now();
      await sleep(Math.max(retryDelay(attempt + 1, base, max, random), asked?.ms ?? 0), options.signal);
      // stopped during the backoff: the last attempt's result stands
      if (options.signal?.aborted) break;
      await slots.acquire();
      // stopped while waiting for a free slot (the VM in it was cut short): not tried again either
      if (options.signal?.aborted) {
        slots.release();
        break;
      }
      if (attempt === 1) stats.retried++;
      attempt++;
      // the backoff and the wait for a free slot are not the VM's own time; the wait a Retry-After asked for is
      deadline.at += Math.max(0, now() - paused - (asked?.ms ?? 0));
    }
    result = decorate(result, target, attempt, attemptsMs);
    stats.completed++;
    options.onResult(result, target);
  };

  for (const target of targets) {
    if (options.signal?.aborted || failure !== undefined) {
      stats.skipped++;
      continue;
    }
    await slots.acquire();
    if (options.signal?.aborted || failure !== undefined) {
      slots.release();
      stats.skipped++;
      continue;
    }
    const p: Promise<void> = audit(target)
      .catch((err: unknown) => {
        // onResult failed (a report or the state file could not be written): stop starting VMs
        failure ??= err;
      })
      .finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure;
  return stats;
}

/**
 * Only a walk stopped by an unreachable layer is worth another attempt (not one that hit a bug), and only when
 * that layer's failure may be different the next time: not an answer that says the request itself is wrong or
 * not allowed (a 4xx other than 408 and 429, a redirect, a URL or scheme refused; isFinalAnswer), nor TLS refusing
 * the server's certificate (the next attempt would meet the same certificate).
 */
function retryable(result: AttestationResult): boolean {
  const unreachable = result.layers.find((l) => l.status === 'unreachable');
  if (unreachable === undefined) return false;
  const error = unreachable.error ?? result.error;
  if (error === undefined) return true;
  // the VM's deadline ended it (a request given what was left of it, a wait at the parse gate): that time is spent,
  // whatever the audit's clock says when the timer that ended it fires (a wall clock stepped back, a millisecond behind)
  if (error.code === 'TRANSPORT_TIMEOUT' && typeof error.details?.['deadlineMs'] === 'number') return false;
  if (error.code === 'TRANSPORT_TLS' && isServerCertificateRefusal(error.details?.['cause'])) return false;
  return !isFinalAnswer(error.code, error.details);
}

/** The failure of the layer that stopped the walk as unreachable. */
function unreachableError(result: AttestationResult): AttestationResult['error'] {
  const unreachable = result.layers.find((l) => l.status === 'unreachable');
  return unreachable === undefined ? undefined : (unreachable.error ?? result.error);
}

/** The wait a 429 or 503 asked for (Retry-After, capped at MAX_RETRY_AFTER_MS), unless absent or unusable. */
function askedWait(result: AttestationResult, nowMs: number): { ms: number; value: string } | undefined {
  const error = unreachableError(result);
  const status = error?.details?.['status'];
  const value = error?.details?.['retryAfter'];
  if (error?.code !== 'TRANSPORT_HTTP_STATUS' || (status !== 429 && status !== 503) || typeof value !== 'string') return undefined;
  const ms = retryAfterMs(value, nowMs);
  return ms === undefined ? undefined : { ms, value };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** The result, saying why it was not attempted again although its failure is one that is. */
function notRetried(result: AttestationResult, why: string): AttestationResult {
  return { ...result, reason: `${result.reason}; not attempted again: ${why}` };
}

async function attemptOnce(target: AuditTarget, options: AuditRunOptions, deadline: { at: number; now: () => number }): Promise<AttestationResult> {
  const now = new Date();
  const profile = target.profile;
  const timeoutMs = target.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
  const injected = options.source?.(target, options.signal);
  // every request gets what is left of the VM's deadline at most, and a stop aborts the requests in flight
  const source: EvidenceSource = async (request) => {
    const pastDeadline = (cause?: unknown): TransportError =>
      new TransportError(
        'TRANSPORT_TIMEOUT',
        `layer ${request.position} (${request.uri}): the VM's attestation took longer than its deadline (${VM_DEADLINE_TIMEOUTS} x ${timeoutMs} ms for every layer and attempt together)`,
        { layer: request.position, deadlineMs: VM_DEADLINE_TIMEOUTS * timeoutMs },
        cause === undefined ? undefined : { cause },
      );
    const left = deadline.at - deadline.now();
    if (left <= 0) throw pastDeadline();
    if (injected) return injected(request);
    const requestTimeoutMs = Math.min(timeoutMs, left);
    const live = liveSource(target.client, {
      timeoutMs: requestTimeoutMs,
      ...(target.connectTimeoutMs !== undefined ? { connectTimeoutMs: target.connectTimeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }) as EvidenceSource;
    try {
      return await live(request);
    } catch (err) {
      // a request given only what was left of the VM's deadline, which ran out: the deadline cut it, not the
      // request's own timeout ("no complete response within 982 ms" when the timeout is 1000 ms said neither)
      if (requestTimeoutMs < timeoutMs && err instanceof VtpmError && err.code === 'TRANSPORT_TIMEOUT') throw pastDeadline(err);
      throw err;
    }
  };
  const walkOptions: WalkOptions = {
    target: target.url,
    topNonce: drawTopNonce(now, target.url),
    trust: profile.trust,
    ...(options.cache ? { cache: options.cache } : {}),
    ...(profile.crls.length > 0 ? { crls: profile.crls } : {}),
    policy: profile.policy,
    policySource: profile.policySource,
    at: now,
    ...(target.maxDepth !== undefined ? { maxDepth: target.maxDepth } : {}),
    ...(target.instanceId !== undefined ? { expectInstanceId: Buffer.from(target.instanceId, 'hex') } : {}),
    ...(options.vplatformCache ? { vplatformCache: options.vplatformCache } : {}),
    ...(options.logCache ? { logCache: options.logCache } : {}),
    ...(options.pathMemo ? { pathMemo: options.pathMemo } : {}),
    ...(options.parseGate ? { parseGate: options.parseGate } : {}),
    ...(options.assess ? { assess: options.assess(target, { time: now.getTime() }) } : {}),
    ...(options.instances ? { claimTopInstance: claimFor(options.instances, target) } : {}),
    // other VMs' walks keep the event loop busy while a signature verifies on the pool
    signatures: 'thread-pool',
  };
  // a layer waiting its turn at the parse gate (other walks parsing large logs) waits no longer than the VM's
  // deadline: walks holding the gate one after another, each within its own deadline, must not hold this VM (and
  // its slot) past it
  const parseWait = new AbortController();
  const parseWaitTimer = setTimeout(
    () =>
      parseWait.abort(
        new TransportError(
          'TRANSPORT_TIMEOUT',
          `the VM's attestation took longer than its deadline (${VM_DEADLINE_TIMEOUTS} x ${timeoutMs} ms for every layer and attempt together) while a layer waited its turn to parse its large logs`,
          { deadlineMs: VM_DEADLINE_TIMEOUTS * timeoutMs, waitedFor: 'parse-gate' },
        ),
      ),
    Math.min(MAX_TIMEOUT_MS, Math.max(0, deadline.at - deadline.now())),
  );
  if (options.parseGate) walkOptions.parseWaitSignal = parseWait.signal;
  try {
    return (await walk(walkOptions, source)).result;
  } catch (err) {
    // The walker throws only for a bug (or the state file failing in the assess hook):
    // that VM's result says so; the others go on.
    const e = asVtpmError(err);
    return errorResult(target, walkOptions, now, { code: e.code, message: e.message, details: e.details });
  } finally {
    clearTimeout(parseWaitTimer);
  }
}

function errorResult(target: AuditTarget, w: WalkOptions, started: Date, error: NonNullable<AttestationResult['error']>): AttestationResult {
  return {
    target: target.url,
    verdict: 'incomplete',
    reason: `the attestation could not be carried out: ${error.code}: ${error.message}`,
    error,
    policy: { source: w.policySource.source, id: w.policy.name, builtin: w.policySource.builtin },
    nonce: w.topNonce.nonce.toString('hex'),
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    layers: [{ position: 0, uri: target.url, status: 'not-reached', nonce: w.topNonce.nonce.toString('hex'), checks: [], rules: [], error }],
    chain: [],
    platformPath: [],
  };
}

/**
 * The inventory's name, group and tags, and the attempts made, in the result (reports show them); with more
 * than one attempt, also the time they took together, which the reports' durations use.
 */
function decorate(result: AttestationResult, target: AuditTarget, attempts: number, attemptsMs: number): AttestationResult {
  const { target: url, ...rest } = result;
  return {
    target: url,
    ...(target.name !== undefined ? { name: target.name } : {}),
    ...(target.group !== undefined ? { group: target.group } : {}),
    ...(target.tags.length > 0 ? { tags: [...target.tags] } : {}),
    attempts,
    ...(attempts > 1 ? { attemptsMs: Math.round(attemptsMs) } : {}),
    ...rest,
  };
}

function claimFor(registry: TopInstanceRegistry, target: AuditTarget): NonNullable<WalkOptions['claimTopInstance']> {
  return (claim) => registry.claim(target.index, claim);
}
