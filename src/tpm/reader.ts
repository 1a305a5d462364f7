// The one cursor through which all marshalled TPM data is read.
//
// TPM 2.0 marshalling is big-endian (Part 1, 18.2); tpm2-tools' "serialized"
// files are little-endian C-struct dumps, hence the *le readers. Every read is
// bounds-checked and names the field it was reading, so a truncated structure
// produces TPM_TRUNCATED with the field and offset instead of a RangeError.

import { ParseError, type CodeTable } from '../errors.js';

export const TPM_PARSE_CODES = {
  TPM_TRUNCATED: { kind: 'input', summary: 'a TPM structure ends before one of its fields' },
  TPM_TRAILING_DATA: { kind: 'input', summary: 'bytes remain after a complete TPM structure' },
  TPM_SIZE_LIMIT: { kind: 'input', summary: 'a size or count field exceeds the TPM specification maximum' },
  TPM_BAD_VALUE: { kind: 'input', summary: 'a field holds a value the TPM specification does not allow' },
  TPM_UNKNOWN_TAG: { kind: 'input', summary: 'an unknown structure tag (TPM_ST) or type' },
  TPM_UNSUPPORTED_ALG: { kind: 'input', summary: 'an algorithm vtpm-verify does not know or support here' },
  PCR_SELECTION_INVALID: { kind: 'input', summary: 'a PCR selection text (sha1:0,7+sha256:0,1,2) is malformed, or bare PCR values came without one' },
} as const satisfies CodeTable;

export class TpmReader {
  private readonly buf: Uint8Array;
  private pos: number;
  private readonly limit: number;
  /** what is being parsed, for error messages: "TPMS_ATTEST" */
  readonly what: string;

  constructor(buf: Uint8Array, what: string, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.limit = end;
    this.what = what;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.limit - this.pos;
  }

  /** The underlying bytes from `start` to the current offset (no copy). */
  bytesSince(start: number): Uint8Array {
    return this.buf.subarray(start, this.pos);
  }

  private need(n: number, field: string): void {
    if (this.limit - this.pos < n) {
      throw new ParseError('TPM_TRUNCATED', `${this.what}: truncated at ${field} (offset ${this.pos}, needs ${n} byte(s), ${this.remaining} left)`, {
        structure: this.what,
        field,
        offset: this.pos,
        needed: n,
        available: this.remaining,
      });
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u32(field: string): number {
    this.need(4, field);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  u64(field: string): bigint {
    const hi = this.u32(field);
    const lo = this.u32(field);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  u16le(field: string): number {
    this.need(2, field);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return b[p]! | (b[p + 1]! << 8);
  }

  u32le(field: string): number {
    this.need(4, field);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + ((b[p + 3]! << 24) >>> 0);
  }

  u64le(field: string): bigint {
    const lo = this.u32le(field);
    const hi = this.u32le(field);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** `n` raw bytes, as a view into the input (no copy). */
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }

  /** A TPM2B: a big-endian u16 size, then that many bytes; size capped at `max`. */
  tpm2b(field: string, max: number): Uint8Array {
    const size = this.u16(`${field}.size`);
    if (size > max) {
      throw new ParseError('TPM_SIZE_LIMIT', `${this.what}: ${field} size ${size} exceeds the maximum ${max}`, {
        structure: this.what,
        field,
        offset: this.pos - 2,
        size,
        max,
      });
    }
    return this.bytes(size, field);
  }

  /** A child reader over the next `n` bytes; this reader moves past them. */
  sub(n: number, field: string, what: string = this.what): TpmReader {
    this.need(n, field);
    const child = new TpmReader(this.buf, what, this.pos, this.pos + n);
    this.pos += n;
    return child;
  }

  /** Requires that the structure ends exactly here. */
  end(): void {
    if (this.pos !== this.limit) {
      throw new ParseError('TPM_TRAILING_DATA', `${this.what}: ${this.limit - this.pos} trailing byte(s) after the structure`, {
        structure: this.what,
        offset: this.pos,
        trailing: this.limit - this.pos,
      });
    }
  }

  /** A TPM_BAD_VALUE error naming this structure and the field. */
  bad(field: string, message: string, details: Record<string, unknown> = {}): ParseError {
    return new ParseError('TPM_BAD_VALUE', `${this.what}: ${field}: ${message}`, { structure: this.what, field, ...details });
  }
}
