// TPM 2.0 Library Specification, Part 2 (Structures) constants that vtpm-verify
// needs. Values from Part 2 tables 9 (TPM_ALG_ID), 10 (TPM_ECC_CURVE),
// 19 (TPM_ST) and 7 (TPM_GENERATED).

export const TPM_GENERATED_VALUE = 0xff544347;

export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  SM4: 0x0013,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  ECMQV: 0x001d,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CAMELLIA: 0x0026,
  SHA3_256: 0x0027,
  SHA3_384: 0x0028,
  SHA3_512: 0x0029,
  CTR: 0x0040,
  OFB: 0x0041,
  CBC: 0x0042,
  CFB: 0x0043,
  ECB: 0x0044,
} as const;

const ALG_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(TPM_ALG).map(([name, id]) => [id, name.toLowerCase()]),
);

/** A readable name for a TPM_ALG_ID, e.g. "sha256" or "0x1234". */
export function algName(id: number): string {
  return ALG_NAMES.get(id) ?? `0x${id.toString(16).padStart(4, '0')}`;
}

export const TPM_ST = {
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
  ATTEST_NV_DIGEST: 0x801c,
} as const;

export const TPM_ECC_CURVE = {
  NIST_P192: 0x0001,
  NIST_P224: 0x0002,
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
  BN_P256: 0x0010,
  BN_P638: 0x0011,
  SM2_P256: 0x0020,
} as const;

/** A hash algorithm a PCR bank, a signature scheme or a Name may use. */
export interface HashAlg {
  /** TPM_ALG_ID */
  id: number;
  /** our name for it, also the bank name in JSON: "sha256" */
  name: HashName;
  /** the name node:crypto knows it by */
  nodeName: string;
  /** digest size in bytes */
  size: number;
}

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512' | 'sm3_256' | 'sha3_256' | 'sha3_384' | 'sha3_512';

export const HASH_ALGS: readonly HashAlg[] = [
  { id: TPM_ALG.SHA1, name: 'sha1', nodeName: 'sha1', size: 20 },
  { id: TPM_ALG.SHA256, name: 'sha256', nodeName: 'sha256', size: 32 },
  { id: TPM_ALG.SHA384, name: 'sha384', nodeName: 'sha384', size: 48 },
  { id: TPM_ALG.SHA512, name: 'sha512', nodeName: 'sha512', size: 64 },
  { id: TPM_ALG.SM3_256, name: 'sm3_256', nodeName: 'sm3', size: 32 },
  { id: TPM_ALG.SHA3_256, name: 'sha3_256', nodeName: 'sha3-256', size: 32 },
  { id: TPM_ALG.SHA3_384, name: 'sha3_384', nodeName: 'sha3-384', size: 48 },
  { id: TPM_ALG.SHA3_512, name: 'sha3_512', nodeName: 'sha3-512', size: 64 },
];

const HASH_BY_ID: ReadonlyMap<number, HashAlg> = new Map(HASH_ALGS.map((h) => [h.id, h]));
const HASH_BY_NAME: ReadonlyMap<string, HashAlg> = new Map(HASH_ALGS.map((h) => [h.name, h]));

export function hashById(id: number): HashAlg | undefined {
  return HASH_BY_ID.get(id);
}

/** Accepts our names and the common spellings ("SHA-256", "sm3", "sha3-256"). */
export function hashByName(name: string): HashAlg | undefined {
  const n = name.toLowerCase().replace(/-/g, '').replace(/^sm3$/, 'sm3_256').replace(/^sha3(256|384|512)$/, 'sha3_$1');
  return HASH_BY_NAME.get(n);
}

/** Largest digest any supported hash produces (TPMU_HA). */
export const MAX_DIGEST_SIZE = 64;

/** Spec maxima used as caps (Part 2 and the PC Client platform TPM profile). */
export const LIMITS = {
  /** sizeof(TPMU_HA): TPM2B_DIGEST, TPM2B_NONCE */
  digest: 64,
  /** TPM2B_DATA: sizeof(TPMT_HA) */
  data: 66,
  /** TPM2B_NAME: sizeof(TPMU_NAME) */
  name: 66,
  /** TPM2B_PUBLIC_KEY_RSA: MAX_RSA_KEY_BYTES for 4096-bit keys */
  rsaKey: 512,
  /** TPM2B_ECC_PARAMETER: MAX_ECC_KEY_BYTES for P-521 */
  eccParameter: 66,
  /** TPM2B_PUBLIC / TPMT_PUBLIC */
  public: 1024,
  /** TPM2B_MAX_NV_BUFFER (TPMS_NV_CERTIFY_INFO.nvContents) */
  nvBuffer: 2048,
  /** TPML_PCR_SELECTION.count: HASH_COUNT bound, generous */
  pcrSelectionCount: 16,
  /** TPMS_PCR_SELECT.sizeofSelect: PCR_SELECT_MAX */
  pcrSelectBytes: 4,
  /** TPM2B_ATTEST */
  attest: 1024,
  /** TPML_DIGEST.count */
  digestListCount: 8,
} as const;
