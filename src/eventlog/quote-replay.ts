// Replays an event log against PCR values that quote verification produced
// (the caller's responsibility: pass only values whose quote signature,
// nonce and PCR digest verified). For every PCR both the quote and the log
// cover, the replayed value must equal the quoted one. A mismatch names the
// bank and PCR, says how far the log's events for it replay correctly, and
// points at events whose digest is not the hash of their data. Firmware
// quirks are tried, on a clone, only for PCRs that failed.

import { fail, pass, type CheckResult } from '../verify/checks.js';
import type { HashAlg, HashName } from '../tpm/constants.js';
import { bankAlg } from './hash.js';
import type { PcrValues } from '../tpm/pcrs.js';
import { bytesEqual, toHex } from '../util/bytes.js';
import { eventTypeName } from './event-types.js';
import { isExtended, replayEventLog, replayPcrSteps } from './replay.js';
import type { LogEvent, UnverifiedEventLog } from './types.js';
import { makeVerifiedEventLog, type VerifiedEvent, type VerifiedEventLog } from './verified.js';
import { FIRMWARE_QUIRKS, type FirmwareQuirk } from './workarounds.js';

/** PCRs whose every extend the firmware logs (PC Client PFP): a quoted one with no events must be at its initial value. */
export const FIRMWARE_LOGGED_PCRS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7];

export interface ReplayAgainstQuoteOptions {
  /** quirks to try after a mismatch; FIRMWARE_QUIRKS by default, [] for none */
  quirks?: readonly FirmwareQuirk[];
}

/** Where a PCR's replay departs from the quoted value. */
export interface Divergence {
  /**
   * n when the running value after the first n of this PCR's events equals
   * the quoted value (the events after them are not covered by the quote);
   * null when no prefix of the events reproduces it.
   */
  matchingPrefix: number | null;
  /** log index of the last event of the matching prefix (null: none, or no prefix matched) */
  lastGoodEvent: number | null;
  /** events of this PCR whose digest in this bank is not the hash of their data: the likeliest altered ones */
  suspectEvents: number[];
  /** every event that extends this PCR, with the running value after it */
  steps: { event: number; type: string; value: string }[];
}

export interface PcrReplayOutcome {
  bank: HashName;
  pcr: number;
  /** not-quoted: the log extends this PCR but the quote does not cover it, so its events stay unverified */
  status: 'match' | 'mismatch' | 'not-quoted';
  replayed: string;
  quoted?: string;
  /** events of the log that extend this PCR in this bank */
  events: number;
  /** the quirk that made it match */
  quirk?: string;
  divergence?: Divergence;
}

export interface EventLogQuoteResult {
  /** every PCR both cover matched (possibly after a named quirk), and there was at least one */
  ok: boolean;
  checks: CheckResult[];
  pcrs: PcrReplayOutcome[];
  quirksApplied: { id: string; bank: HashName; pcr: number }[];
  /** the events of the PCRs that matched; empty when none did */
  verified: VerifiedEventLog;
}

function eventsFor(log: UnverifiedEventLog, alg: HashAlg, pcr: number): LogEvent[] {
  return log.events.filter((e) => e.pcrIndex === pcr && isExtended(e) && e.digests.some((d) => d.algId === alg.id));
}

function divergence(log: UnverifiedEventLog, alg: HashAlg, pcr: number, quoted: Uint8Array): Divergence {
  const { initial, steps } = replayPcrSteps(log, alg, pcr);
  let matchingPrefix: number | null = bytesEqual(initial, quoted) ? 0 : null;
  steps.forEach((s, i) => {
    if (bytesEqual(s.value, quoted)) matchingPrefix = i + 1;
  });
  const byIndex = new Map(log.events.map((e) => [e.index, e]));
  const suspectEvents = steps
    .map((s) => byIndex.get(s.eventIndex)!)
    .filter((e) => e.binding !== null && e.binding.banks[alg.name] === false)
    .map((e) => e.index);
  const prefix = matchingPrefix as number | null;
  return {
    matchingPrefix: prefix,
    lastGoodEvent: prefix !== null && prefix > 0 ? steps[prefix - 1]!.eventIndex : null,
    suspectEvents,
    steps: steps.map((s) => ({ event: s.eventIndex, type: eventTypeName(byIndex.get(s.eventIndex)!.eventType), value: toHex(s.value) })),
  };
}

function mismatchMessage(o: PcrReplayOutcome, d: Divergence): string {
  const head = `${o.bank} PCR ${o.pcr}: the log's ${o.events} event(s) replay to ${o.replayed.slice(0, 16)}..., the quote has ${o.quoted!.slice(0, 16)}...`;
  let where: string;
  if (d.matchingPrefix === 0) where = 'the quoted value is the initial value: none of these events was extended into the TPM';
  else if (d.matchingPrefix !== null) where = `the first ${d.matchingPrefix} event(s) replay correctly (up to event ${d.lastGoodEvent}); the ${o.events - d.matchingPrefix} after it are not in the quote`;
  else where = 'no prefix of these events reproduces the quoted value, so one is altered, missing or extra';
  const suspects = d.suspectEvents.length ? `; event(s) ${d.suspectEvents.join(', ')} have a digest that is not the hash of their data` : '';
  return `${head}: ${where}${suspects}`;
}

