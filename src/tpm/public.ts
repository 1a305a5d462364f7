// TPM2B_PUBLIC / TPMT_PUBLIC (TPM 2.0 Part 2, 12.2.4 and 12.2.5) for RSA
// 2048/3072/4096 and ECC NIST P-256/P-384 keys, and the object Name
// (Part 1, 16: nameAlg || H_nameAlg(marshalled TPMT_PUBLIC)).

import { createHash } from 'node:crypto';
import { ParseError } from '../errors.js';
import { LIMITS, TPM_ALG, TPM_ECC_CURVE, algName, hashById, type HashAlg } from './constants.js';
import { TpmReader } from './reader.js';

/** TPMA_OBJECT bits (Part 2, 8.3.2). */
export const OBJECT_ATTRIBUTES = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
  x509sign: 1 << 19,
} as const;

export type ObjectAttributeName = keyof typeof OBJECT_ATTRIBUTES;

const DEFINED_ATTRIBUTE_BITS = Object.values(OBJECT_ATTRIBUTES).reduce((a, b) => a | b, 0);

/** The names of the attributes set in a TPMA_OBJECT value, in bit order. */
export function objectAttributeNames(attrs: number): ObjectAttributeName[] {
  return (Object.keys(OBJECT_ATTRIBUTES) as ObjectAttributeName[]).filter((n) => (attrs & OBJECT_ATTRIBUTES[n]) !== 0);
}

const TPM_ALG_MGF1 = 0x0007;

export interface SymmetricDef {
  /** TPMI_ALG_SYM_OBJECT: AES, SM4 or CAMELLIA */
  algorithm: number;
  keyBits: number;
  /** TPMI_ALG_SYM_MODE */
  mode: number;
}

/** TPMT_RSA_SCHEME / TPMT_ECC_SCHEME / TPMT_KDF_SCHEME, or null for TPM_ALG_NULL. */
export interface SchemeDef {
  scheme: number;
  /** the scheme's hash, when it has one (RSAES has none) */
  hash?: HashAlg;
  /** ECDAA count */
  count?: number;
}

interface PublicCommon {
  /** the marshalled TPMT_PUBLIC: the bytes the Name hashes */
  raw: Uint8Array;
  /** TPMI_ALG_HASH nameAlg */
  nameAlg: HashAlg;
  /** TPMA_OBJECT objectAttributes */
  objectAttributes: number;
  /** TPM2B_DIGEST authPolicy */
  authPolicy: Uint8Array;
  /** TPMT_SYM_DEF_OBJECT symmetric; null for TPM_ALG_NULL */
  symmetric: SymmetricDef | null;
  /** signing or decryption scheme; null for TPM_ALG_NULL (any scheme) */
  scheme: SchemeDef | null;
}

export interface RsaTpmPublic extends PublicCommon {
  type: 'rsa';
  keyBits: 2048 | 3072 | 4096;
  /** the public exponent (0 on the wire means 65537) */
  exponent: number;
  /** TPM2B_PUBLIC_KEY_RSA unique: the modulus, empty in a template */
  modulus: Uint8Array;
}

export type EccCurveName = 'P-256' | 'P-384';

export interface EccTpmPublic extends PublicCommon {
  type: 'ecc';
  curveId: number;
  curve: EccCurveName;
  /** curve size in bytes */
  curveSize: number;
  /** TPMT_KDF_SCHEME kdf; null for TPM_ALG_NULL */
  kdf: SchemeDef | null;
  /** TPMS_ECC_POINT unique: coordinates, possibly shorter than curveSize, empty in a template */
  x: Uint8Array;
  y: Uint8Array;
}

export type TpmtPublic = RsaTpmPublic | EccTpmPublic;

const CURVES: ReadonlyMap<number, { name: EccCurveName; size: number }> = new Map([
  [TPM_ECC_CURVE.NIST_P256, { name: 'P-256', size: 32 }],
  [TPM_ECC_CURVE.NIST_P384, { name: 'P-384', size: 48 }],
]);

function unsupported(r: TpmReader, field: string, what: string, value: number, offset: number): ParseError {
  return new ParseError('TPM_UNSUPPORTED_ALG', `${r.what}: ${field}: ${what} ${algName(value)} is not supported`, {
    structure: r.what,
    field,
    offset,
    alg: value,
  });
}

function anyHash(r: TpmReader, field: string): HashAlg {
  const offset = r.offset;
  const id = r.u16(field);
  const hash = hashById(id);
  if (!hash) throw unsupported(r, field, 'hash', id, offset);
  return hash;
}

