// Verified IMA entries: only replayImaAgainstQuote() creates this view. An
// entry is verified when the running value of its PCR, replayed in a bank
// from the template data itself, reached the quoted value at or after it.
// Violations are verified as events (something was measured while open for
// write), but their all-zero digest says nothing about file content.

import type { HashName } from '../../tpm/constants.js';
import type { ImaEntry, UnverifiedImaList } from './types.js';

declare const verifiedImaBrand: unique symbol;

export interface VerifiedImaList {
  readonly [verifiedImaBrand]: true;
  readonly trust: 'verified';
  readonly source: UnverifiedImaList;
  /** the bank whose quoted PCRs the entries were replayed into */
  readonly bank: HashName;
  /** verified entries, in list order */
  readonly entries: readonly ImaEntry[];
}

/** For ima/quote-replay.ts only. */
export function makeVerifiedImaList(fields: Omit<VerifiedImaList, typeof verifiedImaBrand | 'trust'>): VerifiedImaList {
  return { ...fields, trust: 'verified' } as VerifiedImaList;
}
