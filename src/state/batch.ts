// Writing a fleet audit's state: the walker's assess hook and the history
// record of every VM, batched so that an fsync is paid per batch, not per
// write (synchronous = FULL costs ~1.8 ms a commit; a 300 VMs/s audit makes
// four to five writes per VM). A batch is committed when it holds
// `maxResults` results, when it has been open `maxDelayMs`, and at flush().
// `stored` counts only results whose batch committed: what is reported as
// written is durable, and a crash loses at most the open batch, never
// corrupts the file (SQLite rolls the uncommitted transaction back).
// Batches back to back would hold the write lock for the whole audit: SQLite
// gives a waiting process the lock only if it is free when that process next
// polls (every 100 ms at most), and the next batch began within microseconds
// of a commit, so an attest or watch on the same file starved and failed with
// STATE_BUSY after its 10 s busy timeout. Once the lock has been held for
// `holdMs` (5 s), it is let go for `yieldMs`: assessments wait, and a result
// recorded meanwhile is its own short transaction.
// With an audit run, each commit also writes the run's failure codes so far
// (the codes of the results it stored, counted as the audit summary counts
// them) in the same transaction: a run killed midway lists the codes of what
// it stored, and finishAuditRun() writes the final ones. One UPDATE per
// batch, from counts kept in memory: nothing is read back or parsed.

import type { Finding } from '../policy/evidence.js';
import type { CheckResult } from '../verify/checks.js';
import type { AttestationResult, LayerResult } from '../verify/result.js';
import type { VerifiedLayer } from '../verify/walker.js';
import { decidingCode, sortedCodeCounts } from '../report/summary.js';
import { assessInput, assessState, resultRecord, type AssessContext, type AssessInput, type AssessTimes } from './assess.js';
import type { ResultRecord, StateStore } from './store.js';

export interface StateBatcherOptions {
  /** commit once this many results wait (default 64) */
  maxResults?: number;
  /** commit a batch open this long (default 1000 ms), so a slow audit does not hold the lock */
  maxDelayMs?: number;
  /** once the write lock was held this long, batch after batch (default 5000 ms: half the busy timeout of the writer waiting), let it go for yieldMs */
  holdMs?: number;
  /** how long the lock is let go (default 150 ms: longer than SQLite's busy-wait poll, 100 ms) */
  yieldMs?: number;
  /** called after each commit with the total of results stored */
  onCommit?: (stored: number) => void;
  /** the audit run (StateStore.beginAuditRun) every recorded result belongs to */
  runId?: number;
}

export class StateBatcher {
  private pending = 0;
  private committed = 0;
  private timer: NodeJS.Timeout | undefined;
  /** a commit the timer attempted and that failed: thrown at the next call */
  private failure: unknown;
  private readonly maxResults: number;
  private readonly maxDelayMs: number;
  private readonly holdMs: number;
  private readonly yieldMs: number;
  /** when the write lock was taken, batch after batch, since it was last let go */
  private heldSince: number | undefined;
  private lastCommit = 0;
  /** no batch opens before this time: another process may take the lock */
  private resumeAt = 0;
  /** failure code -> results of the run counted under it: committed, and in the open batch */
  private readonly committedCodes = new Map<string, number>();
  private pendingCodes = new Map<string, number>();
  /** the run's failure codes were written once (an empty list included) */
  private codesWritten = false;

  constructor(
    readonly store: StateStore,
    private readonly opts: StateBatcherOptions = {},
  ) {
    this.maxResults = opts.maxResults ?? 64;
    this.maxDelayMs = opts.maxDelayMs ?? 1000;
    this.holdMs = opts.holdMs ?? 5000;
    this.yieldMs = opts.yieldMs ?? 150;
  }

  /** The audit run its results belong to, if any. */
  get runId(): number | undefined {
    return this.opts.runId;
  }

  /** Results whose batch committed: durable. */
  get stored(): number {
    return this.committed;
  }

  /** The walker's assess hook (clock readings, hosting), writing inside the open batch. */
  assessor(ctx: AssessContext): (verified: readonly VerifiedLayer[], layers?: readonly LayerResult[]) => Promise<{ findings: Finding[]; checks: CheckResult[] }> {
    return (verified, layers) => this.assess({ target: ctx.target, time: ctx.time, receivedAt: (ctx.receivedAt ?? Date.now)() }, assessInput(verified, layers));
  }

  /** The state assessment of one walk (assessInput), inside the open batch. */
  async assess(at: AssessTimes, input: AssessInput): Promise<{ findings: Finding[]; checks: CheckResult[] }> {
    this.rethrow();
    const wait = this.resumeAt - Date.now();
    if (wait > 0 && !this.store.batchOpen) await new Promise((resolve) => setTimeout(resolve, wait));
    this.rethrow();
    this.open();
    return assessState(this.store, at, input);
  }