function readSymmetric(r: TpmReader, field: string): SymmetricDef | null {
  const offset = r.offset;
  // TPMI_ALG_SYM_OBJECT+ algorithm
  const algorithm = r.u16(`${field}.algorithm`);
  if (algorithm === TPM_ALG.NULL) return null;
  if (algorithm !== TPM_ALG.AES && algorithm !== TPM_ALG.SM4 && algorithm !== TPM_ALG.CAMELLIA) {
    throw unsupported(r, `${field}.algorithm`, 'symmetric algorithm', algorithm, offset);
  }
  // TPMU_SYM_KEY_BITS keyBits, TPMU_SYM_MODE mode
  const keyBits = r.u16(`${field}.keyBits`);
  const mode = r.u16(`${field}.mode`);
  return { algorithm, keyBits, mode };
}

/** Reads a scheme: a selector, then a TPMS_SCHEME_HASH (or TPMS_SCHEME_ECDAA) when the selector has details. */
function readScheme(r: TpmReader, field: string, withHash: ReadonlySet<number>, noDetails: ReadonlySet<number>): SchemeDef | null {
  const offset = r.offset;
  const scheme = r.u16(`${field}.scheme`);
  if (scheme === TPM_ALG.NULL) return null;
  if (noDetails.has(scheme)) return { scheme };
  if (scheme === TPM_ALG.ECDAA && withHash.has(scheme)) {
    const hash = anyHash(r, `${field}.details.hashAlg`);
    const count = r.u16(`${field}.details.count`);
    return { scheme, hash, count };
  }
  if (!withHash.has(scheme)) throw unsupported(r, `${field}.scheme`, 'scheme', scheme, offset);
  return { scheme, hash: anyHash(r, `${field}.details.hashAlg`) };
}

const RSA_HASH_SCHEMES: ReadonlySet<number> = new Set([TPM_ALG.RSASSA, TPM_ALG.RSAPSS, TPM_ALG.OAEP]);
const RSA_PLAIN_SCHEMES: ReadonlySet<number> = new Set([TPM_ALG.RSAES]);
const ECC_HASH_SCHEMES: ReadonlySet<number> = new Set([TPM_ALG.ECDSA, TPM_ALG.ECDH, TPM_ALG.ECDAA, TPM_ALG.SM2, TPM_ALG.ECSCHNORR, TPM_ALG.ECMQV]);
const KDF_SCHEMES: ReadonlySet<number> = new Set([TPM_ALG_MGF1, TPM_ALG.KDF1_SP800_56A, TPM_ALG.KDF2, TPM_ALG.KDF1_SP800_108]);
const NONE: ReadonlySet<number> = new Set();

