// Recognizes the TPM 1.2 structures people meet next to TPM 2.0 ones (a TPM
// 1.2 AK's TPM_PUBKEY, a TPM_QUOTE_INFO or TPM_QUOTE_INFO2 from TPM_Quote /
// TPM_Quote2), so that a command given one can say what it is instead of
// "not a structure we know". Nothing here is verified: vtpm-verify verifies
// TPM 2.0 quotes only. Layouts from the TPM 1.2 Main Specification, Part 2
// (big-endian, as TPM 2.0).

/** What a TPM 1.2 structure is, for a message; undefined when the bytes are not one. */
export function describeTpm12Structure(bytes: Uint8Array): string | undefined {
  return describeQuoteInfo(bytes) ?? describePubkey(bytes);
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function ascii(b: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * TPM_QUOTE_INFO: TPM_STRUCT_VER 1.1.0.0, "QUOT", a 20-byte composite hash,
 * a 20-byte nonce (48 bytes). TPM_QUOTE_INFO2: tag 0x0036, "QUT2", a 20-byte
 * nonce, a TPM_PCR_INFO_SHORT (a sized selection, a locality byte, a
 * 20-byte composite hash), optionally followed by TPM_CAP_VERSION_INFO.
 */
function describeQuoteInfo(b: Uint8Array): string | undefined {
  if (b.length === 48 && b[0] === 1 && b[1] === 1 && b[2] === 0 && b[3] === 0 && ascii(b, 4, 'QUOT')) return 'a TPM 1.2 TPM_QUOTE_INFO (from TPM_Quote)';
  if (b.length >= 6 && b[0] === 0x00 && b[1] === 0x36 && ascii(b, 2, 'QUT2')) return 'a TPM 1.2 TPM_QUOTE_INFO2 (from TPM_Quote2)';
  return undefined;
}

/**
 * TPM_PUBKEY of an RSA key: TPM_KEY_PARMS (algorithmID TPM_ALG_RSA = 1,
 * encScheme, sigScheme, parmSize, TPM_RSA_KEY_PARMS: keyLength in bits,
 * numPrimes, exponentSize, exponent), then TPM_STORE_PUBKEY (keyLength in
 * bytes, the modulus). The sizes must add up to the whole file.
 */
function describePubkey(b: Uint8Array): string | undefined {
  if (b.length < 28 || u32(b, 0) !== 1) return undefined;
  const parmSize = u32(b, 8);
  if (parmSize < 12 || parmSize > 1024 || 12 + parmSize + 4 > b.length) return undefined;
  const bits = u32(b, 12);
  const exponentSize = u32(b, 20);
  if (12 + exponentSize !== parmSize) return undefined;
  const modulusBytes = u32(b, 12 + parmSize);
  if (12 + parmSize + 4 + modulusBytes !== b.length || modulusBytes * 8 !== bits) return undefined;
  return `a TPM 1.2 TPM_PUBKEY (RSA-${bits})`;
}

/** The sentence every command appends after naming a TPM 1.2 structure. */
export const TPM12_UNSUPPORTED = 'vtpm-verify verifies TPM 2.0 quotes only';
