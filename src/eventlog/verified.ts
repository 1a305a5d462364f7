// The verified view of an event log. Only replayAgainstQuote() creates one:
// the brand below cannot be produced outside this module without a cast, so
// a function that takes a VerifiedEventLog cannot be handed parser output by
// mistake. An event is verified in a bank when its digest for that bank took
// part in a replay that equalled the quoted PCR; its *content* is attested
// only when that digest is also the hash of its data (contentBound).

import type { HashName } from '../tpm/constants.js';
import type { LogEvent, UnverifiedEventLog } from './types.js';

declare const verifiedBrand: unique symbol;

export interface VerifiedEvent {
  readonly event: LogEvent;
  /** banks whose quoted PCR this event's digest was replayed into, successfully */
  readonly banks: readonly HashName[];
  /**
   * true when, in one of those banks, the digest is the hash of the event data
   * (per the PFP rules in decode/binding.ts): the decoded content is attested.
   * false means only the digest is attested, e.g. a boot application's image
   * hash is, its device path is not.
   */
  readonly contentBound: boolean;
}

export interface VerifiedEventLog {
  readonly [verifiedBrand]: true;
  readonly trust: 'verified';
  /** the parsed log this view was made from (format, Spec ID...), itself unverified */
  readonly source: UnverifiedEventLog;
  /** events of PCRs that matched, in log order; events of other PCRs are absent */
  readonly events: readonly VerifiedEvent[];
  /** bank -> PCR indexes whose replay equalled the quote */
  readonly matchedPcrs: ReadonlyMap<HashName, readonly number[]>;
  /** the StartupLocality, when PCR 0 matched in some bank */
  readonly startupLocality: number | undefined;
  /** ids of firmware quirks that had to be applied for a PCR to match */
  readonly quirks: readonly string[];
}

/** For quote-replay.ts only. */
export function makeVerifiedEventLog(fields: Omit<VerifiedEventLog, typeof verifiedBrand | 'trust'>): VerifiedEventLog {
  return { ...fields, trust: 'verified' } as VerifiedEventLog;
}
