// A fleet audit's state writes on a thread of their own.
//
// With --state, every VM costs the audit's single JS thread its clock and
// hosting SQL, the compression and insert of its result, and the batch
// commits' fsync: about 1 ms of the ~3.8 ms a VM takes with state and
// reports (profiled on the 2-core machine of bench/audit.bench.ts), while the
// walks themselves wait on that thread. Here a StateBatcher runs in a worker
// thread on a connection of its own to the same file, and the main thread
// only hands it plain data: each walk's assessment input (assessInput) and
// each finished result's history row with its JSON as UTF-8 bytes, encoded
// once for the report spool and the thread alike. Behaviour is the StateBatcher's: the same transactions,
// batches and lock hand-overs, and the same errors, rebuilt as the same
// typed errors on this side.
//
// A result is handed over without waiting; a failure to store it is thrown
// by the next record (so the audit starts no more VMs, as when StateBatcher's
// record() throws) and by flush() and close(). `stored` counts results whose
// batch committed, as the thread reports them.

import { Worker } from 'node:worker_threads';
import { InternalError } from '../errors.js';
import type { Finding } from '../policy/evidence.js';
import { decidingCode } from '../report/summary.js';
import type { CheckResult } from '../verify/checks.js';
import type { AttestationResult, LayerResult } from '../verify/result.js';
import type { VerifiedLayer } from '../verify/walker.js';
import { assessInput, resultRecord, type AssessContext } from './assess.js';
import { errorFrom, type FromStateThread, type StateThreadData, type ToStateThread } from './batch-thread-protocol.js';
import type { StateBatcherOptions } from './batch.js';
import type { ResultRecord, StateStore } from './store.js';

export interface OffThreadBatcherOptions extends Pick<StateBatcherOptions, 'maxResults' | 'maxDelayMs' | 'holdMs' | 'yieldMs'> {
  /** the audit run every recorded result belongs to */
  runId: number;
  /** called when more results are stored (committed), with their total */
  onCommit?: (stored: number) => void;
  busyTimeoutMs?: number;
  /** the worker's script (default: state-worker.js beside this module, as built and bundled) */
  workerUrl?: URL;
}

/** The StateBatcher of `store`'s file and run, on its own thread: made by start(); close() closes `store` too. */
export class OffThreadBatcher {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly calls = new Map<number, { resolve: (value: unknown) => void; reject: (err: unknown) => void }>();
  private committed = 0;
  /** a record that failed, or the thread gone: thrown by the next record (once), flush() and close() */
  private failure: unknown;
  private failureThrown = false;
  private closed = false;
  /** the thread ended or failed */
  private gone = false;
  private outbox: ToStateThread[] = [];

