import { test } from 'node:test';
import assert from 'node:assert/strict';
import { objectAttributeNames, parsePublicArea, parseTpm2bPublic, parseTpmtPublic, tpmObjectName } from '../../src/tpm/public.js';
import { toHex } from '../../src/util/bytes.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { assertTruncationsAndTrailing, bytesOf, type Field } from '../helpers/fields.js';
import { ECC_AK_FIELDS } from '../fixtures/tpm-fields.js';

/** The Name tpm2_createak printed for it. */
const ECC_AK_NAME = '000bda17ef8188b9c30f43c525984368d3d245778db90a64c524f210e0afd3de0b69';

/** An RSA-2048 storage-style key: AES-128-CFB symmetric, no scheme, an authPolicy (like an EK). */
const RSA_FIELDS: readonly Field[] = [
  ['0001', 'TPMI_ALG_PUBLIC type = RSA'],
  ['000b', 'nameAlg = sha256'],
  ['000300b2', 'TPMA_OBJECT: fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt'],
  ['0020', 'authPolicy.size = 32'],
  ['837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa', 'authPolicy (PolicySecret(endorsement))'],
  ['0006', 'symmetric.algorithm = AES'],
  ['0080', 'symmetric.keyBits = 128'],
  ['0043', 'symmetric.mode = CFB'],
  ['0010', 'TPMT_RSA_SCHEME scheme = NULL'],
  ['0800', 'keyBits = 2048'],
  ['00000000', 'exponent = 0 (means 65537)'],
  ['0100', 'TPM2B_PUBLIC_KEY_RSA unique.size = 256'],
  ['c3'.repeat(256), 'modulus'],
];

test('TPMT_PUBLIC ECC P-256 AK: every field and the Name tpm2-tools computed', () => {
  const p = parseTpmtPublic(bytesOf(ECC_AK_FIELDS));
  assert.equal(p.type, 'ecc');
  if (p.type !== 'ecc') return;
  assert.equal(p.nameAlg.name, 'sha256');
  assert.deepEqual(objectAttributeNames(p.objectAttributes), ['fixedTPM', 'fixedParent', 'sensitiveDataOrigin', 'userWithAuth', 'restricted', 'sign']);
  assert.equal(p.authPolicy.length, 0);
  assert.equal(p.symmetric, null);
  assert.equal(p.scheme?.scheme, 0x0018);
  assert.equal(p.scheme?.hash?.name, 'sha256');
  assert.equal(p.curve, 'P-256');
  assert.equal(p.kdf, null);
  assert.equal(toHex(p.x).slice(0, 8), '4eaf9431');
  assert.equal(toHex(tpmObjectName(p)), ECC_AK_NAME);
});

test('TPM2B_PUBLIC and bare TPMT_PUBLIC are both recognized; the Name hashes the TPMT_PUBLIC only', () => {
  const inner = bytesOf(ECC_AK_FIELDS);
  const sized = Buffer.concat([Buffer.of(0, inner.length), inner]);
  assert.equal(toHex(tpmObjectName(parseTpm2bPublic(sized))), ECC_AK_NAME);
  assert.equal(toHex(tpmObjectName(parsePublicArea(sized))), ECC_AK_NAME);
  assert.equal(toHex(tpmObjectName(parsePublicArea(inner))), ECC_AK_NAME);
  assertThrowsCode(() => parseTpm2bPublic(Buffer.concat([sized, Buffer.of(0)])), 'TPM_TRAILING_DATA');
});

test('TPMT_PUBLIC RSA: symmetric, NULL scheme, exponent 0 means 65537', () => {
  const p = parseTpmtPublic(bytesOf(RSA_FIELDS));
  assert.equal(p.type, 'rsa');
  if (p.type !== 'rsa') return;
  assert.equal(p.keyBits, 2048);
  assert.equal(p.exponent, 65537);
  assert.deepEqual(p.symmetric, { algorithm: 0x0006, keyBits: 128, mode: 0x0043 });
  assert.equal(p.scheme, null);
  assert.equal(p.modulus.length, 256);
  assert.ok(objectAttributeNames(p.objectAttributes).includes('decrypt'));
});

test('TPMT_PUBLIC: truncated at every field boundary, and trailing data', () => {
  assertTruncationsAndTrailing(ECC_AK_FIELDS, parseTpmtPublic);
  assertTruncationsAndTrailing(RSA_FIELDS, parseTpmtPublic);
});

test('unsupported types, curves, key sizes and schemes; reserved attribute bits; wrong modulus size', () => {
  const with_ = (fields: readonly Field[], i: number, hex: string): Buffer => {
    const f = [...fields];
    f[i] = [hex, 'changed'];
    return bytesOf(f);
  };
  assertThrowsCode(() => parseTpmtPublic(with_(ECC_AK_FIELDS, 0, '0008')), 'TPM_UNSUPPORTED_ALG'); // KEYEDHASH
  assertThrowsCode(() => parseTpmtPublic(with_(ECC_AK_FIELDS, 1, '0010')), 'TPM_UNSUPPORTED_ALG'); // nameAlg NULL
  assertThrowsCode(() => parseTpmtPublic(with_(ECC_AK_FIELDS, 2, '00050073')), 'TPM_BAD_VALUE'); // reserved bit 0
  assertThrowsCode(() => parseTpmtPublic(with_(ECC_AK_FIELDS, 7, '0005')), 'TPM_UNSUPPORTED_ALG'); // P-521
  assertThrowsCode(() => parseTpmtPublic(with_(ECC_AK_FIELDS, 5, '0099')), 'TPM_UNSUPPORTED_ALG'); // scheme
  assertThrowsCode(() => parseTpmtPublic(with_(RSA_FIELDS, 9, '0400')), 'TPM_UNSUPPORTED_ALG'); // RSA-1024
  assertThrowsCode(() => parseTpmtPublic(with_(RSA_FIELDS, 5, '0025')), 'TPM_UNSUPPORTED_ALG'); // symmetric SYMCIPHER
  const shortModulus = [...RSA_FIELDS.slice(0, 11), ['0002', 'unique.size = 2'] as Field, ['c3c3', 'modulus'] as Field];
  assertThrowsCode(() => parseTpmtPublic(bytesOf(shortModulus)), 'TPM_BAD_VALUE');
  const longX = [...ECC_AK_FIELDS.slice(0, 9), ['0021', 'x.size = 33'] as Field, ['00'.repeat(33), 'x'] as Field, ...ECC_AK_FIELDS.slice(11)];
  assertThrowsCode(() => parseTpmtPublic(bytesOf(longX)), 'TPM_BAD_VALUE');
});

test('a template (empty unique) parses; ECDAA schemes carry a count', () => {
  const template = [...ECC_AK_FIELDS.slice(0, 9), ['0000', 'x.size = 0'] as Field, ['0000', 'y.size = 0'] as Field];
  const p = parseTpmtPublic(bytesOf(template));
  assert.equal(p.type === 'ecc' && p.x.length, 0);
  const ecdaa = [...ECC_AK_FIELDS.slice(0, 5), ['001a', 'scheme = ECDAA'] as Field, ['000b', 'hashAlg'] as Field, ['0007', 'count'] as Field, ...ECC_AK_FIELDS.slice(7)];
  assert.equal(parseTpmtPublic(bytesOf(ecdaa)).scheme?.count, 7);
});
