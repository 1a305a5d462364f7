// Typed reading of untrusted JSON, field by field. Every failure names the
// field's path ("vplatformLog[3].instance") and what was expected, and every
// string, array and binary field has a cap that is checked before the value
// is decoded or copied.

import type { ErrorDetails, VtpmError } from '../errors.js';

export type FieldProblem = 'missing' | 'type' | 'value' | 'limit';

/** Makes the module's own error for a problem at `path`. */
export type FieldErrorFactory = (problem: FieldProblem, path: string, message: string, details: ErrorDetails) => VtpmError;

export type JsonObject = Record<string, unknown>;

/** The JSON type of a value, as messages name it. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

const HEX_RE = /^[0-9a-fA-F]*$/;

export class FieldReader {
  constructor(private readonly error: FieldErrorFactory) {}

  private typeError(path: string, expected: string, v: unknown): VtpmError {
    return this.error('type', path, `${path}: expected ${expected}, got ${jsonType(v)}`, { field: path, expected, actual: jsonType(v) });
  }

  object(v: unknown, path: string): JsonObject {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw this.typeError(path || '(top level)', 'an object', v);
    return v as JsonObject;
  }

  /** obj[key], which must be present (not undefined). */
  required(obj: JsonObject, key: string, path: string): unknown {
    const v = Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
    const p = childPath(path, key);
    if (v === undefined) throw this.error('missing', p, `${p}: required field is missing`, { field: p });
    return v;
  }

  /** obj[key] if present; null counts as absent (optional fields). */
  optional(obj: JsonObject, key: string): unknown {
    const v = Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
    return v === null ? undefined : v;
  }

  string(v: unknown, path: string, maxLength: number): string {
    if (typeof v !== 'string') throw this.typeError(path, 'a string', v);
    if (v.length > maxLength) throw this.limit(path, `${v.length} characters`, maxLength, v.length);
    return v;
  }

  integer(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number') throw this.typeError(path, 'a number', v);
    if (!Number.isInteger(v) || v < min || v > max) {
      throw this.error('value', path, `${path}: expected an integer ${min}..${max}, got ${v}`, { field: path, expected: `${min}..${max}`, actual: v });
    }
    return v;
  }

  array(v: unknown, path: string, maxCount: number): unknown[] {
    if (!Array.isArray(v)) throw this.typeError(path, 'an array', v);
    if (v.length > maxCount) throw this.limit(path, `${v.length} entries`, maxCount, v.length);
    return v;
  }

  /** Hex of exactly `bytes` bytes (either case accepted). */
  hex(v: unknown, path: string, bytes: number): Buffer {
    const s = this.string(v, path, bytes * 2 + 64);
    if (s.length !== bytes * 2 || !HEX_RE.test(s)) {
      throw this.error('value', path, `${path}: expected ${bytes * 2} hex digits (${bytes} bytes), got ${s.length} character(s)${HEX_RE.test(s) ? '' : ' that are not all hex'}`, {
        field: path,
        expected: `${bytes * 2} hex digits`,
        actual: s.length > 80 ? `${s.slice(0, 80)}...` : s,
      });
    }
    return Buffer.from(s, 'hex');
  }

  /**
   * Strict base64: standard alphabet, padded, no whitespace, canonical (the
   * unused bits of the last character are zero), at most `maxBytes` decoded.
   * The length is checked before anything is decoded.
   */
  base64(v: unknown, path: string, maxBytes: number): Buffer {
    const maxChars = Math.ceil(maxBytes / 3) * 4;
    const s = this.string(v, path, Number.MAX_SAFE_INTEGER);
    if (s.length > maxChars) throw this.limit(path, `about ${Math.floor((s.length / 4) * 3)} bytes`, maxBytes, Math.floor((s.length / 4) * 3));
    // Node's decoder skips what it does not understand; so decode, encode
    // again, and require the very same text. That one comparison rejects
    // whitespace, other alphabets, missing or extra padding and stray bits,
    // and is 20x faster than a regular expression over a large log.
    const out = Buffer.from(s, 'base64');
    if (out.toString('base64') !== s) throw this.error('value', path, `${path}: not strict base64 (standard alphabet, padded, no whitespace, canonical)`, { field: path });
    if (out.length > maxBytes) throw this.limit(path, `${out.length} bytes`, maxBytes, out.length);
    return out;
  }

  /** An error for a value that is well-typed but not allowed. */
  invalid(path: string, message: string, details: ErrorDetails = {}): VtpmError {
    return this.error('value', path, `${path}: ${message}`, { field: path, ...details });
  }

  limit(path: string, what: string, max: number, actual: number): VtpmError {
    return this.error('limit', path, `${path}: ${what}, more than the cap of ${max}`, { field: path, max, actual });
  }
}
