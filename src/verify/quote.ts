// TPM 2.0 quote verification: pure and synchronous, called for every layer of
// a deep attestation walk, so it avoids copies and re-imports (the AK's
// KeyObject is loaded once by ak.ts).
//
// Order, as go-attestation and the TPM spec intend: the signature over the raw
// TPMS_ATTEST bytes with the AK first, before the message is parsed; then the
// AK's attributes (when it is a TPM public area), the magic, the type, the
// nonce in extraData, qualifiedSigner against the AK where determinable, and
// the pcrDigest recomputed from the PCR values over the selection IN THE
// SIGNED QUOTE. PCR data is only ever mapped to PCR indices by the signed
// pcrSelect: data whose own selection differs is rejected (Keylime once
// trusted the selection in its unsigned pcrblob).
//
// The pcrDigest hash is the signature scheme's hash, not the bank's: GCE
// quotes over the SHA-384 bank carry a SHA-256 pcrDigest.

import { createHash } from 'node:crypto';
import { VerificationError, type CodeTable } from '../errors.js';
import { TPM_GENERATED_VALUE, TPM_ST, type HashAlg } from '../tpm/constants.js';
import { describeName, parseTpmsAttest, type ClockInfo, type QuoteAttest } from '../tpm/attest.js';
import { mapPcrDigests } from '../tpm/pcr-formats.js';
import { formatPcrSelection, selectionOfPcrValues, type PcrSelection } from '../tpm/pcr-selection.js';
import type { PcrValues } from '../tpm/pcrs.js';
import { toHex, bytesEqual } from '../util/bytes.js';
import { attestHeaderOf, checkAkAttributes, hex16, hex32, verifyAttestSignature, verifyAttestSignatureAsync, type AttestSignature, type SignatureCodes, type SignatureOutcome } from './attest-signature.js';
import { fail, pass, type CheckResult } from './checks.js';
import type { AttestationKey } from './ak.js';

export const QUOTE_CODES = {
  QUOTE_BAD_SIGNATURE: { kind: 'verification', summary: 'the quote signature does not verify with the attestation key (or is TPM_ALG_NULL)' },
  QUOTE_MESSAGE_ALTERED: { kind: 'verification', summary: 'an RSA quote signature was made with this AK over other bytes: the message was altered after signing (ECDSA cannot tell this from QUOTE_BAD_SIGNATURE)' },
  QUOTE_KEY_TYPE_MISMATCH: { kind: 'verification', summary: 'the signature algorithm does not fit the AK type (e.g. an ECDSA signature and an RSA AK)' },
  QUOTE_SCHEME_MISMATCH: { kind: 'verification', summary: "the signature scheme or hash differs from the one the AK's TPM public area fixes" },
  QUOTE_AK_NOT_RESTRICTED: { kind: 'verification', summary: 'the AK (given as a TPM public area) is not a restricted signing key a TPM creates (sign|restricted, no decrypt, a signing scheme), so its quotes prove nothing' },
  QUOTE_AK_NOT_FIXED: { kind: 'verification', summary: 'the AK (given as a TPM public area) was not generated in the TPM and fixed to it (fixedTPM, fixedParent, sensitiveDataOrigin): its private key may exist outside a TPM' },
  QUOTE_BAD_MAGIC: { kind: 'verification', summary: 'the signed message does not start with TPM_GENERATED_VALUE (0xff544347): the TPM did not make it' },
  QUOTE_NOT_A_QUOTE: { kind: 'verification', summary: 'the signed TPMS_ATTEST is not of type TPM_ST_ATTEST_QUOTE (0x8018)' },
  QUOTE_NONCE_MISMATCH: { kind: 'verification', summary: "the quote's extraData is not the nonce the challenger sent" },
  QUOTE_SIGNER_MISMATCH: { kind: 'verification', summary: "the quote's qualifiedSigner cannot be the AK's Qualified Name (other nameAlg, or not derived from the given parent)" },
  QUOTE_PCR_SELECTION_MISMATCH: { kind: 'verification', summary: 'the PCR values given cover another selection than the one in the signed quote, or the signed quote leaves out PCRs the challenger asked for' },
  QUOTE_PCR_DIGEST_MISMATCH: { kind: 'verification', summary: "the PCR values given do not hash to the quote's signed pcrDigest" },
} as const satisfies CodeTable;

const QUOTE_SIGNATURE_CODES: SignatureCodes = {
  prefix: 'quote',
  badSignature: 'QUOTE_BAD_SIGNATURE',
  messageAltered: 'QUOTE_MESSAGE_ALTERED',
  keyTypeMismatch: 'QUOTE_KEY_TYPE_MISMATCH',
  schemeMismatch: 'QUOTE_SCHEME_MISMATCH',
};

