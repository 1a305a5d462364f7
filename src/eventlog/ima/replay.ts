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
  /** the listed template hash (hex; given for mismatches and violations, the first MAX_DETAILED_CHECKS of them) */
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
  const detail = detailBudget();
  return list.entries.map((e) => checkEntry(e, undefined, detail));
}

/**
 * How many mismatches and violations carry their hashes in hex (`listed`,
 * `computed`); past it they carry their status only. Honest lists have a few
 * violations at most, while an edited or hostile one can make every entry a
 * mismatch, and two hex digests each took more heap than the list itself.
 */
export const MAX_DETAILED_CHECKS = 10_000;

function detailBudget(): () => boolean {
  let left = MAX_DETAILED_CHECKS;
  return () => left-- > 0;
}

/**
 * One entry's check. Each template digest it computes is kept in `computedBy`
 * (by hash name) when given, for a replay of the same entry to reuse.
 */
function checkEntry(e: ImaEntry, computedBy: Map<string, Buffer> | undefined, detail: () => boolean): TemplateHashCheck {
  // hex only where someone will read it: lists are long and most entries are valid. Object literals, not
  // spreads of a shared part: V8 gives a spread's result a dictionary of ~250 bytes, a literal ~50, and a
  // list of two million entries keeps one check each (the properties and their order are the same)
  const { index: entry, line } = e;
  if (e.violation) {
    if (!detail()) return line !== undefined ? { entry, line, status: 'violation' } : { entry, status: 'violation' };
    const listed = toHex(e.templateHash);
    return line !== undefined ? { entry, line, status: 'violation', listed } : { entry, status: 'violation', listed };
  }
  let computed: Buffer | undefined;
  for (const alg of BY_SIZE.get(e.templateHash.length) ?? []) {
    computed = templateDigest(e, alg);
    computedBy?.set(alg.name, computed);
    if (computed.equals(e.templateHash)) return line !== undefined ? { entry, line, status: 'valid', algorithm: alg.name } : { entry, status: 'valid', algorithm: alg.name };
  }
  if (!detail()) return line !== undefined ? { entry, line, status: 'mismatch' } : { entry, status: 'mismatch' };
  const listed = toHex(e.templateHash);
  const bad: TemplateHashCheck = line !== undefined ? { entry, line, status: 'mismatch', listed } : { entry, status: 'mismatch', listed };
  if (computed) bad.computed = toHex(computed);
  return bad;
}

/**
 * checkTemplateHashes(list) and replayIma(list, bank) for each of `banks`, in
 * one pass over the entries: the template digest a check computes (SHA-1 for
 * the listed hash of real lists) is the extend value of that bank's replay,
 * so it is computed once, not twice. The results equal those of the separate
 * calls; `eventlog --ima` does both on lists of hundreds of thousands of entries.
 */
export function checkAndReplayIma(list: UnverifiedImaList, banks: readonly HashName[]): { checks: TemplateHashCheck[]; states: Map<HashName, ImaReplayState> } {
  const replays = banks.map((bank) => {
    const alg = bankAlg(bank);
    return { bank, alg, pcrs: new Map<number, Buffer>(), scratch: Buffer.allocUnsafe(alg.size * 2) };
  });
  // an incremental list (firstEntryIndex > 0) is IMA_ENTRY_GAP here as in replayIma
  const entries = entriesFrom(list, initialImaState(banks[0] ?? 'sha1'));
  const computedBy = new Map<string, Buffer>();
  const detail = detailBudget();
  const checks = new Array<TemplateHashCheck>(entries.length);
  entries.forEach((e, i) => {
    computedBy.clear();
    checks[i] = checkEntry(e, computedBy, detail);
    for (const r of replays) {
      const value = e.violation ? Buffer.alloc(r.alg.size, 0xff) : (computedBy.get(r.alg.name) ?? templateDigest(e, r.alg));
      r.pcrs.set(e.pcr, extend(r.alg, r.pcrs.get(e.pcr) ?? initialPcrValue(r.alg), value, r.scratch));
    }
  });
  return { checks, states: new Map(replays.map((r) => [r.bank, { bank: r.bank, pcrs: r.pcrs, nextEntry: entries.length }])) };
}
