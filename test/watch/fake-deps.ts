// Injected dependencies for the watcher core: attestations that finish when
// the test says, a notification stream the test feeds, interval ticks the
// test fires, and every line kept. Nothing waits on time: tests await
// conditions that the watcher's own calls make true.

import type { MigrationEvent, MigrationStreamStatus } from '../../src/transport/migration-stream.js';
import type { AttestationResult, Verdict } from '../../src/verify/result.js';
import type { WatchLine } from '../../src/watch/lines.js';
import type { AttestInput, AttestReport, ControllerReport, SubscribeOptions, WatchDeps } from '../../src/watch/watcher.js';

export const INSTANCE = 'ab'.repeat(32);
export const SERVICE = 'http://controller.test/m/ctl';
export const TARGET = 'http://vm.test/l/vm';

export function result(verdict: Verdict, platformPath: string[] = ['aa', 'bb'], extra: Partial<AttestationResult> = {}): AttestationResult {
  return {
    target: TARGET,
    verdict,
    reason: verdict === 'trusted' ? 'all layers verified' : 'layer 0: QUOTE_SIGNATURE_INVALID: bad',
    ...(verdict === 'trusted' ? {} : { error: { code: 'QUOTE_SIGNATURE_INVALID', message: 'bad' } }),
    policy: { source: 'test', id: 'test', builtin: false },
    nonce: '00'.repeat(32),
    startedAt: '2026-11-26T12:00:00.000Z',
    finishedAt: '2026-11-26T12:00:00.050Z',
    layers: [],
    chain: [],
    platformPath,
    ...extra,
  };
}

export function report(verdict: Verdict = 'trusted', extra: Partial<AttestReport> = {}): AttestReport {
  return { result: result(verdict), instance: INSTANCE, migrationService: SERVICE, host: 'http://vmm-a.test/l/vmm-a', sources: [], ...extra };
}

export function event(seq: number, from = 'http://vmm-a.test/l/vmm-a', to = 'http://vmm-b.test/l/vmm-b'): MigrationEvent {
  return { instance: INSTANCE, seq, from, to, time: new Date(Date.UTC(2026, 10, 26, 12, 0, seq % 60)) };
}

interface Pending<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** A notification stream the test feeds; it ends when the watcher aborts it. */
export class FakeStream implements AsyncIterable<MigrationEvent> {
  readonly options: SubscribeOptions;
  private readonly queue: MigrationEvent[] = [];
  private waiting: Pending<IteratorResult<MigrationEvent>> | null = null;
  private ended: unknown = null;
  private finished = false;
  /** events handed to the watcher */
  pulled = 0;

  constructor(options: SubscribeOptions, private readonly changed: () => void) {
    this.options = options;
    options.signal.addEventListener('abort', () => this.finish(), { once: true });
  }

  get aborted(): boolean {
    return this.options.signal.aborted;
  }

  push(...events: MigrationEvent[]): void {
    for (const e of events) {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        this.pulled++;
        w.resolve({ value: e, done: false });
      } else this.queue.push(e);
    }
  }

  status(s: MigrationStreamStatus): void {
    this.options.onStatus(s);
  }

  /** Ends the stream with an error (a fatal stream failure). */
  fail(err: unknown): void {
    this.ended = err;
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const w = this.waiting;
    this.waiting = null;
    if (w) {
      if (this.ended) w.reject(this.ended);
      else w.resolve({ value: undefined, done: true });
    }
    this.changed();
  }

  [Symbol.asyncIterator](): AsyncIterator<MigrationEvent> {
    return {
      next: () => {
        const e = this.queue.shift();
        if (e) {
          this.pulled++;
          this.changed();
          return Promise.resolve({ value: e, done: false });
        }
        if (this.finished) return this.ended ? Promise.reject(this.ended) : Promise.resolve({ value: undefined, done: true });
        this.changed();
        return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
      },
      return: () => {
        this.finish();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

export interface AttestCall {
  input: AttestInput;
  resolve(report: AttestReport): void;
  reject(err: unknown): void;
}

export class FakeWorld {
  readonly lines: WatchLine[] = [];
  readonly attests: AttestCall[] = [];
  readonly controllerAttests: { service: string; resolve(r: ControllerReport): void }[] = [];
  readonly streams: FakeStream[] = [];
  readonly cursors = new Map<string, number>();
  readonly savedSeqs: number[] = [];
  private readonly ticks: (() => void)[] = [];
  inFlight = 0;
  maxInFlight = 0;

  /** called on every dependency call; a hook for tests that count them */
  changed = (): void => {};

  /** Resolves once `cond` holds: looks again after each turn of the event loop (no timers). */
  async until(cond: () => boolean, what = 'the condition'): Promise<void> {
    for (let turns = 0; !cond(); turns++) {
      if (turns > 200_000) throw new Error(`never happened: ${what}`);
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Fires the pending interval wait (the watcher then asks for an interval attestation). */
  async tick(): Promise<void> {
    await this.until(() => this.ticks.length > 0);
    this.ticks.shift()!();
  }

  get stream(): FakeStream {
    return this.streams[this.streams.length - 1]!;
  }

  linesOf<T extends WatchLine['type']>(type: T): Extract<WatchLine, { type: T }>[] {
    return this.lines.filter((l): l is Extract<WatchLine, { type: T }> => l.type === type);
  }

  deps(overrides: Partial<WatchDeps> = {}): WatchDeps {
    return {
      attest: (input) =>
        new Promise<AttestReport>((resolve, reject) => {
          this.inFlight++;
          this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
          const done = (): void => {
            this.inFlight--;
          };
          this.attests.push({
            input,
            resolve: (r) => {
              done();
              resolve(r);
            },
            reject: (e) => {
              done();
              reject(e);
            },
          });
          this.changed();
        }),
      attestController: (service) =>
        new Promise<ControllerReport>((resolve) => {
          this.controllerAttests.push({ service, resolve });
          this.changed();
        }),
      subscribe: (options) => {
        const s = new FakeStream(options, this.changed);
        this.streams.push(s);
        this.changed();
        return s;
      },
      loadCursor: (service, instance) => {
        const seq = this.cursors.get(`${service} ${instance}`);
        return seq === undefined ? null : { seq };
      },
      saveCursor: (service, instance, seq) => {
        this.cursors.set(`${service} ${instance}`, seq);
        this.savedSeqs.push(seq);
        this.changed();
      },
      sleep: (_ms, signal) =>
        new Promise<void>((resolve) => {
          if (signal.aborted) return resolve();
          signal.addEventListener('abort', () => resolve(), { once: true });
          this.ticks.push(resolve);
          this.changed();
        }),
      now: () => new Date(Date.UTC(2026, 10, 26, 12, 0, 0)),
      emit: (line) => {
        this.lines.push(line);
        this.changed();
      },
      ...overrides,
    };
  }
}
