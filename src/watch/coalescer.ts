// Single flight per key, with at most one request waiting behind it.
//
// A watcher must never pile up attestations: a burst of 1,000 migration
// notifications for one VM is worth one attestation of where the VM is now,
// not 1,000. Per key, one job runs at a time; a request that comes while it
// runs waits (queued); every later one is merged into the waiting request
// (coalesced), so per key there are at most one running and one waiting job,
// whatever the number of requests, and memory is what `merge` keeps.
//
// Why one may wait at all: a notification that arrives while an attestation
// is running may describe a move that happened after its evidence was
// fetched, so one more attestation must follow; but one is enough for any
// number of such notifications.

export type RequestOutcome = 'started' | 'queued' | 'coalesced';

export interface CoalescerStats {
  /** jobs started */
  started: number;
  /** requests merged into a waiting one */
  coalesced: number;
  /** most jobs running at once for one key (never more than 1) */
  maxInFlight: number;
  /** most requests waiting at once for one key (never more than 1) */
  maxQueued: number;
}

interface KeyState<R> {
  running: boolean;
  waiting: R | null;
}

export class Coalescer<K, R> {
  readonly stats: CoalescerStats = { started: 0, coalesced: 0, maxInFlight: 0, maxQueued: 0 };
  private readonly keys = new Map<K, KeyState<R>>();
  private readonly idleWaiters: (() => void)[] = [];

  /**
   * `run` does the job for a key (a rejection is handed to `onError`, the key
   * goes on); `merge` folds a new request into the waiting one.
   */
  constructor(
    private readonly run: (key: K, request: R) => Promise<void>,
    private readonly merge: (waiting: R, next: R) => R,
    private readonly onError: (key: K, error: unknown) => void = () => {},
  ) {}

  request(key: K, request: R): RequestOutcome {
    const state = this.keys.get(key);
    if (!state) {
      this.start(key, { running: true, waiting: null }, request);
      return 'started';
    }
    if (state.waiting === null) {
      state.waiting = request;
      this.stats.maxQueued = Math.max(this.stats.maxQueued, 1);
      return 'queued';
    }
    state.waiting = this.merge(state.waiting, request);
    this.stats.coalesced++;
    return 'coalesced';
  }

  /** Is a job running for `key`? */
  busy(key: K): boolean {
    return this.keys.has(key);
  }

  /** Keys with a job running. */
  get active(): number {
    return this.keys.size;
  }

  /** Resolves once no job runs or waits for any key. */
  idle(): Promise<void> {
    if (this.keys.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops every waiting request (shutdown); running jobs finish. */
  clearWaiting(): void {
    for (const state of this.keys.values()) state.waiting = null;
  }

  private start(key: K, state: KeyState<R>, request: R): void {
    this.keys.set(key, state);
    this.stats.started++;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, 1);
    void this.run(key, request)
      .catch((err: unknown) => this.onError(key, err))
      .finally(() => {
        const next = state.waiting;
        state.waiting = null;
        if (next !== null) {
          this.start(key, state, next);
          return;
        }
        this.keys.delete(key);
        if (this.keys.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
  }
}