/**
 * Bare PCR digests (`tpm2_quote -F values`) without a selection of their own:
 * verification maps them in the order of the signed pcrSelect.
 */
export interface PcrDigestList {
  kind: 'digests';
  bytes: Uint8Array;
}

export interface QuoteInput {
  ak: AttestationKey;
  /** the raw TPMS_ATTEST, exactly as signed (`tpm2_quote -m`) */
  message: Uint8Array;
  /** a marshalled TPMT_SIGNATURE, or an already parsed or plain signature */
  signature: Uint8Array | AttestSignature;
  /** the nonce the challenger sent: extraData must equal it */
  nonce: Uint8Array;
  /** PCR values to check against pcrDigest; omitted, the PCR checks are skipped (and reported as skipped) */
  pcrs?: PcrValues | PcrDigestList;
  /**
   * The Qualified Name of the AK's parent, when the caller knows it (e.g. of
   * the EK for `tpm2_createak` AKs): qualifiedSigner must then equal
   * nameAlg || H(parentQN || AK Name) exactly.
   */
  signerParentQualifiedName?: Uint8Array;
}

interface QuoteFields {
  /** the parsed quote; its signature verified with the AK */
  attest: QuoteAttest;
  /** the signed pcrSelect */
  selection: PcrSelection;
  clockInfo: ClockInfo;
  firmwareVersion: bigint;
}

/** Every check passed. Everything here is covered by the verified signature. */
export interface QuoteVerified extends QuoteFields {
  ok: true;
  checks: CheckResult[];
  /** the signature scheme's hash (the one pcrDigest uses) */
  signatureHash: HashAlg;
  /** the PCR values, verified against pcrDigest over the signed selection; absent when none were given */
  pcrs?: PcrValues;
}

/** A check failed; `attest` and the other fields are present only when the signature itself verified. */
export interface QuoteRejected extends Partial<QuoteFields> {
  ok: false;
  checks: CheckResult[];
  failure: VerificationError;
}

export type QuoteVerification = QuoteVerified | QuoteRejected;

/** Permanent handles whose Name is the handle itself: the parents of primary keys (Part 2, 7.4). */
const HIERARCHIES: readonly { name: string; handle: number }[] = [
  { name: 'owner', handle: 0x40000001 },
  { name: 'endorsement', handle: 0x4000000b },
  { name: 'platform', handle: 0x4000000c },
  { name: 'null', handle: 0x40000007 },
];

