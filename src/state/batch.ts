// Writing a fleet audit's state: the walker's assess hook and the history
// record of every VM, batched so that an fsync is paid per batch, not per
// write (synchronous = FULL costs ~1.8 ms a commit; a 300 VMs/s audit makes
// four to five writes per VM). A batch is committed when it holds
// `maxResults` results, when it has been open `maxDelayMs`, and at flush().
// `stored` counts only results whose batch committed: what is reported as
// written is durable, and a crash loses at most the open batch, never
// corrupts the file (SQLite rolls the uncommitted transaction back).

import type { Finding } from '../policy/evidence.js';
import type { CheckResult } from '../verify/checks.js';
import type { AttestationResult } from '../verify/result.js';
import type { VerifiedLayer } from '../verify/walker.js';
import { recordResult, stateAssessor, type AssessContext } from './assess.js';
import type { StateStore } from './store.js';

export interface StateBatcherOptions {
  /** commit once this many results wait (default 64) */
  maxResults?: number;
  /** commit a batch open this long (default 1000 ms), so a slow audit does not hold the lock */
  maxDelayMs?: number;
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

  constructor(
    readonly store: StateStore,
    private readonly opts: StateBatcherOptions = {},
  ) {
    this.maxResults = opts.maxResults ?? 64;
    this.maxDelayMs = opts.maxDelayMs ?? 1000;
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
  assessor(ctx: AssessContext): (verified: readonly VerifiedLayer[]) => Promise<{ findings: Finding[]; checks: CheckResult[] }> {
    const assess = stateAssessor(this.store, ctx);
    return (verified) => {
      this.rethrow();
      this.open();
      return assess(verified);
    };
  }

  /** Appends a finished attestation to the history (durable once `stored` counts it); `resultJson` as recordResult takes it. */
  record(result: AttestationResult, resultJson?: string): void {
    this.rethrow();
    this.open();
    recordResult(this.store, result, resultJson, this.opts.runId);
    this.pending++;
    if (this.pending >= this.maxResults) this.flush();
  }

  /** Commits the open batch now. */
  flush(): void {
    this.rethrow();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.store.batchOpen) return;
    this.store.commitBatch();
    this.committed += this.pending;
    this.pending = 0;
    this.opts.onCommit?.(this.committed);
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
    this.store.beginBatch();
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
