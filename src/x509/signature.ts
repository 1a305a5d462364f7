// Signature algorithms of certificates and CRLs, verified with node:crypto
// over the exact signed bytes (the tbsCertificate as sent, never re-encoded).

import { constants, verify as cryptoVerify } from 'node:crypto';
import { DerReader, TAG, ctxCons, type DerContext, type DerElement } from './der.js';
import { OID } from './oids.js';
import { publicKeyObject, type PublicKeyInfo } from './public-key.js';

export type HashName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
export type SignatureScheme = 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa' | 'ed25519' | 'ed448' | 'unknown';

export interface SignatureAlgorithm {
  /** the AlgorithmIdentifier's whole encoding (tbs and outer copies must be equal) */
  der: Uint8Array;
  oid: string;
  name: string;
  scheme: SignatureScheme;
  hash?: HashName;
  /** RSASSA-PSS parameters (RFC 4055) */
  pss?: { mgf1Hash: HashName; saltLength: number };
}

const HASH_OIDS: Record<string, HashName> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

const SIMPLE: Record<string, { name: string; scheme: SignatureScheme; hash?: HashName }> = {
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', scheme: 'rsa-pkcs1', hash: 'sha1' },
  '1.2.840.113549.1.1.14': { name: 'sha224WithRSAEncryption', scheme: 'rsa-pkcs1', hash: 'sha224' },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', scheme: 'rsa-pkcs1', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', scheme: 'rsa-pkcs1', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', scheme: 'rsa-pkcs1', hash: 'sha512' },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', scheme: 'ecdsa', hash: 'sha1' },
  '1.2.840.10045.4.3.1': { name: 'ecdsa-with-SHA224', scheme: 'ecdsa', hash: 'sha224' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', scheme: 'ecdsa', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', scheme: 'ecdsa', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', scheme: 'ecdsa', hash: 'sha512' },
  [OID.ed25519]: { name: 'Ed25519', scheme: 'ed25519' },
  [OID.ed448]: { name: 'Ed448', scheme: 'ed448' },
};

/** A hash AlgorithmIdentifier (parameters NULL or absent). */
function readHashAlgorithm(r: DerReader, field: string): HashName | undefined {
  const alg = r.enter(field);
  const oid = alg.oid(`${field}.algorithm`);
  if (alg.peekTag() === TAG.NULL) alg.nul(`${field}.parameters`);
  alg.end(field);
  return HASH_OIDS[oid];
}

export function readSignatureAlgorithm(r: DerReader, field: string): SignatureAlgorithm {
  const el = r.expect(TAG.SEQUENCE, field);
  const der = r.raw(el);
  const alg = r.inside(el);
  const oid = alg.oid(`${field}.algorithm`);
  const simple = SIMPLE[oid];
  if (simple) {
    // RSA PKCS#1 takes NULL parameters; ECDSA and EdDSA none. Old encoders disagree: accept either.
    if (alg.peekTag() === TAG.NULL) alg.nul(`${field}.parameters`);
    alg.end(field);
    return { der, oid, ...simple };
  }
  if (oid === OID.rsassaPss) {
    // RSASSA-PSS-params (RFC 4055 3.1): every field has a DEFAULT.
    let hash: HashName | undefined = 'sha1';
    let mgf1Hash: HashName | undefined = 'sha1';
    let saltLength = 20;
    let supported = true;
    const params = alg.enter(`${field}.parameters`);
    const hashEl = params.optional(ctxCons(0), `${field}.hashAlgorithm`);
    if (hashEl) hash = readHashAlgorithm(params.inside(hashEl), `${field}.hashAlgorithm`);
    const mgfEl = params.optional(ctxCons(1), `${field}.maskGenAlgorithm`);
    if (mgfEl) {
      const mgfOuter = params.inside(mgfEl);
      const mgf = mgfOuter.enter(`${field}.maskGenAlgorithm`);
      const mgfOid = mgf.oid(`${field}.maskGenAlgorithm.algorithm`);
      if (mgfOid !== OID.mgf1) supported = false;
      mgf1Hash = readHashAlgorithm(mgf, `${field}.maskGenAlgorithm.parameters`);
      mgf.end(`${field}.maskGenAlgorithm`);
      mgfOuter.end(`${field}.maskGenAlgorithm`);
    }
    const saltEl = params.optional(ctxCons(2), `${field}.saltLength`);
    if (saltEl) {
      const s = params.inside(saltEl);
      saltLength = s.smallInt(`${field}.saltLength`, 0, 1 << 16);
      s.end(`${field}.saltLength`);
      if (saltLength === 20) params.deviation('explicit-default', `${field}.saltLength`, saltEl.start);
    }
    const trailerEl = params.optional(ctxCons(3), `${field}.trailerField`);
    if (trailerEl) {
      const t = params.inside(trailerEl);
      const trailer = t.smallInt(`${field}.trailerField`, 0, 255);
      t.end(`${field}.trailerField`);
      if (trailer !== 1) supported = false;
      else params.deviation('explicit-default', `${field}.trailerField`, trailerEl.start);
    }
    params.end(`${field}.parameters`);
    alg.end(field);
    if (!supported || !hash || !mgf1Hash) return { der, oid, name: 'rsassaPss (unsupported parameters)', scheme: 'unknown' };
    return { der, oid, name: `rsassaPss(${hash}, mgf1-${mgf1Hash}, salt ${saltLength})`, scheme: 'rsa-pss', hash, pss: { mgf1Hash, saltLength } };
  }
  if (!alg.atEnd()) alg.next(`${field}.parameters`);
  alg.end(field);
  return { der, oid, name: oid, scheme: 'unknown' };
}