function handleBytes(h: number): Uint8Array {
  return Uint8Array.of(h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
}

/** QN(child) = nameAlg || H_nameAlg(QN(parent) || Name(child)) (TPM 2.0 Part 1, "Names": Qualified Name). */
export function qualifiedName(hash: HashAlg, parentQualifiedName: Uint8Array, name: Uint8Array): Uint8Array {
  const digest = createHash(hash.nodeName).update(parentQualifiedName).update(name).digest();
  const out = new Uint8Array(2 + digest.length);
  out[0] = hash.id >> 8;
  out[1] = hash.id & 0xff;
  out.set(digest, 2);
  return out;
}

/** The AK's Qualified Names as a primary key of each hierarchy, computed once per AK. */
const primaryQnCache = new WeakMap<AttestationKey, { name: string; qn: Uint8Array }[]>();

function primaryQualifiedNames(ak: AttestationKey, name: Uint8Array, nameAlg: HashAlg): { name: string; qn: Uint8Array }[] {
  let list = primaryQnCache.get(ak);
  if (!list) {
    list = HIERARCHIES.map((h) => ({ name: h.name, qn: qualifiedName(nameAlg, handleBytes(h.handle), name) }));
    primaryQnCache.set(ak, list);
  }
  return list;
}

/**
 * What can be known about qualifiedSigner from the AK alone. A Qualified Name
 * hashes the parent's QN, which only the TPM knows, so:
 * - AK as SubjectPublicKeyInfo: nothing (skip);
 * - AK as TPM public area: qualifiedSigner must be a digest Name using the AK's
 *   nameAlg (fail otherwise); if it equals the QN of a primary key in one of the
 *   hierarchies, that is reported; if the caller gave the parent's QN, it must
 *   match exactly.
 */
function checkSigner(ak: AttestationKey, qualifiedSigner: Uint8Array, parentQN?: Uint8Array): CheckResult {
  const id = 'quote.signer';
  const pub = ak.tpmPublic;
  if (!pub || !ak.name) return { id, status: 'skip', message: 'AK given without its TPM public area: qualifiedSigner cannot be related to it' };
  const info = describeName(qualifiedSigner);
  const nameAlg = pub.nameAlg;
  if (info.kind !== 'digest' || info.hash.id !== nameAlg.id) {
    return fail(id, 'QUOTE_SIGNER_MISMATCH', `qualifiedSigner is not a ${nameAlg.name} Qualified Name, as the AK's nameAlg requires`, {
      expected: `${hex16(nameAlg.id)} + ${nameAlg.size}-byte digest`,
      actual: toHex(qualifiedSigner),
    });
  }
  if (parentQN) {
    const expected = qualifiedName(nameAlg, parentQN, ak.name);
    if (!bytesEqual(expected, qualifiedSigner)) {
      return fail(id, 'QUOTE_SIGNER_MISMATCH', "qualifiedSigner is not the AK's Qualified Name under the given parent", { expected: toHex(expected), actual: toHex(qualifiedSigner) });
    }
    return pass(id, "qualifiedSigner is the AK's Qualified Name under the given parent");
  }
  for (const h of primaryQualifiedNames(ak, ak.name, nameAlg)) {
    if (bytesEqual(h.qn, qualifiedSigner)) {
      return pass(id, `qualifiedSigner is the AK's Qualified Name as a primary key of the ${h.name} hierarchy`);
    }
  }
  return pass(id, `qualifiedSigner uses the AK's nameAlg (${nameAlg.name}); its parent chain is not known, so the full Qualified Name is not checked`);
}

/** Bitmasks of the (bank, PCR) pairs of a selection, PCRs 0-31. */
function selectionMasks(sel: PcrSelection): Map<string, number> {
  const masks = new Map<string, number>();
  for (const b of sel.banks) {
    let m = masks.get(b.hash.name) ?? 0;
    for (const p of b.pcrs) m = (m | (1 << p)) >>> 0;
    masks.set(b.hash.name, m);
  }
  return masks;
}

/** Whether the PCR values cover exactly the signed selection: every selected PCR, nothing more. */
function valuesMatchSelection(values: PcrValues, sel: PcrSelection): boolean {
  const masks = selectionMasks(sel);
  let banks = 0;
  for (const [bank, pcrs] of values) {
    if (pcrs.size === 0) continue;
    banks++;
    let m = 0;
    for (const p of pcrs.keys()) {
      if (!Number.isInteger(p) || p < 0 || p > 31) return false;
      m = (m | (1 << p)) >>> 0;
    }
    if (masks.get(bank) !== m) return false;
  }
  let selected = 0;
  for (const m of masks.values()) if (m !== 0) selected++;
  return banks === selected;
}

/** pcrDigest as a TPM computes it: H_sig(value of each selected PCR, in selection order). */
export function computePcrDigest(hash: HashAlg, selection: PcrSelection, values: PcrValues): Buffer {
  const h = createHash(hash.nodeName);
  for (const b of selection.banks) {
    const bank = values.get(b.hash.name);
    for (const p of b.pcrs) h.update(bank!.get(p)!);
  }
  return h.digest();
}

/** Verifies a TPM 2.0 quote; see the file comment for the order of checks. Throws ParseError only for unusable input. */
export function verifyQuote(input: QuoteInput): QuoteVerification {
  // 1. The signature over the raw bytes, before anything of the message is read.
  return checkSignedQuote(input, verifyAttestSignature(input.ak, input.message, input.signature, QUOTE_SIGNATURE_CODES));
}

/**
 * verifyQuote with the signature's public-key operation on libuv's thread
 * pool (a fleet audit verifies thousands of quotes a second and its event
 * loop has other work): the same checks in the same order, the same outcome.
 */
export async function verifyQuoteAsync(input: QuoteInput): Promise<QuoteVerification> {
  return checkSignedQuote(input, await verifyAttestSignatureAsync(input.ak, input.message, input.signature, QUOTE_SIGNATURE_CODES));
}

/** Steps 2-6, once the signature's outcome is known. */
function checkSignedQuote(input: QuoteInput, sig: SignatureOutcome): QuoteVerification {
  const { ak, message, nonce } = input;
  const checks = sig.checks;
  if (sig.failure) return { ok: false, checks, failure: sig.failure };

  const reject = (check: CheckResult, fields?: QuoteFields): QuoteRejected => {
    checks.push(check);
    const failure = new VerificationError(check.code!, check.message, { check: check.id, expected: check.expected, actual: check.actual });
    return fields ? { ok: false, checks, failure, ...fields } : { ok: false, checks, failure };
  };

  // 2. A TPM public area AK must be a restricted signing key.
  const attrs = checkAkAttributes(ak, 'quote', { notRestricted: 'QUOTE_AK_NOT_RESTRICTED', notFixed: 'QUOTE_AK_NOT_FIXED' });
  if (attrs?.status === 'fail') return reject(attrs);
  if (attrs) checks.push(attrs);

  // 3. Magic and type from the raw bytes: a signed message need not be a TPMS_ATTEST at all.
  const { magic, type } = attestHeaderOf(message);
  if (magic !== TPM_GENERATED_VALUE) {
    return reject(fail('quote.magic', 'QUOTE_BAD_MAGIC', 'the signed message is not TPM-generated (magic is not TPM_GENERATED_VALUE)', { expected: hex32(TPM_GENERATED_VALUE), actual: hex32(magic) }));
  }
  checks.push(pass('quote.magic', 'magic is TPM_GENERATED_VALUE'));
  if (type !== TPM_ST.ATTEST_QUOTE) {
    return reject(fail('quote.type', 'QUOTE_NOT_A_QUOTE', 'the signed TPMS_ATTEST is not a quote', { expected: hex16(TPM_ST.ATTEST_QUOTE), actual: hex16(type) }));
  }
  checks.push(pass('quote.type', 'type is TPM_ST_ATTEST_QUOTE'));

  const attest = parseTpmsAttest(message) as QuoteAttest;
  const selection = attest.quote.pcrSelect;
  const fields: QuoteFields = { attest, selection, clockInfo: attest.clockInfo, firmwareVersion: attest.firmwareVersion };

  // 4. Freshness: extraData is our nonce.
  if (!bytesEqual(attest.extraData, nonce)) {
    return reject(fail('quote.nonce', 'QUOTE_NONCE_MISMATCH', 'extraData is not the nonce sent', { expected: toHex(nonce), actual: toHex(attest.extraData) }), fields);
  }
  checks.push(pass('quote.nonce', `extraData is the nonce (${nonce.length} bytes)`));

  // 5. qualifiedSigner against the AK, where determinable.
  const signer = checkSigner(ak, attest.qualifiedSigner, input.signerParentQualifiedName);
  if (signer.status === 'fail') return reject(signer, fields);
  checks.push(signer);

  // 6. PCR values over the signed selection.
  if (input.pcrs === undefined) {
    checks.push({ id: 'quote.pcr-selection', status: 'skip', message: 'no PCR values given' });
    checks.push({ id: 'quote.pcr-digest', status: 'skip', message: 'no PCR values given: pcrDigest not checked' });
    return { ok: true, checks, signatureHash: sig.hash!, ...fields };
  }
  let values: PcrValues;
  if (input.pcrs instanceof Map) {
    values = input.pcrs;
    if (!valuesMatchSelection(values, selection)) {
      return reject(
        fail('quote.pcr-selection', 'QUOTE_PCR_SELECTION_MISMATCH', 'the PCR values cover another selection than the signed quote', {
          expected: formatPcrSelection(selection),
          actual: formatPcrSelection(selectionOfPcrValues(values)),
        }),
        fields,
      );
    }
    checks.push(pass('quote.pcr-selection', `PCR values cover exactly the signed selection ${formatPcrSelection(selection)}`));
  } else {
    // Bare digests: the signed selection alone says which PCR each one is.
    const bytes = input.pcrs.bytes;
    let need = 0;
    for (const b of selection.banks) need += b.pcrs.length * b.hash.size;
    if (bytes.length !== need) {
      return reject(
        fail('quote.pcr-selection', 'QUOTE_PCR_SELECTION_MISMATCH', `the ${bytes.length} bytes of PCR values do not fit the signed selection ${formatPcrSelection(selection)}`, {
          expected: `${need} bytes`,
          actual: `${bytes.length} bytes`,
        }),
        fields,
      );
    }
    values = mapPcrDigests(bytes, selection);
    checks.push(pass('quote.pcr-selection', `PCR values mapped by the signed selection ${formatPcrSelection(selection)}`));
  }
  const digest = computePcrDigest(sig.hash!, selection, values);
  if (!bytesEqual(digest, attest.quote.pcrDigest)) {
    return reject(
      fail('quote.pcr-digest', 'QUOTE_PCR_DIGEST_MISMATCH', `the PCR values do not hash (${sig.hash!.name}) to the signed pcrDigest`, {
        expected: toHex(attest.quote.pcrDigest),
        actual: toHex(digest),
      }),
      fields,
    );
  }
  checks.push(pass('quote.pcr-digest', `PCR values hash (${sig.hash!.name}) to the signed pcrDigest`));
  return { ok: true, checks, signatureHash: sig.hash!, pcrs: values, ...fields };
}
