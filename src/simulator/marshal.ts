// Writing TPM 2.0 structures exactly as a TPM marshals them (Part 1, 18.2:
// big-endian, TPM2B = u16 size + bytes), for the software TPM of the
// simulated platform. The structures are genuine: tpm2_print decodes them
// and tpm2_checkquote accepts the quotes made from them (test/simulator).
//
// Field comments name the wire type, as in TPM 2.0 Part 2 (Structures).

import { OBJECT_ATTRIBUTES } from '../tpm/public.js';
import { createHash, type KeyObject } from 'node:crypto';
import { HASH_ALGS, TPM_ALG, TPM_ECC_CURVE, TPM_GENERATED_VALUE, TPM_ST, type HashAlg, type HashName } from '../tpm/constants.js';
import { invalidArgument } from './codes.js';

/** A growable big-endian buffer. One writer builds one structure, then finish(). */
export class TpmWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.len;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private checkInt(value: number, max: number, field: string): void {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw invalidArgument(`${field}: ${value} does not fit its TPM type (0..${max})`, { field, value });
    }
  }

  u8(value: number, field = 'UINT8'): this {
    this.checkInt(value, 0xff, field);
    this.ensure(1);
    this.buf[this.len++] = value;
    return this;
  }

  u16(value: number, field = 'UINT16'): this {
    this.checkInt(value, 0xffff, field);
    this.ensure(2);
    this.buf.writeUInt16BE(value, this.len);
    this.len += 2;
    return this;
  }

  u32(value: number, field = 'UINT32'): this {
    this.checkInt(value, 0xffffffff, field);
    this.ensure(4);
    this.buf.writeUInt32BE(value, this.len);
    this.len += 4;
    return this;
  }

  u64(value: bigint, field = 'UINT64'): this {
    if (value < 0n || value > 0xffffffffffffffffn) throw invalidArgument(`${field}: ${value} does not fit a UINT64`, { field, value: String(value) });
    this.ensure(8);
    this.buf.writeBigUInt64BE(value, this.len);
    this.len += 8;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  /** A TPM2B: u16 size, then the bytes. */
  tpm2b(data: Uint8Array, field = 'TPM2B'): this {
    this.u16(data.length, `${field}.size`);
    return this.bytes(data);
  }

  /** A TPM2B around whatever `body` writes (TPM2B_PUBLIC, TPM2B_ATTEST): the size is filled in afterwards. */
  sized(body: (w: this) => void, field = 'TPM2B'): this {
    this.ensure(2);
    const at = this.len;
    this.len += 2;
    body(this);
    const size = this.len - at - 2;
    this.checkInt(size, 0xffff, `${field}.size`);
    this.buf.writeUInt16BE(size, at);
    return this;
  }

  /** The bytes written, as a new Buffer. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

// Our own names only (no spelling variants): this runs several times per quote.
const HASH_BY_OUR_NAME: ReadonlyMap<string, HashAlg> = new Map(HASH_ALGS.map((h) => [h.name, h]));

/** The hash algorithm of one of our names ("sha256"); SIM_INVALID_ARGUMENT for anything else. */
export function hashAlg(name: HashName, field = 'hash'): HashAlg {
  const h = HASH_BY_OUR_NAME.get(name);
  if (!h) throw invalidArgument(`${field}: unknown hash ${name}`, { field, hash: name });
  return h;
}

// ---------------------------------------------------------------------------
// TPMS_CLOCK_INFO, TPML_PCR_SELECTION, TPMS_ATTEST

/** TPMS_CLOCK_INFO (Part 2, 10.11.1). */
export interface ClockInfo {
  /** UINT64 clock: ms the TPM has been powered, never reset by a reboot */
  clock: bigint;
  /** UINT32 resetCount: TPM Resets (reboots) */
  resetCount: number;
  /** UINT32 restartCount: TPM Restarts/Resumes since the last Reset */
  restartCount: number;
  /** TPMI_YES_NO safe: no Clock value greater than this one was ever reported */
  safe: boolean;
}

export function writeClockInfo(w: TpmWriter, c: ClockInfo): void {
  w.u64(c.clock, 'clockInfo.clock'); // UINT64 clock
  w.u32(c.resetCount, 'clockInfo.resetCount'); // UINT32 resetCount
  w.u32(c.restartCount, 'clockInfo.restartCount'); // UINT32 restartCount
  w.u8(c.safe ? 1 : 0); // TPMI_YES_NO safe
}

/** PCRs per bank of a PC Client TPM, and the TPMS_PCR_SELECTION.sizeofSelect that covers them. */
export const PCR_COUNT = 24;
export const PCR_SELECT_SIZE = 3;

/** One bank's part of a PCR selection; PCR order does not matter (the TPM uses a bitmap). */
export interface PcrSelectionEntry {
  bank: HashName;
  pcrs: readonly number[];
}
export type PcrSelectionSpec = readonly PcrSelectionEntry[];

/** The PCRs of one selection entry in the order a TPM concatenates them: ascending, once each. */
export function selectedPcrs(entry: PcrSelectionEntry): number[] {
  const seen = new Set<number>();
  for (const i of entry.pcrs) {
    if (!Number.isInteger(i) || i < 0 || i >= PCR_COUNT) {
      throw invalidArgument(`PCR selection: ${entry.bank}:${i} is not a PCR (0..${PCR_COUNT - 1})`, { bank: entry.bank, pcr: i });
    }
    seen.add(i);
  }
  return [...seen].sort((a, b) => a - b);
}

/** TPML_PCR_SELECTION (Part 2, 10.9.7). */
export function writePcrSelection(w: TpmWriter, selection: PcrSelectionSpec): void {
  w.u32(selection.length, 'TPML_PCR_SELECTION.count'); // UINT32 count
  for (const entry of selection) {
    const bitmap = new Uint8Array(PCR_SELECT_SIZE);
    for (const i of selectedPcrs(entry)) bitmap[i >> 3]! |= 1 << (i & 7);
    w.u16(hashAlg(entry.bank, 'PCR selection').id); // TPMI_ALG_HASH hash
    w.u8(PCR_SELECT_SIZE); // UINT8 sizeofSelect
    w.bytes(bitmap); // BYTE pcrSelect[sizeofSelect]
  }
}

export function encodePcrSelection(selection: PcrSelectionSpec): Buffer {
  const w = new TpmWriter(64);
  writePcrSelection(w, selection);
  return w.finish();
}

/** The fields TPMS_ATTEST has whatever was attested (Part 2, 10.12.12). */
export interface AttestHeader {
  /** TPM_GENERATED magic; anything else only to build a fault */
  magic?: number;
  /** TPM2B_NAME qualifiedSigner: the Qualified Name of the signing key */
  qualifiedSigner: Uint8Array;
  /** TPM2B_DATA extraData: the caller's qualifying data (the nonce) */
  extraData: Uint8Array;
  clockInfo: ClockInfo;
  /** UINT64 firmwareVersion: vendor-specific */
  firmwareVersion: bigint;
}

function writeAttestHeader(w: TpmWriter, h: AttestHeader, type: number): void {
  w.u32(h.magic ?? TPM_GENERATED_VALUE, 'magic'); // TPM_GENERATED magic
  w.u16(type); // TPMI_ST_ATTEST type
  w.tpm2b(h.qualifiedSigner, 'qualifiedSigner'); // TPM2B_NAME qualifiedSigner
  w.tpm2b(h.extraData, 'extraData'); // TPM2B_DATA extraData
  writeClockInfo(w, h.clockInfo); // TPMS_CLOCK_INFO clockInfo
  w.u64(h.firmwareVersion, 'firmwareVersion'); // UINT64 firmwareVersion
}

/** TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE, as TPM2_Quote signs it and `tpm2_quote -m` writes it. */
export function encodeQuoteAttest(h: AttestHeader & { pcrSelection: PcrSelectionSpec; pcrDigest: Uint8Array }): Buffer {
  return encodeQuoteAttestWith({ ...h, pcrSelectionBytes: encodePcrSelection(h.pcrSelection) });
}

/** The same with the TPML_PCR_SELECTION already marshalled (encodePcrSelection): the soft TPM keeps it per selection. */
export function encodeQuoteAttestWith(h: AttestHeader & { pcrSelectionBytes: Uint8Array; pcrDigest: Uint8Array }): Buffer {
  const w = new TpmWriter(160);
  writeAttestHeader(w, h, TPM_ST.ATTEST_QUOTE);
  w.bytes(h.pcrSelectionBytes); // TPMS_QUOTE_INFO: TPML_PCR_SELECTION pcrSelect
  w.tpm2b(h.pcrDigest, 'pcrDigest'); // TPM2B_DIGEST pcrDigest
  return w.finish();
}

/** TPMS_ATTEST of type TPM_ST_ATTEST_CERTIFY (TPM2_Certify). */
export function encodeCertifyAttest(h: AttestHeader & { name: Uint8Array; qualifiedName: Uint8Array }): Buffer {
  const w = new TpmWriter(200);
  writeAttestHeader(w, h, TPM_ST.ATTEST_CERTIFY);
  w.tpm2b(h.name, 'name'); // TPMS_CERTIFY_INFO: TPM2B_NAME name
  w.tpm2b(h.qualifiedName, 'qualifiedName'); // TPM2B_NAME qualifiedName
  return w.finish();
}

/** TPMS_PCR_SELECTION's digest in a quote: H(PCR values in selection order, ascending within a bank). */
export function pcrCompositeDigest(hash: HashName, values: readonly Uint8Array[]): Buffer {
  const h = createHash(hashAlg(hash, 'pcrDigest').nodeName);
  for (const v of values) h.update(v);
  return h.digest();
}

// ---------------------------------------------------------------------------
// TPMT_SIGNATURE

export type SignatureScheme = 'rsassa' | 'rsapss' | 'ecdsa';

const SCHEME_ALG: Record<SignatureScheme, number> = {
  rsassa: TPM_ALG.RSASSA,
  rsapss: TPM_ALG.RSAPSS,
  ecdsa: TPM_ALG.ECDSA,
};

export type TpmSignature =
  | { scheme: 'rsassa' | 'rsapss'; hash: HashName; signature: Uint8Array }
  /** r and s as the TPM returns them: TPMs pad to the curve size and never normalize s (half are "high-S") */
  | { scheme: 'ecdsa'; hash: HashName; r: Uint8Array; s: Uint8Array };

/** TPMT_SIGNATURE (Part 2, 11.3.4), as `tpm2_quote -s` writes it. */
export function encodeSignature(sig: TpmSignature): Buffer {
  const w = new TpmWriter(sig.scheme === 'ecdsa' ? 8 + sig.r.length + sig.s.length : 6 + sig.signature.length);
  w.u16(SCHEME_ALG[sig.scheme]); // TPMI_ALG_SIG_SCHEME sigAlg
  w.u16(hashAlg(sig.hash, 'signature').id); // TPMI_ALG_HASH hash
  if (sig.scheme === 'ecdsa') {
    w.tpm2b(sig.r, 'signatureR'); // TPM2B_ECC_PARAMETER signatureR
    w.tpm2b(sig.s, 'signatureS'); // TPM2B_ECC_PARAMETER signatureS
  } else {
    w.tpm2b(sig.signature, 'sig'); // TPM2B_PUBLIC_KEY_RSA sig
  }
  return w.finish();
}

/** An ECDSA TPMT_SIGNATURE from node's ieee-p1363 output (r || s, each the curve size, as TPMs pad them). */
export function ecdsaSignatureFromP1363(hash: HashName, p1363: Uint8Array): TpmSignature {
  if (p1363.length % 2 !== 0) throw invalidArgument('ECDSA signature: odd ieee-p1363 length', { length: p1363.length });
  const half = p1363.length / 2;
  return { scheme: 'ecdsa', hash, r: p1363.subarray(0, half), s: p1363.subarray(half) };
}

// ---------------------------------------------------------------------------
// TPMT_PUBLIC, TPM2B_PUBLIC, Names

/** TPMA_OBJECT bits: one table for the parser and the encoder. */
export const TPMA_OBJECT = OBJECT_ATTRIBUTES;

/** What `tpm2_createak` gives an AK: 0x00050072. */
export const AK_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.restricted | TPMA_OBJECT.sign;

/** The TCG EK templates' attributes (EK Credential Profile 2.0, B.3.3): 0x000300b2. */
export const EK_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin | TPMA_OBJECT.adminWithPolicy | TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt;

/** The TCG EK templates' authPolicy: PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256. */
export const EK_AUTH_POLICY_SHA256 = Buffer.from('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa', 'hex');

/** Permanent hierarchy handles: their Name (and Qualified Name) is the handle itself. */
export const TPM_RH = {
  OWNER: 0x40000001,
  NULL: 0x40000007,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
} as const;

export type EccCurveName = 'p256' | 'p384';

export const ECC_CURVES: Record<EccCurveName, { id: number; size: number; nodeName: string; jwkCrv: string; defaultHash: HashName }> = {
  p256: { id: TPM_ECC_CURVE.NIST_P256, size: 32, nodeName: 'prime256v1', jwkCrv: 'P-256', defaultHash: 'sha256' },
  p384: { id: TPM_ECC_CURVE.NIST_P384, size: 48, nodeName: 'secp384r1', jwkCrv: 'P-384', defaultHash: 'sha384' },
};

/** TPMT_SYM_DEF_OBJECT of a storage key; signing keys have none (TPM_ALG_NULL). */
export interface SymmetricDef {
  alg: 'aes';
  keyBits: 128 | 256;
  mode: 'cfb';
}

interface PublicAreaCommon {
  /** TPMI_ALG_HASH nameAlg */
  nameAlg: HashName;
  /** TPMA_OBJECT objectAttributes */
  attributes: number;
  /** TPM2B_DIGEST authPolicy (empty for an AK) */
  authPolicy?: Uint8Array;
  symmetric: SymmetricDef | null;
}

export type PublicArea =
  | (PublicAreaCommon & {
      type: 'rsa';
      scheme: { scheme: 'rsassa' | 'rsapss'; hash: HashName } | null;
      /** TPMI_RSA_KEY_BITS keyBits */
      keyBits: 2048 | 3072 | 4096;
      /** UINT32 exponent: 0 means the default 65537, as TPMs write it */
      exponent: number;
      /** TPM2B_PUBLIC_KEY_RSA unique */
      modulus: Uint8Array;
    })
  | (PublicAreaCommon & {
      type: 'ecc';
      scheme: { scheme: 'ecdsa'; hash: HashName } | null;
      curve: EccCurveName;
      /** TPMS_ECC_POINT unique: x and y, each the curve size */
      x: Uint8Array;
      y: Uint8Array;
    });

function writeSymmetric(w: TpmWriter, s: SymmetricDef | null): void {
  if (s === null) {
    w.u16(TPM_ALG.NULL); // TPMI_ALG_SYM_OBJECT algorithm (no keyBits, no mode)
    return;
  }
  w.u16(TPM_ALG.AES); // TPMI_ALG_SYM_OBJECT algorithm
  w.u16(s.keyBits); // TPMU_SYM_KEY_BITS keyBits
  w.u16(TPM_ALG.CFB); // TPMU_SYM_MODE mode
}

function writeScheme(w: TpmWriter, s: { scheme: SignatureScheme; hash: HashName } | null): void {
  if (s === null) {
    w.u16(TPM_ALG.NULL); // TPMI_ALG_*_SCHEME scheme (no details)
    return;
  }
  w.u16(SCHEME_ALG[s.scheme]); // TPMI_ALG_*_SCHEME scheme
  w.u16(hashAlg(s.hash, 'scheme').id); // TPMS_SIG_SCHEME_*.hashAlg
}

function writePublic(w: TpmWriter, p: PublicArea): void {
  w.u16(p.type === 'rsa' ? TPM_ALG.RSA : TPM_ALG.ECC); // TPMI_ALG_PUBLIC type
  w.u16(hashAlg(p.nameAlg, 'nameAlg').id); // TPMI_ALG_HASH nameAlg
  w.u32(p.attributes, 'objectAttributes'); // TPMA_OBJECT objectAttributes
  w.tpm2b(p.authPolicy ?? new Uint8Array(0), 'authPolicy'); // TPM2B_DIGEST authPolicy
  // TPMU_PUBLIC_PARMS parameters
  writeSymmetric(w, p.symmetric); // TPMT_SYM_DEF_OBJECT symmetric
  if (p.type === 'rsa') {
    writeScheme(w, p.scheme); // TPMT_RSA_SCHEME scheme
    w.u16(p.keyBits); // TPMI_RSA_KEY_BITS keyBits
    w.u32(p.exponent, 'exponent'); // UINT32 exponent
    w.tpm2b(p.modulus, 'unique.rsa'); // TPMU_PUBLIC_ID: TPM2B_PUBLIC_KEY_RSA
  } else {
    writeScheme(w, p.scheme); // TPMT_ECC_SCHEME scheme
    w.u16(ECC_CURVES[p.curve].id); // TPMI_ECC_CURVE curveID
    w.u16(TPM_ALG.NULL); // TPMT_KDF_SCHEME kdf
    w.tpm2b(p.x, 'unique.x'); // TPMS_ECC_POINT: TPM2B_ECC_PARAMETER x
    w.tpm2b(p.y, 'unique.y'); // TPM2B_ECC_PARAMETER y
  }
}

/** TPMT_PUBLIC (Part 2, 12.2.4): the bytes a Name is computed over. */
export function encodePublic(p: PublicArea): Buffer {
  const w = new TpmWriter(p.type === 'rsa' ? 32 + p.modulus.length : 96);
  writePublic(w, p);
  return w.finish();
}

/** TPM2B_PUBLIC, as `tpm2_createak -u ... -f tss` and `tpm2_readpublic -o` write it. */
export function encodePublic2b(p: PublicArea): Buffer {
  const w = new TpmWriter(p.type === 'rsa' ? 34 + p.modulus.length : 98);
  w.sized((inner) => writePublic(inner, p), 'TPM2B_PUBLIC');
  return w.finish();
}

/** An object's Name: nameAlg (u16) || H_nameAlg(TPMT_PUBLIC). */
export function objectName(nameAlg: HashName, tpmtPublic: Uint8Array): Buffer {
  const h = hashAlg(nameAlg, 'nameAlg');
  const out = Buffer.allocUnsafe(2 + h.size);
  out.writeUInt16BE(h.id, 0);
  createHash(h.nodeName).update(tpmtPublic).digest().copy(out, 2);
  return out;
}

/** The Name (and Qualified Name) of a permanent handle such as a hierarchy: the 4-byte handle. */
export function handleName(handle: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(handle >>> 0, 0);
  return out;
}

/** QN_B = nameAlg_B || H_nameAlg_B(QN_parent || Name_B) (Part 1, 16.6). */
export function qualifiedName(nameAlg: HashName, parentQualifiedName: Uint8Array, name: Uint8Array): Buffer {
  const h = hashAlg(nameAlg, 'nameAlg');
  const out = Buffer.allocUnsafe(2 + h.size);
  out.writeUInt16BE(h.id, 0);
  createHash(h.nodeName).update(parentQualifiedName).update(name).digest().copy(out, 2);
  return out;
}

function leftPad(bytes: Uint8Array, size: number): Buffer {
  if (bytes.length === size) return Buffer.from(bytes);
  if (bytes.length > size) throw invalidArgument(`key component of ${bytes.length} bytes does not fit ${size}`, { size, length: bytes.length });
  const out = Buffer.alloc(size);
  out.set(bytes, size - bytes.length);
  return out;
}

/** The RSA modulus/exponent or EC point of a node public (or private) key. */
export function keyComponents(key: KeyObject):
  | { type: 'rsa'; keyBits: 2048 | 3072 | 4096; exponent: number; modulus: Buffer }
  | { type: 'ecc'; curve: EccCurveName; x: Buffer; y: Buffer } {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'RSA' && jwk.n && jwk.e) {
    const n = Buffer.from(jwk.n, 'base64url');
    const keyBits = key.asymmetricKeyDetails?.modulusLength;
    if (keyBits !== 2048 && keyBits !== 3072 && keyBits !== 4096) throw invalidArgument(`RSA key of ${keyBits} bits: a TPM key has 2048, 3072 or 4096`, { keyBits });
    const e = Number(BigInt(`0x${Buffer.from(jwk.e, 'base64url').toString('hex')}`));
    if (!Number.isSafeInteger(e) || e > 0xffffffff) throw invalidArgument('RSA exponent does not fit a UINT32', {});
    return { type: 'rsa', keyBits, exponent: e === 65537 ? 0 : e, modulus: leftPad(n, keyBits / 8) };
  }
  if (jwk.kty === 'EC' && jwk.x && jwk.y) {
    const curve = (Object.keys(ECC_CURVES) as EccCurveName[]).find((c) => ECC_CURVES[c].jwkCrv === jwk.crv);
    if (!curve) throw invalidArgument(`EC curve ${jwk.crv}: a TPM key here is P-256 or P-384`, { curve: jwk.crv });
    const size = ECC_CURVES[curve].size;
    return { type: 'ecc', curve, x: leftPad(Buffer.from(jwk.x, 'base64url'), size), y: leftPad(Buffer.from(jwk.y, 'base64url'), size) };
  }
  throw invalidArgument(`unsupported key type ${key.asymmetricKeyType}`, { type: key.asymmetricKeyType });
}

