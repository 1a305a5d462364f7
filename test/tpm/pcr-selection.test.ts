import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalSelection, formatPcrSelection, makePcrSelection, parsePcrSelection, parsePcrSelectionText, selectedDigestBytes, selectionOfPcrValues } from '../../src/tpm/pcr-selection.js';
import { hashByName } from '../../src/tpm/constants.js';
import { toHex } from '../../src/util/bytes.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { assertTruncationsAndTrailing, bytesOf, type Field } from '../helpers/fields.js';

const FIELDS: readonly Field[] = [
  ['00000002', 'UINT32 count = 2'],
  ['0004', 'TPMS_PCR_SELECTION[0].hash = sha1'],
  ['03', 'sizeofSelect = 3'],
  ['810000', 'pcrSelect: bit 0 and bit 7 of byte 0: PCR 0, 7'],
  ['000b', 'TPMS_PCR_SELECTION[1].hash = sha256'],
  ['04', 'sizeofSelect = 4 (PCR_SELECT_MAX)'],
  ['8f040080', 'pcrSelect: PCR 0-3, 7, 10, 31'],
];

test('TPML_PCR_SELECTION: banks in wire order, PCRs from the bitmap, raw bytes kept', () => {
  const bytes = bytesOf(FIELDS);
  const sel = parsePcrSelection(bytes);
  assert.equal(formatPcrSelection(sel), 'sha1:0,7+sha256:0,1,2,3,7,10,31');
  assert.equal(toHex(sel.raw!), toHex(bytes));
  assert.equal(selectedDigestBytes(sel), 2 * 20 + 7 * 32);
  assertTruncationsAndTrailing(FIELDS, parsePcrSelection);
});

test('sizeofSelect above PCR_SELECT_MAX and count above the cap: TPM_SIZE_LIMIT; unknown bank hash: TPM_UNSUPPORTED_ALG', () => {
  assertThrowsCode(() => parsePcrSelection(Buffer.from('00000001000b05ffffffffff', 'hex')), 'TPM_SIZE_LIMIT');
  assertThrowsCode(() => parsePcrSelection(Buffer.from('00000011', 'hex')), 'TPM_SIZE_LIMIT');
  assertThrowsCode(() => parsePcrSelection(Buffer.from('00000001001303000000', 'hex')), 'TPM_UNSUPPORTED_ALG');
  // an empty selection and a zero-size bitmap are well-formed
  assert.equal(formatPcrSelection(parsePcrSelection(Buffer.from('00000000', 'hex'))), '');
  assert.equal(formatPcrSelection(parsePcrSelection(Buffer.from('00000001000b00', 'hex'))), 'sha256:');
});

test('text form: tpm2-tools syntax round-trips; "all" is PCR 0-23; errors are PCR_SELECTION_INVALID', () => {
  const sel = parsePcrSelectionText('sha1:0,7+sha256:0,1,2,3,7,10');
  assert.equal(formatPcrSelection(sel), 'sha1:0,7+sha256:0,1,2,3,7,10');
  assert.equal(toHex(sel.banks[1]!.select), '8f0400');
  assert.equal(formatPcrSelection(parsePcrSelectionText(' SHA-256:10,2,2 ')), 'sha256:2,10');
  assert.equal(parsePcrSelectionText('sha384:all').banks[0]!.pcrs.length, 24);
  for (const bad of ['', 'sha256', 'sha256:', 'md5:0', 'sha256:32', 'sha256:a', 'sha256:0,,1', 'sha256:-1']) {
    assertThrowsCode(() => parsePcrSelectionText(bad), 'PCR_SELECTION_INVALID');
  }
});

test('canonical form compares selections as sets (order and duplicate banks do not matter)', () => {
  const a = parsePcrSelectionText('sha256:7,0+sha1:0');
  const b = parsePcrSelectionText('sha1:0+sha256:0+sha256:7');
  assert.equal(canonicalSelection(a), canonicalSelection(b));
  assert.notEqual(canonicalSelection(a), canonicalSelection(parsePcrSelectionText('sha1:0+sha256:0,8')));
  const values = new Map([['sha256', new Map([[3, new Uint8Array(32)], [1, new Uint8Array(32)]])]]) as Parameters<typeof selectionOfPcrValues>[0];
  assert.equal(formatPcrSelection(selectionOfPcrValues(values)), 'sha256:1,3');
  assert.equal(formatPcrSelection(makePcrSelection([{ hash: hashByName('sha1')!, pcrs: [23, 0] }])), 'sha1:0,23');
});
