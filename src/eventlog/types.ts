// The parsed, *unverified* form of a TCG PC Client event log. Nothing in an
// UnverifiedEventLog is trusted: it is what the attested machine claims. Only
// replayAgainstQuote() (quote-replay.ts) turns events into VerifiedEvents,
// and only for PCRs whose replay equals a quoted value.

import type { HashAlg, HashName } from '../tpm/constants.js';
import type { EventContent } from './decode/content.js';

/** TCG_PCR_EVENT (SHA-1 only, TCG 1.2 layout) or TCG_PCR_EVENT2 (crypto agile). */
export type LogFormat = 'sha1' | 'crypto-agile';

/**
 * What the event indexes name: TPM PCRs, or the measurement registers of a
 * confidential-computing event log (TDX CCEL: 0 = MRTD, 1..4 = RTMR0..3).
 */
export type RegisterKind = 'pcr' | 'cc-mr';

/** One row of the Spec ID event's algorithm table (TCG_EfiSpecIdEventAlgorithmSize). */
export interface SpecIdAlgorithm {
  /** TPM_ALG_ID */
  id: number;
  digestSize: number;
  /** the hash when vtpm-verify supports it; undefined for an algorithm it cannot replay */
  alg: HashAlg | undefined;
}

/** TCG_EfiSpecIDEventStruct ("Spec ID Event03") or the TCG 1.2 EFI "Spec ID Event00". */
export interface SpecIdInfo {
  signature: string;
  platformClass: number;
  specVersion: { major: number; minor: number; errata: number };
  /** 1: UINTN is 32 bits, 2: 64 bits */
  uintnSize: number;
  algorithms: SpecIdAlgorithm[];
  vendorInfo: Uint8Array;
}

/** One digest of an event (one entry of TPML_DIGEST_VALUES, or the SHA-1 digest of TCG_PCR_EVENT). */
export interface EventDigest {
  algId: number;
  /** undefined for an algorithm vtpm-verify cannot replay */
  alg: HashAlg | undefined;
  digest: Uint8Array;
}

/** Whether an event's digest is the hash of (a canonical form of) its data, per bank. */
export interface DigestBinding {
  /** the bytes that should have been hashed, described: "event data", "command line without prefix" */
  measured: string;
  /** bank -> digest equals the hash of the measured bytes */
  banks: Partial<Record<HashName, boolean>>;
  /** bank -> which reading of the data its digest is the hash of (banks differ when a log was edited) */
  measuredIn: Partial<Record<HashName, string>>;
}

export interface LogEvent {
  /** position in the log, 0-based, counting every event including EV_NO_ACTION */
  index: number;
  /** byte offset of the event in the log */
  offset: number;
  pcrIndex: number;
  eventType: number;
  digests: EventDigest[];
  /** the event data (TCG_PCR_EVENT2.event) */
  data: Uint8Array;
  /** the whole record as it appears in the log */
  raw: Uint8Array;
  /** decoded event data; decoding problems are notes, never failures */
  content: EventContent;
  /**
   * null when the PFP does not make the digest a hash of the event data
   * (e.g. EV_EFI_BOOT_SERVICES_APPLICATION hashes the PE image, not the path).
   */
  binding: DigestBinding | null;
  /** set on events a firmware quirk added to a clone of the log */
  syntheticQuirk?: string;
}

export interface LogPadding {
  offset: number;
  length: number;
  /** 0x00 or 0xff */
  byte: number;
}

export interface UnverifiedEventLog {
  readonly trust: 'unverified';
  format: LogFormat;
  registers: RegisterKind;
  /** present for crypto-agile logs, and for SHA-1 logs that carry "Spec ID Event00" */
  specId: SpecIdInfo | undefined;
  /** the banks whose digests the log carries and vtpm-verify can replay, in Spec ID order */
  banks: HashAlg[];
  /** TPM_ALG_IDs listed by the Spec ID event that vtpm-verify cannot replay */
  unsupportedAlgorithms: number[];
  /** from a StartupLocality EV_NO_ACTION event: PCR 0 starts at ...0L */
  startupLocality: number | undefined;
  events: LogEvent[];
  /** 0x00/0xFF fill after the last event (CCEL areas are padded) */
  padding: LogPadding | undefined;
  /** problems that did not stop the parse */
  notes: string[];
  raw: Uint8Array;
}
