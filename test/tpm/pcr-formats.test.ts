import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapPcrDigests, parseJsonPcrs, parseMarshaledPcrs, parsePcrFile, parseSerializedPcrs, parseValuesPcrs } from '../../src/tpm/pcr-formats.js';
import { formatPcrSelection, parsePcrSelectionText } from '../../src/tpm/pcr-selection.js';
import { pcrValuesToJson } from '../../src/tpm/pcrs.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { assertTruncationsAndTrailing, bytesOf, type Field } from '../helpers/fields.js';

const D0 = '11'.repeat(32);
const D1 = '22'.repeat(32);

/** tpm2_quote -o (default "serialized"): little-endian C structs, 668 bytes for up to 8 PCRs. */
const SERIALIZED_FIELDS: readonly Field[] = [
  ['01000000', 'TPML_PCR_SELECTION.count = 1 (u32 LE)'],
  ['0b00', 'pcrSelections[0].hash = sha256 (u16 LE)'],
  ['03', 'sizeofSelect = 3'],
  ['03000000', 'pcrSelect[4]: PCR 0, 1'],
  ['00', 'struct padding'],
  ['00'.repeat(15 * 8), 'pcrSelections[1..15]: unused'],
  ['01000000', 'number of TPML_DIGEST = 1 (u32 LE)'],
  ['02000000', 'pcr_values[0].count = 2'],
  ['2000', 'digests[0].size = 32 (u16 LE)'],
  [D0 + '00'.repeat(32), 'digests[0].buffer[64]: PCR 0'],
  ['2000', 'digests[1].size = 32'],
  [D1 + '00'.repeat(32), 'digests[1].buffer[64]: PCR 1'],
  ['00'.repeat(6 * 66), 'digests[2..7]: unused'],
];

/** The same content, TPM-marshalled (big-endian, packed): tpm2-tools' "marshaled" format. */
const MARSHALED_FIELDS: readonly Field[] = [
  ['00000001', 'TPML_PCR_SELECTION.count = 1'],
  ['000b', 'hash = sha256'],
  ['03', 'sizeofSelect = 3'],
  ['030000', 'pcrSelect: PCR 0, 1'],
  ['00000001', 'UINT32 number of TPML_DIGEST = 1'],
  ['00000002', 'TPML_DIGEST.count = 2'],
  ['0020', 'TPM2B_DIGEST size = 32'],
  [D0, 'PCR 0'],
  ['0020', 'TPM2B_DIGEST size = 32'],
  [D1, 'PCR 1'],
];

test('serialized: 668 bytes, selection and values in selection order; truncations; trailing data', () => {
  const f = parseSerializedPcrs(bytesOf(SERIALIZED_FIELDS));
  assert.equal(bytesOf(SERIALIZED_FIELDS).length, 668);
  assert.equal(formatPcrSelection(f.selection), 'sha256:0,1');
  assert.deepEqual(pcrValuesToJson(f.values), { sha256: { '0': D0, '1': D1 } });
  assertTruncationsAndTrailing(SERIALIZED_FIELDS, parseSerializedPcrs);
});

/** Builds a serialized file (test side only) for one sha256 selection of n PCRs with n/8 digest lists. */
function serialized(pcrs: number[], lists: number[][]): Buffer {
  const sel = Buffer.alloc(132);
  sel.writeUInt32LE(1, 0);
  sel.writeUInt16LE(0x000b, 4);
  sel.writeUInt8(3, 6);
  for (const p of pcrs) sel[7 + (p >> 3)]! |= 1 << (p & 7);
  const parts = [sel, Buffer.alloc(4)];
  parts[1]!.writeUInt32LE(lists.length, 0);
  for (const list of lists) {
    const block = Buffer.alloc(532);
    block.writeUInt32LE(list.length, 0);
    list.forEach((v, k) => {
      block.writeUInt16LE(32, 4 + k * 66);
      block.fill(v, 6 + k * 66, 6 + k * 66 + 32);
    });
    parts.push(block);
  }
  return Buffer.concat(parts);
}