export function replayAgainstQuote(log: UnverifiedEventLog, quoted: PcrValues, opts: ReplayAgainstQuoteOptions = {}): EventLogQuoteResult {
  if (log.registers !== 'pcr') {
    // A CCEL log measures a TD's RTMRs, not the PCRs a TPM quote covers; and what makes a log one (the Spec ID
    // event's register) is a byte anyone can change: read against a quote, it would verify nothing and compare less.
    const check = fail('eventlog.replay', 'EVENTLOG_REPLAY_NO_OVERLAP', 'this is a confidential-computing event log (its Spec ID event is not in PCR 0): its registers are not the TPM PCRs the quote covers, so nothing in it is verified');
    return { ok: false, checks: [check], pcrs: [], quirksApplied: [], verified: buildVerified(log, new Map(), []) };
  }
  const quirks = opts.quirks ?? FIRMWARE_QUIRKS;
  const replayed = replayEventLog(log);
  const outcomes: PcrReplayOutcome[] = [];
  const checks: CheckResult[] = [];
  const quirksApplied: EventLogQuoteResult['quirksApplied'] = [];
  /** the log whose events verified each matched (bank, pcr): the original, or a quirk's clone */
  const matchedFrom = new Map<string, UnverifiedEventLog>();

  for (const [bankName, pcrs] of replayed) {
    const alg = bankAlg(bankName);
    const quotedBank = quoted.get(bankName);
    for (const [pcr, value] of [...pcrs].sort((a, b) => a[0] - b[0])) {
      const base: PcrReplayOutcome = { bank: bankName, pcr, status: 'not-quoted', replayed: toHex(value), events: eventsFor(log, alg, pcr).length };
      const q = quotedBank?.get(pcr);
      const id = `eventlog.replay.${bankName}.${pcr}`;
      if (!q) {
        outcomes.push(base);
        continue;
      }
      base.quoted = toHex(q);
      if (bytesEqual(value, q)) {
        outcomes.push({ ...base, status: 'match' });
        matchedFrom.set(`${bankName}/${pcr}`, log);
        checks.push(pass(id, `${bankName} PCR ${pcr} matches the quote (${base.events} event(s))`, { expected: base.quoted, actual: base.replayed }));
        continue;
      }
      const fixed = tryQuirks(log, quirks, alg, pcr, q);
      if (fixed) {
        outcomes.push({ ...base, status: 'match', quirk: fixed.quirk.id, events: eventsFor(fixed.log, alg, pcr).length });
        matchedFrom.set(`${bankName}/${pcr}`, fixed.log);
        quirksApplied.push({ id: fixed.quirk.id, bank: bankName, pcr });
        checks.push({
          id,
          status: 'warn',
          code: 'EVENTLOG_QUIRK_APPLIED',
          message: `${bankName} PCR ${pcr} matches the quote only with firmware quirk ${fixed.quirk.id}: ${fixed.quirk.description}`,
          expected: base.quoted,
          actual: base.replayed,
        });
        continue;
      }
      const d = divergence(log, alg, pcr, q);
      const outcome: PcrReplayOutcome = { ...base, status: 'mismatch', divergence: d };
      outcomes.push(outcome);
      checks.push(fail(id, 'EVENTLOG_REPLAY_MISMATCH', mismatchMessage(outcome, d), { expected: base.quoted, actual: base.replayed }));
    }
  }

  // The firmware logs every extend of PCRs 0-7 (PC Client PFP): a quoted one the log holds no event for, in a
  // bank the log declares, must still be at its initial value. Otherwise removing every event of a PCR (or one
  // bank's digests) would leave it uncompared, and its facts (boot applications, Secure Boot) silently empty.
  {
    const declared = new Set(log.banks.map((b) => b.name));
    for (const [bankName, quotedBank] of quoted) {
      if (!declared.has(bankName)) continue;
      const alg = bankAlg(bankName);
      for (const pcr of FIRMWARE_LOGGED_PCRS) {
        const q = quotedBank.get(pcr);
        if (!q || replayed.get(bankName)?.has(pcr)) continue;
        const initial = replayPcrSteps(log, alg, pcr).initial;
        const base: PcrReplayOutcome = { bank: bankName, pcr, status: 'match', replayed: toHex(initial), quoted: toHex(q), events: 0 };
        const id = `eventlog.replay.${bankName}.${pcr}`;
        if (bytesEqual(initial, q)) {
          outcomes.push(base);
          checks.push(pass(id, `${bankName} PCR ${pcr} has no events in the log and is at its initial value in the quote`, { expected: base.quoted, actual: base.replayed }));
        } else {
          const outcome: PcrReplayOutcome = { ...base, status: 'mismatch', divergence: { matchingPrefix: null, lastGoodEvent: null, suspectEvents: [], steps: [] } };
          outcomes.push(outcome);
          checks.push(
            fail(id, 'EVENTLOG_REPLAY_MISMATCH', `${bankName} PCR ${pcr}: the log has no event for it in this bank, but the quote has ${base.quoted!.slice(0, 16)}..., not its initial value: events (or their ${bankName} digests) are missing from the log`, {
              expected: base.quoted,
              actual: base.replayed,
            }),
          );
        }
      }
    }
    const bankOrder = [...replayed.keys(), ...quoted.keys()];
    outcomes.sort((a, b) => bankOrder.indexOf(a.bank) - bankOrder.indexOf(b.bank) || a.pcr - b.pcr);
  }

  const notQuoted = outcomes.filter((o) => o.status === 'not-quoted');
  if (notQuoted.length) {
    checks.push({
      id: 'eventlog.replay.not-quoted',
      status: 'skip',
      message: `not covered by the quote, so their events stay unverified: ${notQuoted.map((o) => `${o.bank} PCR ${o.pcr}`).join(', ')}`,
    });
  }
  const compared = outcomes.filter((o) => o.status !== 'not-quoted');
  const mismatched = compared.filter((o) => o.status === 'mismatch');
  if (compared.length === 0) {
    checks.push(
      fail('eventlog.replay', 'EVENTLOG_REPLAY_NO_OVERLAP', `no PCR is covered by both the quote (banks: ${[...quoted.keys()].join(', ') || 'none'}) and the log (banks: ${log.banks.map((b) => b.name).join(', ') || 'none'}); nothing in the log is verified`),
    );
  } else if (mismatched.length === 0) {
    checks.push(pass('eventlog.replay', `all ${compared.length} PCR value(s) covered by both the quote and the log match`));
  } else {
    checks.push(
      fail('eventlog.replay', 'EVENTLOG_REPLAY_MISMATCH', `${mismatched.length} of ${compared.length} PCR value(s) do not match: ${mismatched.map((o) => `${o.bank} PCR ${o.pcr}`).join(', ')}`),
    );
  }

  const verified = buildVerified(log, matchedFrom, quirksApplied.map((q) => q.id));
  const unbound = verified.events.filter((v) => v.event.binding !== null && !v.contentBound).map((v) => v.event.index);
  if (unbound.length) {
    checks.push({
      id: 'eventlog.content-binding',
      status: 'warn',
      code: 'EVENTLOG_DIGEST_DATA_MISMATCH',
      message: `verified event(s) ${unbound.join(', ')} have digests that are not the hash of their data: their digests are attested, their decoded content is not`,
    });
  }
  return { ok: compared.length > 0 && mismatched.length === 0, checks, pcrs: outcomes, quirksApplied, verified };
}

