// TPMS_ATTEST (TPM 2.0 Part 2, 10.12.12): what a TPM signs for TPM2_Quote,
// TPM2_Certify, TPM2_CertifyCreation, TPM2_GetTime, audits and NV certify.
//
// The header is parsed for every TPM_ST_ATTEST_* type; the body (TPMU_ATTEST)
// is decoded for QUOTE and CERTIFY and kept raw for the others. Nothing here
// checks the magic value or a signature: that is verification's job, which
// must check the signature over `raw` before trusting any field.

import { ParseError } from '../errors.js';
import { LIMITS, TPM_ST, hashById, type HashAlg } from './constants.js';
import { readPcrSelection, type PcrSelection } from './pcr-selection.js';
import { TpmReader } from './reader.js';

/** TPMS_CLOCK_INFO (Part 2, 10.11.1). */
export interface ClockInfo {
  /** milliseconds the TPM has been powered (never obfuscated) */
  clock: bigint;
  /** obfuscated (a per-key constant added, mod 2^32) when the signer is outside the endorsement and platform hierarchies, as restartCount and TPMS_ATTEST.firmwareVersion are */
  resetCount: number;
  restartCount: number;
  /** TPMI_YES_NO safe: clock has not gone back since last reported */
  safe: boolean;
}

export type AttestKind = 'certify' | 'quote' | 'session-audit' | 'command-audit' | 'time' | 'creation' | 'nv' | 'nv-digest';

const KIND_BY_TAG: ReadonlyMap<number, AttestKind> = new Map([
  [TPM_ST.ATTEST_CERTIFY, 'certify'],
  [TPM_ST.ATTEST_QUOTE, 'quote'],
  [TPM_ST.ATTEST_SESSION_AUDIT, 'session-audit'],
  [TPM_ST.ATTEST_COMMAND_AUDIT, 'command-audit'],
  [TPM_ST.ATTEST_TIME, 'time'],
  [TPM_ST.ATTEST_CREATION, 'creation'],
  [TPM_ST.ATTEST_NV, 'nv'],
  [TPM_ST.ATTEST_NV_DIGEST, 'nv-digest'],
]);

export function attestKindOf(tag: number): AttestKind | undefined {
  return KIND_BY_TAG.get(tag);
}

interface AttestHeader {
  /** the whole marshalled TPMS_ATTEST: the bytes the signature covers */
  raw: Uint8Array;
  /** TPM_GENERATED magic; TPM_GENERATED_VALUE for TPM-made structures (not checked here) */
  magic: number;
  /** TPMI_ST_ATTEST type tag */
  type: number;
  /** TPM2B_NAME qualifiedSigner: the Qualified Name of the signing key (body only) */
  qualifiedSigner: Uint8Array;
  /** TPM2B_DATA extraData: the caller's qualifying data (the nonce) */
  extraData: Uint8Array;
  clockInfo: ClockInfo;
  /** UINT64 firmwareVersion, vendor-specific */
  firmwareVersion: bigint;
}

/** TPMS_QUOTE_INFO body. */
export interface QuoteAttest extends AttestHeader {
  kind: 'quote';
  quote: {
    pcrSelect: PcrSelection;
    /** TPM2B_DIGEST pcrDigest: hash (signing scheme's hash) of the selected PCR values */
    pcrDigest: Uint8Array;
  };
}

/** TPMS_CERTIFY_INFO body. */
export interface CertifyAttest extends AttestHeader {
  kind: 'certify';
  certify: {
    /** TPM2B_NAME name of the certified object */
    name: Uint8Array;
    /** TPM2B_NAME qualifiedName of the certified object */
    qualifiedName: Uint8Array;
  };
}

/** Any other attestation type: the TPMU_ATTEST body is kept undecoded. */
export interface RawBodyAttest extends AttestHeader {
  kind: Exclude<AttestKind, 'quote' | 'certify'>;
  /** the marshalled TPMU_ATTEST member, undecoded */
  body: Uint8Array;
}

export type TpmsAttest = QuoteAttest | CertifyAttest | RawBodyAttest;

/** Reads a TPMS_CLOCK_INFO. */
export function readClockInfo(r: TpmReader): ClockInfo {
  // UINT64 clock
  const clock = r.u64('clockInfo.clock');
  // UINT32 resetCount
  const resetCount = r.u32('clockInfo.resetCount');
  // UINT32 restartCount
  const restartCount = r.u32('clockInfo.restartCount');
  // TPMI_YES_NO safe: only 0 and 1 are values
  const safeByte = r.u8('clockInfo.safe');
  if (safeByte > 1) throw r.bad('clockInfo.safe', `TPMI_YES_NO must be 0 or 1, got ${safeByte}`, { offset: r.offset - 1, value: safeByte });
  return { clock, resetCount, restartCount, safe: safeByte === 1 };
}

