// Certificate and CRL containers: one DER structure, or PEM text with any
// number of blocks between comments (vendor bundles have comment headers),
// including blocks glued together without a newline ("-----END
// CERTIFICATE----------BEGIN CERTIFICATE-----": 36 keylime vendor PEMs lack
// a trailing newline, so naive concatenation produces exactly that).

import { ParseError } from '../errors.js';
import { fromBase64 } from '../util/bytes.js';

/** Bundles larger than this are refused (the largest real bundle has 143 certificates). */
export const MAX_BLOCKS = 4096;

export interface PemBlock {
  /** the PEM label: "CERTIFICATE", "X509 CRL", ... */
  label: string;
  der: Buffer;
  /** 0-based position among all blocks of the input */
  index: number;
}

function looksLikePem(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes('-----BEGIN ');
}

/** Every PEM block of the text, in order. Throws CERT_PEM_INVALID on a broken block. */
export function pemBlocks(text: string, what: string): PemBlock[] {
  const out: PemBlock[] = [];
  let pos = 0;
  for (;;) {
    const begin = text.indexOf('-----BEGIN ', pos);
    if (begin < 0) break;
    const labelEnd = text.indexOf('-----', begin + 11);
    if (labelEnd < 0) throw new ParseError('CERT_PEM_INVALID', `${what}: PEM block ${out.length} has an unterminated BEGIN line`, { what, block: out.length, offset: begin });
    const label = text.slice(begin + 11, labelEnd);
    if (!/^[A-Z0-9 ]{1,40}$/.test(label)) {
      throw new ParseError('CERT_PEM_INVALID', `${what}: PEM block ${out.length} has an invalid label`, { what, block: out.length, offset: begin });
    }
    const bodyStart = labelEnd + 5;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, bodyStart);
    if (end < 0) throw new ParseError('CERT_PEM_INVALID', `${what}: PEM block ${out.length} (${label}) has no END line`, { what, block: out.length, label, offset: begin });
    if (out.length >= MAX_BLOCKS) throw new ParseError('CERT_TOO_LARGE', `${what}: more than ${MAX_BLOCKS} PEM blocks`, { what, max: MAX_BLOCKS });
    let der: Buffer;
    try {
      der = fromBase64(text.slice(bodyStart, end), `${what} PEM block ${out.length}`);
    } catch (err) {
      throw new ParseError('CERT_PEM_INVALID', `${what}: PEM block ${out.length} (${label}) is not valid base64`, { what, block: out.length, label }, { cause: err });
    }
    out.push({ label, der, index: out.length });
    pos = end + endMarker.length;
  }
  return out;
}

export interface SplitResult {
  /** DER of each wanted structure, in order */
  ders: Buffer[];
  /** PEM blocks of other labels (reported by the trust store, never silently dropped) */
  otherBlocks: PemBlock[];
}

/**
 * Splits a file's bytes into DER structures of the wanted PEM label(s): a
 * lone DER structure (first octet 0x30) or PEM blocks. Throws
 * CERT_NO_CERTIFICATE when nothing wanted is there.
 */
export function splitDerOrPem(bytes: Uint8Array, what: string, labels: readonly string[] = ['CERTIFICATE']): SplitResult {
  if (looksLikePem(bytes)) {
    const blocks = pemBlocks(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'), what);
    const ders = blocks.filter((b) => labels.includes(b.label)).map((b) => b.der);
    const otherBlocks = blocks.filter((b) => !labels.includes(b.label));
    if (ders.length === 0) {
      throw new ParseError('CERT_NO_CERTIFICATE', `${what}: no ${labels.join(' or ')} PEM block${otherBlocks.length ? ` (found ${otherBlocks.map((b) => b.label).join(', ')})` : ''}`, { what });
    }
    return { ders, otherBlocks };
  }
  if (bytes.length > 0 && bytes[0] === 0x30) return { ders: [trimFileWhitespace(bytes)], otherBlocks: [] };
  throw new ParseError('CERT_NO_CERTIFICATE', `${what}: neither DER (no leading SEQUENCE) nor PEM`, { what });
}

/**
 * A DER file followed by a newline (AMD publishes its fTPM ICAs that way) is
 * still one DER structure: trailing ASCII whitespace after the outer SEQUENCE
 * belongs to the file, not to the certificate. Anything else stays, so the
 * parser rejects it as trailing data.
 */
function trimFileWhitespace(bytes: Uint8Array): Buffer {
  const buf = Buffer.from(bytes);
  let length = -1;
  if (buf.length >= 2) {
    const first = buf[1]!;
    if (first < 0x80) length = 2 + first;
    else if (first > 0x80 && first <= 0x84 && buf.length >= 2 + (first & 0x7f)) length = 2 + (first & 0x7f) + buf.readUIntBE(2, first & 0x7f);
  }
  if (length <= 0 || length >= buf.length) return buf;
  for (let i = length; i < buf.length; i++) if (![0x0a, 0x0d, 0x20, 0x09].includes(buf[i]!)) return buf;
  return buf.subarray(0, length);
}

export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}
