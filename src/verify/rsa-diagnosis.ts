// Why an RSA signature failed: RSA is a permutation, so the public key
// "opens" any signature to the encoded message EM (RFC 8017 section 9). If EM
// is well formed for the scheme, the signature was made with this key's
// private key, over other bytes: the message was altered after signing (or
// the signature belongs to another message of the same key). If EM is
// garbage, the signature was not made with this key (or was itself
// corrupted). ECDSA has no such recovery: there the two cases look the same.

import { constants, createHash, publicDecrypt, type KeyObject } from 'node:crypto';
import type { HashAlg } from '../tpm/constants.js';

/** DER DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 section 9.2, note 1). */
const DIGEST_INFO: Record<string, string> = {
  sha1: '3021300906052b0e03021a05000414',
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

export type RsaFailure = 'other-message' | 'not-this-key';

function openSignature(key: KeyObject, signature: Uint8Array): Buffer | null {
  try {
    return publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return null; // wrong length or a value not below the modulus
  }
}

function pkcs1WellFormed(em: Buffer, hash: HashAlg): boolean {
  const prefix = DIGEST_INFO[hash.name];
  if (!prefix) return false;
  const t = Buffer.from(prefix, 'hex');
  const tLen = t.length + hash.size;
  const psLen = em.length - tLen - 3;
  if (psLen < 8 || em[0] !== 0x00 || em[1] !== 0x01 || em[2 + psLen] !== 0x00) return false;
  for (let i = 2; i < 2 + psLen; i++) if (em[i] !== 0xff) return false;
  return em.subarray(3 + psLen, 3 + psLen + t.length).equals(t);
}

function mgf1(seed: Buffer, length: number, hash: HashAlg): Buffer {
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(4);
  for (let done = 0, i = 0; done < length; i++) {
    counter.writeUInt32BE(i);
    const block = createHash(hash.nodeName).update(seed).update(counter).digest();
    block.copy(out, done);
    done += block.length;
  }
  return out;
}

function pssWellFormed(em: Buffer, hash: HashAlg, modulusBits: number): boolean {
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  // With emBits a multiple of 8, the RSA output has one leading zero byte.
  const e = em.length > emLen ? em.subarray(em.length - emLen) : em;
  if (em.length > emLen && em[0] !== 0) return false;
  const hLen = hash.size;
  if (emLen < hLen + 2 || e[emLen - 1] !== 0xbc) return false;
  const masked = e.subarray(0, emLen - hLen - 1);
  const h = e.subarray(emLen - hLen - 1, emLen - 1);
  const db = mgf1(h, masked.length, hash);
  for (let i = 0; i < db.length; i++) db[i]! ^= masked[i]!;
  const unused = 8 * emLen - emBits;
  db[0]! &= 0xff >> unused;
  const one = db.indexOf(0x01);
  if (one < 0) return false;
  for (let i = 0; i < one; i++) if (db[i] !== 0) return false;
  return true;
}

/** Classifies a failed RSA signature; `pss` picks EMSA-PSS, otherwise EMSA-PKCS1-v1_5. */
export function diagnoseRsaFailure(key: KeyObject, signature: Uint8Array, hash: HashAlg, pss: boolean, modulusBits: number): RsaFailure {
  // A signature is exactly k = modulus-length octets (RFC 8017 8.2.2 step 1). OpenSSL opens a shorter one
  // as the same integer, so a valid signature stripped of a leading zero byte would look made over other
  // bytes when it was made over these: its length, not the message, is what is wrong.
  if (signature.length !== Math.ceil(modulusBits / 8)) return 'not-this-key';
  const em = openSignature(key, signature);
  if (!em) return 'not-this-key';
  return (pss ? pssWellFormed(em, hash, modulusBits) : pkcs1WellFormed(em, hash)) ? 'other-message' : 'not-this-key';
}

/**
 * The digest a PKCS#1 v1.5 signature covers, read from its encoded message (RFC 8017 9.2: the DigestInfo ends
 * with it), or null when the signature does not open to a well-formed encoding for this key and hash. It lets a
 * "message altered" verdict name what differs: the digest signed and the digest of the bytes given.
 */
export function signedPkcs1Digest(key: KeyObject, signature: Uint8Array, hash: HashAlg, modulusBits: number): Buffer | null {
  if (signature.length !== Math.ceil(modulusBits / 8)) return null;
  const em = openSignature(key, signature);
  if (!em || !pkcs1WellFormed(em, hash)) return null;
  return em.subarray(em.length - hash.size);
}
