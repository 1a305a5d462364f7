// A strict DER cursor (X.690 section 10, and the RFC 5280 time profile).
//
// Why our own and not asn1js: asn1js is a BER decoder. It accepts indefinite
// and non-minimal lengths, constructed strings, BOOLEAN values other than
// 0x00/0xFF and padded INTEGERs (test/x509/der.test.ts shows it), so "strict
// DER" on top of it needs a second pass; and it parses a certificate in
// ~0.7 ms, four times node's whole X509Certificate parse, on the path a fleet
// audit takes thousands of times. This reader checks every header it steps
// over, never allocates for what it skips, and names the field and offset of
// every error. asn1js still encodes (trusted-layer.ts) and cross-checks tests.
//
// Two classes of departure from DER:
//  - rejected (the context's notDer code): indefinite or non-minimal lengths,
//    constructed encodings of primitive types, padded INTEGERs, BOOLEANs that
//    are not 00/FF, bad OID encoding. These are BER features or malformations
//    that let two parsers disagree; no real certificate we know needs them.
//  - tolerated and recorded as deviations (the caller decides; certificates
//    turn them into a CERT_NON_DER warning): SET OF elements out of order,
//    explicitly encoded DEFAULT values, non-zero padding bits in a BIT STRING,
//    an empty extensions list (RFC 5280 says SIZE (1..MAX); encoders differ).
//    The abstract value is unambiguous and every parser agrees on it, and the
//    signature covers the bytes exactly as sent.

import { ParseError } from '../errors.js';
import { utcTime } from '../util/utc-time.js';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag octet: [n] primitive (IMPLICIT of a primitive type). */
export function ctx(n: number): number {
  return 0x80 | n;
}
/** Context-specific tag octet: [n] constructed (EXPLICIT, or IMPLICIT of a constructed type). */
export function ctxCons(n: number): number {
  return 0xa0 | n;
}

export interface DerDeviation {
  kind: 'set-order' | 'explicit-default' | 'bit-padding' | 'empty-list';
  /** where in the structure, e.g. "issuer" or "extensions[2].critical" */
  field: string;
  offset: number;
}

/** Which codes a reader throws, so one reader serves certificates, CRLs and extensions. */
export interface DerContext {
  /** names the structure in messages: "certificate", "CRL", "TrustedLayer" */
  what: string;
  malformed: string;
  notDer: string;
  badTime: string;
  deviations: DerDeviation[];
}

export interface DerElement {
  /** the first identifier octet (class, constructed bit and a low tag number) */
  tag: number;
  /** offset of the identifier octet */
  start: number;
  /** offset of the first content octet */
  contentStart: number;
  /** offset just past the element */
  end: number;
}

/** Universal types DER encodes primitive only (X.690 10.2). */
const PRIMITIVE_ONLY = new Set<number>([1, 2, 3, 4, 5, 6, 10, 12, 18, 19, 20, 22, 23, 24, 26, 28, 30]);

export class DerReader {
  readonly buf: Uint8Array;
  readonly ctx: DerContext;
  private pos: number;
  private readonly limit: number;

  constructor(buf: Uint8Array, context: DerContext, start = 0, end = buf.length) {
    this.buf = buf;
    this.ctx = context;
    this.pos = start;
    this.limit = end;
  }

  get offset(): number {
    return this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.limit;
  }

  /** The identifier octet of the next element, or undefined at the end. */
  peekTag(): number | undefined {
    return this.pos < this.limit ? this.buf[this.pos] : undefined;
  }

  malformed(field: string, message: string, details: Record<string, unknown> = {}): ParseError {
    return new ParseError(this.ctx.malformed, `${this.ctx.what}: ${field}: ${message}`, { structure: this.ctx.what, field, ...details });
  }

  private notDer(field: string, offset: number, message: string): ParseError {
    return new ParseError(this.ctx.notDer, `${this.ctx.what}: ${field}: not DER: ${message} (offset ${offset})`, { structure: this.ctx.what, field, offset });
  }

