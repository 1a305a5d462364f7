// Signature verification over the raw bytes a TPM signed (a marshalled
// TPMS_ATTEST), with an attestation key. Shared by quote verification and by
// the other attestation types (CERTIFY, CREATION, ...), which
// verifySignedAttest covers: signature first, then magic, type and extraData.
//
// TPM facts this relies on: ECDSA signatures are not low-S normalized (high-S
// is valid; node:crypto accepts it), r and s are TPM2B values that can be
// shorter than the curve size (left-padded here for IEEE P1363), and TPMs
// differ in RSA-PSS salt length (node's auto salt length accepts both).

import { constants, createHash, verify, type VerifyKeyObjectInput } from 'node:crypto';
import { ParseError, VerificationError, type CodeTable } from '../errors.js';
import { TPM_ALG, TPM_GENERATED_VALUE, algName, type HashAlg } from '../tpm/constants.js';
import { parseTpmsAttest, type AttestKind, type TpmsAttest } from '../tpm/attest.js';
import { parseTpmtSignature, type TpmtSignature } from '../tpm/signature.js';
import { OBJECT_ATTRIBUTES } from '../tpm/public.js';
import { toHex, bytesEqual } from '../util/bytes.js';
import { fail, pass, type CheckResult } from './checks.js';
import type { AttestationKey } from './ak.js';
import { diagnoseRsaFailure, signedPkcs1Digest } from './rsa-diagnosis.js';

export const ATTEST_CODES = {
  ATTEST_BAD_SIGNATURE: { kind: 'verification', summary: 'the signature over a TPMS_ATTEST (certify, creation, ...) does not verify with the key' },
  ATTEST_MESSAGE_ALTERED: { kind: 'verification', summary: 'an RSA signature over a TPMS_ATTEST was made with this key over other bytes: the message was altered after signing' },
  ATTEST_KEY_TYPE_MISMATCH: { kind: 'verification', summary: 'the signature algorithm does not fit the key type (e.g. ECDSA signature, RSA key)' },
  ATTEST_SCHEME_MISMATCH: { kind: 'verification', summary: "the signature scheme or hash differs from the one the key's TPM public area fixes" },
  ATTEST_KEY_NOT_RESTRICTED: { kind: 'verification', summary: 'the signing key is not a restricted signing key a TPM creates (sign|restricted, no decrypt, a signing scheme), so it could have signed a forged TPMS_ATTEST' },
  ATTEST_KEY_NOT_FIXED: { kind: 'verification', summary: 'the signing key was not generated in the TPM and fixed to it (fixedTPM, fixedParent, sensitiveDataOrigin): its private key may exist outside a TPM' },
  ATTEST_BAD_MAGIC: { kind: 'verification', summary: 'the signed structure does not start with TPM_GENERATED_VALUE (0xff544347): the TPM did not make it' },
  ATTEST_WRONG_TYPE: { kind: 'verification', summary: 'the TPMS_ATTEST is of another type than expected' },
  ATTEST_EXTRA_DATA_MISMATCH: { kind: 'verification', summary: 'the extraData (qualifying data) of the TPMS_ATTEST is not the expected value' },
} as const satisfies CodeTable;

/**
 * A signature that is not a TPMT_SIGNATURE (`tpm2_quote -f plain`, Azure's raw
 * RSA, WebAuthn's attStmt.sig): DER ECDSA or raw RSA bytes, with the hash
 * given out of band. RSA uses the padding the AK's TPM public area fixes;
 * when nothing fixes it (an SPKI AK, a NULL scheme), PKCS#1 v1.5 or PSS.
 */
export interface PlainSignature {
  scheme: 'plain';
  hash: HashAlg;
  bytes: Uint8Array;
}

export type AttestSignature = TpmtSignature | PlainSignature;

/** Which code family a check reports with: "QUOTE_" for quotes, "ATTEST_" for other attestations. */
export interface SignatureCodes {
  prefix: string;
  badSignature: string;
  /** an RSA signature made by this key over other bytes: the message was altered */
  messageAltered: string;
  keyTypeMismatch: string;
  schemeMismatch: string;
}

