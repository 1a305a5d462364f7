// Attestation keys: the public key that verifies a TPM's signatures, loaded
// once into a node:crypto KeyObject and reused for every signature it checks
// (importing a key costs 3-7x a verification; see perf-notes).
//
// An AK arrives as PEM or DER SubjectPublicKeyInfo, as a certificate (its
// subject key; the certificate itself is NOT validated here), or as the TPM's
// own TPM2B_PUBLIC / TPMT_PUBLIC. Only the TPM forms tell the key's scheme,
// attributes and Name, which verification then also checks.

import { X509Certificate, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { ParseError, type CodeTable } from '../errors.js';
import { TPM_ALG } from '../tpm/constants.js';
import { looksLikeTpm2bPublic, parseTpm2bPublic, parseTpmtPublic, tpmObjectName, type EccCurveName, type TpmtPublic } from '../tpm/public.js';
import { TPM12_UNSUPPORTED, describeTpm12Structure } from '../tpm/tpm12.js';

export const AK_CODES = {
  AK_INVALID: { kind: 'input', summary: 'the attestation key is not a PEM/DER public key, certificate, TPM2B_PUBLIC or TPMT_PUBLIC' },
  AK_UNSUPPORTED: { kind: 'input', summary: 'the attestation key type or size is not supported (RSA 2048/3072/4096, ECC P-256/P-384)' },
} as const satisfies CodeTable;

export type AkSource = 'spki' | 'certificate' | 'tpm2b-public' | 'tpmt-public';

export interface AttestationKey {
  /** the cached node:crypto key every verification uses */
  readonly key: KeyObject;
  readonly keyType: 'rsa' | 'ec';
  /** RSA modulus size in bits (0 for EC) */
  readonly rsaBits: number;
  /** EC curve (undefined for RSA) */
  readonly curve?: EccCurveName;
  /** ECDSA scalar size in bytes: r and s are left-padded to it (0 for RSA) */
  readonly scalarSize: number;
  readonly source: AkSource;
  /** the TPM public area, when the AK came as one: enables scheme, attribute and qualifiedSigner checks */
  readonly tpmPublic?: TpmtPublic;
  /** the TPM object Name (nameAlg || H(TPMT_PUBLIC)), when tpmPublic is known */
  readonly name?: Uint8Array;
  /** "rsa-2048", "ecc-p256" */
  readonly description: string;
}

const CURVE_BY_NODE_NAME: ReadonlyMap<string, { curve: EccCurveName; size: number }> = new Map([
  ['prime256v1', { curve: 'P-256', size: 32 }],
  ['secp384r1', { curve: 'P-384', size: 48 }],
]);

const RSA_SIZES: ReadonlySet<number> = new Set([2048, 3072, 4096]);

function describe(keyType: 'rsa' | 'ec', rsaBits: number, curve?: EccCurveName): string {
  return keyType === 'rsa' ? `rsa-${rsaBits}` : `ecc-${curve!.toLowerCase().replace('-', '')}`;
}

/** Wraps a KeyObject after checking it is a key type and size TPM AKs use. */
export function akFromKeyObject(key: KeyObject, source: AkSource = 'spki', tpmPublic?: TpmtPublic): AttestationKey {
  if (key.type !== 'public') throw new ParseError('AK_INVALID', `attestation key: expected a public key, got a ${key.type} key`);
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (!RSA_SIZES.has(bits)) throw new ParseError('AK_UNSUPPORTED', `attestation key: RSA-${bits} is not supported (2048, 3072, 4096)`, { keyType: 'rsa', bits });
    // e = 1 makes "signing" the identity: anyone can make a signature that verifies. A TPM takes only odd e >= 3.
    const e = details.publicExponent ?? 0n;
    if (e < 3n || e % 2n === 0n || e >= 1n << 32n) {
      throw new ParseError('AK_INVALID', `attestation key: RSA public exponent ${e} is not one a TPM key has (an odd number from 3 to 2^32-1, usually 65537)`, { keyType: 'rsa', exponent: e.toString() });
    }
    const name = tpmPublic ? tpmObjectName(tpmPublic) : undefined;
    return { key, keyType: 'rsa', rsaBits: bits, scalarSize: 0, source, description: describe('rsa', bits), ...(tpmPublic ? { tpmPublic, name } : {}) };
  }
  if (key.asymmetricKeyType === 'ec') {
    const c = CURVE_BY_NODE_NAME.get(details.namedCurve ?? '');
    if (!c) throw new ParseError('AK_UNSUPPORTED', `attestation key: curve ${details.namedCurve ?? '?'} is not supported (P-256, P-384)`, { keyType: 'ec', curve: details.namedCurve });
    const name = tpmPublic ? tpmObjectName(tpmPublic) : undefined;
    return { key, keyType: 'ec', rsaBits: 0, curve: c.curve, scalarSize: c.size, source, description: describe('ec', 0, c.curve), ...(tpmPublic ? { tpmPublic, name } : {}) };
  }
  throw new ParseError('AK_UNSUPPORTED', `attestation key: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported (RSA, ECC)`, { keyType: key.asymmetricKeyType });
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

function leftPad(bytes: Uint8Array, size: number): Uint8Array {
  if (bytes.length >= size) return bytes;
  const out = new Uint8Array(size);
  out.set(bytes, size - bytes.length);
  return out;
}

function exponentBytes(e: number): Uint8Array {
  const out: number[] = [];
  for (let v = e; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Uint8Array.from(out);
}

/** An AK from a parsed TPM public area, imported as a JWK (far cheaper than DER for RSA). */
export function akFromTpmPublic(pub: TpmtPublic, source: AkSource = 'tpmt-public'): AttestationKey {
  let key: KeyObject;
  try {
    if (pub.type === 'rsa') {
      if (pub.modulus.length === 0) throw new ParseError('AK_INVALID', 'attestation key: the TPM public area has no modulus (a template?)');
      key = createPublicKey({ key: { kty: 'RSA', n: b64url(pub.modulus), e: b64url(exponentBytes(pub.exponent)) }, format: 'jwk' });
    } else {
      if (pub.x.length === 0 || pub.y.length === 0) throw new ParseError('AK_INVALID', 'attestation key: the TPM public area has no point (a template?)');
      key = createPublicKey({
        key: { kty: 'EC', crv: pub.curve, x: b64url(leftPad(pub.x, pub.curveSize)), y: b64url(leftPad(pub.y, pub.curveSize)) },
        format: 'jwk',
      });
    }
  } catch (err) {
    if (err instanceof ParseError) throw err;
    throw new ParseError('AK_INVALID', `attestation key: the TPM public area does not hold a valid key (${(err as Error).message})`, {}, { cause: err });
  }
  return akFromKeyObject(key, source, pub);
}

const keyIds = new WeakMap<KeyObject, string>();

/** SubjectPublicKeyInfo up to the point, for the AK curves: SEQUENCE { AlgorithmIdentifier { ecPublicKey, curve }, BIT STRING (0 unused bits) */
const EC_SPKI_HEADERS: ReadonlyMap<string, Buffer> = new Map([
  ['prime256v1', Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex')],
  ['secp384r1', Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex')],
]);

/**
 * What identifies an attestation key across layers, VMs and runs (the walker's loop check, an audit's
 * register of keys, the state store's AK names): SHA-256 of its SubjectPublicKeyInfo in the one standard
 * encoding (RSA: rsaEncryption with NULL parameters; EC: a named curve and the uncompressed point), not of
 * the bytes a certificate happened to use. One EC key has three encodings (uncompressed, compressed,
 * hybrid) that node imports alike and writes back as given: a certificate made for a healthy VM's key in
 * another encoding would otherwise pass as another key (a relay its platform certified, unseen).
 * For a certificate in the standard encoding this is the hash of its SPKI as it stands.
 */
export function attestationKeyId(key: KeyObject): string {
  let id = keyIds.get(key);
  if (id === undefined) {
    const h = createHash('sha256');
    const header = key.asymmetricKeyType === 'ec' ? EC_SPKI_HEADERS.get(key.asymmetricKeyDetails?.namedCurve ?? '') : undefined;
    const jwk = header ? key.export({ format: 'jwk' }) : undefined;
    if (header && jwk?.x && jwk.y) {
      h.update(header).update(UNCOMPRESSED).update(Buffer.from(jwk.x, 'base64url')).update(Buffer.from(jwk.y, 'base64url'));
    } else {
      // node writes an RSA key from its numbers: rsaEncryption, NULL parameters, minimal integers
      h.update(key.export({ type: 'spki', format: 'der' }));
    }
    id = h.digest('hex');
    keyIds.set(key, id);
  }
  return id;
}

const UNCOMPRESSED = Buffer.from([0x04]);

/** An AK from DER SubjectPublicKeyInfo. */
export function akFromSpki(der: Uint8Array): AttestationKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'spki' });
  } catch (err) {
    throw new ParseError('AK_INVALID', `attestation key: not a DER SubjectPublicKeyInfo (${(err as Error).message})`, {}, { cause: err });
  }
  return akFromKeyObject(key, 'spki');
}