  deviation(kind: DerDeviation['kind'], field: string, offset: number): void {
    this.ctx.deviations.push({ kind, field, offset });
  }

  /** Reads the next element's header and moves past the whole element. */
  next(field: string): DerElement {
    const start = this.pos;
    const b = this.buf;
    if (start >= this.limit) throw this.malformed(field, `missing (structure ends at offset ${start})`, { offset: start });
    const tag = b[start]!;
    let p = start + 1;
    if ((tag & 0x1f) === 0x1f) {
      // High tag number form: base-128, minimal, for numbers >= 31 only.
      if (p >= this.limit) throw this.malformed(field, 'truncated tag', { offset: start });
      if (b[p] === 0x80) throw this.notDer(field, start, 'tag number with a leading zero octet');
      let n = 0;
      for (;;) {
        if (p >= this.limit) throw this.malformed(field, 'truncated tag', { offset: start });
        const o = b[p++]!;
        n = n * 128 + (o & 0x7f);
        if (n > 0x1fffff) throw this.malformed(field, 'tag number too large', { offset: start });
        if ((o & 0x80) === 0) break;
      }
      if (n < 31) throw this.notDer(field, start, `tag number ${n} in the high-tag form`);
    }
    if (p >= this.limit) throw this.malformed(field, 'truncated length', { offset: start });
    const first = b[p++]!;
    let length: number;
    if (first < 0x80) {
      length = first;
    } else if (first === 0x80) {
      throw this.notDer(field, start, 'indefinite length');
    } else {
      const count = first & 0x7f;
      if (count > 4) throw this.malformed(field, `length of ${count} octets`, { offset: start });
      if (p + count > this.limit) throw this.malformed(field, 'truncated length', { offset: start });
      if (b[p] === 0) throw this.notDer(field, start, 'length with a leading zero octet');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + b[p++]!;
      if (length < 0x80) throw this.notDer(field, start, `length ${length} in the long form`);
    }
    if (length > this.limit - p) {
      throw this.malformed(field, `length ${length} runs past the end (${this.limit - p} byte(s) left)`, { offset: start, length, available: this.limit - p });
    }
    if ((tag & 0xc0) === 0 && (tag & 0x20) !== 0 && PRIMITIVE_ONLY.has(tag & 0x1f)) {
      throw this.notDer(field, start, `constructed encoding of universal type ${tag & 0x1f}`);
    }
    this.pos = p + length;
    return { tag, start, contentStart: p, end: p + length };
  }

  /** The next element, which must carry this identifier octet. */
  expect(tag: number, field: string): DerElement {
    const at = this.pos;
    const el = this.next(field);
    if (el.tag !== tag) {
      this.pos = at;
      throw this.malformed(field, `expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`, { offset: at, expected: tag, actual: el.tag });
    }
    return el;
  }

  /** Reads the next element if its identifier octet is `tag`. */
  optional(tag: number, field: string): DerElement | undefined {
    return this.peekTag() === tag ? this.next(field) : undefined;
  }

  /** A reader over the content of the element. */
  inside(el: DerElement): DerReader {
    return new DerReader(this.buf, this.ctx, el.contentStart, el.end);
  }

  /** Enters the next element (SEQUENCE by default) and returns a reader over its content. */
  enter(field: string, tag: number = TAG.SEQUENCE): DerReader {
    return this.inside(this.expect(tag, field));
  }

  content(el: DerElement): Uint8Array {
    return this.buf.subarray(el.contentStart, el.end);
  }

  /** The whole encoding of the element (identifier, length, content). */
  raw(el: DerElement): Uint8Array {
    return this.buf.subarray(el.start, el.end);
  }

