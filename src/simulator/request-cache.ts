// Parsing evidence queries for the service, once per distinct query rather
// than once per request. A challenger's queries differ in the nonce; what
// follows it (the PCR selection, the instance) repeats from one audit of a
// VM to the next. So a query that starts with a well-formed nonce is parsed
// with that nonce replaced by a fixed one, and the result, nonce aside, is
// kept under the rest of the query.
//
// This is exact: parseEvidenceQuery (src/transport) requires exactly one
// nonce of 64 lowercase hex digits and reads nothing else from it, so a
// query and its copy with another such nonce are accepted or refused alike
// and parse to the same selection and instance. Queries it refuses are
// parsed afresh (with their own nonce) for the error, and never kept.

import { parseEvidenceQuery, type EvidenceRequest } from '../transport/evidence.js';

/** `nonce=` + 64 lowercase hex + `&`: the leading nonce of the queries the cache takes. */
const LEADING_NONCE = /^nonce=[0-9a-f]{64}&/;
const PREFIX_LENGTH = 'nonce='.length + 64 + 1;
const STAND_IN = `nonce=${'0'.repeat(64)}&`;

/** Distinct rests kept at most (a fleet has one per layer and selection); beyond that the cache starts over. */
const MAX_KEPT = 8192;

export class EvidenceQueryCache {
  private readonly kept = new Map<string, Omit<EvidenceRequest, 'nonce'>>();

  /** parseEvidenceQuery(new URLSearchParams(query)), with the same result and the same errors. */
  parse(query: string): EvidenceRequest {
    if (!LEADING_NONCE.test(query)) return parseEvidenceQuery(new URLSearchParams(query));
    const rest = query.slice(PREFIX_LENGTH);
    let parsed = this.kept.get(rest);
    if (parsed === undefined) {
      try {
        const { nonce: _standIn, ...others } = parseEvidenceQuery(new URLSearchParams(STAND_IN + rest));
        parsed = others;
      } catch {
        return parseEvidenceQuery(new URLSearchParams(query));
      }
      if (this.kept.size >= MAX_KEPT) this.kept.clear();
      this.kept.set(rest, parsed);
    }
    // the kept selection and instance are shared between requests: nothing downstream changes them
    return { nonce: Buffer.from(query.slice(6, 70), 'hex'), ...parsed };
  }
}