/** Parses bytes holding exactly one TPMS_ATTEST (what `tpm2_quote -m` writes). */
export function parseTpmsAttest(bytes: Uint8Array): TpmsAttest {
  const r = new TpmReader(bytes, 'TPMS_ATTEST');
  const attest = readTpmsAttest(r);
  r.end();
  return attest;
}

/** Parses a TPM2B_ATTEST: a big-endian u16 size, then exactly that TPMS_ATTEST. */
export function parseTpm2bAttest(bytes: Uint8Array): TpmsAttest {
  const outer = new TpmReader(bytes, 'TPM2B_ATTEST');
  const body = outer.tpm2b('attestationData', LIMITS.attest);
  outer.end();
  return parseTpmsAttest(body);
}

/** Reads a TPMS_ATTEST at the reader's position. */
export function readTpmsAttest(r: TpmReader): TpmsAttest {
  const start = r.offset;
  // TPM_GENERATED magic
  const magic = r.u32('magic');
  // TPMI_ST_ATTEST type
  const type = r.u16('type');
  const kind = KIND_BY_TAG.get(type);
  if (!kind) {
    throw new ParseError('TPM_UNKNOWN_TAG', `${r.what}: type 0x${type.toString(16).padStart(4, '0')} is not a TPM_ST_ATTEST_* tag`, {
      structure: r.what,
      field: 'type',
      offset: r.offset - 2,
      tag: type,
    });
  }
  // TPM2B_NAME qualifiedSigner
  const qualifiedSigner = r.tpm2b('qualifiedSigner', LIMITS.name);
  // TPM2B_DATA extraData
  const extraData = r.tpm2b('extraData', LIMITS.data);
  // TPMS_CLOCK_INFO clockInfo
  const clockInfo = readClockInfo(r);
  // UINT64 firmwareVersion
  const firmwareVersion = r.u64('firmwareVersion');
  // TPMU_ATTEST attested [type]
  if (kind === 'quote') {
    // TPMS_QUOTE_INFO: TPML_PCR_SELECTION pcrSelect, TPM2B_DIGEST pcrDigest
    const pcrSelect = readPcrSelection(r, 'attested.quote.pcrSelect');
    const pcrDigest = r.tpm2b('attested.quote.pcrDigest', LIMITS.digest);
    const raw = r.bytesSince(start);
    return { kind, raw, magic, type, qualifiedSigner, extraData, clockInfo, firmwareVersion, quote: { pcrSelect, pcrDigest } };
  }
  if (kind === 'certify') {
    // TPMS_CERTIFY_INFO: TPM2B_NAME name, TPM2B_NAME qualifiedName
    const name = r.tpm2b('attested.certify.name', LIMITS.name);
    const qualifiedName = r.tpm2b('attested.certify.qualifiedName', LIMITS.name);
    const raw = r.bytesSince(start);
    return { kind, raw, magic, type, qualifiedSigner, extraData, clockInfo, firmwareVersion, certify: { name, qualifiedName } };
  }
  // Other bodies are not decoded: the rest of the structure is the body.
  const body = r.bytes(r.remaining, `attested.${kind}`);
  const raw = r.bytesSince(start);
  return { kind, raw, magic, type, qualifiedSigner, extraData, clockInfo, firmwareVersion, body };
}

/** What a TPM2B_NAME body holds (Part 1, 16: a handle, a digest Name, or nothing). */
export type NameInfo =
  | { kind: 'empty' }
  | { kind: 'handle'; handle: number }
  | { kind: 'digest'; hash: HashAlg; digest: Uint8Array }
  | { kind: 'unknown'; alg: number; bytes: Uint8Array };

/** Decodes the body of a TPM2B_NAME without failing: for display and signer checks. */
export function describeName(name: Uint8Array): NameInfo {
  if (name.length === 0) return { kind: 'empty' };
  if (name.length === 4) return { kind: 'handle', handle: ((name[0]! << 24) >>> 0) + ((name[1]! << 16) | (name[2]! << 8) | name[3]!) };
  if (name.length >= 2) {
    const alg = (name[0]! << 8) | name[1]!;
    const hash = hashById(alg);
    if (hash && name.length === 2 + hash.size) return { kind: 'digest', hash, digest: name.subarray(2) };
    return { kind: 'unknown', alg, bytes: name };
  }
  return { kind: 'unknown', alg: -1, bytes: name };
}