  /** Requires that nothing follows inside this reader's range. */
  end(field: string): void {
    if (this.pos !== this.limit) {
      const tag = this.buf[this.pos]!;
      throw this.malformed(field, `unexpected element (tag 0x${tag.toString(16)}): ${this.limit - this.pos} trailing byte(s)`, {
        offset: this.pos,
        trailing: this.limit - this.pos,
        tag,
      });
    }
  }

  // --- primitive types -----------------------------------------------------

  boolean(field: string, tag: number = TAG.BOOLEAN): boolean {
    const el = this.expect(tag, field);
    if (el.end - el.contentStart !== 1) throw this.malformed(field, 'BOOLEAN of length other than 1', { offset: el.start });
    const v = this.buf[el.contentStart]!;
    if (v !== 0x00 && v !== 0xff) throw this.notDer(field, el.start, `BOOLEAN value 0x${v.toString(16)}`);
    return v === 0xff;
  }

  /** INTEGER content octets (two's complement, minimal), as a view. */
  integerBytes(field: string, tag: number = TAG.INTEGER): Uint8Array {
    const el = this.expect(tag, field);
    return this.checkInteger(el, field);
  }

  checkInteger(el: DerElement, field: string): Uint8Array {
    const c = this.content(el);
    if (c.length === 0) throw this.malformed(field, 'empty INTEGER', { offset: el.start });
    if (c.length > 1 && ((c[0] === 0x00 && c[1]! < 0x80) || (c[0] === 0xff && c[1]! >= 0x80))) {
      throw this.notDer(field, el.start, 'INTEGER with a redundant leading octet');
    }
    return c;
  }

  /** A small INTEGER (or ENUMERATED with that tag) as a number; rejects values outside [min, max]. */
  smallInt(field: string, min: number, max: number, tag: number = TAG.INTEGER): number {
    const at = this.pos;
    const c = this.integerBytes(field, tag);
    if (c.length > 6) throw this.malformed(field, `integer out of range [${min}, ${max}]`, { offset: at });
    let unsigned = 0;
    for (const o of c) unsigned = unsigned * 256 + o;
    // Two's complement: a set top bit means negative.
    const v = c[0]! >= 0x80 ? unsigned - 2 ** (8 * c.length) : unsigned;
    if (v < min || v > max) throw this.malformed(field, `integer ${v} out of range [${min}, ${max}]`, { offset: at, value: v, min, max });
    return v;
  }

  nul(field: string): void {
    const el = this.expect(TAG.NULL, field);
    if (el.end !== el.contentStart) throw this.malformed(field, 'NULL with content', { offset: el.start });
  }

  oid(field: string): string {
    const el = this.expect(TAG.OID, field);
    return this.decodeOid(el, field);
  }

  decodeOid(el: DerElement, field: string): string {
    const c = this.content(el);
    if (c.length === 0) throw this.malformed(field, 'empty OBJECT IDENTIFIER', { offset: el.start });
    if (c.length > 128) throw this.malformed(field, 'OBJECT IDENTIFIER longer than 128 octets', { offset: el.start });
    const arcs: string[] = [];
    // Arcs accumulate in a number and move to a bigint only when they outgrow
    // 2^46 (UUID arcs under 2.25 are 128-bit); bigint for every arc was this
    // parser's largest cost.
    let value = 0;
    let big: bigint | undefined;
    let fresh = true;
    for (let i = 0; i < c.length; i++) {
      const o = c[i]!;
      if (fresh && o === 0x80) throw this.notDer(field, el.start, 'OID arc with a leading 0x80 octet');
      fresh = false;
      if (big === undefined && value >= 2 ** 46) big = BigInt(value);
      if (big !== undefined) big = (big << 7n) | BigInt(o & 0x7f);
      else value = value * 128 + (o & 0x7f);
      if ((o & 0x80) === 0) {
        if (arcs.length === 0) {
          // The first subidentifier packs the first two arcs (X.690 8.19.4).
          if (big !== undefined) arcs.push('2', (big - 80n).toString());
          else {
            const first = value < 40 ? 0 : value < 80 ? 1 : 2;
            arcs.push(String(first), String(value - first * 40));
          }
        } else {
          arcs.push(big !== undefined ? big.toString() : String(value));
        }
        value = 0;
        big = undefined;
        fresh = true;
      }
    }
    if (!fresh) throw this.malformed(field, 'OBJECT IDENTIFIER ends inside an arc', { offset: el.start });
    return arcs.join('.');
  }

