import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashByName } from '../../src/tpm/constants.js';

// Regression: "sha384" once matched the SHA-3 spelling rule ("sha3" + "84") and was unknown.
test('hashByName knows SHA-2 and SHA-3 names in their usual spellings', () => {
  for (const [input, name] of [
    ['sha1', 'sha1'],
    ['SHA-256', 'sha256'],
    ['sha384', 'sha384'],
    ['sha512', 'sha512'],
    ['sha3-256', 'sha3_256'],
    ['SHA3-384', 'sha3_384'],
    ['sha3_512', 'sha3_512'],
    ['sm3', 'sm3_256'],
  ] as const) {
    assert.equal(hashByName(input)?.name, name, input);
  }
  assert.equal(hashByName('sha3_84'), undefined);
});