export type SignatureCheck =
  | { ok: true }
  | { ok: false; code: 'CHAIN_BAD_SIGNATURE' | 'CHAIN_UNSUPPORTED_ALGORITHM'; reason: string };

const KEY_TYPES: Record<SignatureScheme, string[]> = {
  'rsa-pkcs1': ['rsa'],
  'rsa-pss': ['rsa', 'rsa-pss'],
  ecdsa: ['ec'],
  ed25519: ['ed25519'],
  ed448: ['ed448'],
  unknown: [],
};

type PlannedSignature = { check: SignatureCheck } | { hash: string | null; key: VerifyKeyInput };
type VerifyKeyInput = Parameters<typeof cryptoVerify>[2];

/** What to ask node:crypto, or the answer already when the algorithm or key cannot be used. */
function planSignature(alg: SignatureAlgorithm, issuerKey: PublicKeyInfo): PlannedSignature {
  if (alg.scheme === 'unknown') return { check: { ok: false, code: 'CHAIN_UNSUPPORTED_ALGORITHM', reason: `signature algorithm ${alg.name} is not supported` } };
  if (alg.pss && alg.pss.mgf1Hash !== alg.hash) {
    return { check: { ok: false, code: 'CHAIN_UNSUPPORTED_ALGORITHM', reason: `RSASSA-PSS with MGF1-${alg.pss.mgf1Hash} and ${alg.hash} is not supported` } };
  }
  const key = publicKeyObject(issuerKey);
  if (!key) return { check: { ok: false, code: 'CHAIN_UNSUPPORTED_ALGORITHM', reason: `the issuer's ${issuerKey.algorithm} key (${issuerKey.algorithmOid}) cannot be used${issuerKey.unusable ? `: ${issuerKey.unusable}` : ''}` } };
  const keyType = key.asymmetricKeyType ?? 'unknown';
  if (!KEY_TYPES[alg.scheme].includes(keyType)) {
    return { check: { ok: false, code: 'CHAIN_BAD_SIGNATURE', reason: `signature algorithm ${alg.name} does not fit the issuer's ${keyType} key` } };
  }
  const hash = alg.scheme === 'ed25519' || alg.scheme === 'ed448' ? null : alg.hash!;
  if (alg.scheme === 'rsa-pss') return { hash, key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.pss!.saltLength } };
  if (alg.scheme === 'rsa-pkcs1') return { hash, key: { key, padding: constants.RSA_PKCS1_PADDING } };
  return { hash, key };
}

function outcome(ok: boolean): SignatureCheck {
  return ok ? { ok: true } : { ok: false, code: 'CHAIN_BAD_SIGNATURE', reason: "the signature does not verify with the issuer's public key" };
}

function thrown(err: unknown): SignatureCheck {
  // A wrongly shaped signature (bad ECDSA DER, wrong RSA length) is a bad signature, not a crash.
  return { ok: false, code: 'CHAIN_BAD_SIGNATURE', reason: `the signature does not verify (${err instanceof Error ? err.message : String(err)})` };
}

/** Verifies `signature` over `data` with the issuer's key; never throws. */
export function verifySignature(alg: SignatureAlgorithm, data: Uint8Array, signature: Uint8Array, issuerKey: PublicKeyInfo): SignatureCheck {
  const plan = planSignature(alg, issuerKey);
  if ('check' in plan) return plan.check;
  try {
    return outcome(cryptoVerify(plan.hash, data, plan.key, signature));
  } catch (err) {
    return thrown(err);
  }
}

/** verifySignature with the public-key operation on libuv's thread pool (node's callback form of crypto.verify); never rejects. */
export function verifySignatureAsync(alg: SignatureAlgorithm, data: Uint8Array, signature: Uint8Array, issuerKey: PublicKeyInfo): Promise<SignatureCheck> {
  const plan = planSignature(alg, issuerKey);
  if ('check' in plan) return Promise.resolve(plan.check);
  return new Promise((resolve) => {
    try {
      cryptoVerify(plan.hash, data, plan.key, signature, (err, ok) => resolve(err ? thrown(err) : outcome(ok)));
    } catch (err) {
      resolve(thrown(err));
    }
  });
}

export interface SignedEnvelope {
  /** a reader over the to-be-signed structure's content */
  tbs: DerReader;
  /** the to-be-signed structure exactly as sent: what the signature covers */
  tbsBytes: Uint8Array;
  signatureAlgorithm: SignatureAlgorithm;
  signature: Uint8Array;
}

/**
 * The envelope certificates and CRLs share (RFC 5280 4.1, 5.1):
 * SEQUENCE { tbs SEQUENCE, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }.
 */
export function readSignedEnvelope(der: Uint8Array, context: DerContext, outer: string, tbsName: string): SignedEnvelope {
  const top = new DerReader(der, context);
  const env = top.enter(outer);
  top.end(outer);
  const tbsEl: DerElement = env.expect(TAG.SEQUENCE, tbsName);
  const signatureAlgorithm = readSignatureAlgorithm(env, 'signatureAlgorithm');
  const sig = env.bitString('signatureValue');
  env.end(outer);
  if (sig.unusedBits !== 0) throw env.malformed('signatureValue', 'signature BIT STRING with unused bits');
  return { tbs: env.inside(tbsEl), tbsBytes: env.raw(tbsEl), signatureAlgorithm, signature: sig.bytes };
}

/** The algorithm inside the signed structure must be the one outside (RFC 5280 4.1.1.2, 5.1.1.2). */
export function readInnerSignatureAlgorithm(tbs: DerReader, field: string, outer: SignatureAlgorithm): void {
  const inner = readSignatureAlgorithm(tbs, field);
  if (Buffer.compare(inner.der, outer.der) !== 0) throw tbs.malformed(field, `differs from signatureAlgorithm (${inner.name} vs ${outer.name})`);
}
