// The Migration Notification client (protocol section 6):
//   GET {migrationService}/v1/migrations?instance={hex}   (text/event-stream)
//
// An async iterator of validated migration events for one instance. It
// reconnects with exponential backoff and jitter, resumes with Last-Event-ID
// after the last seq it delivered, drops seqs it has already delivered, and
// reconnects when the stream goes quiet for longer than the idle timeout.
//
// Backpressure: the iterator is pulled. While the consumer does not ask for
// the next event, nothing more is read from the socket, so TCP flow control
// holds the controller back; memory stays bounded by one socket read. The
// idle timer only runs while we are waiting for bytes. A promise onStatus
// returns is waited for the same way (a consumer printing to a slow reader).
//
// Notifications are hints, never evidence: an invalid or foreign event is
// skipped and reported through onStatus, never thrown.

import { UsageError, VtpmError, VerificationError, asVtpmError } from '../errors.js';
import { isFinalAnswer, mapNetworkError, sanitizeServerText, transportError, type LayerLabel, type TransportContext } from './errors.js';
import { HttpClient, MAX_TIMEOUT_MS, type StreamResponse, type TlsOptions } from './http-client.js';
import { childPath, FieldReader, type JsonObject } from './json-fields.js';
import { SseParser, type SseEvent, type SseLimits } from './sse-parser.js';
import { sleepUnlessAborted } from '../util/sleep.js';
import { joinEndpoint, parseEndpointUrl, MAX_URL_LENGTH } from './url.js';
import { duplicateJsonKey, formatJsonPath } from '../util/json-scan.js';

export const MIGRATIONS_PATH = '/v1/migrations';

export interface MigrationEvent {
  /** the instanceId, 64 lowercase hex digits */
  instance: string;
  /** increasing per controller; equals the SSE id */
  seq: number;
  /** deep attestation URI of the source platform */
  from: string;
  /** deep attestation URI of the destination platform */
  to: string;
  /** when the move completed, as the controller states it */
  time: Date;
}

export interface BackoffOptions {
  /** first reconnection delay (default 500 ms) */
  initialMs?: number | undefined;
  /** the delay never grows beyond this (default 30 s) */
  maxMs?: number | undefined;
  /** growth per consecutive failure (default 2) */
  multiplier?: number | undefined;
  /** fraction of the delay that is random: delay * (1 - jitter * random()) (default 0.5) */
  jitter?: number | undefined;
}

export const MIGRATION_STREAM_DEFAULTS = {
  idleTimeoutMs: 120_000,
  connectTimeoutMs: 5_000,
  backoff: { initialMs: 500, maxMs: 30_000, multiplier: 2, jitter: 0.5 },
} as const;

export type MigrationStreamStatus =
  | { type: 'connected'; url: string; resumeAfter: number | undefined }
  | { type: 'disconnected'; error: VtpmError | undefined; delivered: number }
  | { type: 'retrying'; attempt: number; delayMs: number }
  | { type: 'skipped'; reason: 'invalid' | 'foreign' | 'duplicate'; seq?: number | undefined; error?: VtpmError | undefined }
  | { type: 'ignored'; event: string };

/**
 * How far ahead of our clock an event's time may be before it counts as our clock's time plus this, for
 * telling repeats from new events: clock skew between the controller and us, not an event from the future.
 */
export const MAX_EVENT_TIME_AHEAD_MS = 10 * 60_000;

/**
 * An event's time as repeats are told by (and as a saved cursor keeps it): the controller's own clock, so that a
 * controller whose clock is behind or ahead of ours compares with itself; no later than our clock plus
 * MAX_EVENT_TIME_AHEAD_MS, and not before the epoch.
 */
export function eventCursorTime(time: Date, now = Date.now()): number {
  return Math.max(0, Math.min(time.getTime(), now + MAX_EVENT_TIME_AHEAD_MS));
}

