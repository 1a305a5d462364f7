// Reusing a certification path validation that already succeeded. A fleet
// audit validates the same VMM and host AK chains for every VM on a host; the
// ValidationCache already skips their signatures, but building the path and
// writing every check again still costs more than a quote verification.
//
// A validation is a function of the certificate bytes, the trust store, the
// CRLs, the options, and the time `at` only through comparisons of `at` with
// the validity boundaries of certificates and CRLs (notBefore <= at <=
// notAfter, thisUpdate <= at <= nextUpdate, revocation date <= at), in the
// checks and in the path builder's preference for certificates valid at
// `at`. So between two consecutive boundaries of every certificate and CRL
// that could take part (the store's anchors and intermediates, the chain
// given, the CRLs), the result is the same. The memo keeps a VALID result
// of a chain it has validated before (most chains of a fleet, a VM's own AK
// chain, come once; its hosts' come again and again) with that interval, and
// gives it again, with the new `at`, only for a time
// inside it and for the very same inputs (the certificates' SHA-256, the
// same store and CRL list objects, the same options). Only valid results are
// kept: their checks do not mention the time; failures are computed afresh.

import { createHash } from 'node:crypto';
import type { Certificate } from './certificate.js';
import type { Crl } from './crl.js';
import type { TrustStore } from './trust-store.js';
import type { ValidPath } from './validate.js';

interface Entry {
  result: ValidPath;
  /** the result holds for from <= at < until */
  from: number;
  until: number;
}

export interface PathMemoStats {
  hits: number;
  misses: number;
}

/** Times where some validity comparison changes its answer, sorted (as [notBefore, notAfter + 1] and the like). */
function boundariesOf(certs: Iterable<Certificate>, crls: readonly Crl[]): number[] {
  const out: number[] = [];
  for (const c of certs) out.push(c.notBefore, c.notAfter + 1);
  for (const crl of crls) {
    out.push(crl.thisUpdate);
    if (crl.nextUpdate !== undefined) out.push(crl.nextUpdate + 1);
    for (const e of crl.revoked.values()) out.push(e.date);
  }
  return out.sort((a, b) => a - b);
}

/** The interval [from, until) of the sorted boundaries in which `at` lies. */
function interval(sorted: readonly number[], at: number, into: { from: number; until: number }): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= at) lo = mid + 1;
    else hi = mid;
  }
  // sorted[lo - 1] <= at < sorted[lo]
  if (lo > 0) into.from = Math.max(into.from, sorted[lo - 1]!);
  if (lo < sorted.length) into.until = Math.min(into.until, sorted[lo]!);
}

const noCrls: readonly Crl[] = [];

export class PathValidationMemo {
  private readonly entries = new Map<string, Entry>();
  /** keys validated once: a result is kept only when its chain comes again (a VM's own AK chain, seen once per audit, never is) */
  private readonly seen = new Map<string, true>();
  /** per trust store (immutable) and per CRL list: its sorted boundaries, computed once */
  private readonly storeBoundaries = new WeakMap<TrustStore, number[]>();
  private readonly crlBoundaries = new WeakMap<readonly Crl[], number[]>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  readonly stats: PathMemoStats = { hits: 0, misses: 0 };

  constructor(private readonly maxEntries = 512) {}

  /** The memo key of a validation: the chain's bytes (by fingerprint) and the identity of everything else. */
  key(chain: readonly Certificate[], store: TrustStore, crls: readonly Crl[] | undefined, options: string): string {
    const h = createHash('sha256');
    for (const c of chain) h.update(c.fingerprint).update('|');
    return `${this.idOf(store)}/${this.idOf(crls ?? noCrls)}/${options}/${h.digest('hex')}`;
  }

  /** A remembered valid result for this key whose interval holds `at`, re-dated to `at`. */
  get(key: string, at: number): ValidPath | undefined {
    const e = this.entries.get(key);
    if (!e || at < e.from || at >= e.until) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    this.entries.delete(key); // most recently used goes last
    this.entries.set(key, e);
    return { ...e.result, at } as ValidPath;
  }

  /** Remembers a valid result, with the interval around its time in which it stays the same. */
  remember(key: string, result: ValidPath, chain: readonly Certificate[], store: TrustStore, crls: readonly Crl[] | undefined): void {
    if (!this.seen.has(key)) {
      this.seen.set(key, true);
      if (this.seen.size > this.maxEntries * 16) this.seen.delete(this.seen.keys().next().value!);
      return;
    }
    const at = result.at;
    const span = { from: -Infinity, until: Infinity };
    let sb = this.storeBoundaries.get(store);
    if (!sb) this.storeBoundaries.set(store, (sb = boundariesOf([...store.anchors.map((a) => a.certificate), ...store.intermediates], noCrls)));
    interval(sb, at, span);
    const list = crls ?? noCrls;
    let cb = this.crlBoundaries.get(list);
    if (!cb) this.crlBoundaries.set(list, (cb = boundariesOf([], list)));
    interval(cb, at, span);
    interval(boundariesOf(chain, noCrls), at, span);
    this.entries.set(key, { result, from: span.from, until: span.until });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }
}
