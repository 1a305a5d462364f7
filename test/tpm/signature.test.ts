import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTpmtSignature } from '../../src/tpm/signature.js';
import { toHex } from '../../src/util/bytes.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { assertTruncationsAndTrailing, bytesOf, type Field } from '../helpers/fields.js';

/** An ECDSA-SHA256 signature from swtpm (its s is high: TPMs do not normalize S). */
const ECDSA_FIELDS: readonly Field[] = [
  ['0018', 'TPMI_ALG_SIG_SCHEME sigAlg = ECDSA'],
  ['000b', 'TPMS_SIGNATURE_ECC hash = sha256'],
  ['0020', 'TPM2B_ECC_PARAMETER signatureR.size = 32'],
  ['0d342cefb8af989d71cd344dc81c2aa02d46dd18d15c8b4a242ca6c438a5991e', 'signatureR'],
  ['0020', 'signatureS.size = 32'],
  ['ad71a9e46f7d39cb4a9a33103079ce920639003c27cd2e67d3d30011ff803338', 'signatureS'],
];

const RSA_FIELDS = (sigAlg: string): readonly Field[] => [
  [sigAlg, 'TPMI_ALG_SIG_SCHEME sigAlg'],
  ['0004', 'TPMS_SIGNATURE_RSA hash = sha1'],
  ['0004', 'TPM2B_PUBLIC_KEY_RSA sig.size = 4 (short, for the fixture)'],
  ['01020304', 'sig'],
];

test('TPMT_SIGNATURE ECDSA: hash, r, s; truncations; trailing data', () => {
  const s = parseTpmtSignature(bytesOf(ECDSA_FIELDS));
  assert.equal(s.scheme, 'ecdsa');
  if (s.scheme !== 'ecdsa') return;
  assert.equal(s.hash.name, 'sha256');
  assert.equal(toHex(s.r).slice(0, 4), '0d34');
  assert.equal(toHex(s.s).slice(0, 4), 'ad71');
  assert.equal(s.raw.length, 72);
  assertTruncationsAndTrailing(ECDSA_FIELDS, parseTpmtSignature);
});

test('TPMT_SIGNATURE RSASSA and RSAPSS; truncations; trailing data', () => {
  for (const [alg, scheme] of [['0014', 'rsassa'], ['0016', 'rsapss']] as const) {
    const s = parseTpmtSignature(bytesOf(RSA_FIELDS(alg)));
    assert.equal(s.scheme, scheme);
    if (s.scheme !== scheme) return;
    assert.equal(s.hash.name, 'sha1');
    assert.equal(toHex(s.sig), '01020304');
    assertTruncationsAndTrailing(RSA_FIELDS(alg), parseTpmtSignature);
  }
});

test('TPM_ALG_NULL parses as a null signature; other schemes and hashes are unsupported', () => {
  assert.equal(parseTpmtSignature(Buffer.from('0010', 'hex')).scheme, 'null');
  assertThrowsCode(() => parseTpmtSignature(Buffer.from('0010' + '00', 'hex')), 'TPM_TRAILING_DATA');
  assertThrowsCode(() => parseTpmtSignature(Buffer.from('001a000b00010100010', 'hex')), 'TPM_UNSUPPORTED_ALG'); // ECDAA
  assertThrowsCode(() => parseTpmtSignature(Buffer.from('0005000b', 'hex')), 'TPM_UNSUPPORTED_ALG'); // HMAC
  assertThrowsCode(() => parseTpmtSignature(Buffer.from('00140012000101', 'hex')), 'TPM_UNSUPPORTED_ALG'); // SM3 hash
  for (const [h, name] of [['0004', 'sha1'], ['000c', 'sha384'], ['000d', 'sha512']] as const) {
    const s = parseTpmtSignature(Buffer.from(`0018${h}0001aa0001bb`, 'hex'));
    assert.equal(s.scheme === 'ecdsa' && s.hash.name, name);
  }
});

test('sizes above the spec maxima: TPM_SIZE_LIMIT', () => {
  assertThrowsCode(() => parseTpmtSignature(Buffer.from('0014000b0201', 'hex')), 'TPM_SIZE_LIMIT'); // 513-byte RSA sig
  assertThrowsCode(() => parseTpmtSignature(Buffer.from('0018000b0043', 'hex')), 'TPM_SIZE_LIMIT'); // 67-byte r
});
