// Path building: from the target certificate up to a trust anchor, through
// intermediates from the evidence and from the trust store. Building only
// proposes candidate paths; validate.ts decides (a builder is not a validator).
//
// Evidence is untrusted, so the search is bounded: at most `maxDepth`
// certificates per path, `maxCandidates` complete paths, every certificate
// at most once per path, and MAX_STEPS extensions in all (many intermediates
// sharing one name would otherwise make the search exponential). Issuer candidates are tried in this
// order: name and key identifier agree; name agrees but the AKI/SKI differ;
// the key identifier agrees but the name differs (the last two exist so that
// a failure says CHAIN_KEY_ID_MISMATCH or CHAIN_NAME_MISMATCH instead of
// "issuer not found"). Within a rank, certificates valid at the validation
// time come first, then the order given.

import type { Certificate } from './certificate.js';
import { IssuerIndex, type TrustAnchor, type TrustStore } from './trust-store.js';

const MAX_STEPS = 2000;

export interface CandidatePath {
  /** target first; excludes the anchor; empty when the target is itself an anchor */
  certs: Certificate[];
  anchor: TrustAnchor;
}

export interface BuildResult {
  candidates: CandidatePath[];
  /** the longest chain found when no anchor was reached (target first) */
  longest: Certificate[];
  /** some path was cut at maxDepth */
  tooLong: boolean;
  /** the search stopped at MAX_STEPS */
  exhausted: boolean;
}

function keyIdsDiffer(child: Certificate, issuer: Certificate): boolean {
  const aki = child.ext.authorityKeyId;
  const ski = issuer.ext.subjectKeyId;
  return aki !== undefined && ski !== undefined && Buffer.compare(aki, ski) !== 0;
}

function rank(child: Certificate, issuer: Certificate, at: number): number {
  const nameMatch = child.issuer.key === issuer.subject.key;
  const base = nameMatch ? (keyIdsDiffer(child, issuer) ? 2 : 0) : 4;
  return base + (issuer.notBefore <= at && at <= issuer.notAfter ? 0 : 1);
}

function ordered<T>(child: Certificate, items: T[], certOf: (t: T) => Certificate, at: number, first?: (t: T) => boolean): T[] {
  return items
    .map((item, i) => ({ item, i, r: rank(child, certOf(item), at) + (first && !first(item) ? 10 : 0) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.item);
}

export function buildCandidatePaths(
  target: Certificate,
  evidenceIntermediates: readonly Certificate[],
  store: TrustStore,
  options: { at: number; maxDepth: number; maxCandidates: number; preferAnchor?: (a: TrustAnchor) => boolean },
): BuildResult {
  const candidates: CandidatePath[] = [];
  let longest: Certificate[] = [target];
  let tooLong = false;
  let steps = 0;

  const self = store.anchorOf(target);
  if (self) candidates.push({ certs: [], anchor: self });

  // Evidence first, then the store's intermediates; a certificate that is an anchor is reached as the anchor.
  const seen = new Set<string>([target.fingerprint]);
  const pool: Certificate[] = [];
  for (const c of [...evidenceIntermediates, ...store.intermediates]) {
    if (seen.has(c.fingerprint) || store.anchorOf(c)) continue;
    seen.add(c.fingerprint);
    pool.push(c);
  }
  const poolIndex = new IssuerIndex(pool, (c) => c);

  const extend = (path: Certificate[]): void => {
    if (++steps > MAX_STEPS) return;
    const top = path[path.length - 1]!;
    for (const anchor of ordered(top, store.issuerAnchors(top), (a) => a.certificate, options.at, options.preferAnchor)) {
      if (candidates.length >= options.maxCandidates) return;
      // A self-issued target whose own certificate is the anchor was proposed above.
      if (anchor.certificate.fingerprint === top.fingerprint) continue;
      candidates.push({ certs: path, anchor });
    }
    if (path.length > longest.length) longest = path;
    const next = poolIndex.candidatesFor(top).filter((c) => !path.includes(c));
    if (next.length === 0) return;
    if (path.length >= options.maxDepth) {
      tooLong = true;
      return;
    }
    for (const issuer of ordered(top, next, (c) => c, options.at)) {
      if (candidates.length >= options.maxCandidates) return;
      extend([...path, issuer]);
    }
  };
  extend([target]);
  return { candidates, longest, tooLong, exhausted: steps > MAX_STEPS };
}
