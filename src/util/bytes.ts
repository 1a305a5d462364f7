// Small byte helpers shared by every module. Hex is lowercase without 0x
// everywhere in vtpm-verify's output.

import { ParseError } from '../errors.js';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Parses hex (an optional 0x prefix and whitespace are tolerated); `what` names the field in errors. */
export function fromHex(text: string, what: string): Buffer {
  let t = text.trim();
  if (t.startsWith('0x') || t.startsWith('0X')) t = t.slice(2);
  if (!HEX_RE.test(t)) {
    throw new ParseError('HEX_INVALID', `${what}: not valid hex (${t.length > 40 ? `${t.slice(0, 40)}...` : t})`, { field: what });
  }
  return Buffer.from(t, 'hex');
}

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64 (standard alphabet, optional padding, whitespace ignored). */
export function fromBase64(text: string, what: string): Buffer {
  const t = text.replace(/\s+/g, '');
  if (!B64_RE.test(t) || t.length % 4 === 1) {
    throw new ParseError('BASE64_INVALID', `${what}: not valid base64`, { field: what });
  }
  return Buffer.from(t, 'base64');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

export function concatBytes(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

/** A Buffer view of any Uint8Array (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
