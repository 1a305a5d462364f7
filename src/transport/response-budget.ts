// A bound on the response bytes held at once by every request that shares it.
//
// Each response already has a size cap (32 MiB: evidence with a large IMA
// list fits), but a fleet audit reads many at once: 64 hostile hosts each
// dripping an answer just under the cap took an audit at concurrency 64 to
// 2.4 GB of RSS. When the bodies being read would pass
// the budget, the response holding the most is dropped (a hostile host's,
// typically), not whichever response's bytes came last: one honest large
// answer does not fail because others hog the budget.

export interface BudgetReader {
  /** bytes this response holds */
  readonly held: number;
  /** counts `n` more bytes, which may drop this or other responses to stay within the budget; false once this one is dropped or closed */
  add(n: number): boolean;
  /** releases this response's bytes (its body was handed over, or it failed); idempotent */
  close(): void;
}

/**
 * A body read whole whose bytes stay counted against the budget until its reader has used them: an audit's walk
 * keeps its layer's body counted while the layer waits its turn at the parse gate (src/verify/parse-gate.ts), so
 * that the answers read and not yet parsed are bounded together, not just those being read.
 */
export interface BodyHold {
  /** the body's bytes */
  readonly bytes: number;
  /** aborted, with its TRANSPORT_TOO_LARGE error as the reason, when the budget dropped this body: give it up */
  readonly dropped: AbortSignal;
  /** gives the bytes back to the budget; idempotent */
  release(): void;
}

export class ResponseBudget {
  private total = 0;
  private readonly open = new Set<Reader>();

  constructor(readonly maxBytes: number) {}

  /** bytes held by the responses being read now, and by bodies read whole and still held (BodyHold) */
  get held(): number {
    return this.total;
  }

  /** Registers a response body being read; `drop` fails it (it is closed first). */
  reader(drop: (held: number) => void): BudgetReader {
    const reader = new Reader(this, drop);
    this.open.add(reader);
    return reader;
  }

  /** @internal */
  grow(n: number): void {
    this.total += n;
    // O(responses open) per drop, which happens only past the budget
    while (this.total > this.maxBytes && this.open.size > 0) {
      let largest: Reader | undefined;
      for (const r of this.open) if (largest === undefined || r.held > largest.held) largest = r;
      largest!.dropNow();
    }
  }

  /** @internal */
  release(reader: Reader): void {
    if (!this.open.delete(reader)) return;
    this.total -= reader.held;
  }
}

class Reader implements BudgetReader {
  held = 0;
  private closed = false;
  constructor(
    private readonly budget: ResponseBudget,
    private readonly drop: (held: number) => void,
  ) {}

  add(n: number): boolean {
    if (this.closed) return false;
    this.held += n;
    this.budget.grow(n);
    return !this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.budget.release(this);
  }

  dropNow(): void {
    const held = this.held;
    this.close();
    this.drop(held);
  }
}