export interface MigrationStreamOptions {
  /** base URI of the Migration Controller (the AK certificate's migrationService) */
  service: string | URL;
  /** the instanceId followed: 32 bytes, or 64 hex digits */
  instance: Uint8Array | string;
  /** resume after this seq (e.g. the last one a state store recorded) */
  afterSeq?: number | undefined;
  /**
   * The time of the event afterSeq was (ms since the epoch, as eventCursorTime gives it and a state store's cursor
   * keeps it): an event at or below afterSeq whose time is later is new, not a repeat. The controller's clock, not
   * ours: with ours (when the cursor was saved), a controller whose clock is behind had its next events taken for
   * repeats, and one whose clock is ahead its repeats for new events. Absent: seqs alone decide.
   */
  afterTime?: number | undefined;
  /** share a client (its TLS options and connections); otherwise one is made from tls/connectTimeoutMs and closed at the end */
  http?: HttpClient | undefined;
  tls?: TlsOptions | undefined;
  connectTimeoutMs?: number | undefined;
  /** no bytes for this long → reconnect (default 120 s) */
  idleTimeoutMs?: number | undefined;
  /** no response headers this long after connecting → reconnect (default: idleTimeoutMs) */
  responseTimeoutMs?: number | undefined;
  backoff?: BackoffOptions | undefined;
  /** give up after this many consecutive connections that delivered nothing (default: never) */
  maxConsecutiveFailures?: number | undefined;
  signal?: AbortSignal | undefined;
  /** names the stream in errors (default "migration service") */
  layer?: LayerLabel | undefined;
  limits?: Partial<SseLimits> | undefined;
  /**
   * Told of every connection, drop and skipped event. A promise it returns (a consumer that prints them to a slow
   * reader) is waited for before anything more is read or a reconnection is made, as an event not yet pulled is:
   * a controller whose events are all dropped is held back by the reader too, not only one whose events arrive.
   */
  onStatus?: ((status: MigrationStreamStatus) => unknown) | undefined;
  /** injectable for tests: uniform in [0, 1) */
  random?: (() => number) | undefined;
  /** injectable for tests: waits ms (resolves early when signal aborts) */
  sleep?: ((ms: number, signal: AbortSignal | undefined) => Promise<void>) | undefined;
}

/** delay before reconnection number `attempt` (1-based) */
export function backoffDelay(attempt: number, backoff: BackoffOptions = {}, random: () => number = Math.random): number {
  const d = MIGRATION_STREAM_DEFAULTS.backoff;
  const initial = backoff.initialMs ?? d.initialMs;
  const max = backoff.maxMs ?? d.maxMs;
  const multiplier = backoff.multiplier ?? d.multiplier;
  const jitter = Math.min(1, Math.max(0, backoff.jitter ?? d.jitter));
  const exp = Math.min(max, initial * multiplier ** Math.max(0, attempt - 1));
  return Math.round(exp * (1 - jitter * random()));
}

const defaultSleep = sleepUnlessAborted;

const HEX64 = /^[0-9a-f]{64}$/;

function instanceHex(instance: Uint8Array | string): string {
  const hex = typeof instance === 'string' ? instance.toLowerCase() : Buffer.from(instance.buffer, instance.byteOffset, instance.byteLength).toString('hex');
  if (!HEX64.test(hex)) throw new UsageError('USAGE', 'migration stream: instance must be 32 bytes (64 hex digits)', { instance: hex.slice(0, 80) });
  return hex;
}

/** `{service}/v1/migrations?instance={hex}` */
export function migrationsUrl(service: string | URL, instance: Uint8Array | string, layer?: LayerLabel): URL {
  return joinEndpoint(service, MIGRATIONS_PATH, [['instance', instanceHex(instance)]], layer);
}