  /** Appends a finished attestation to the history (durable once `stored` counts it); `resultJson` as recordResult takes it. */
  record(result: AttestationResult, resultJson?: string): void {
    const runId = this.opts.runId;
    this.recordRow(resultRecord(result, resultJson, runId), runId !== undefined && result.verdict !== 'trusted' ? decidingCode(result) : undefined);
  }

  /**
   * Appends a history row (resultRecord) of the batcher's run; `code`: the failure code the run's summary counts
   * it under (decidingCode), for a result not trusted.
   */
  recordRow(record: ResultRecord, code: string | undefined): void {
    this.rethrow();
    const runId = this.opts.runId;
    const row = record.runId === runId ? record : { ...record, runId };
    if (!this.store.batchOpen && Date.now() < this.resumeAt) {
      // the lock is let go for now: this result is a transaction of its own, between which another writer gets its turn
      // (with the run's failure codes, when it changes them: both or neither are stored)
      try {
        if (runId !== undefined && (code !== undefined || !this.codesWritten)) {
          const codes = new Map(this.committedCodes);
          if (code !== undefined) codes.set(code, (codes.get(code) ?? 0) + 1);
          this.store.together('record result', () => {
            this.store.appendResult(row);
            this.store.recordAuditRunCodes(runId, sortedCodeCounts(codes));
          });
          this.codesWritten = true;
          if (code !== undefined) this.committedCodes.set(code, (this.committedCodes.get(code) ?? 0) + 1);
        } else this.store.appendResult(row);
      } catch (err) {
        // the writer that took the lock held it beyond the busy timeout: as for a batch that cannot begin, the VMs in flight must not each wait again
        if ((err as { code?: unknown }).code === 'STATE_BUSY') this.failure ??= err;
        throw err;
      }
      this.committed++;
      this.opts.onCommit?.(this.committed);
      return;
    }
    this.open();
    this.store.appendResult(row);
    this.pending++;
    if (code !== undefined) this.pendingCodes.set(code, (this.pendingCodes.get(code) ?? 0) + 1);
    if (this.pending >= this.maxResults) this.flush();
  }

  /** Commits the open batch now. */
  flush(): void {
    this.rethrow();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.store.batchOpen) return;
    const pendingCodes = this.pendingCodes;
    this.pendingCodes = new Map();
    // the run's failure codes with the results they count, in the batch's transaction; a write of them that
    // fails (the disk full) fails the audit as a commit would, once the batch's fate is known
    const runId = this.opts.runId;
    const writeCodes = runId !== undefined && this.pending > 0 && (pendingCodes.size > 0 || !this.codesWritten);
    let codesError: unknown;
    if (writeCodes) {
      const codes = new Map(this.committedCodes);
      for (const [code, n] of pendingCodes) codes.set(code, (codes.get(code) ?? 0) + n);
      try {
        this.store.recordAuditRunCodes(runId, sortedCodeCounts(codes));
      } catch (err) {
        codesError = err;
      }
    }
    try {
      this.store.commitBatch();
    } catch (err) {
      // the batch is lost, rolled back: none of its results is stored, and none after it (the first error is the audit's)
      this.pending = 0;
      this.failure ??= err;
      throw err;
    }
    for (const [code, n] of pendingCodes) this.committedCodes.set(code, (this.committedCodes.get(code) ?? 0) + n);
    if (writeCodes && codesError === undefined) this.codesWritten = true;
    this.committed += this.pending;
    this.pending = 0;
    this.lastCommit = Date.now();
    if (this.heldSince !== undefined && this.lastCommit - this.heldSince >= this.holdMs) {
      this.heldSince = undefined;
      this.resumeAt = this.lastCommit + this.yieldMs;
    }
    this.opts.onCommit?.(this.committed);
    if (codesError !== undefined) {
      this.failure ??= codesError;
      throw codesError;
    }
  }

  /** Commits what is pending and closes the store. */
  close(): void {
    try {
      this.flush();
    } finally {
      this.store.close();
    }
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private open(): void {
    if (this.store.batchOpen) return;
    try {
      this.store.beginBatch();
    } catch (err) {
      // the lock stayed held beyond the busy timeout: the VMs in flight must not each wait that long again
      this.failure ??= err;
      throw err;
    }
    // a gap since the last commit long enough for a waiting writer starts a new holding
    const now = Date.now();
    if (this.heldSince === undefined || now - this.lastCommit >= this.yieldMs) this.heldSince = now;
    this.timer = setTimeout(() => {
      try {
        this.flush();
      } catch (err) {
        this.failure ??= err;
      }
    }, this.maxDelayMs);
    this.timer.unref();
  }
}