  private constructor(
    /** the main thread's own connection (the run's start and end, history, prune) */
    readonly store: StateStore,
    private readonly opts: OffThreadBatcherOptions,
  ) {
    const data: StateThreadData = {
      path: store.path,
      identity: store.identity,
      runId: opts.runId,
      ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}),
      batch: {
        ...(opts.maxResults !== undefined ? { maxResults: opts.maxResults } : {}),
        ...(opts.maxDelayMs !== undefined ? { maxDelayMs: opts.maxDelayMs } : {}),
        ...(opts.holdMs !== undefined ? { holdMs: opts.holdMs } : {}),
        ...(opts.yieldMs !== undefined ? { yieldMs: opts.yieldMs } : {}),
      },
    };
    this.worker = new Worker(opts.workerUrl ?? new URL('./state-worker.js', import.meta.url), { workerData: data });
    // the thread keeps the process alive only while a call waits for it: a command that ends without close()
    // (a bug) must still end, not hang a cron job
    this.worker.unref();
    this.worker.on('message', (m: FromStateThread) => this.receive(m));
    this.worker.on('error', (err) => this.lost(new InternalError(`the audit's state thread failed: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err })));
    this.worker.on('exit', (code) => {
      if (!this.closed || this.calls.size > 0) this.lost(new InternalError(`the audit's state thread ended unexpectedly (exit code ${code})`, { exitCode: code }));
    });
  }

  /**
   * Starts the thread. It opens the state file while the audit begins (no wait here: the main thread opened the
   * same file already); calls made meanwhile wait for it, and an open that fails is thrown at the next call.
   */
  static start(store: StateStore, opts: OffThreadBatcherOptions): OffThreadBatcher {
    return new OffThreadBatcher(store, opts);
  }

  get runId(): number {
    return this.opts.runId;
  }

  /** Results whose batch committed: durable. */
  get stored(): number {
    return this.committed;
  }

  /**
   * The walker's assess hook: the walk's assessment input goes to the state thread, its findings come back. A
   * result the thread failed to store does not fail the walks (as StateBatcher's record() does not): the thread's
   * batcher refuses assessments itself once it cannot write at all (a batch lost, the lock held too long).
   */
  assessor(ctx: AssessContext): (verified: readonly VerifiedLayer[], layers?: readonly LayerResult[]) => Promise<{ findings: Finding[]; checks: CheckResult[] }> {
    return async (verified, layers) => {
      const at = { target: ctx.target, time: ctx.time, receivedAt: (ctx.receivedAt ?? Date.now)() };
      return (await this.call({ type: 'assess', id: 0, at, input: assessInput(verified, layers) })) as { findings: Finding[]; checks: CheckResult[] };
    };
  }

  /**
   * Hands a finished attestation to the state thread (stored once `stored` counts it); `resultJson` as recordResult
   * takes it, and `utf8`, when given, its UTF-8 bytes (which cross to the thread at half the size of the text).
   * A result the thread failed to store earlier is thrown here once, after this one is handed over (the audit then
   * starts no more VMs; those in flight are still stored, as with StateBatcher), and again by flush() and close().
   */
  record(result: AttestationResult, resultJson?: string, utf8?: Uint8Array): void {
    if (this.gone) throw this.failure;
    const code = result.verdict !== 'trusted' ? decidingCode(result) : undefined;
    const row: ResultRecord = resultRecord(result, resultJson, this.opts.runId);
    // the text kept as given (a result past the cap is cut down to other text); bytes that are a slice of a
    // larger buffer (Node's 8 KiB pool holds small ones) would take the whole buffer along: the text goes instead
    if (utf8 !== undefined && row.resultJson === resultJson && utf8.byteLength === utf8.buffer.byteLength) row.resultJson = utf8;
    this.post({ type: 'record', row, code });
    if (this.failure !== undefined && !this.failureThrown) {
      this.failureThrown = true;
      throw this.failure;
    }
  }

  /** Commits what the thread holds; resolves once it is durable. */
  async flush(): Promise<void> {
    this.committed = Math.max(this.committed, (await this.call({ type: 'flush', id: 0 })) as number);
    // a record sent before the flush that failed: its report came before the flush's reply
    this.rethrow();
  }

  /**
   * Commits what the thread holds, ends it and closes the store; then throws what failed, if anything did (as
   * StateBatcher.close(), the results the thread holds are committed even after one of them failed).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let failure: unknown;
    try {
      if (!this.gone) this.committed = Math.max(this.committed, (await this.call({ type: 'close', id: 0 })) as number);
    } catch (err) {
      failure = err;
    } finally {
      await this.worker.terminate();
      this.store.close();
    }
    // a record that failed (reported before the close's reply) comes first: it is the audit's first error
    if (this.failure !== undefined) throw this.failure;
    if (failure !== undefined) throw failure;
  }

  /** Sends a call and waits for its reply (refused once the thread is gone). */
  private call(message: Extract<ToStateThread, { id: number }>): Promise<unknown> {
    if (this.gone) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      if (this.calls.size === 1) this.worker.ref();
      this.post({ ...message, id });
    });
  }

  /** Messages go out together once per turn of the event loop: one postMessage (a thread wake-up) for many. */
  private post(message: ToStateThread): void {
    this.outbox.push(message);
    if (this.outbox.length === 1) setImmediate(() => this.worker.postMessage(this.outbox.splice(0)));
  }

  private receive(m: FromStateThread): void {
    switch (m.type) {
      case 'reply': {
        const call = this.calls.get(m.id);
        if (!call) return;
        this.calls.delete(m.id);
        if (this.calls.size === 0) this.worker.unref();
        if (m.error) call.reject(errorFrom(m.error));
        else call.resolve(m.value);
        return;
      }
      case 'failed':
        this.failure ??= errorFrom(m.error);
        return;
      case 'stored':
        this.committed = Math.max(this.committed, m.stored);
        this.opts.onCommit?.(this.committed);
        return;
    }
  }

  /** The thread is gone: every call waiting and every later one fails. */
  private lost(err: InternalError): void {
    this.gone = true;
    this.failure ??= err;
    for (const call of this.calls.values()) call.reject(this.failure);
    this.calls.clear();
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
