// One call for quote verification: given the PCR values of a quote whose
// signature, nonce and PCR digest already verified, replay the firmware log
// and/or the IMA list against them and return their checks and the facts
// policies read. This is what `vtpm-verify quote --eventlog F --ima F` wires.

import type { CheckResult } from '../verify/checks.js';
import type { PcrValues } from '../tpm/pcrs.js';
import { extractBootFacts, extractImaFacts, type BootFacts, type ImaFacts } from './facts.js';
import { parseImaList, type ParseImaOptions } from './ima/parse.js';
import { replayImaAgainstQuote, type ImaQuoteResult } from './ima/quote-replay.js';
import type { ImaReplayState } from './ima/replay.js';
import { parseEventLog, type ParseEventLogOptions } from './parse.js';
import { replayAgainstQuote, type EventLogQuoteResult, type ReplayAgainstQuoteOptions } from './quote-replay.js';

export interface LogsToVerify {
  /** binary_bios_measurements bytes */
  eventLog?: Uint8Array;
  /** an IMA list, ASCII or binary */
  ima?: Uint8Array;
  /** carried IMA state from the previous verification of the same boot */
  imaState?: ImaReplayState;
  /** absolute index of the first IMA entry when `ima` is a partial list */
  imaFirstEntryIndex?: number;
  quirks?: ReplayAgainstQuoteOptions['quirks'];
  /** ParseImaOptions.checkMemory, for a list the caller's memory may not hold */
  imaCheckMemory?: ParseImaOptions['checkMemory'];
  /** ParseEventLogOptions.checkMemory, likewise for the firmware log */
  eventLogCheckMemory?: ParseEventLogOptions['checkMemory'];
}

export interface LogsVerification {
  /** every log given replayed to the quoted PCRs */
  ok: boolean;
  checks: CheckResult[];
  eventLog?: EventLogQuoteResult;
  ima?: ImaQuoteResult;
  /** only from verified events/entries */
  bootFacts?: BootFacts;
  imaFacts?: ImaFacts;
}

/**
 * Parses and replays the logs against verified quote PCRs. Malformed logs
 * throw their typed ParseError (EVENTLOG_*, IMA_*); mismatches are failed
 * checks in the result.
 */
export function verifyLogsAgainstQuote(logs: LogsToVerify, verifiedPcrs: PcrValues): LogsVerification {
  const out: LogsVerification = { ok: true, checks: [] };
  if (logs.eventLog) {
    const opts: ReplayAgainstQuoteOptions = logs.quirks ? { quirks: logs.quirks } : {};
    const r = replayAgainstQuote(parseEventLog(logs.eventLog, logs.eventLogCheckMemory ? { checkMemory: logs.eventLogCheckMemory } : {}), verifiedPcrs, opts);
    out.eventLog = r;
    out.checks.push(...r.checks);
    out.ok &&= r.ok;
    out.bootFacts = extractBootFacts(r.verified);
  }
  if (logs.ima) {
    const list = parseImaList(logs.ima, {
      ...(logs.imaFirstEntryIndex !== undefined ? { firstEntryIndex: logs.imaFirstEntryIndex } : {}),
      ...(logs.imaCheckMemory ? { checkMemory: logs.imaCheckMemory } : {}),
    });
    const r = replayImaAgainstQuote(list, verifiedPcrs, logs.imaState ? { from: logs.imaState } : {});
    out.ima = r;
    out.checks.push(...r.checks);
    out.ok &&= r.ok;
    if (r.verified) out.imaFacts = extractImaFacts(r.verified);
  }
  return out;
}