export const ATTEST_SIGNATURE_CODES: SignatureCodes = {
  prefix: 'attest',
  badSignature: 'ATTEST_BAD_SIGNATURE',
  messageAltered: 'ATTEST_MESSAGE_ALTERED',
  keyTypeMismatch: 'ATTEST_KEY_TYPE_MISMATCH',
  schemeMismatch: 'ATTEST_SCHEME_MISMATCH',
};

export interface SignatureOutcome {
  /** the hash of the signature scheme: a quote's pcrDigest uses it */
  hash?: HashAlg;
  checks: CheckResult[];
  failure?: VerificationError;
}

function schemeLabel(sig: AttestSignature): string {
  return sig.scheme === 'null' ? 'null' : sig.scheme === 'plain' ? `plain-${sig.hash.name}` : `${sig.scheme}-${sig.hash.name}`;
}

function failed(checks: CheckResult[], check: CheckResult, message: string, details: Record<string, unknown>): SignatureOutcome {
  checks.push(check);
  return { checks, failure: new VerificationError(check.code!, message, { check: check.id, ...details }) };
}

/** Left-pads r and s to the curve size and concatenates them (IEEE P1363); null if either is too long. */
function p1363(r: Uint8Array, s: Uint8Array, size: number): Buffer | null {
  let rs = r;
  let ss = s;
  // A TPM2B may carry leading zero bytes beyond the curve size; they do not change the value.
  while (rs.length > size && rs[0] === 0) rs = rs.subarray(1);
  while (ss.length > size && ss[0] === 0) ss = ss.subarray(1);
  if (rs.length > size || ss.length > size) return null;
  const out = Buffer.alloc(2 * size);
  out.set(rs, size - rs.length);
  out.set(ss, 2 * size - ss.length);
  return out;
}

function cryptoVerify(hash: HashAlg, message: Uint8Array, key: VerifyKeyObjectInput, sig: Uint8Array): boolean {
  try {
    return verify(hash.nodeName, message, key, sig);
  } catch {
    // OpenSSL throws on some malformed signatures (wrong length, bad DER): that is a failed verification.
    return false;
  }
}

/**
 * One signature verification, planned: what node:crypto is asked, and what to
 * say about the outcome. Planning and judging are pure; only the crypto call
 * between them runs either here (sync) or on libuv's thread pool (async), so
 * a fleet audit's event loop does not spend its time in ECDSA.
 */
interface SignatureJob {
  hash: HashAlg;
  message: Uint8Array;
  /** null: the signature cannot even be encoded for the curve (r or s too long): it fails */
  key: VerifyKeyObjectInput | null;
  bytes: Uint8Array;
  ak: AttestationKey;
  sig: Exclude<AttestSignature, { scheme: 'null' }>;
  pss: boolean;
  /**
   * A plain RSA signature whose padding nothing fixes (an SPKI AK, or a TPM
   * public area with a NULL scheme): PKCS#1 v1.5 is tried first, then PSS.
   * Set by runJob to the padding that verified.
   */
  eitherPadding: boolean;
  codes: SignatureCodes;
  checks: CheckResult[];
}

/**
 * Checks that the signature fits the AK (key type, and the scheme its TPM
 * public area fixes, if any): either an outcome already (a misfit), or the
 * crypto job to run.
 */
