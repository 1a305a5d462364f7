// TPMT_SIGNATURE (TPM 2.0 Part 2, 11.3.4): what `tpm2_quote -s` writes in its
// default "tss" format. Supported: RSASSA and RSAPSS (TPMS_SIGNATURE_RSA),
// ECDSA (TPMS_SIGNATURE_ECC), each with SHA-1/256/384/512, and TPM_ALG_NULL,
// which parses (a TPM can return it) but never verifies.

import { ParseError } from '../errors.js';
import { LIMITS, TPM_ALG, algName, hashById, type HashAlg } from './constants.js';
import { TpmReader } from './reader.js';

/** Hashes a TPM signature may use here: the SHA-2 family and SHA-1. */
const SIGNATURE_HASHES: ReadonlySet<number> = new Set([TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384, TPM_ALG.SHA512]);

export interface RsaSignature {
  scheme: 'rsassa' | 'rsapss';
  /** TPMI_ALG_SIG_SCHEME sigAlg */
  sigAlg: number;
  hash: HashAlg;
  /** TPM2B_PUBLIC_KEY_RSA sig */
  sig: Uint8Array;
  raw: Uint8Array;
}

export interface EcdsaSignature {
  scheme: 'ecdsa';
  sigAlg: number;
  hash: HashAlg;
  /** TPM2B_ECC_PARAMETER signatureR: may be shorter than the curve size */
  r: Uint8Array;
  /** TPM2B_ECC_PARAMETER signatureS: may be shorter than the curve size, and high-S */
  s: Uint8Array;
  raw: Uint8Array;
}

export interface NullSignature {
  scheme: 'null';
  sigAlg: number;
  raw: Uint8Array;
}

export type TpmtSignature = RsaSignature | EcdsaSignature | NullSignature;

/** A TPMI_ALG_HASH that a signature may use, else TPM_UNSUPPORTED_ALG. */
export function signatureHash(r: TpmReader, id: number, field: string): HashAlg {
  const hash = SIGNATURE_HASHES.has(id) ? hashById(id) : undefined;
  if (!hash) {
    throw new ParseError('TPM_UNSUPPORTED_ALG', `${r.what}: ${field}: hash ${algName(id)} is not supported for signatures (sha1, sha256, sha384, sha512)`, {
      structure: r.what,
      field,
      offset: r.offset - 2,
      alg: id,
    });
  }
  return hash;
}

/** Reads a TPMT_SIGNATURE at the reader's position. */
export function readTpmtSignature(r: TpmReader): TpmtSignature {
  const start = r.offset;
  // TPMI_ALG_SIG_SCHEME+ sigAlg
  const sigAlg = r.u16('sigAlg');
  switch (sigAlg) {
    case TPM_ALG.RSASSA:
    case TPM_ALG.RSAPSS: {
      // TPMS_SIGNATURE_RSA: TPMI_ALG_HASH hash, TPM2B_PUBLIC_KEY_RSA sig
      const hash = signatureHash(r, r.u16('signature.hash'), 'signature.hash');
      const sig = r.tpm2b('signature.sig', LIMITS.rsaKey);
      return { scheme: sigAlg === TPM_ALG.RSASSA ? 'rsassa' : 'rsapss', sigAlg, hash, sig, raw: r.bytesSince(start) };
    }
    case TPM_ALG.ECDSA: {
      // TPMS_SIGNATURE_ECC: TPMI_ALG_HASH hash, TPM2B_ECC_PARAMETER signatureR, signatureS
      const hash = signatureHash(r, r.u16('signature.hash'), 'signature.hash');
      const sr = r.tpm2b('signature.signatureR', LIMITS.eccParameter);
      const ss = r.tpm2b('signature.signatureS', LIMITS.eccParameter);
      return { scheme: 'ecdsa', sigAlg, hash, r: sr, s: ss, raw: r.bytesSince(start) };
    }
    case TPM_ALG.NULL:
      // TPMU_SIGNATURE is empty for TPM_ALG_NULL
      return { scheme: 'null', sigAlg, raw: r.bytesSince(start) };
    default:
      throw new ParseError('TPM_UNSUPPORTED_ALG', `${r.what}: sigAlg ${algName(sigAlg)} is not supported (rsassa, rsapss, ecdsa, null)`, {
        structure: r.what,
        field: 'sigAlg',
        offset: start,
        alg: sigAlg,
      });
  }
}

/** Parses bytes holding exactly one TPMT_SIGNATURE. */
export function parseTpmtSignature(bytes: Uint8Array): TpmtSignature {
  const r = new TpmReader(bytes, 'TPMT_SIGNATURE');
  const sig = readTpmtSignature(r);
  r.end();
  return sig;
}
