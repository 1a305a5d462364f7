// IMA replay: each entry extends its PCR (10 unless the policy says
// otherwise) with the template digest computed in the bank's own hash; a
// violation extends all ones. Replay can start from a carried state (the
// PCR values after entry n-1) so a verifier that saw the first n entries
// before only replays the new ones, as Keylime does with ima_ml_entry.

import { ParseError } from '../../errors.js';
import type { HashAlg, HashName } from '../../tpm/constants.js';
import { toHex } from '../../util/bytes.js';
import { extend, initialPcrValue } from '../hash.js';
import { templateDigest } from './templates.js';
import type { ImaEntry, UnverifiedImaList } from './types.js';
import { bankAlg } from '../hash.js';
import { HASH_ALGS } from '../../tpm/constants.js';

/** Where a replay stopped: carry it into the next replay of the same list. */
export interface ImaReplayState {
  bank: HashName;
  /** PCR index -> value after the last replayed entry */
  pcrs: Map<number, Buffer>;
  /** absolute index of the next entry to replay */
  nextEntry: number;
}

export function initialImaState(bank: HashName): ImaReplayState {
  return { bank, pcrs: new Map(), nextEntry: 0 };
}

/** The value an entry extends into a bank: all ones for a violation, else its template digest. */
export function imaExtendValue(entry: ImaEntry, alg: HashAlg): Buffer {
  return entry.violation ? Buffer.alloc(alg.size, 0xff) : templateDigest(entry, alg);
}

/** The entries a replay from `state` covers; throws IMA_ENTRY_GAP when the list starts after state.nextEntry. */
export function entriesFrom(list: UnverifiedImaList, state: ImaReplayState): ImaEntry[] {
  if (list.firstEntryIndex > state.nextEntry) {
    throw new ParseError('IMA_ENTRY_GAP', `the IMA list starts at entry ${list.firstEntryIndex} but the carried replay state expects entry ${state.nextEntry}`, {
      listStart: list.firstEntryIndex,
      expected: state.nextEntry,
    });
  }
  return list.entries.slice(state.nextEntry - list.firstEntryIndex);
}

/** Replays the entries after `from` (default: the start) into one bank. */
export function replayIma(list: UnverifiedImaList, bank: HashName, from: ImaReplayState = initialImaState(bank)): ImaReplayState {
  const alg = bankAlg(bank);
  const pcrs = new Map(from.pcrs);
  const scratch = Buffer.allocUnsafe(alg.size * 2);
  const entries = entriesFrom(list, from);
  for (const e of entries) {
    const old = pcrs.get(e.pcr) ?? initialPcrValue(alg);
    pcrs.set(e.pcr, extend(alg, old, imaExtendValue(e, alg), scratch));
  }
  return { bank, pcrs, nextEntry: from.nextEntry + entries.length };
}

export interface TemplateHashCheck {
  entry: number;
  line?: number;
  status: 'valid' | 'mismatch' | 'violation';
  /** the listed template hash (hex; given for mismatches and violations) */
  listed?: string;
  /** what the template data hashes to (given for mismatches) */
  computed?: string;
  /** the hash that reproduced the listed value */
  algorithm?: HashName;
}

const BY_SIZE = new Map<number, HashAlg[]>();
for (const h of HASH_ALGS) BY_SIZE.set(h.size, [...(BY_SIZE.get(h.size) ?? []), h]);

/**
 * Checks each listed template hash against the template data. Real lists
 * show the SHA-1 digest; a 32-byte one is checked as SHA-256 or SM3.
 */
export function checkTemplateHashes(list: UnverifiedImaList): TemplateHashCheck[] {
  return list.entries.map((e) => {
    // hex only where someone will read it: lists are long and most entries are valid
    const at = e.line !== undefined ? { entry: e.index, line: e.line } : { entry: e.index };
    if (e.violation) return { ...at, status: 'violation', listed: toHex(e.templateHash) };
    let computed: Buffer | undefined;
    for (const alg of BY_SIZE.get(e.templateHash.length) ?? []) {
      computed = templateDigest(e, alg);
      if (computed.equals(e.templateHash)) return { ...at, status: 'valid', algorithm: alg.name };
    }
    const bad: TemplateHashCheck = { ...at, status: 'mismatch', listed: toHex(e.templateHash) };
    if (computed) bad.computed = toHex(computed);
    return bad;
  });
}
