// Linux IMA measurement lists, parsed but *unverified*: what the attested
// kernel claims to have measured. Only replayImaAgainstQuote() yields
// verified entries (ima/verified.ts).

/** Decoded template fields (kernel: security/integrity/ima/ima_template_lib.c). */
export interface ImaFields {
  /** d / d-ng / d-ngv2: the file or buffer digest's algorithm as IMA names it ("sha256", "sm3"...) */
  digestAlgorithm?: string;
  /** d-ngv2: "ima" or "verity" */
  digestType?: string;
  digest?: Uint8Array;
  /** n / n-ng: the file path, or the buffer's name for ima-buf */
  name?: string;
  /** sig: the IMA signature (empty when the file had none) */
  signature?: Uint8Array;
  /** buf: the measured buffer itself (ima-buf) */
  buffer?: Uint8Array;
}

export interface ImaEntry {
  /** absolute position in the measurement list, 0-based (firstEntryIndex + i) */
  index: number;
  /** 1-based line of an ASCII list */
  line?: number;
  /** byte offset in a binary list */
  offset?: number;
  pcr: number;
  /** the template hash as listed (SHA-1 in real lists) */
  templateHash: Uint8Array;
  templateName: string;
  /**
   * the bytes every bank's template digest is computed over: the fields as
   * (le32 length, data) pairs, or for the legacy "ima" template the digest
   * and the name zero-padded to 256 bytes
   */
  templateData: Uint8Array;
  fields: ImaFields;
  /** an all-zero template hash: a ToMToU or open-writers violation, extended as all ones */
  violation: boolean;
}

export interface UnverifiedImaList {
  readonly trust: 'unverified';
  format: 'ascii' | 'binary';
  entries: ImaEntry[];
  /** index of the first entry (non-zero for an incremental list, Keylime's ima_ml_entry) */
  firstEntryIndex: number;
  /** binary lists: bytes after the last entry, too few for an entry header (evmctl ignores them too) */
  trailingBytes: number;
  notes: string[];
}
