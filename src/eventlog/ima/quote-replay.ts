// Replays an IMA list against quoted PCR values (from a verified quote). An
// IMA list grows while the machine runs, so it may hold entries measured
// after the quote: a PCR matches when its running value equals the quoted
// one after some entry; the entries up to there are verified, later ones
// are reported as not yet covered. Replay may continue from a carried state.

import { fail, pass, type CheckResult } from '../../verify/checks.js';
import type { HashName } from '../../tpm/constants.js';
import type { PcrValues } from '../../tpm/pcrs.js';
import { bytesEqual, toHex } from '../../util/bytes.js';
import { bankAlg, extend, initialPcrValue } from '../hash.js';
import { checkTemplateHashes, entriesFrom, imaExtendValue, initialImaState, type ImaReplayState } from './replay.js';
import type { ImaEntry, UnverifiedImaList } from './types.js';
import { makeVerifiedImaList, type VerifiedImaList } from './verified.js';

export interface ReplayImaAgainstQuoteOptions {
  /** the bank to replay; default: the first of sha256, sha384, sha512, sm3_256, sha1 the quote covers */
  bank?: HashName;
  /** carried state from an earlier replay of the same list (its PCR values must be the previously verified ones) */
  from?: ImaReplayState;
}

export interface ImaPcrOutcome {
  pcr: number;
  status: 'match' | 'mismatch' | 'not-quoted';
  replayed: string;
  quoted?: string;
  /** entries (this replay) that extend this PCR */
  entries: number;
  /** how many of them the quoted value covers: all on a full match, fewer when the list grew after the quote */
  coveredEntries: number;
  /** absolute index of the last covered entry */
  lastCoveredEntry: number | null;
}

export interface ImaQuoteResult {
  ok: boolean;
  bank: HashName | undefined;
  checks: CheckResult[];
  pcrs: ImaPcrOutcome[];
  /** carry this into the next replay: PCR values and position after the last verified entry */
  state: ImaReplayState | undefined;
  verified: VerifiedImaList | undefined;
}

const BANK_PREFERENCE: HashName[] = ['sha256', 'sha384', 'sha512', 'sm3_256', 'sha1'];

/** The PCR IMA measures into (CONFIG_IMA_MEASURE_PCR_IDX), every extend of which its list records. */
export const IMA_PCR = 10;

