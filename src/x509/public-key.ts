// SubjectPublicKeyInfo: what kind of key, and a cached node KeyObject for it.
//
// RSA and uncompressed EC keys are imported as JWK from the decoded numbers:
// perf-notes.md measured JWK import 27x (RSA) and 2x (P-256) cheaper than
// SPKI DER. Other keys (RSA-PSS, Ed25519, compressed points) go through SPKI.
// One KeyObject per key for the life of the parsed certificate (WeakMap).

import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { DerReader, TAG } from './der.js';
import { OID } from './oids.js';

export type KeyAlgorithm = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'unknown';

export interface PublicKeyInfo {
  /** the whole SubjectPublicKeyInfo encoding */
  der: Uint8Array;
  algorithm: KeyAlgorithm;
  algorithmOid: string;
  /** EC: 'P-256' | 'P-384' | 'P-521', or the curve OID when unknown */
  curve?: string;
  /** RSA modulus size or EC field size in bits (a curve not named here: its coordinate size, in whole bytes) */
  bits?: number;
  /** set when the key can be imported from numbers */
  jwk?: JsonWebKey;
  /** why the key is never used to verify, though it parses (an RSA public exponent no RSA key should have) */
  unusable?: string;
}

/**
 * The RSA public exponents a certified key may have: odd, at least 3 (e = 1
 * makes the padded message its own "signature"), and under 2^256, FIPS
 * 186-5's upper bound (its lower one, 2^16, would refuse old e = 3 keys).
 * A larger e verifies correctly but slowly: one as long as the modulus costs
 * ~80 times 65537's, on every signature a hostile chain's key is asked to check.
 */
const MAX_RSA_EXPONENT_BITS = 256;

/**
 * The largest RSA modulus used (OpenSSL's own limit is 16384): CA and TPM keys are 2048 to 4096 bits, and a
 * verification's cost grows with the square of the size, so a hostile chain of same-name 16384-bit issuers
 * cost ~300 ms of CPU per layer against ~75 ms at 8192.
 */
const MAX_RSA_MODULUS_BITS = 8192;

/** Why an RSA key (its modulus and exponent as DER INTEGER contents, the exponent's magnitude, the modulus's size) is not used, if it is not. */
function rsaKeyProblem(rawN: Uint8Array, rawE: Uint8Array, e: Uint8Array, modulusBits: number): string | undefined {
  // DER INTEGERs are two's complement: a high first bit is a negative number (JWK would read it as positive)
  if ((rawN[0]! & 0x80) !== 0 || (rawE[0]! & 0x80) !== 0) return `its RSA ${(rawN[0]! & 0x80) !== 0 ? 'modulus' : 'public exponent'} is a negative number`;
  if (modulusBits > MAX_RSA_MODULUS_BITS) return `its RSA modulus has ${modulusBits} bits (at most ${MAX_RSA_MODULUS_BITS} are accepted)`;
  const bits = e.length * 8 - Math.clz32(e[0]!) + 24;
  if (bits > MAX_RSA_EXPONENT_BITS) return `its RSA public exponent has ${bits} bits (at most ${MAX_RSA_EXPONENT_BITS} are accepted)`;
  if ((e[e.length - 1]! & 1) === 0 || (e.length === 1 && e[0]! < 3)) return `its RSA public exponent ${BigInt(`0x${Buffer.from(e).toString('hex')}`)} is not an odd number of at least 3`;
  return undefined;
}

const CURVES: Record<string, { name: string; bytes: number }> = {
  '1.2.840.10045.3.1.7': { name: 'P-256', bytes: 32 },
  '1.3.132.0.34': { name: 'P-384', bytes: 48 },
  '1.3.132.0.35': { name: 'P-521', bytes: 66 },
};

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