test('serialized: more than 8 PCRs spill into a second TPML_DIGEST', () => {
  const pcrs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const f = parseSerializedPcrs(serialized(pcrs, [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9]]));
  assert.equal(formatPcrSelection(f.selection), 'sha256:0,1,2,3,4,5,6,7,8,9');
  assert.equal(f.values.get('sha256')!.get(9)![0], 9);
  // too few or too many digests for the selection
  assertThrowsCode(() => parseSerializedPcrs(serialized(pcrs, [[0, 1, 2, 3, 4, 5, 6, 7]])), 'TPM_BAD_VALUE');
  assertThrowsCode(() => parseSerializedPcrs(serialized([0], [[0, 1]])), 'TPM_BAD_VALUE');
  // count caps
  const bad = serialized([0], [[0]]);
  bad.writeUInt32LE(9, 136);
  assertThrowsCode(() => parseSerializedPcrs(bad), 'TPM_SIZE_LIMIT');
  const many = serialized([0], [[0]]);
  many.writeUInt32LE(17, 0);
  assertThrowsCode(() => parseSerializedPcrs(many), 'TPM_SIZE_LIMIT');
  // a digest of the wrong size for its bank
  const wrong = serialized([0], [[0]]);
  wrong.writeUInt16LE(20, 140);
  assertThrowsCode(() => parseSerializedPcrs(wrong), 'TPM_BAD_VALUE');
});

test('marshaled: the same content big-endian; truncations; trailing data; lists over the cap', () => {
  const f = parseMarshaledPcrs(bytesOf(MARSHALED_FIELDS));
  assert.deepEqual(pcrValuesToJson(f.values), { sha256: { '0': D0, '1': D1 } });
  assertTruncationsAndTrailing(MARSHALED_FIELDS, parseMarshaledPcrs);
  const fields = [...MARSHALED_FIELDS];
  fields[5] = ['00000009', 'TPML_DIGEST.count = 9 > 8'];
  assertThrowsCode(() => parseMarshaledPcrs(bytesOf(fields)), 'TPM_SIZE_LIMIT');
});

test('values: bare digests mapped by a selection; length must match exactly', () => {
  const sel = parsePcrSelectionText('sha1:7+sha256:0');
  const bytes = Buffer.from('ab'.repeat(20) + D0, 'hex');
  const f = parseValuesPcrs(bytes, sel);
  assert.deepEqual(pcrValuesToJson(f.values), { sha1: { '7': 'ab'.repeat(20) }, sha256: { '0': D0 } });
  assertThrowsCode(() => mapPcrDigests(bytes.subarray(1), sel), 'TPM_TRUNCATED');
  assertThrowsCode(() => mapPcrDigests(Buffer.concat([bytes, Buffer.of(0)]), sel), 'TPM_TRAILING_DATA');
  assertThrowsCode(() => parsePcrFile(bytes, 'values'), 'PCR_SELECTION_INVALID');
});

test('json: {"sha256": {"0": "<hex>"}}; malformed shapes are JSON_INVALID, bad digests TPM_BAD_VALUE', () => {
  const f = parseJsonPcrs(JSON.stringify({ sha256: { '1': D1, '0': D0 }, sha1: { '7': 'ab'.repeat(20) } }));
  assert.equal(formatPcrSelection(f.selection), 'sha256:0,1+sha1:7');
  assert.equal(parsePcrFile(Buffer.from(JSON.stringify({ SHA384: { '0': 'cd'.repeat(48) } })), 'json').values.get('sha384')!.size, 1);
  for (const bad of ['{', '[]', 'null', '{"md5": {}}', '{"sha256": []}', '{"sha256": {"x": "00"}}', '{"sha256": {"32": "00"}}', '{"sha256": {"01": "00"}}', '{"sha256": {}, "SHA-256": {}}']) {
    assertThrowsCode(() => parseJsonPcrs(bad), 'JSON_INVALID');
  }
  assertThrowsCode(() => parseJsonPcrs('{"sha256": {"0": "00"}}'), 'TPM_BAD_VALUE');
  // two digests for one PCR: which one was meant is not for us to guess
  const twice = assertThrowsCode(() => parseJsonPcrs(`{"sha256": {"0": "${D0}", "0": "${D1}"}}`), 'JSON_INVALID');
  assert.match(twice.message, /a key repeats at \$\.sha256\["0"\]/);
  assertThrowsCode(() => parseJsonPcrs(`{"sha256": {"0": "${'zz'.repeat(32)}"}}`), 'TPM_BAD_VALUE');
  assertThrowsCode(() => parseJsonPcrs('{"sha256": {"0": 5}}'), 'TPM_BAD_VALUE');
});
