// Hand-annotated byte fixtures: a structure written as [hex, comment] pairs,
// one per wire field, so tests can cut it at every field boundary.
import assert from 'node:assert/strict';
import { VtpmError } from '../../src/errors.js';

export type Field = readonly [hex: string, comment: string];

export function bytesOf(fields: readonly Field[]): Buffer {
  return Buffer.from(fields.map(([h]) => h.replace(/\s+/g, '')).join(''), 'hex');
}

/** Offsets where each field starts, and one inside each field longer than a byte. */
export function cutPoints(fields: readonly Field[]): { offset: number; field: string }[] {
  const out: { offset: number; field: string }[] = [];
  let at = 0;
  for (const [h, comment] of fields) {
    const len = h.replace(/\s+/g, '').length / 2;
    out.push({ offset: at, field: comment });
    if (len > 1) out.push({ offset: at + Math.floor(len / 2), field: `inside ${comment}` });
    at += len;
  }
  return out;
}

/** Every prefix cut at a field boundary (or inside a field) throws TPM_TRUNCATED; one trailing byte throws TPM_TRAILING_DATA. */
export function assertTruncationsAndTrailing(fields: readonly Field[], parse: (b: Buffer) => unknown): void {
  const full = bytesOf(fields);
  for (const { offset, field } of cutPoints(fields)) {
    try {
      parse(full.subarray(0, offset));
      assert.fail(`cut at ${offset} (${field}) parsed`);
    } catch (err) {
      assert.ok(err instanceof VtpmError, `cut at ${offset} (${field}): ${String(err)}`);
      assert.equal(err.code, 'TPM_TRUNCATED', `cut at ${offset} (${field}): ${err.code} ${err.message}`);
    }
  }
  try {
    parse(Buffer.concat([full, Buffer.of(0)]));
    assert.fail('trailing byte accepted');
  } catch (err) {
    assert.ok(err instanceof VtpmError, String(err));
    assert.equal(err.code, 'TPM_TRAILING_DATA', err.message);
  }
}