function planSignatureCheck(ak: AttestationKey, message: Uint8Array, signature: Uint8Array | AttestSignature, codes: SignatureCodes): SignatureOutcome | SignatureJob {
  const sig: AttestSignature = signature instanceof Uint8Array ? parseTpmtSignature(signature) : signature;
  const checks: CheckResult[] = [];
  const keyId = `${codes.prefix}.key-type`;
  const sigId = `${codes.prefix}.signature`;

  if (sig.scheme === 'null') {
    return failed(checks, fail(sigId, codes.badSignature, 'the signature is TPM_ALG_NULL: the TPM did not sign', { expected: 'a signature', actual: 'null' }), 'TPM_ALG_NULL signature: nothing was signed', {
      expected: 'a signature',
      actual: 'null',
    });
  }

  // Key type: RSA schemes need an RSA key, ECDSA an EC key.
  const sigKeyType = sig.scheme === 'plain' ? ak.keyType : sig.scheme === 'ecdsa' ? 'ec' : 'rsa';
  if (sigKeyType !== ak.keyType) {
    const expected = ak.keyType === 'rsa' ? 'rsassa or rsapss (RSA key)' : 'ecdsa (EC key)';
    return failed(checks, fail(keyId, codes.keyTypeMismatch, `a ${sig.scheme} signature cannot come from the ${ak.description} AK`, { expected, actual: schemeLabel(sig) }), `signature scheme ${sig.scheme} does not fit the ${ak.description} attestation key`, {
      expected,
      actual: schemeLabel(sig),
      akType: ak.description,
    });
  }

  // The scheme a TPM key fixes: a TPM never signs with that key under another scheme or hash.
  const fixed = ak.tpmPublic?.scheme;
  // A plain signature names no scheme: it is checked as the one the key fixes, and only rsassa, rsapss
  // and ecdsa can be checked. A key fixing SM2, EC-Schnorr or ECDAA signs nothing ECDSA would accept, so
  // its plain signature is unusable input, exactly as its TPMT_SIGNATURE is, not a forged one. A key fixing a
  // scheme that signs nothing (ECDH, RSAES, OAEP) is no AK at all: the checks below refuse it as such.
  if (sig.scheme === 'plain' && fixed && SIGNING_SCHEMES.has(fixed.scheme) && !PLAIN_CHECKABLE_SCHEMES.has(fixed.scheme)) {
    throw new ParseError('TPM_UNSUPPORTED_ALG', `the AK's TPM public area fixes ${algName(fixed.scheme)} signatures: a plain signature can only be checked as rsassa, rsapss or ecdsa`, {
      scheme: algName(fixed.scheme),
    });
  }
  let pss = false;
  if (sig.scheme === 'plain') pss = fixed?.scheme === TPM_ALG.RSAPSS;
  else pss = sig.scheme === 'rsapss';
  // plain RSA bytes whose padding nothing fixes: a TPM signs with PKCS#1 v1.5 or PSS (tpm2_quote -f plain with an RSAPSS AK)
  const eitherPadding = sig.scheme === 'plain' && ak.keyType === 'rsa' && !fixed;
  if (fixed) {
    // a plain signature names no scheme, but its hash (--hash) must still be the one the key fixes
    const sameScheme = sig.scheme === 'plain' || fixed.scheme === sig.sigAlg;
    const sameHash = !fixed.hash || fixed.hash.id === sig.hash.id;
    if (!sameScheme || !sameHash) {
      const expected = `${algName(fixed.scheme)}-${fixed.hash?.name ?? 'any'}`;
      return failed(checks, fail(keyId, codes.schemeMismatch, `the AK's TPM public area fixes ${expected}, the signature is ${schemeLabel(sig)}`, { expected, actual: schemeLabel(sig) }), `signature scheme ${schemeLabel(sig)} differs from the AK's fixed scheme ${expected}`, {
        expected,
        actual: schemeLabel(sig),
      });
    }
  }
  checks.push(pass(keyId, `${schemeLabel(sig)} signature fits the ${ak.description} AK`));

  const job = { hash: sig.hash, message, ak, sig, pss, eitherPadding, codes, checks };
  if (sig.scheme === 'ecdsa') {
    const raw = p1363(sig.r, sig.s, ak.scalarSize);
    return { ...job, key: raw === null ? null : { key: ak.key, dsaEncoding: 'ieee-p1363' }, bytes: raw ?? new Uint8Array(0) };
  }
  if (sig.scheme === 'plain' && ak.keyType === 'ec') return { ...job, key: { key: ak.key, dsaEncoding: 'der' }, bytes: sig.bytes };
  const bytes = sig.scheme === 'plain' ? sig.bytes : sig.sig;
  return { ...job, key: rsaKey(ak, pss), bytes };
}