function tryQuirks(log: UnverifiedEventLog, quirks: readonly FirmwareQuirk[], alg: HashAlg, pcr: number, quoted: Uint8Array): { quirk: FirmwareQuirk; log: UnverifiedEventLog } | undefined {
  for (const quirk of quirks) {
    if (quirk.affectedPcr !== pcr) continue;
    const clone = quirk.apply(log);
    const value = replayEventLog(clone).get(alg.name)?.get(pcr);
    if (value && bytesEqual(value, quoted)) return { quirk, log: clone };
  }
  return undefined;
}

function buildVerified(log: UnverifiedEventLog, matchedFrom: Map<string, UnverifiedEventLog>, quirks: string[]): VerifiedEventLog {
  // event -> banks it was verified in; events come from the original log or a quirk's clone
  const banksOf = new Map<LogEvent, HashName[]>();
  const matchedPcrs = new Map<HashName, number[]>();
  for (const [key, source] of matchedFrom) {
    const [bank, pcrText] = key.split('/') as [HashName, string];
    const pcr = Number(pcrText);
    const alg = bankAlg(bank);
    matchedPcrs.set(bank, [...(matchedPcrs.get(bank) ?? []), pcr].sort((a, b) => a - b));
    for (const e of eventsFor(source, alg, pcr)) banksOf.set(e, [...(banksOf.get(e) ?? []), bank]);
  }
  const ordered = [...banksOf.entries()].sort((a, b) => a[0].index - b[0].index);
  const events: VerifiedEvent[] = ordered.map(([event, banks]) => ({
    event,
    banks,
    contentBound: event.binding !== null && banks.some((b) => event.binding!.banks[b] === true),
  }));
  const pcr0Matched = [...matchedPcrs.values()].some((p) => p.includes(0));
  return makeVerifiedEventLog({
    source: log,
    events,
    matchedPcrs,
    startupLocality: pcr0Matched ? log.startupLocality : undefined,
    quirks: [...new Set(quirks)],
  });
}