export function replayImaAgainstQuote(list: UnverifiedImaList, quoted: PcrValues, opts: ReplayImaAgainstQuoteOptions = {}): ImaQuoteResult {
  const checks: CheckResult[] = [];
  const from = opts.from;
  const touched = new Set(list.entries.map((e) => e.pcr));
  const bankName = opts.bank ?? from?.bank ?? BANK_PREFERENCE.find((b) => [...touched].some((p) => quoted.get(b)?.has(p)));
  const quotedBank = bankName ? quoted.get(bankName) : undefined;
  if (!bankName || !quotedBank || ![...touched].some((p) => quotedBank.has(p))) {
    const which = bankName ? `the quote's ${bankName} bank` : 'the quote';
    checks.push(
      fail('ima.replay', 'IMA_REPLAY_NO_OVERLAP', touched.size ? `${which} covers none of the PCRs the IMA list extends (${[...touched].join(', ')})` : 'the IMA list has no entries to verify'),
    );
    return { ok: false, bank: bankName, checks, pcrs: [], state: undefined, verified: undefined };
  }
  const alg = bankAlg(bankName);
  const start = from ?? initialImaState(bankName);
  const entries = entriesFrom(list, start);

  // Running values, and for each PCR the last position where it equalled the quote.
  const running = new Map(start.pcrs);
  const lastMatch = new Map<number, number>();
  for (const [pcr, v] of running) if (quotedBank.get(pcr) && bytesEqual(v, quotedBank.get(pcr)!)) lastMatch.set(pcr, -1);
  const scratch = Buffer.allocUnsafe(alg.size * 2);
  entries.forEach((e, i) => {
    const next = extend(alg, running.get(e.pcr) ?? initialPcrValue(alg), imaExtendValue(e, alg), scratch);
    running.set(e.pcr, next);
    const q = quotedBank.get(e.pcr);
    if (q && bytesEqual(next, q)) lastMatch.set(e.pcr, i);
  });

  const pcrs: ImaPcrOutcome[] = [];
  const verifiedEntries: ImaEntry[] = [];
  const coveredUpTo = new Map<number, number>();
  // Positions (in `entries`) of each PCR's entries, in one pass: a list may name as many PCRs as it has entries,
  // and filtering the whole list per PCR, or looking each entry's position up, would be quadratic.
  const positionsOf = new Map<number, number[]>();
  entries.forEach((e, i) => {
    const at = positionsOf.get(e.pcr);
    if (at) at.push(i);
    else positionsOf.set(e.pcr, [i]);
  });
  for (const pcr of [...touched].sort((a, b) => a - b)) {
    const positions = positionsOf.get(pcr) ?? [];
    const mine = positions.map((i) => entries[i]!);
    const value = running.get(pcr);
    // Only entries before the carried position extend it, and the carried state has no value for it (it was not
    // quoted then): it is outside this replay, which the earlier one reported on.
    if (!value) continue;
    const q = quotedBank.get(pcr);
    const base: ImaPcrOutcome = { pcr, status: 'not-quoted', replayed: toHex(value), entries: mine.length, coveredEntries: 0, lastCoveredEntry: null };
    if (!q) {
      pcrs.push(base);
      continue;
    }
    base.quoted = toHex(q);
    const m = lastMatch.get(pcr);
    if (m === undefined) {
      pcrs.push({ ...base, status: 'mismatch' });
      checks.push(
        fail(
          `ima.replay.${bankName}.${pcr}`,
          'IMA_REPLAY_MISMATCH',
          `${bankName} PCR ${pcr}: no prefix of the ${mine.length} IMA entries replays to the quoted value; an entry is altered or missing`,
          { expected: base.quoted, actual: base.replayed },
        ),
      );
      continue;
    }
    const covered = mine.filter((_, k) => positions[k]! <= m);
    coveredUpTo.set(pcr, m);
    const last = covered.length ? covered[covered.length - 1]!.index : null;
    pcrs.push({ ...base, status: 'match', coveredEntries: covered.length, lastCoveredEntry: last });
    const later = mine.length - covered.length;
    checks.push(
      pass(
        `ima.replay.${bankName}.${pcr}`,
        later
          ? `${bankName} PCR ${pcr} matches the quote after entry ${last}; the ${later} later entr${later === 1 ? 'y was' : 'ies were'} measured after the quote and stay unverified`
          : `${bankName} PCR ${pcr} matches the quote (${mine.length} entries)`,
        { expected: base.quoted, actual: later ? toHex(quotedBank.get(pcr)!) : base.replayed },
      ),
    );
  }
  // IMA lists every extend of its PCR, starting with boot_aggregate: the list must account for the quoted PCR 10.
  // A whole list with no entry for it is not what IMA measured (the entries are missing, or IMA did not measure:
  // a PCR 10 at its initial value); a continued replay with no new entry must find it at the carried value; and a
  // quote that leaves it out verifies nothing IMA measured. Otherwise entries claimed into another PCR, which
  // anyone with root can extend, would verify while the files really measured into PCR 10 stayed unseen.
  if (!touched.has(IMA_PCR) && quotedBank.has(IMA_PCR)) {
    const q = quotedBank.get(IMA_PCR)!;
    const value = running.get(IMA_PCR) ?? initialPcrValue(alg);
    const base: ImaPcrOutcome = { pcr: IMA_PCR, status: 'match', replayed: toHex(value), quoted: toHex(q), entries: 0, coveredEntries: 0, lastCoveredEntry: null };
    const id = `ima.replay.${bankName}.${IMA_PCR}`;
    if (from && bytesEqual(value, q)) {
      pcrs.push(base);
      checks.push(pass(id, `${bankName} PCR ${IMA_PCR}: no new IMA entry, and the quote has the carried value`, { expected: base.quoted, actual: base.replayed }));
    } else {
      pcrs.push({ ...base, status: 'mismatch' });
      const why = bytesEqual(value, q) ? 'IMA measured nothing into it (it is at its initial value)' : 'the entries IMA measured are missing from the list';
      checks.push(fail(id, 'IMA_REPLAY_MISMATCH', `${bankName} PCR ${IMA_PCR}: the IMA list has no entry for it, where IMA measures (boot_aggregate first); ${why}`, { expected: base.quoted, actual: base.replayed }));
    }
    pcrs.sort((a, b) => a.pcr - b.pcr);
  }
  const imaPcrCovered = pcrs.some((p) => p.pcr === IMA_PCR && p.status !== 'not-quoted');
  if (!imaPcrCovered) {
    checks.push(
      fail(`ima.replay.${bankName}.${IMA_PCR}`, 'IMA_REPLAY_NO_OVERLAP', `the quote's ${bankName} bank does not cover PCR ${IMA_PCR}, where IMA measures: nothing relates the list to what IMA measured`, {
        expected: `${bankName}:${IMA_PCR} quoted`,
        actual: null,
      }),
    );
  }

  entries.forEach((e, i) => {
    const m = coveredUpTo.get(e.pcr);
    if (m !== undefined && i <= m) verifiedEntries.push(e);
  });

  // Replay binds the template data itself; a listed template hash that disagrees means the list was edited.
  const hashChecks = checkTemplateHashes({ ...list, entries: verifiedEntries, firstEntryIndex: verifiedEntries[0]?.index ?? 0 });
  const bad = hashChecks.filter((c) => c.status === 'mismatch');
  if (bad.length) {
    checks.push(
      fail('ima.template-hashes', 'IMA_TEMPLATE_HASH_MISMATCH', `${bad.length} verified entr${bad.length === 1 ? 'y lists' : 'ies list'} a template hash that is not the hash of its data: ${bad.slice(0, 10).map((c) => (c.line !== undefined ? `line ${c.line}` : `entry ${c.entry}`)).join(', ')}`),
    );
  }

  const mismatched = pcrs.some((p) => p.status === 'mismatch');
  const matched = pcrs.filter((p) => p.status === 'match');
  // Carry: PCR values where they matched the quote, positioned after the last verified entry.
  let state: ImaReplayState | undefined;
  if (!mismatched && matched.length) {
    const carried = new Map(start.pcrs);
    for (const p of matched) carried.set(p.pcr, Buffer.from(quotedBank.get(p.pcr)!));
    const lastIdx = verifiedEntries.length ? verifiedEntries[verifiedEntries.length - 1]!.index + 1 : start.nextEntry;
    state = { bank: bankName, pcrs: carried, nextEntry: lastIdx };
  }
  const ok = !mismatched && imaPcrCovered && matched.length > 0 && bad.length === 0;
  const failCode = mismatched ? 'IMA_REPLAY_MISMATCH' : !imaPcrCovered ? 'IMA_REPLAY_NO_OVERLAP' : bad.length ? 'IMA_TEMPLATE_HASH_MISMATCH' : 'IMA_REPLAY_MISMATCH';
  checks.push(ok ? pass('ima.replay', `the IMA list replays to the quoted ${bankName} value(s) of PCR ${matched.map((p) => p.pcr).join(', ')}`) : fail('ima.replay', failCode, 'the IMA list does not verify against the quote'));
  return {
    ok,
    bank: bankName,
    checks,
    pcrs,
    state,
    verified: matched.length ? makeVerifiedImaList({ source: list, bank: bankName, entries: verifiedEntries }) : undefined,
  };
}
