// EV_SEPARATOR (PFP 3.3.2.2 "Error Conditions", 10.4.1): the data is the
// UINT32 0x00000000 (0xFFFFFFFF on some older firmware) and the digest its
// hash. On an error the firmware measures the UINT32 0x00000001 and logs
// implementation-defined error information as the data, so an error
// separator is recognised by its digest, not by its data.

import type { HashAlg } from '../../tpm/constants.js';
import { TpmReader } from '../../tpm/reader.js';
import { digest as hashOf } from '../hash.js';
import type { EventDigest } from '../types.js';
import type { SeparatorContent } from './content.js';

export const SEPARATOR_ERROR_VALUE = Buffer.from([1, 0, 0, 0]);
/** "WBCL" read as a little-endian UINT32 */
const WINDOWS_SEPARATOR = 0x4c434257;

export function isErrorSeparatorDigest(alg: HashAlg, d: Uint8Array): boolean {
  return hashOf(alg, SEPARATOR_ERROR_VALUE).equals(d);
}

export function decodeSeparator(data: Uint8Array, digests: EventDigest[]): SeparatorContent {
  const error = digests.some((d) => d.alg !== undefined && isErrorSeparatorDigest(d.alg, d.digest));
  if (error) return { kind: 'separator', value: 1, error: true, errorInfo: data };
  if (data.length !== 4) {
    return { kind: 'separator', value: -1, error: false, notes: [`separator data is ${data.length} bytes, not a UINT32`] };
  }
  const value = new TpmReader(data, 'EV_SEPARATOR').u32le('value');
  const content: SeparatorContent = { kind: 'separator', value, error: false };
  // Windows separates its own PCR 12-14 measurements with the ASCII tag "WBCL".
  if (value !== 0 && value !== 0xffffffff && value !== WINDOWS_SEPARATOR) content.notes = [`unusual separator value 0x${value.toString(16).padStart(8, '0')}`];
  return content;
}
