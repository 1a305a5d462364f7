import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TpmReader } from '../../src/tpm/reader.js';
import { ParseError } from '../../src/errors.js';
import { assertThrowsCode } from '../helpers/assert.js';

test('reads big-endian and little-endian integers', () => {
  const r = new TpmReader(Uint8Array.from([0x12, 0x34, 0xff, 0x54, 0x43, 0x47, 0x01, 0x02, 0x03, 0x04]), 'test');
  assert.equal(r.u16('a'), 0x1234);
  assert.equal(r.u32('b'), 0xff544347);
  assert.equal(r.u32le('c'), 0x04030201);
  r.end();
});

test('u64 keeps the full 64-bit range', () => {
  const r = new TpmReader(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), 'test');
  assert.equal(r.u64('clock'), 0xfffffffffffffffen);
});

test('truncation names the field and offset', () => {
  const r = new TpmReader(Uint8Array.from([0x00]), 'TPMS_X');
  const err = assertThrowsCode(() => r.u16('magic'), 'TPM_TRUNCATED');
  assert.ok(err instanceof ParseError);
  assert.equal(err.details['field'], 'magic');
  assert.equal(err.details['offset'], 0);
});

test('tpm2b enforces its maximum before reading', () => {
  const r = new TpmReader(Uint8Array.from([0x00, 0x05, 1, 2, 3, 4, 5]), 'test');
  assertThrowsCode(() => r.tpm2b('extraData', 4), 'TPM_SIZE_LIMIT');
  const ok = new TpmReader(Uint8Array.from([0x00, 0x02, 9, 8]), 'test');
  assert.deepEqual([...ok.tpm2b('d', 4)], [9, 8]);
  ok.end();
});

test('end() rejects trailing bytes; sub() bounds a child reader', () => {
  const r = new TpmReader(Uint8Array.from([1, 2, 3]), 'test');
  const child = r.sub(2, 'inner');
  assert.equal(child.u8('x'), 1);
  assertThrowsCode(() => child.end(), 'TPM_TRAILING_DATA');
  assertThrowsCode(() => r.end(), 'TPM_TRAILING_DATA');
  assert.equal(r.u8('last'), 3);
  r.end();
});
