// A minimal DER writer (X.690) for the certificates the simulated platform
// mints: only the universal types X.509 certificates use, always in their
// DER form (minimal lengths, minimal INTEGERs, UTCTime up to 2049). Reading
// certificates is src/x509's job; this side only writes what it fully
// controls.

import { invalidArgument } from './codes.js';

export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  SEQUENCE: 0x30,
  SET: 0x31,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Tag, definite minimal length, content. */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(DER_TAG.SEQUENCE, ...items);
}

/** A SET OF whose elements DER orders by their encodings (X.690 11.6). */
export function setOf(...items: Uint8Array[]): Buffer {
  return tlv(DER_TAG.SET, ...[...items].sort((a, b) => Buffer.compare(a, b)));
}

/** A non-negative INTEGER from big-endian magnitude bytes (leading zeros dropped, a 0x00 added before a high bit). */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const v = magnitude.length === 0 ? Buffer.alloc(1) : Buffer.from(magnitude.subarray(i));
  return tlv(DER_TAG.INTEGER, v[0]! >= 0x80 ? Buffer.concat([Buffer.alloc(1), v]) : v);
}

export function smallInteger(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw invalidArgument(`DER INTEGER: ${n} is not a small non-negative integer`, { value: n });
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return unsignedInteger(b);
}

export function boolean(value: boolean): Buffer {
  return tlv(DER_TAG.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

/** OBJECT IDENTIFIER from dotted text; arcs of any size (the UUID arc of the TrustedLayer OID is 128 bits). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^(0|[1-9][0-9]*)$/.test(a)) throw invalidArgument(`OID ${dotted}: not dotted decimal`, { oid: dotted });
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw invalidArgument(`OID ${dotted}: invalid first arcs`, { oid: dotted });
  const out: number[] = [];
  const push = (v: bigint): void => {
    const groups: number[] = [Number(v & 0x7fn)];
    for (let x = v >> 7n; x > 0n; x >>= 7n) groups.unshift(Number(x & 0x7fn) | 0x80);
    out.push(...groups);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(DER_TAG.OID, Buffer.from(out));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(DER_TAG.OCTET_STRING, bytes);
}

/** BIT STRING of whole bytes (unused bits 0), e.g. a public key or a signature. */
export function bitStringBytes(bytes: Uint8Array): Buffer {
  return tlv(DER_TAG.BIT_STRING, Buffer.from([0]), bytes);
}

/**
 * A named-bit BIT STRING (keyUsage): bit 0 is the most significant bit of
 * the first byte; DER drops trailing zero bits and counts them as unused.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return tlv(DER_TAG.BIT_STRING, Buffer.from([0]));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc((highest >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return tlv(DER_TAG.BIT_STRING, Buffer.from([7 - (highest & 7)]), bytes);
}

export function utf8String(text: string): Buffer {
  return tlv(DER_TAG.UTF8_STRING, Buffer.from(text, 'utf8'));
}

/** X.680 PrintableString's characters. */
const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A directory string as common generators write it: PrintableString when the text allows, else UTF8String. */
export function directoryString(text: string): Buffer {
  return PRINTABLE_RE.test(text) ? tlv(DER_TAG.PRINTABLE_STRING, Buffer.from(text, 'latin1')) : utf8String(text);
}

/** [n] EXPLICIT: a constructed context tag around one element. */
export function explicit(n: number, item: Uint8Array): Buffer {
  return tlv(0xa0 | n, item);
}

/** [n] IMPLICIT of a primitive value. */
export function implicitPrimitive(n: number, content: Uint8Array): Buffer {
  return tlv(0x80 | n, content);
}

const two = (n: number): string => String(n).padStart(2, '0');

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, Zulu, no fractions. */
export function x509Time(date: Date): Buffer {
  if (Number.isNaN(date.getTime())) throw invalidArgument('certificate time: invalid date', {});
  const y = date.getUTCFullYear();
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(DER_TAG.UTC_TIME, Buffer.from(`${two(y % 100)}${rest}`, 'latin1'));
  if (y < 0 || y > 9999) throw invalidArgument(`certificate time: year ${y} cannot be encoded`, { year: y });
  return tlv(DER_TAG.GENERALIZED_TIME, Buffer.from(`${String(y).padStart(4, '0')}${rest}`, 'latin1'));
}