/** Errors after which reconnecting cannot help: misconfiguration, not weather. */
function isFatal(err: VtpmError): boolean {
  switch (err.code) {
    case 'TRANSPORT_SSE_CONTENT_TYPE':
      return true;
    default:
      return isFinalAnswer(err.code, err.details) || err.kind === 'internal' || err.kind === 'input';
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

/** Validates one `migration` event's data (and that its id equals its seq). */
export function parseMigrationEvent(event: Pick<SseEvent, 'data' | 'id'>, ctx: TransportContext = {}): MigrationEvent {
  const prefix = ctx.layer === undefined ? 'migration event: ' : `${ctx.layer}: migration event: `;
  const invalid = (message: string, details: Record<string, unknown> = {}): VerificationError =>
    new VerificationError('MIGRATION_EVENT_INVALID', `${prefix}${message}`, { ...details, ...(ctx.layer === undefined ? {} : { layer: ctx.layer }) });
  const r = new FieldReader((_problem, _path, message, details) => invalid(message, details));
  let value: unknown;
  try {
    value = JSON.parse(event.data);
  } catch {
    throw invalid('data is not valid JSON');
  }
  const duplicate = duplicateJsonKey(event.data, value);
  if (duplicate) throw invalid(`data repeats a key (${sanitizeServerText(formatJsonPath(duplicate), 120)}): JSON keeps only the last value, so the event is ambiguous`);
  const o: JsonObject = r.object(value, 'data');
  const field = (key: string): unknown => r.required(o, key, 'data');
  const instance = r.hex(field('instance'), childPath('data', 'instance'), 32).toString('hex');
  const seq = r.integer(field('seq'), childPath('data', 'seq'), 0, Number.MAX_SAFE_INTEGER);
  const uri = (key: string): string => {
    const text = r.string(field(key), childPath('data', key), MAX_URL_LENGTH);
    try {
      // as the URL parser writes it: control characters percent-encoded, so nothing raw reaches a terminal or a layer label
      return parseEndpointUrl(text).href;
    } catch (err) {
      throw invalid(`data.${key}: ${(err as Error).message}`, { field: `data.${key}` });
    }
  };
  const from = uri('from');
  const to = uri('to');
  const timeText = r.string(field('time'), childPath('data', 'time'), 64);
  const time = new Date(timeText);
  if (!RFC3339.test(timeText) || Number.isNaN(time.getTime())) throw invalid(`data.time: not an RFC 3339 date-time`, { field: 'data.time' });
  if (event.id !== String(seq)) {
    // the id line may be 64 Ki characters of anything: quoted whole (JSON-escaped, up to 6 times longer), one skipped event was a 360 KB message
    const id = event.id === undefined ? null : sanitizeServerText(event.id, 80);
    throw invalid(`id ${JSON.stringify(id)} does not equal seq ${seq}`, { field: 'id', expected: String(seq), actual: id });
  }
  return { instance, seq, from, to, time };
}

/**
 * The wire form of one event (protocol section 6), for controllers such as
 * the simulator: `id` equal to `seq`, `event: migration`, one data line.
 */
export function formatMigrationEvent(event: MigrationEvent): string {
  const data = { instance: event.instance, seq: event.seq, from: event.from, to: event.to, time: event.time.toISOString().replace(/\.000Z$/, 'Z') };
  return `id: ${event.seq}\nevent: migration\ndata: ${JSON.stringify(data)}\n\n`;
}

const EVENT_STREAM = 'text/event-stream';

/**
 * Migration events for one instance, until `signal` aborts (the iterator then
 * ends without an error) or a fatal error (redirect, 4xx, wrong content type,
 * bad URI, or maxConsecutiveFailures reached) is thrown.
 */
export async function* migrationEvents(options: MigrationStreamOptions): AsyncGenerator<MigrationEvent, void, undefined> {
  const layer = options.layer ?? 'migration service';
  const instance = instanceHex(options.instance);
  const url = migrationsUrl(options.service, instance, layer); // bad URIs fail here, before any I/O
  const ctx: TransportContext = { layer, url: url.href };
  const { signal, onStatus } = options;
  const idleTimeoutMs = options.idleTimeoutMs ?? MIGRATION_STREAM_DEFAULTS.idleTimeoutMs;
  if (!Number.isFinite(idleTimeoutMs) || idleTimeoutMs < 1 || idleTimeoutMs > MAX_TIMEOUT_MS) {
    throw new UsageError('USAGE', `idleTimeoutMs must be a number from 1 to ${MAX_TIMEOUT_MS}, got ${idleTimeoutMs}`, { option: 'idleTimeoutMs', actual: String(idleTimeoutMs) });
  }
  const responseTimeoutMs = options.responseTimeoutMs ?? idleTimeoutMs;
  const maxFailures = options.maxConsecutiveFailures ?? Number.POSITIVE_INFINITY;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const http = options.http ?? new HttpClient({ tls: options.tls, connectTimeoutMs: options.connectTimeoutMs ?? MIGRATION_STREAM_DEFAULTS.connectTimeoutMs });
  const aborted = (): boolean => signal?.aborted === true;
  let lastSeq = options.afterSeq;
  // Seqs alone made one event with a huge seq (injected into an unsigned stream, or a controller whose count
  // started again after a reinstall) turn every later notification into a "duplicate", for good: the cursor
  // saved in the state file never moves back, so even a restarted watch skipped them. An event is a repeat
  // only if both its seq and its time are at or below those of the last one handled.
  let lastTime = options.afterTime;
  let failures = 0;

  try {
    while (!aborted()) {
      let stream: StreamResponse | undefined;
      let error: VtpmError | undefined;
      let delivered = 0;
      try {
        const headers: Record<string, string> = { accept: EVENT_STREAM, 'cache-control': 'no-cache' };
        if (lastSeq !== undefined) headers['last-event-id'] = String(lastSeq);
        stream = await http.open(url, { layer, signal, headers, responseTimeoutMs });
        if (stream.status === 204) return; // the SSE way of saying "stop reconnecting"
        const contentType = String(stream.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (contentType !== EVENT_STREAM) {
          throw transportError('TRANSPORT_SSE_CONTENT_TYPE', `notification stream answered Content-Type "${contentType.slice(0, 80)}", not ${EVENT_STREAM}`, ctx, {
            expected: EVENT_STREAM,
            actual: contentType.slice(0, 80),
          });
        }
        const heldConnected = report({ type: 'connected', url: url.href, resumeAfter: lastSeq });
        if (heldConnected) await heldConnected;
        if (aborted()) return;
        const parser = new SseParser(options.limits, ctx);
        const body = stream.body;
        const chunks = body[Symbol.asyncIterator]();
        for (;;) {
          const next = await withIdleTimeout(chunks.next(), idleTimeoutMs, () =>
            body.destroy(transportError('TRANSPORT_IDLE_TIMEOUT', `no bytes for ${idleTimeoutMs} ms`, ctx, { idleTimeoutMs })),
          );
          if (next.done === true) break;
          for (const sse of parser.push(next.value as Buffer)) {
            const event = accept(sse);
            if ('type' in event) {
              const held = report(event);
              if (held) await held;
              // stopped while the reader was slow: the rest of this read is not reported
              if (aborted()) return;
              continue;
            }
            lastSeq = event.seq;
            // a time in the future counts as now and a little: it cannot make the events of the next days repeats
            const time = eventCursorTime(event.time);
            lastTime = lastTime === undefined ? time : Math.max(lastTime, time);
            delivered++;
            yield event;
          }
        }
      } catch (err) {
        if (aborted()) return;
        error = classify(err, ctx);
        // a body that broke HTTP fails its read as a mere reset: the client kept the parser's error
        if (error.code === 'TRANSPORT_RESET') error = stream?.failure() ?? error;
        if (isFatal(error)) throw error;
      } finally {
        stream?.close();
      }
      const heldDisconnected = report({ type: 'disconnected', error, delivered });
      if (heldDisconnected) await heldDisconnected;
      if (aborted()) return;
      if (delivered === 0) failures++;
      else failures = 1;
      if (delivered === 0 && failures >= maxFailures) {
        throw error ?? transportError('TRANSPORT_RESET', `notification stream closed ${failures} time(s) in a row without an event`, ctx, { failures });
      }
      const delayMs = backoffDelay(failures, options.backoff, random);
      const heldRetrying = report({ type: 'retrying', attempt: failures, delayMs });
      if (heldRetrying) await heldRetrying;
      await sleep(delayMs, signal);
    }
  } finally {
    if (options.http === undefined) http.close();
  }

  /**
   * Tells onStatus; returns what to wait for when it returned a promise (a slow reader), settled early by the
   * abort. No promise: nothing to wait for, no turn lost per event of a flood.
   */
  function report(status: MigrationStreamStatus): Promise<void> | undefined {
    const held = onStatus?.(status);
    // only a promise (a thenable) is waited for: what else a callback returns (e.g. Array.prototype.push's length) means nothing
    if (typeof (held as PromiseLike<unknown> | null | undefined)?.then !== 'function') return undefined;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done, { once: true });
      (held as PromiseLike<unknown>).then(done, (err: unknown) => {
        signal?.removeEventListener('abort', done);
        reject(err);
      });
    });
  }

  /** A validated, new event for our instance, or the status saying why it was dropped. */
  function accept(sse: SseEvent): MigrationEvent | MigrationStreamStatus {
    if (sse.type !== 'migration') return { type: 'ignored', event: sanitizeServerText(sse.type, 64) };
    let event: MigrationEvent;
    try {
      event = parseMigrationEvent(sse, { layer });
    } catch (err) {
      return { type: 'skipped', reason: 'invalid', error: asVtpmError(err) };
    }
    if (event.instance !== instance) {
      const error = new VerificationError('MIGRATION_EVENT_FOREIGN', `${layer}: migration event ${event.seq} is for instance ${event.instance}, not ${instance}`, {
        layer,
        expected: instance,
        actual: event.instance,
        seq: event.seq,
      });
      return { type: 'skipped', reason: 'foreign', seq: event.seq, error };
    }
    if (lastSeq !== undefined && event.seq <= lastSeq && (lastTime === undefined || event.time.getTime() <= lastTime)) return { type: 'skipped', reason: 'duplicate', seq: event.seq };
    return event;
  }
}

/**
 * A socket error while reading the body arrives raw from node (it has a
 * system `code`); anything else that is not ours is a bug and stays internal.
 */
function classify(err: unknown, ctx: TransportContext): VtpmError {
  if (err instanceof VtpmError) return err;
  if (typeof (err as { code?: unknown } | null)?.code === 'string') return mapNetworkError(err, ctx, { inTlsHandshake: false });
  return asVtpmError(err);
}

/** Awaits `p`, calling `onIdle` (which must make `p` settle) if it takes longer than `ms`. */
async function withIdleTimeout<T>(p: Promise<T>, ms: number, onIdle: () => void): Promise<T> {
  const timer = setTimeout(onIdle, ms);
  try {
    return await p;
  } finally {
    clearTimeout(timer);
  }
}
