// IMA template descriptors (Documentation/security/IMA-templates.rst) and the
// template digest the kernel extends into the PCR:
//  - for every template but "ima": H(for each field: le32 length || data);
//  - for the legacy "ima" template: H(digest[20] || name padded with zeros to
//    256 bytes), no length prefixes (ima_calc_field_array_hash_tfm).
// Since Linux 5.8 each PCR bank gets the digest computed with its own hash;
// the list shows only the SHA-1 one. A violation (all-zero listed hash) is
// extended as all ones in every bank.

import { hash } from 'node:crypto';
import type { HashAlg } from '../../tpm/constants.js';
import type { ImaEntry } from './types.js';

export const TEMPLATE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  ima: ['d', 'n'],
  'ima-ng': ['d-ng', 'n-ng'],
  'ima-sig': ['d-ng', 'n-ng', 'sig'],
  'ima-buf': ['d-ng', 'n-ng', 'buf'],
  'ima-ngv2': ['d-ngv2', 'n-ng'],
  'ima-sigv2': ['d-ngv2', 'n-ng', 'sig'],
  'ima-modsig': ['d-ng', 'n-ng', 'sig', 'd-modsig', 'modsig'],
};

/**
 * The field ids of a known template, else undefined. Template names come from
 * the list (a binary list carries any bytes), so the lookup must not reach
 * Object.prototype: "constructor" or "toString" are not templates.
 */
export function templateFieldIds(name: string): readonly string[] | undefined {
  return Object.hasOwn(TEMPLATE_FIELDS, name) ? TEMPLATE_FIELDS[name] : undefined;
}

/** IMA_EVENT_NAME_LEN_MAX + 1: the legacy template hashes the name in a fixed 256-byte field */
export const LEGACY_NAME_FIELD_BYTES = 256;

/** The template digest of an entry in one bank (its templateData is already the kernel's hash input). */
export function templateDigest(entry: Pick<ImaEntry, 'templateData'>, alg: HashAlg): Buffer {
  return hash(alg.nodeName, entry.templateData, 'buffer');
}

/** IMA's names for file-digest algorithms (crypto/hash_info.c) and their sizes. */
export const IMA_DIGEST_SIZES: Readonly<Record<string, number>> = {
  md4: 16,
  md5: 16,
  sha1: 20,
  rmd160: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  wp256: 32,
  wp384: 48,
  wp512: 64,
  tgr128: 16,
  tgr160: 20,
  tgr192: 24,
  sm3: 32,
  'sm3-256': 32,
  sm3_256: 32,
  'streebog256': 32,
  'streebog512': 64,
  'sha3-256': 32,
  'sha3-384': 48,
  'sha3-512': 64,
};

/** The digest size of an IMA algorithm name from a list, else undefined (own keys only, as templateFieldIds). */
export function imaDigestSize(alg: string): number | undefined {
  return Object.hasOwn(IMA_DIGEST_SIZES, alg) ? IMA_DIGEST_SIZES[alg] : undefined;
}