function rsaKey(ak: AttestationKey, pss: boolean): VerifyKeyObjectInput {
  return pss
    ? { key: ak.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
    : { key: ak.key, padding: constants.RSA_PKCS1_PADDING };
}

function isJob(plan: SignatureOutcome | SignatureJob): plan is SignatureJob {
  return 'codes' in plan;
}

function runJob(job: SignatureJob): boolean {
  if (job.key === null) return false;
  if (cryptoVerify(job.hash, job.message, job.key, job.bytes)) return true;
  if (!job.eitherPadding || !cryptoVerify(job.hash, job.message, rsaKey(job.ak, true), job.bytes)) return false;
  job.pss = true;
  return true;
}

/** The same verification on libuv's thread pool (node's callback form of crypto.verify). */
function runJobAsync(job: SignatureJob): Promise<boolean> {
  const key = job.key;
  if (key === null) return Promise.resolve(false);
  const once = (k: VerifyKeyObjectInput): Promise<boolean> =>
    new Promise((resolve) => {
      try {
        // an error (malformed signature) is a failed verification, as in cryptoVerify
        verify(job.hash.nodeName, job.message, k, job.bytes, (err, ok) => resolve(err === null && ok));
      } catch {
        resolve(false);
      }
    });
  return once(key).then(async (ok) => {
    if (ok || !job.eitherPadding || !(await once(rsaKey(job.ak, true)))) return ok;
    job.pss = true;
    return true;
  });
}

/** What the crypto outcome means: pass, a bad signature, or (RSA) a signature over other bytes. */
function judgeSignature(job: SignatureJob, ok: boolean): SignatureOutcome {
  const { ak, sig, pss, codes, checks } = job;
  const sigId = `${codes.prefix}.signature`;
  const rsaPlain = pss ? 'rsapss' : job.eitherPadding && !ok ? 'rsassa/rsapss' : 'rsassa';
  const label = sig.scheme === 'plain' ? `${ak.keyType === 'rsa' ? rsaPlain : 'ecdsa'}-${sig.hash.name} (plain)` : schemeLabel(sig);
  const rsaBytes = sig.scheme === 'plain' ? sig.bytes : (sig as { sig: Uint8Array }).sig;
  const otherMessage = (usePss: boolean) => diagnoseRsaFailure(ak.key, rsaBytes, sig.hash, usePss, ak.rsaBits) === 'other-message';
  if (!ok && ak.keyType === 'rsa' && (otherMessage(pss) || (job.eitherPadding && otherMessage(true)))) {
    const message = `the ${label} signature was made with this AK, but over other bytes: the message was altered after it was signed (or the signature belongs to another message)`;
    // PKCS#1 v1.5 carries the digest it signed: name both digests. PSS hides it (only a hash of it, salted).
    const signedDigest = pss ? null : signedPkcs1Digest(ak.key, rsaBytes, sig.hash, ak.rsaBits);
    const givenDigest = createHash(sig.hash.nodeName).update(job.message).digest();
    const expected = signedDigest ? `${sig.hash.name} ${toHex(signedDigest)} (the digest this signature covers)` : 'the signed message (RSA-PSS does not reveal its digest)';
    const actual = `${sig.hash.name} ${toHex(givenDigest)} (the digest of the message given)`;
    return failed(checks, fail(sigId, codes.messageAltered, message, { expected, actual }), message, {
      scheme: label,
      ak: ak.description,
      expected,
      actual,
    });
  }
  const modulusBytes = ak.rsaBits / 8;
  if (!ok && ak.keyType === 'rsa' && rsaBytes.length !== modulusBytes) {
    const message = `the ${label} signature is ${rsaBytes.length} bytes, but every signature of the ${ak.description} AK is ${modulusBytes} bytes (leading zero bytes included)`;
    return failed(checks, fail(sigId, codes.badSignature, message, { expected: `${modulusBytes} bytes`, actual: `${rsaBytes.length} bytes` }), message, {
      scheme: label,
      ak: ak.description,
      expected: `${modulusBytes} bytes`,
      actual: `${rsaBytes.length} bytes`,
    });
  }
  if (!ok) {
    return failed(checks, fail(sigId, codes.badSignature, `the ${label} signature does not verify with the ${ak.description} AK`, { expected: 'valid', actual: 'invalid' }), `signature (${label}) does not verify with the ${ak.description} attestation key`, {
      scheme: label,
      ak: ak.description,
      expected: 'valid',
      actual: 'invalid',
    });
  }
  checks.push(pass(sigId, `${label} signature verifies with the ${ak.description} AK`));
  return { hash: sig.hash, checks };
}

/**
 * Checks that the signature fits the AK (key type, and the scheme its TPM
 * public area fixes, if any), then verifies it over `message` exactly as
 * given. `signature` as bytes is a marshalled TPMT_SIGNATURE.
 */
export function verifyAttestSignature(ak: AttestationKey, message: Uint8Array, signature: Uint8Array | AttestSignature, codes: SignatureCodes = ATTEST_SIGNATURE_CODES): SignatureOutcome {
  const plan = planSignatureCheck(ak, message, signature, codes);
  return isJob(plan) ? judgeSignature(plan, runJob(plan)) : plan;
}

/** verifyAttestSignature with the public-key operation on libuv's thread pool: same checks, same outcome. */
export async function verifyAttestSignatureAsync(
  ak: AttestationKey,
  message: Uint8Array,
  signature: Uint8Array | AttestSignature,
  codes: SignatureCodes = ATTEST_SIGNATURE_CODES,
): Promise<SignatureOutcome> {
  const plan = planSignatureCheck(ak, message, signature, codes);
  return isJob(plan) ? judgeSignature(plan, await runJobAsync(plan)) : plan;
}

/** Schemes a plain signature (DER ECDSA, raw RSA) can be checked as. */
const PLAIN_CHECKABLE_SCHEMES: ReadonlySet<number> = new Set([TPM_ALG.RSASSA, TPM_ALG.RSAPSS, TPM_ALG.ECDSA]);

/** Schemes a TPM lets a restricted signing key fix (a decryption or key-exchange scheme it refuses). */
const SIGNING_SCHEMES: ReadonlySet<number> = new Set([TPM_ALG.RSASSA, TPM_ALG.RSAPSS, TPM_ALG.ECDSA, TPM_ALG.ECDAA, TPM_ALG.SM2, TPM_ALG.ECSCHNORR]);
const FIXED_IN_TPM = OBJECT_ATTRIBUTES.fixedTPM | OBJECT_ATTRIBUTES.fixedParent | OBJECT_ATTRIBUTES.sensitiveDataOrigin;

/**
 * When the AK came as a TPM public area: it must be a restricted signing key
 * a TPM would create, whose private key never left it.
 * - An unrestricted key signs any digest, including one of a forged
 *   TPMS_ATTEST that starts with TPM_GENERATED_VALUE, so its "quotes" prove
 *   nothing. A TPM creates no restricted key that both signs and decrypts,
 *   and no restricted signing key without a signing scheme (TPM_RC_SCHEME);
 *   with a NULL scheme the signature's scheme and hash would go unchecked.
 * - Without fixedTPM, fixedParent and sensitiveDataOrigin the key was
 *   imported or can be duplicated: its private key may exist outside a TPM.
 */
export function checkAkAttributes(ak: AttestationKey, prefix: string, codes: { notRestricted: string; notFixed: string }): CheckResult | undefined {
  const pub = ak.tpmPublic;
  if (!pub) return undefined;
  const id = `${prefix}.ak-attributes`;
  const attrs = `0x${pub.objectAttributes.toString(16).padStart(8, '0')}`;
  const need = OBJECT_ATTRIBUTES.sign | OBJECT_ATTRIBUTES.restricted;
  if ((pub.objectAttributes & need) !== need) {
    return fail(id, codes.notRestricted, 'the AK is not a restricted signing key: it could have signed a forged TPMS_ATTEST', { expected: 'sign|restricted', actual: attrs });
  }
  if (pub.objectAttributes & OBJECT_ATTRIBUTES.decrypt) {
    return fail(id, codes.notRestricted, 'the AK is a restricted key that also decrypts: no TPM creates one, so it is not a TPM\'s attestation key', { expected: 'sign|restricted without decrypt', actual: attrs });
  }
  if (!pub.scheme || !SIGNING_SCHEMES.has(pub.scheme.scheme)) {
    return fail(id, codes.notRestricted, `the AK fixes ${pub.scheme ? `the non-signing scheme ${algName(pub.scheme.scheme)}` : 'no signing scheme (TPM_ALG_NULL)'}: a TPM creates no such restricted signing key`, {
      expected: 'a signing scheme (rsassa, rsapss, ecdsa, ...)',
      actual: pub.scheme ? algName(pub.scheme.scheme) : 'null',
    });
  }
  if ((pub.objectAttributes & FIXED_IN_TPM) !== FIXED_IN_TPM) {
    const missing = (['fixedTPM', 'fixedParent', 'sensitiveDataOrigin'] as const).filter((bit) => (pub.objectAttributes & OBJECT_ATTRIBUTES[bit]) === 0);
    return fail(id, codes.notFixed, `the AK was not generated in the TPM and bound to it (${missing.join(', ')} clear): its private key may exist outside a TPM, so its quotes prove nothing`, {
      expected: 'fixedTPM|fixedParent|sensitiveDataOrigin',
      actual: attrs,
    });
  }
  return pass(id, `the AK is a restricted signing key (${algName(pub.scheme.scheme)}) generated in its TPM and fixed to it`);
}

/** Reads the magic and type of a signed TPMS_ATTEST before any full parse (the bytes may not be one). */
export function attestHeaderOf(message: Uint8Array): { magic: number | undefined; type: number | undefined } {
  const magic = message.length >= 4 ? ((message[0]! << 24) >>> 0) + ((message[1]! << 16) | (message[2]! << 8) | message[3]!) : undefined;
  const type = message.length >= 6 ? (message[4]! << 8) | message[5]! : undefined;
  return { magic, type };
}

export function hex32(v: number | undefined): string {
  return v === undefined ? '(missing)' : v.toString(16).padStart(8, '0');
}

export function hex16(v: number | undefined): string {
  return v === undefined ? '(missing)' : v.toString(16).padStart(4, '0');
}

export type SignedAttestVerification =
  | { ok: true; checks: CheckResult[]; attest: TpmsAttest; hash: HashAlg }
  | { ok: false; checks: CheckResult[]; failure: VerificationError; attest?: TpmsAttest };

/**
 * Verifies any signed TPMS_ATTEST (CERTIFY, CREATION, ...): signature with the
 * key first, then (when the key is a TPM public area) its attributes, then
 * magic, the expected type and the expected extraData when given. A signed
 * message that does not parse as TPMS_ATTEST throws ParseError.
 */
export function verifySignedAttest(
  ak: AttestationKey,
  message: Uint8Array,
  signature: Uint8Array | AttestSignature,
  expect: { type?: AttestKind; extraData?: Uint8Array; requireRestricted?: boolean } = {},
): SignedAttestVerification {
  const sigOutcome = verifyAttestSignature(ak, message, signature, ATTEST_SIGNATURE_CODES);
  const checks = sigOutcome.checks;
  if (sigOutcome.failure) return { ok: false, checks, failure: sigOutcome.failure };
  const reject = (check: CheckResult, attest?: TpmsAttest): SignedAttestVerification => {
    checks.push(check);
    const failure = new VerificationError(check.code!, check.message, { check: check.id, expected: check.expected, actual: check.actual });
    return attest ? { ok: false, checks, failure, attest } : { ok: false, checks, failure };
  };
  if (expect.requireRestricted !== false) {
    const attrs = checkAkAttributes(ak, 'attest', { notRestricted: 'ATTEST_KEY_NOT_RESTRICTED', notFixed: 'ATTEST_KEY_NOT_FIXED' });
    if (attrs?.status === 'fail') return reject(attrs);
    if (attrs) checks.push(attrs);
  }
  const { magic } = attestHeaderOf(message);
  if (magic !== TPM_GENERATED_VALUE) {
    return reject(fail('attest.magic', 'ATTEST_BAD_MAGIC', 'the signed structure is not TPM-generated', { expected: hex32(TPM_GENERATED_VALUE), actual: hex32(magic) }));
  }
  checks.push(pass('attest.magic', 'magic is TPM_GENERATED_VALUE'));
  const attest = parseTpmsAttest(message);
  if (expect.type && attest.kind !== expect.type) {
    return reject(fail('attest.type', 'ATTEST_WRONG_TYPE', `the TPMS_ATTEST is ${attest.kind}, expected ${expect.type}`, { expected: expect.type, actual: attest.kind }), attest);
  }
  checks.push(pass('attest.type', `type is ${attest.kind} (0x${hex16(attest.type)})`));
  if (expect.extraData) {
    if (!bytesEqual(attest.extraData, expect.extraData)) {
      return reject(fail('attest.extra-data', 'ATTEST_EXTRA_DATA_MISMATCH', 'extraData is not the expected value', { expected: toHex(expect.extraData), actual: toHex(attest.extraData) }), attest);
    }
    checks.push(pass('attest.extra-data', 'extraData is the expected value'));
  }
  return { ok: true, checks, attest, hash: sigOutcome.hash! };
}