/**
 * The public area of a restricted signing key (an AK) with the attributes a
 * real AK has (AK_ATTRIBUTES) and an empty authPolicy, as tpm2_createak makes it.
 */
export function akPublicArea(key: KeyObject, signing: { scheme: SignatureScheme; hash: HashName }, nameAlg: HashName = 'sha256'): PublicArea {
  const c = keyComponents(key);
  const common = { nameAlg, attributes: AK_ATTRIBUTES, symmetric: null };
  if (c.type === 'rsa') {
    if (signing.scheme === 'ecdsa') throw invalidArgument('an RSA key cannot use ECDSA', {});
    return { ...common, type: 'rsa', scheme: { scheme: signing.scheme, hash: signing.hash }, keyBits: c.keyBits, exponent: c.exponent, modulus: c.modulus };
  }
  if (signing.scheme !== 'ecdsa') throw invalidArgument(`an ECC key cannot use ${signing.scheme}`, {});
  return { ...common, type: 'ecc', scheme: { scheme: 'ecdsa', hash: signing.hash }, curve: c.curve, x: c.x, y: c.y };
}

/**
 * The public area of an EK made from the TCG default templates (EK Credential
 * Profile 2.0, templates L-1 RSA-2048 and L-2 ECC P-256): what tpm2_createek makes.
 */
export function ekPublicArea(key: KeyObject): PublicArea {
  const c = keyComponents(key);
  const common = {
    nameAlg: 'sha256' as const,
    attributes: EK_ATTRIBUTES,
    authPolicy: EK_AUTH_POLICY_SHA256,
    symmetric: { alg: 'aes', keyBits: 128, mode: 'cfb' } as const,
  };
  if (c.type === 'rsa') {
    if (c.keyBits !== 2048) throw invalidArgument('the low-range RSA EK template is RSA-2048', { keyBits: c.keyBits });
    return { ...common, type: 'rsa', scheme: null, keyBits: 2048, exponent: c.exponent, modulus: c.modulus };
  }
  if (c.curve !== 'p256') throw invalidArgument('the low-range ECC EK template is P-256', { curve: c.curve });
  return { ...common, type: 'ecc', scheme: null, curve: 'p256', x: c.x, y: c.y };
}