/** An AK from a certificate's subject public key. The certificate is not validated here. */
export function akFromCertificate(cert: Uint8Array | string): AttestationKey {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert.buffer, cert.byteOffset, cert.byteLength));
  } catch (err) {
    throw new ParseError('AK_INVALID', `attestation key: not an X.509 certificate (${(err as Error).message})`, {}, { cause: err });
  }
  return akFromKeyObject(x509.publicKey, 'certificate');
}

/** An AK from PEM text: PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE. */
export function akFromPem(text: string): AttestationKey {
  if (/-----BEGIN CERTIFICATE-----/.test(text)) return akFromCertificate(text);
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch (err) {
    throw new ParseError('AK_INVALID', `attestation key: PEM does not hold a public key (${(err as Error).message})`, {}, { cause: err });
  }
  return akFromKeyObject(key, 'spki');
}

/** PEM armour near the start (text such as an openssl dump may precede it); binary TPM structures hold no such text. */
function pemStart(bytes: Uint8Array): number {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 4096)).indexOf('-----BEGIN ');
}

function decodeAk(bytes: Uint8Array): AttestationKey {
  const pem = pemStart(bytes);
  if (pem >= 0) return akFromPem(Buffer.from(bytes.buffer, bytes.byteOffset + pem, bytes.byteLength - pem).toString('latin1'));
  if (looksLikeTpm2bPublic(bytes)) return akFromTpmPublic(parseTpm2bPublic(bytes), 'tpm2b-public');
  const first = bytes.length >= 2 ? (bytes[0]! << 8) | bytes[1]! : -1;
  if (first === TPM_ALG.RSA || first === TPM_ALG.ECC) return akFromTpmPublic(parseTpmtPublic(bytes), 'tpmt-public');
  if (bytes[0] === 0x30) {
    // DER: a SubjectPublicKeyInfo, else a certificate. A key that parses but is not one an AK can be is
    // refused for what it is (akFromKeyObject), not taken for a certificate that fails to parse.
    let spkiKey: KeyObject | undefined;
    let spkiErr: unknown;
    try {
      spkiKey = createPublicKey({ key: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), format: 'der', type: 'spki' });
    } catch (err) {
      spkiErr = err;
    }
    if (spkiKey) return akFromKeyObject(spkiKey, 'spki');
    let certificate: X509Certificate | undefined;
    try {
      certificate = new X509Certificate(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch {
      throw new ParseError('AK_INVALID', 'attestation key: DER is neither a SubjectPublicKeyInfo nor a certificate', {}, { cause: spkiErr });
    }
    return akFromKeyObject(certificate.publicKey, 'certificate');
  }
  const tpm12 = describeTpm12Structure(bytes);
  if (tpm12) throw new ParseError('AK_INVALID', `attestation key: this is ${tpm12}: ${TPM12_UNSUPPORTED}`, { size: bytes.length, tpmVersion: '1.2' });
  throw new ParseError('AK_INVALID', 'attestation key: not PEM, DER SubjectPublicKeyInfo or certificate, TPM2B_PUBLIC or TPMT_PUBLIC', { size: bytes.length });
}

/** Loaded AKs by content: the same AK bytes give the same KeyObject. Bounded, oldest evicted first. */
const cache = new Map<string, AttestationKey>();
const CACHE_MAX = 256;

/**
 * Loads an AK from bytes in any supported form (detected), caching the result
 * by content so that repeated loads of one AK import its key only once.
 */
export function loadAttestationKey(bytes: Uint8Array): AttestationKey {
  const id = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const hit = cache.get(id);
  if (hit) return hit;
  const ak = decodeAk(bytes);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(id, ak);
  return ak;
}