export function readSpki(r: DerReader, field: string): PublicKeyInfo {
  const el = r.expect(TAG.SEQUENCE, field);
  const spki = r.inside(el);
  const alg = spki.enter(`${field}.algorithm`);
  const algorithmOid = alg.oid(`${field}.algorithm.id`);
  const paramsTag = alg.peekTag();
  let curveOid: string | undefined;
  if (algorithmOid === OID.ecPublicKey) {
    if (paramsTag !== TAG.OID) throw alg.malformed(`${field}.algorithm.parameters`, 'EC key without a named curve');
    curveOid = alg.oid(`${field}.algorithm.parameters`);
  } else if (paramsTag !== undefined) {
    alg.next(`${field}.algorithm.parameters`);
  }
  alg.end(`${field}.algorithm`);
  const { bytes: keyBits, unusedBits } = spki.bitString(`${field}.subjectPublicKey`);
  spki.end(field);
  if (unusedBits !== 0) throw spki.malformed(`${field}.subjectPublicKey`, 'key BIT STRING with unused bits');
  const der = r.raw(el);

  switch (algorithmOid) {
    case OID.rsaEncryption:
    case OID.rsassaPss: {
      const key = new DerReader(keyBits, r.ctx);
      const seq = key.enter(`${field}.RSAPublicKey`);
      const rawN = seq.integerBytes(`${field}.RSAPublicKey.modulus`);
      const rawE = seq.integerBytes(`${field}.RSAPublicKey.publicExponent`);
      const n = stripLeadingZeros(rawN);
      const e = stripLeadingZeros(rawE);
      seq.end(`${field}.RSAPublicKey`);
      key.end(`${field}.RSAPublicKey`);
      const bits = n.length * 8 - Math.clz32(n[0]!) + 24;
      const unusable = rsaKeyProblem(rawN, rawE, e, bits);
      // an RSASSA-PSS key (RFC 4055) is the same RSAPublicKey: node imports it, e = 1 included, from the SPKI
      // bytes (its parameters too), so its exponent is checked here as an rsaEncryption key's is
      if (algorithmOid === OID.rsassaPss) return { der, algorithm: 'rsa-pss', algorithmOid, ...(unusable ? { unusable } : {}) };
      if (unusable) return { der, algorithm: 'rsa', algorithmOid, bits, unusable };
      return { der, algorithm: 'rsa', algorithmOid, bits, jwk: { kty: 'RSA', n: b64url(n), e: b64url(e) } };
    }
    case OID.ecPublicKey: {
      const curve = CURVES[curveOid!];
      if (!curve) {
        // node may still import it (P-192, P-224, brainpool, ...): its size is what the key-strength check needs.
        const bits = pointCoordinateBits(keyBits);
        return { der, algorithm: 'ec', algorithmOid, curve: curveOid!, ...(bits !== undefined ? { bits } : {}) };
      }
      const info: PublicKeyInfo = { der, algorithm: 'ec', algorithmOid, curve: curve.name, bits: curve.name === 'P-521' ? 521 : curve.bytes * 8 };
      if (keyBits.length === 1 + 2 * curve.bytes && keyBits[0] === 0x04) {
        info.jwk = {
          kty: 'EC',
          crv: curve.name,
          x: b64url(keyBits.subarray(1, 1 + curve.bytes)),
          y: b64url(keyBits.subarray(1 + curve.bytes)),
        };
      }
      return info;
    }
    case OID.ed25519:
      return { der, algorithm: 'ed25519', algorithmOid, bits: 256 };
    case OID.ed448:
      return { der, algorithm: 'ed448', algorithmOid, bits: 456 };
    default:
      return { der, algorithm: 'unknown', algorithmOid };
  }
}

/** An EC point's coordinate size in bits, from its encoding (SEC 1 2.3.3): 04 || X || Y, or 02/03 || X. */
function pointCoordinateBits(point: Uint8Array): number | undefined {
  if (point[0] === 0x04 && point.length >= 3 && point.length % 2 === 1) return ((point.length - 1) / 2) * 8;
  if ((point[0] === 0x02 || point[0] === 0x03) && point.length >= 2) return (point.length - 1) * 8;
  return undefined;
}

/**
 * The size that sets a key's strength, in bits: the RSA modulus (of an
 * RSA-PSS key too, read from the imported key) or the EC field; undefined
 * for EdDSA (fixed strength) and for keys whose size is unknown.
 */
export function keyStrengthBits(info: PublicKeyInfo): number | undefined {
  switch (info.algorithm) {
    case 'rsa':
    case 'ec':
      return info.bits;
    case 'rsa-pss':
      return publicKeyObject(info)?.asymmetricKeyDetails?.modulusLength;
    default:
      return undefined;
  }
}

const keyObjects = new WeakMap<PublicKeyInfo, KeyObject | null>();

/**
 * Keys by their SubjectPublicKeyInfo bytes, across certificate parses: a fleet
 * audit parses each VMM's and host's AK certificate again for every VM, and
 * importing the key costs more than verifying with it. Bounded; the oldest
 * entry goes first.
 */
const keysBySpki = new Map<string, KeyObject | null>();
const MAX_KEYS_BY_SPKI = 4096;

/** The key as a node KeyObject, imported once; null when node cannot import it. */
export function publicKeyObject(info: PublicKeyInfo): KeyObject | null {
  if (info.unusable !== undefined) return null;
  const cached = keyObjects.get(info);
  if (cached !== undefined) return cached;
  const spki = Buffer.from(info.der.buffer, info.der.byteOffset, info.der.byteLength).toString('latin1');
  const shared = keysBySpki.get(spki);
  if (shared !== undefined) {
    keyObjects.set(info, shared);
    return shared;
  }
  let key: KeyObject | null;
  try {
    key = info.jwk
      ? createPublicKey({ key: info.jwk, format: 'jwk' })
      : createPublicKey({ key: Buffer.from(info.der.buffer, info.der.byteOffset, info.der.byteLength), format: 'der', type: 'spki' });
  } catch {
    key = null;
  }
  keyObjects.set(info, key);
  if (keysBySpki.size >= MAX_KEYS_BY_SPKI) keysBySpki.delete(keysBySpki.keys().next().value!);
  keysBySpki.set(spki, key);
  return key;
}

export function describeKey(info: PublicKeyInfo): string {
  switch (info.algorithm) {
    case 'rsa':
      return `RSA-${info.bits}`;
    case 'ec':
      return `EC ${info.curve}`;
    case 'rsa-pss':
      return 'RSA-PSS';
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return `unknown (${info.algorithmOid})`;
  }
}
