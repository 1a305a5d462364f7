import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTpm2bAttest, parseTpmsAttest, describeName } from '../../src/tpm/attest.js';
import { formatPcrSelection } from '../../src/tpm/pcr-selection.js';
import { toHex } from '../../src/util/bytes.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { assertTruncationsAndTrailing, bytesOf, type Field } from '../helpers/fields.js';
import { QUOTE_FIELDS } from '../fixtures/tpm-fields.js';


/** A hand-made TPMS_ATTEST certify body. */
const CERTIFY_FIELDS: readonly Field[] = [
  ['ff544347', 'TPM_GENERATED magic'],
  ['8017', 'TPMI_ST_ATTEST type = TPM_ST_ATTEST_CERTIFY'],
  ['0004', 'TPM2B_NAME qualifiedSigner.size = 4'],
  ['4000000b', 'qualifiedSigner: a handle (TPM_RH_ENDORSEMENT)'],
  ['0004', 'TPM2B_DATA extraData.size = 4'],
  ['00ff55aa', 'extraData (tpm2_certify 5.4 qualifying data)'],
  ['0000000000000001', 'clock'],
  ['00000002', 'resetCount'],
  ['00000003', 'restartCount'],
  ['00', 'safe = no'],
  ['0000000000000000', 'firmwareVersion'],
  ['0022', 'TPMS_CERTIFY_INFO name.size = 34'],
  ['000b 1111111111111111111111111111111111111111111111111111111111111111', 'name: sha256 digest Name'],
  ['0022', 'qualifiedName.size = 34'],
  ['000b 2222222222222222222222222222222222222222222222222222222222222222', 'qualifiedName'],
];

test('TPMS_ATTEST quote: every header field and the quote body', () => {
  const bytes = bytesOf(QUOTE_FIELDS);
  const a = parseTpmsAttest(bytes);
  assert.equal(a.kind, 'quote');
  assert.equal(a.magic, 0xff544347);
  assert.equal(a.type, 0x8018);
  assert.equal(toHex(a.qualifiedSigner), '000b3753d4df87e4d31ad9047b826cb36f93ec70923afd42651ca41e6e5588049134');
  assert.equal(toHex(a.extraData), '0011223344');
  assert.deepEqual(a.clockInfo, { clock: 3491n, resetCount: 1, restartCount: 0, safe: true });
  assert.equal(a.firmwareVersion, 0x2019102300163636n);
  if (a.kind !== 'quote') return;
  assert.equal(formatPcrSelection(a.quote.pcrSelect), 'sha1:0,7+sha256:0,1,2,3,7,10');
  assert.equal(toHex(a.quote.pcrSelect.raw!), '00000002000403810000000b038f0400');
  assert.equal(toHex(a.quote.pcrDigest), '60387ef339f2afbbb6df99d22ec7eb66ecfb7324f42f285c1e4475ecc700df5e');
  // raw is the whole input, as signed
  assert.equal(toHex(a.raw), toHex(bytes));
});

test('TPMS_ATTEST quote: truncated at every field boundary, and trailing data', () => {
  assertTruncationsAndTrailing(QUOTE_FIELDS, parseTpmsAttest);
});

test('TPMS_ATTEST certify: name and qualifiedName; truncations; trailing data', () => {
  const a = parseTpmsAttest(bytesOf(CERTIFY_FIELDS));
  assert.equal(a.kind, 'certify');
  if (a.kind !== 'certify') return;
  assert.equal(toHex(a.certify.name).slice(0, 6), '000b11');
  assert.equal(toHex(a.certify.qualifiedName).slice(0, 6), '000b22');
  assert.equal(a.clockInfo.safe, false);
  assert.deepEqual(describeName(a.qualifiedSigner), { kind: 'handle', handle: 0x4000000b });
  assertTruncationsAndTrailing(CERTIFY_FIELDS, parseTpmsAttest);
});

test('other attestation types keep their body raw', () => {
  const header = CERTIFY_FIELDS.slice(0, 11);
  for (const [tag, kind] of [['801a', 'creation'], ['8019', 'time'], ['8014', 'nv'], ['8015', 'command-audit'], ['8016', 'session-audit'], ['801c', 'nv-digest']] as const) {
    const fields: Field[] = [...header.slice(0, 1), [tag, 'type'], ...header.slice(2), ['00020102', 'body']];
    const a = parseTpmsAttest(bytesOf(fields));
    assert.equal(a.kind, kind);
    assert.ok('body' in a);
    assert.equal(toHex(a.body), '00020102');
  }
});

test('unknown type tag: TPM_UNKNOWN_TAG; safe other than 0/1: TPM_BAD_VALUE; oversized TPM2B: TPM_SIZE_LIMIT', () => {
  const fields = [...QUOTE_FIELDS];
  fields[1] = ['8000', 'type: not an attest tag'];
  const e = assertThrowsCode(() => parseTpmsAttest(bytesOf(fields)), 'TPM_UNKNOWN_TAG');
  assert.equal(e.details['tag'], 0x8000);
  const safe = [...QUOTE_FIELDS];
  safe[9] = ['02', 'safe = 2'];
  assertThrowsCode(() => parseTpmsAttest(bytesOf(safe)), 'TPM_BAD_VALUE');
  const big = [...QUOTE_FIELDS];
  big[4] = ['0043', 'extraData.size = 67 > sizeof(TPMT_HA)'];
  assertThrowsCode(() => parseTpmsAttest(bytesOf(big)), 'TPM_SIZE_LIMIT');
  const banks = [...QUOTE_FIELDS];
  banks[11] = ['00000011', 'count = 17'];
  assertThrowsCode(() => parseTpmsAttest(bytesOf(banks)), 'TPM_SIZE_LIMIT');
  const alg = [...QUOTE_FIELDS];
  alg[12] = ['0099', 'hash = unknown'];
  assertThrowsCode(() => parseTpmsAttest(bytesOf(alg)), 'TPM_UNSUPPORTED_ALG');
});

test('the magic is not checked by the parser (verification does it, after the signature)', () => {
  const fields = [...QUOTE_FIELDS];
  fields[0] = ['deadbeef', 'not TPM_GENERATED'];
  assert.equal(parseTpmsAttest(bytesOf(fields)).magic, 0xdeadbeef);
});

test('TPM2B_ATTEST: size prefix, then exactly one TPMS_ATTEST', () => {
  const body = bytesOf(QUOTE_FIELDS);
  const sized = Buffer.concat([Buffer.of(body.length >> 8, body.length & 0xff), body]);
  assert.equal(parseTpm2bAttest(sized).kind, 'quote');
  assertThrowsCode(() => parseTpm2bAttest(sized.subarray(0, sized.length - 1)), 'TPM_TRUNCATED');
  assertThrowsCode(() => parseTpm2bAttest(Buffer.concat([sized, Buffer.of(0)])), 'TPM_TRAILING_DATA');
});
