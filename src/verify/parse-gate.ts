// How many large logs a fleet audit's walks parse at once. A layer's logs
// are bounded in bytes (an IMA list by EVIDENCE caps, a firmware log by its
// own), but parsed and replayed they take about ten times that in objects
// until the walk has its result: a 24-million-character IMA list held about
// 250 MB. Sixteen walks at once, each down three hostile layers sending the
// largest lists, would need gigabytes and end the audit with an out-of-memory
// crash, the others' results lost with it. So a walk whose layer brings logs
// past `smallBytes` takes a share of `capBytes` before they are parsed, and
// waits its turn (in arrival order) while other walks hold the rest; it
// holds its share until it ends. Small logs, the usual case, never wait.
//
// Deadlock-free: a walk that already holds a share takes more without
// waiting (a chain of large layers goes on), and an empty gate admits any
// size (one list bigger than the cap still runs, alone). A stop (the audit's
// SIGINT/SIGTERM) ends every wait, and refuses every later large layer, with
// its reason: a walk no one will report on must not go on to parse, one after
// another, past a Kubernetes grace period.

/** What one walk holds: `admit` before parsing a layer's logs, `release` once the walk is over. */
export interface ParsePass {
  /**
   * Any of `signals` ends a wait (the VM's deadline, the response budget dropping the body): the wait is rejected
   * with that signal's reason and leaves the queue, so walks holding the gate one after another cannot keep a VM
   * waiting past its deadline. (Several, not one AbortSignal.any: that would be made for every layer, most of
   * which never wait.)
   */
  admit(bytes: number, ...signals: (AbortSignal | undefined)[]): Promise<void> | void;
  release(): void;
}

export interface ParseGateStats {
  /** admissions that had to wait for other walks to finish */
  waited: number;
  /** the most bytes held at once */
  peakBytes: number;
}

export class ParseGate {
  private held = 0;
  private readonly queue: { bytes: number; admitted: () => void; refused: (reason: Error) => void }[] = [];
  private stopped: Error | undefined;
  readonly stats: ParseGateStats = { waited: 0, peakBytes: 0 };

  constructor(
    /** log bytes that walks may be parsing at once */
    readonly capBytes = 48 * 1024 * 1024,
    /** a layer's logs below this are not counted */
    readonly smallBytes = 1024 * 1024,
  ) {}

  /** Bytes held now (for tests and figures). */
  get heldBytes(): number {
    return this.held;
  }

  pass(): ParsePass {
    let mine = 0;
    return {
      admit: (bytes: number, ...given: (AbortSignal | undefined)[]): Promise<void> | void => {
        if (bytes < this.smallBytes) return;
        if (this.stopped) return Promise.reject(this.stopped);
        // holding already, or room (and no one waiting ahead), or an empty gate: go on now
        if (mine > 0 || (this.queue.length === 0 && (this.held === 0 || this.held + bytes <= this.capBytes))) {
          this.take(bytes);
          mine += bytes;
          return;
        }
        const signals = given.filter((g): g is AbortSignal => g !== undefined);
        const ended = signals.find((g) => g.aborted);
        if (ended) return Promise.reject(ended.reason);
        this.stats.waited++;
        return new Promise<void>((admitted, refused) => {
          const listeners = signals.map((signal) => ({
            signal,
            onAbort: (): void => {
              const at = this.queue.indexOf(waiting);
              if (at < 0) return;
              this.queue.splice(at, 1);
              stopListening();
              refused(signal.reason);
              // the one that left may have been first in line: those behind it may fit now
              this.drain();
            },
          }));
          const stopListening = (): void => {
            for (const { signal, onAbort } of listeners) signal.removeEventListener('abort', onAbort);
          };
          const waiting = {
            bytes,
            admitted: () => {
              stopListening();
              mine += bytes;
              admitted();
            },
            refused: (reason: Error) => {
              stopListening();
              refused(reason);
            },
          };
          this.queue.push(waiting);
          for (const { signal, onAbort } of listeners) signal.addEventListener('abort', onAbort, { once: true });
        });
      },
      release: (): void => {
        if (mine === 0) return;
        this.held -= mine;
        mine = 0;
        this.drain();
      },
    };
  }

  /** Ends every wait with `reason`, and refuses large layers from now on (small ones still pass). */
  stop(reason: Error): void {
    this.stopped ??= reason;
    for (const waiting of this.queue.splice(0)) waiting.refused(this.stopped);
  }

  private take(bytes: number): void {
    this.held += bytes;
    if (this.held > this.stats.peakBytes) this.stats.peakBytes = this.held;
  }

  /** Admits waiting walks in arrival order while they fit (the first always, into an empty gate). */
  private drain(): void {
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (this.held > 0 && this.held + next.bytes > this.capBytes) return;
      this.queue.shift();
      this.take(next.bytes);
      next.admitted();
    }
  }
}