/** Reads a TPMT_PUBLIC at the reader's position. */
export function readTpmtPublic(r: TpmReader): TpmtPublic {
  const start = r.offset;
  // TPMI_ALG_PUBLIC type
  const type = r.u16('type');
  if (type !== TPM_ALG.RSA && type !== TPM_ALG.ECC) throw unsupported(r, 'type', 'object type', type, start);
  // TPMI_ALG_HASH nameAlg (TPM_ALG_NULL would leave the object without a Name)
  const nameAlg = anyHash(r, 'nameAlg');
  // TPMA_OBJECT objectAttributes: reserved bits shall be zero
  const objectAttributes = r.u32('objectAttributes');
  const reserved = (objectAttributes & ~DEFINED_ATTRIBUTE_BITS) >>> 0;
  if (reserved !== 0) {
    throw r.bad('objectAttributes', `reserved bits set (0x${reserved.toString(16).padStart(8, '0')})`, { offset: r.offset - 4, value: objectAttributes >>> 0 });
  }
  // TPM2B_DIGEST authPolicy
  const authPolicy = r.tpm2b('authPolicy', LIMITS.digest);
  // TPMU_PUBLIC_PARMS parameters: symmetric first for both key types
  const symmetric = readSymmetric(r, 'parameters.symmetric');
  const common = { nameAlg, objectAttributes: objectAttributes >>> 0, authPolicy, symmetric };

  if (type === TPM_ALG.RSA) {
    // TPMS_RSA_PARMS: TPMT_RSA_SCHEME+ scheme, TPMI_RSA_KEY_BITS keyBits, UINT32 exponent
    const scheme = readScheme(r, 'parameters.scheme', RSA_HASH_SCHEMES, RSA_PLAIN_SCHEMES);
    const bitsOffset = r.offset;
    const keyBits = r.u16('parameters.keyBits');
    if (keyBits !== 2048 && keyBits !== 3072 && keyBits !== 4096) {
      throw new ParseError('TPM_UNSUPPORTED_ALG', `${r.what}: parameters.keyBits: RSA-${keyBits} is not supported (2048, 3072, 4096)`, {
        structure: r.what,
        field: 'parameters.keyBits',
        offset: bitsOffset,
        keyBits,
      });
    }
    const exponentRaw = r.u32('parameters.exponent');
    // TPM2B_PUBLIC_KEY_RSA unique
    const modulus = r.tpm2b('unique.rsa', LIMITS.rsaKey);
    if (modulus.length !== 0 && modulus.length !== keyBits / 8) {
      throw r.bad('unique.rsa', `modulus is ${modulus.length} bytes, keyBits says ${keyBits / 8}`, { offset: r.offset - modulus.length, size: modulus.length });
    }
    const raw = r.bytesSince(start);
    return { type: 'rsa', raw, ...common, scheme, keyBits, exponent: exponentRaw === 0 ? 65537 : exponentRaw, modulus };
  }

  // TPMS_ECC_PARMS: TPMT_ECC_SCHEME+ scheme, TPMI_ECC_CURVE curveID, TPMT_KDF_SCHEME+ kdf
  const scheme = readScheme(r, 'parameters.scheme', ECC_HASH_SCHEMES, NONE);
  const curveOffset = r.offset;
  const curveId = r.u16('parameters.curveID');
  const curve = CURVES.get(curveId);
  if (!curve) {
    throw new ParseError('TPM_UNSUPPORTED_ALG', `${r.what}: parameters.curveID 0x${curveId.toString(16).padStart(4, '0')} is not supported (NIST P-256, P-384)`, {
      structure: r.what,
      field: 'parameters.curveID',
      offset: curveOffset,
      curveId,
    });
  }
  const kdf = readScheme(r, 'parameters.kdf', KDF_SCHEMES, NONE);
  // TPMS_ECC_POINT unique: TPM2B_ECC_PARAMETER x, y
  const x = r.tpm2b('unique.ecc.x', LIMITS.eccParameter);
  const y = r.tpm2b('unique.ecc.y', LIMITS.eccParameter);
  if (x.length > curve.size || y.length > curve.size) {
    throw r.bad('unique.ecc', `point coordinates longer than the ${curve.size}-byte curve size`, { x: x.length, y: y.length });
  }
  const raw = r.bytesSince(start);
  return { type: 'ecc', raw, ...common, scheme, curveId, curve: curve.name, curveSize: curve.size, kdf, x, y };
}

/** Parses bytes holding exactly one TPMT_PUBLIC (no size prefix). */
export function parseTpmtPublic(bytes: Uint8Array): TpmtPublic {
  const r = new TpmReader(bytes, 'TPMT_PUBLIC');
  const pub = readTpmtPublic(r);
  r.end();
  return pub;
}

/** Parses a TPM2B_PUBLIC: a big-endian u16 size, then exactly that TPMT_PUBLIC. */
export function parseTpm2bPublic(bytes: Uint8Array): TpmtPublic {
  const outer = new TpmReader(bytes, 'TPM2B_PUBLIC');
  const inner = outer.tpm2b('publicArea', LIMITS.public);
  outer.end();
  return parseTpmtPublic(inner);
}

/**
 * Whether bytes look like a TPM2B_PUBLIC rather than a bare TPMT_PUBLIC: the
 * leading u16 equals the length that follows. A TPMT_PUBLIC starts with its
 * type (0x0001 or 0x0023), which no complete TPM2B_PUBLIC of that length has.
 */
export function looksLikeTpm2bPublic(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && ((bytes[0]! << 8) | bytes[1]!) === bytes.length - 2;
}

/** Parses either a TPM2B_PUBLIC or a bare TPMT_PUBLIC (tools write both). */
export function parsePublicArea(bytes: Uint8Array): TpmtPublic {
  return looksLikeTpm2bPublic(bytes) ? parseTpm2bPublic(bytes) : parseTpmtPublic(bytes);
}

/** The TPM object Name: nameAlg (big-endian u16) || H_nameAlg(TPMT_PUBLIC). */
export function tpmObjectName(pub: TpmtPublic): Uint8Array {
  const digest = createHash(pub.nameAlg.nodeName).update(pub.raw).digest();
  const name = new Uint8Array(2 + digest.length);
  name[0] = pub.nameAlg.id >> 8;
  name[1] = pub.nameAlg.id & 0xff;
  name.set(digest, 2);
  return name;
}
