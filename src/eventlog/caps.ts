// Caps on untrusted event logs and IMA lists. Each is far above what real
// machines produce (the largest firmware log seen holds 204 events, the
// largest db/dbx variable about 25 KiB) and low enough that a hostile input
// costs bounded memory and time. README.md lists them; a test exercises each.

export const EVENTLOG_CAPS = {
  /** bytes of one firmware event log (TDX CCEL areas are padded up to 256 KiB) */
  maxLogBytes: 32 * 1024 * 1024,
  /** events in one firmware log */
  maxEvents: 100_000,
  /** bytes of one event's data (go-attestation uses the same 1 MiB) */
  maxEventDataBytes: 1024 * 1024,
  /** entries in the Spec ID event's algorithm table (TPMs have a handful of banks) */
  maxSpecIdAlgorithms: 16,
  /** digest size declared in the Spec ID table (TPMU_HA is 64 bytes) */
  maxDigestBytes: 64,
  /** highest PCR (or CC measurement register) index an extending event may name; PCR_SELECT_MAX is 4 bytes = 32 PCRs */
  maxPcrIndex: 31,
  /** nodes in one UEFI device path */
  maxDevicePathNodes: 256,
  /** signatures in one EFI_SIGNATURE_LIST, partitions in one GPT event, tables in a handoff event */
  maxListEntries: 100_000,
  /**
   * the same entries in all of one log's events together (a real dbx holds a few hundred): each decodes to
   * an object of a few hundred bytes, and a 32 MiB log of 16-byte signatures held 2 million, 1 GB of heap
   */
  maxListEntriesPerLog: 25_000,
} as const;

/**
 * What one reading of a log may still decode of maxListEntriesPerLog: decoding spends `left`, and counts in
 * `refused` the events it left undecoded for it. Each reading of a log's events has its own (the parser's, the
 * facts' second reading of PCR 7), so none decodes more than the cap.
 */
export interface ListEntryBudget {
  readonly cap: number;
  left: number;
  refused: number;
}

export function listEntryBudget(cap: number = EVENTLOG_CAPS.maxListEntriesPerLog): ListEntryBudget {
  return { cap, left: cap, refused: 0 };
}

export const IMA_CAPS = {
  /** entries in one IMA list (a year-old busy server has a few hundred thousand) */
  maxEntries: 5_000_000,
  /** bytes of one ASCII line (ima-buf lines carry hex-encoded certificates) */
  maxLineBytes: 1024 * 1024,
  /** bytes of one binary entry's template data */
  maxTemplateDataBytes: 1024 * 1024,
  /** characters of a template name (the kernel's IMA_TEMPLATE_NAME_LEN_MAX is 15) */
  maxTemplateNameBytes: 255,
  /** fields in one template (the kernel's IMA_TEMPLATE_NUM_FIELDS_MAX is 15) */
  maxTemplateFields: 15,
} as const;