  octetString(field: string, tag: number = TAG.OCTET_STRING): Uint8Array {
    return this.content(this.expect(tag, field));
  }

  /** BIT STRING content without the unused-bits octet; non-zero padding bits are a deviation. */
  bitString(field: string, tag: number = TAG.BIT_STRING): { bytes: Uint8Array; unusedBits: number } {
    const el = this.expect(tag, field);
    const c = this.content(el);
    if (c.length === 0) throw this.malformed(field, 'BIT STRING without its unused-bits octet', { offset: el.start });
    const unusedBits = c[0]!;
    if (unusedBits > 7 || (c.length === 1 && unusedBits !== 0)) {
      throw this.malformed(field, `BIT STRING with ${unusedBits} unused bits`, { offset: el.start });
    }
    if (unusedBits > 0 && (c[c.length - 1]! & ((1 << unusedBits) - 1)) !== 0) this.deviation('bit-padding', field, el.start);
    return { bytes: c.subarray(1), unusedBits };
  }

  /** A UTCTime or GeneralizedTime in the RFC 5280 profile, as ms since the epoch. */
  time(field: string): number {
    const el = this.next(field);
    const c = this.content(el);
    const text = asciiOf(c);
    let m: RegExpExecArray | null;
    let year: number;
    if (el.tag === TAG.UTC_TIME) {
      m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text);
      if (!m) throw this.badTime(field, el, text);
      const yy = Number(m[1]);
      // RFC 5280 4.1.2.5.1: YY >= 50 is 19YY, else 20YY.
      year = yy >= 50 ? 1900 + yy : 2000 + yy;
    } else if (el.tag === TAG.GENERALIZED_TIME) {
      m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text);
      if (!m) throw this.badTime(field, el, text);
      year = Number(m[1]);
    } else {
      throw this.malformed(field, `expected UTCTime or GeneralizedTime, found tag 0x${el.tag.toString(16)}`, { offset: el.start });
    }
    const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
    // NaN for a date that does not exist (Feb 30) or a clock past 23:59:59; years 0000-0099 are taken as written
    // (Go writes its zero time as 00010101000000Z).
    const ms = utcTime(year, month, day, hour, minute, second);
    if (Number.isNaN(ms)) throw this.badTime(field, el, text);
    return ms;
  }

  private badTime(field: string, el: DerElement, text: string): ParseError {
    return new ParseError(this.ctx.badTime, `${this.ctx.what}: ${field}: time ${JSON.stringify(text)} is not in the RFC 5280 form`, {
      structure: this.ctx.what,
      field,
      offset: el.start,
      value: text,
    });
  }

  /**
   * Checks DER's SET OF order (X.690 11.6: ascending encodings, the shorter
   * padded with zero octets) over elements already read; records a deviation.
   */
  checkSetOrder(elements: DerElement[], field: string, setStart: number): void {
    for (let i = 1; i < elements.length; i++) {
      if (compareEncodings(this.raw(elements[i - 1]!), this.raw(elements[i]!)) > 0) {
        this.deviation('set-order', field, setStart);
        return;
      }
    }
  }
}

function compareEncodings(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x - y;
  }
  return 0;
}

function asciiOf(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** A fresh context for one structure. */
export function derContext(what: string, codes: { malformed: string; notDer: string; badTime?: string }): DerContext {
  return { what, malformed: codes.malformed, notDer: codes.notDer, badTime: codes.badTime ?? codes.malformed, deviations: [] };
}
