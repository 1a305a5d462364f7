// Stable error codes of the event-log module. EVENTLOG_* are TCG PC Client
// firmware logs, IMA_* are Linux IMA measurement lists. Structural problems
// are input errors (exit 2); a log that parses but does not reproduce the
// quoted PCRs is a verification failure (exit 1).

import type { CodeTable } from '../errors.js';

export const EVENTLOG_CODES = {
  EVENTLOG_EMPTY: { kind: 'input', summary: 'the event log is empty (0 bytes)' },
  EVENTLOG_TOO_LARGE: { kind: 'input', summary: 'the event log is larger than the log-size cap, or (a layer\'s log in `attest`, `verify`, `watch`, `policy init --from`) does not fit the memory node may use' },
  EVENTLOG_TRUNCATED: { kind: 'input', summary: 'an event header, digest or data ends before the log does' },
  EVENTLOG_EVENT_TOO_LARGE: { kind: 'input', summary: "an event's data size is above the per-event cap" },
  EVENTLOG_TOO_MANY_EVENTS: { kind: 'input', summary: 'the log holds more events than the event-count cap' },
  EVENTLOG_SPEC_ID_INVALID: { kind: 'input', summary: 'the Spec ID event is malformed (size, algorithm table, digest sizes, vendorInfo)' },
  EVENTLOG_DIGEST_COUNT_MISMATCH: { kind: 'input', summary: "an event's digest count differs from the Spec ID event's algorithm table" },
  EVENTLOG_UNKNOWN_DIGEST_ALG: { kind: 'input', summary: 'an event carries a digest for an algorithm the Spec ID table does not list, or one twice' },
  EVENTLOG_BAD_PCR_INDEX: { kind: 'input', summary: 'an event that extends a PCR names an index no TPM has' },
  EVENTLOG_NOT_PC_CLIENT: { kind: 'input', summary: 'the input is not a TCG PC Client event log (e.g. a CEL-TLV log, an ACPI table, text)' },
  EVENTLOG_REPLAY_MISMATCH: { kind: 'verification', summary: 'a PCR replayed from the log differs from the quoted value' },
  EVENTLOG_REPLAY_NO_OVERLAP: { kind: 'verification', summary: 'no PCR is covered by both the quote and the log, so nothing in the log is verified' },
  EVENTLOG_QUIRK_APPLIED: { kind: 'verification', summary: 'a PCR matched only after a known firmware quirk was applied (a warning)' },
  EVENTLOG_DIGEST_DATA_MISMATCH: { kind: 'verification', summary: "an event's digest is not the hash of its data, so its decoded content is not attested (a warning)" },
} as const satisfies CodeTable;

export const IMA_CODES = {
  IMA_MALFORMED_LINE: { kind: 'input', summary: 'a line of an ASCII IMA list is malformed (details.line has its number)' },
  IMA_TRUNCATED: { kind: 'input', summary: 'a binary IMA list ends inside an entry' },
  IMA_TOO_LARGE: { kind: 'input', summary: 'an IMA entry, line or the number of entries is above its cap, or the list does not fit the memory node may use' },
  IMA_UNKNOWN_TEMPLATE: { kind: 'input', summary: 'an ASCII entry uses a template whose data cannot be rebuilt from text' },
  IMA_FIELD_INVALID: { kind: 'input', summary: 'an IMA template field is malformed (digest algorithm, hex, field framing, an empty template name), or the file is a firmware event log' },
  IMA_ENTRY_GAP: { kind: 'input', summary: 'an incremental IMA list does not start at the entry the carried replay state expects' },
  IMA_TEMPLATE_HASH_MISMATCH: { kind: 'verification', summary: "an IMA entry's template hash is not the hash of its template data" },
  IMA_REPLAY_MISMATCH: { kind: 'verification', summary: 'the PCR replayed from the IMA list differs from the quoted value' },
  IMA_REPLAY_NO_OVERLAP: { kind: 'verification', summary: 'the quote covers no PCR the IMA list extends, in a bank vtpm-verify can replay, or not PCR 10 (where IMA measures) in the bank replayed' },
} as const satisfies CodeTable;
