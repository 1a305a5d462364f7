// PCR value files as real tools write them, all read into PcrValues:
//
// - "serialized": `tpm2_quote -o` / `tpm2_pcrread -o -F serialized`, also the
//   "pcrblob" Keylime agents send. A little-endian dump of C structs:
//   TPML_PCR_SELECTION (u32 count + 16 TPMS_PCR_SELECTION of 8 bytes: u16 hash,
//   u8 sizeofSelect, u8 pcrSelect[4], 1 pad byte = 132 bytes), a u32 count of
//   digest lists, then that many TPML_DIGEST (u32 count + 8 TPM2B_DIGEST of
//   u16 size + 64-byte buffer = 532 bytes). The digests, list after list,
//   follow the selection's order.
// - "marshaled": the same content in TPM (big-endian, packed) marshalling:
//   TPML_PCR_SELECTION, u32 list count, TPML_DIGEST[count].
// - "values": the bare digests, concatenated in selection order; the
//   selection must come from elsewhere.
// - "json": {"sha256": {"0": "<hex>", ...}, ...}.
//
// The selection a file states is unsigned data: verification compares it with
// the selection inside the signed quote and never maps PCRs by it alone.

import { ParseError } from '../errors.js';
import { hashByName, LIMITS, type HashAlg, type HashName } from './constants.js';
import { bankHash, makePcrSelection, MAX_PCR_INDEX, readPcrBitmap, readPcrSelection, selectedDigestBytes, type PcrBankSelection, type PcrSelection } from './pcr-selection.js';
import type { PcrValues } from './pcrs.js';
import { TpmReader } from './reader.js';
import { duplicateJsonKey, formatJsonPath } from '../util/json-scan.js';

export type PcrFileFormat = 'serialized' | 'marshaled' | 'values' | 'json';

export const PCR_FILE_FORMATS: readonly PcrFileFormat[] = ['serialized', 'marshaled', 'values', 'json'];

export interface PcrFile {
  format: PcrFileFormat;
  /** the selection the file states (for "values": the one it was read with); unsigned */
  selection: PcrSelection;
  values: PcrValues;
}

/** Sizes of the C structs tpm2-tools dumps (x86-64 and every little-endian ABI it builds on). */
const SERIALIZED = {
  selectionEntries: 16,
  selectionEntrySize: 8,
  selectionSize: 4 + 16 * 8,
  digestSlots: 8,
  digestSlotSize: 2 + 64,
  digestListSize: 4 + 8 * (2 + 64),
} as const;

/** Digest lists: 16 banks of up to 32 PCRs, 8 per list. */
const MAX_DIGEST_LISTS = 64;

/** Puts digests (in selection order) into PcrValues; rejects a PCR given twice with different values. */
function assign(values: PcrValues, bank: PcrBankSelection, pcr: number, digest: Uint8Array, r: TpmReader, field: string): void {
  let map = values.get(bank.hash.name);
  if (!map) values.set(bank.hash.name, (map = new Map()));
  const prev = map.get(pcr);
  if (prev && !Buffer.from(prev).equals(digest)) {
    throw r.bad(field, `PCR ${bank.hash.name}:${pcr} is listed twice with different values`);
  }
  map.set(pcr, digest);
}

function digestSizeCheck(r: TpmReader, hash: HashAlg, pcr: number, size: number, field: string): void {
  if (size !== hash.size) {
    throw r.bad(field, `digest for ${hash.name}:${pcr} is ${size} bytes, the bank needs ${hash.size}`, { offset: r.offset, size, expected: hash.size });
  }
}

/** An iterator over (bank, pcr) in selection order. */
function* slots(sel: PcrSelection): Generator<[PcrBankSelection, number]> {
  for (const bank of sel.banks) for (const pcr of bank.pcrs) yield [bank, pcr];
}

/**
 * Digest lists (as TPML_DIGEST gives them) mapped onto a selection in order.
 * `lists` yields each list's digests; their total must equal the selection.
 */
function mapLists(r: TpmReader, sel: PcrSelection, digests: { bytes: Uint8Array; field: string }[]): PcrValues {
  const values: PcrValues = new Map();
  const it = slots(sel);
  for (const d of digests) {
    const next = it.next();
    if (next.done) throw r.bad(d.field, `more digests than the selection's ${countSlots(sel)} PCRs`);
    const [bank, pcr] = next.value;
    digestSizeCheck(r, bank.hash, pcr, d.bytes.length, d.field);
    assign(values, bank, pcr, d.bytes, r, d.field);
  }
  if (!it.next().done) {
    throw r.bad('digests', `${digests.length} digests for a selection of ${countSlots(sel)} PCRs`, { digests: digests.length, selected: countSlots(sel) });
  }
  return values;
}

function countSlots(sel: PcrSelection): number {
  let n = 0;
  for (const b of sel.banks) n += b.pcrs.length;
  return n;
}

function countCap(r: TpmReader, field: string, count: number, max: number): void {
  if (count > max) {
    throw new ParseError('TPM_SIZE_LIMIT', `${r.what}: ${field} ${count} exceeds the maximum ${max}`, { structure: r.what, field, offset: r.offset - 4, count, max });
  }
}

/** Parses tpm2-tools' default "serialized" PCR file (also Keylime's pcrblob). */
export function parseSerializedPcrs(bytes: Uint8Array): PcrFile {
  const r = new TpmReader(bytes, 'PCR file (serialized)');
  // TPML_PCR_SELECTION, little-endian, fixed 16 entries
  const selStart = r.offset;
  const count = r.u32le('pcrSelect.count');
  countCap(r, 'pcrSelect.count', count, SERIALIZED.selectionEntries);
  const banks: PcrBankSelection[] = [];
  for (let i = 0; i < SERIALIZED.selectionEntries; i++) {
    const f = `pcrSelect.pcrSelections[${i}]`;
    const entry = r.sub(SERIALIZED.selectionEntrySize, f);
    if (i >= count) continue; // unused slots: whatever the tool left there
    // UINT16 hash (LE), UINT8 sizeofSelect, BYTE pcrSelect[4], 1 pad byte
    const hash = bankHash(entry, entry.u16le(`${f}.hash`), `${f}.hash`);
    // readPcrBitmap caps sizeofSelect at 4, so the bitmap stays inside the entry; the rest is padding.
    banks.push(readPcrBitmap(entry, hash, f));
  }
  const selection: PcrSelection = { banks, raw: bytes.subarray(selStart, r.offset) };
  // UINT32 count of TPML_DIGEST that follow
  const lists = r.u32le('pcrs.count');
  countCap(r, 'pcrs.count', lists, MAX_DIGEST_LISTS);
  const digests: { bytes: Uint8Array; field: string }[] = [];
  for (let j = 0; j < lists; j++) {
    const list = r.sub(SERIALIZED.digestListSize, `pcrs.pcr_values[${j}]`);
    const n = list.u32le(`pcrs.pcr_values[${j}].count`);
    countCap(list, `pcrs.pcr_values[${j}].count`, n, SERIALIZED.digestSlots);
    for (let k = 0; k < SERIALIZED.digestSlots; k++) {
      const f = `pcrs.pcr_values[${j}].digests[${k}]`;
      const slot = list.sub(SERIALIZED.digestSlotSize, f);
      if (k >= n) continue;
      const size = slot.u16le(`${f}.size`);
      if (size > LIMITS.digest) {
        throw new ParseError('TPM_SIZE_LIMIT', `${r.what}: ${f}.size ${size} exceeds the maximum ${LIMITS.digest}`, { structure: r.what, field: `${f}.size`, size, max: LIMITS.digest });
      }
      digests.push({ bytes: slot.bytes(size, `${f}.buffer`), field: f });
    }
  }
  r.end();
  return { format: 'serialized', selection, values: mapLists(r, selection, digests) };
}

/** Parses a "marshaled" PCR file: TPML_PCR_SELECTION, UINT32 count, TPML_DIGEST[count], big-endian. */
export function parseMarshaledPcrs(bytes: Uint8Array): PcrFile {
  const r = new TpmReader(bytes, 'PCR file (marshaled)');
  const selection = readPcrSelection(r);
  // UINT32 number of TPML_DIGEST
  const lists = r.u32('pcrs.count');
  countCap(r, 'pcrs.count', lists, MAX_DIGEST_LISTS);
  const digests: { bytes: Uint8Array; field: string }[] = [];
  for (let j = 0; j < lists; j++) {
    // TPML_DIGEST: UINT32 count, TPM2B_DIGEST digests[count]
    const n = r.u32(`pcrs[${j}].count`);
    countCap(r, `pcrs[${j}].count`, n, LIMITS.digestListCount);
    for (let k = 0; k < n; k++) {
      const f = `pcrs[${j}].digests[${k}]`;
      digests.push({ bytes: r.tpm2b(f, LIMITS.digest), field: f });
    }
  }
  r.end();
  return { format: 'marshaled', selection, values: mapLists(r, selection, digests) };
}

/**
 * Maps bare concatenated digests ("values" format) onto a selection, in the
 * selection's order. The length must match the selection exactly.
 */
export function mapPcrDigests(bytes: Uint8Array, selection: PcrSelection, what = 'PCR file (values)'): PcrValues {
  const r = new TpmReader(bytes, what);
  const values: PcrValues = new Map();
  if (bytes.length !== selectedDigestBytes(selection)) {
    const code = bytes.length < selectedDigestBytes(selection) ? 'TPM_TRUNCATED' : 'TPM_TRAILING_DATA';
    throw new ParseError(code, `${what}: ${bytes.length} bytes, the selection needs ${selectedDigestBytes(selection)}`, {
      structure: what,
      size: bytes.length,
      expected: selectedDigestBytes(selection),
    });
  }
  for (const [bank, pcr] of slots(selection)) {
    const field = `${bank.hash.name}:${pcr}`;
    assign(values, bank, pcr, r.bytes(bank.hash.size, field), r, field);
  }
  r.end();
  return values;
}

/** Parses a "values" PCR file (`tpm2_quote -F values`) with the selection it was written for. */
export function parseValuesPcrs(bytes: Uint8Array, selection: PcrSelection): PcrFile {
  return { format: 'values', selection, values: mapPcrDigests(bytes, selection) };
}

const PCR_KEY_RE = /^(?:0|[1-9]\d?)$/;
const HEX_DIGEST_RE = /^[0-9a-fA-F]*$/;

function jsonError(message: string, details: Record<string, unknown> = {}): ParseError {
  return new ParseError('JSON_INVALID', `PCR file (json): ${message}`, details);
}

/** Parses {"sha256": {"0": "<hex>"}}: banks by hash name, PCR indices as decimal keys. */
export function parseJsonPcrs(text: string | Uint8Array): PcrFile {
  const src = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(src);
  } catch (err) {
    throw jsonError(`not valid JSON (${(err as Error).message})`);
  }
  const duplicate = duplicateJsonKey(src, doc);
  if (duplicate) throw jsonError(`a key repeats at ${formatJsonPath(duplicate)} (JSON keeps only the last value, so the file is ambiguous)`, { path: formatJsonPath(duplicate) });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw jsonError('expected an object of banks: {"sha256": {"0": "<hex>"}}');
  const entries = Object.entries(doc as Record<string, unknown>);
  if (entries.length > LIMITS.pcrSelectionCount) throw jsonError(`more than ${LIMITS.pcrSelectionCount} banks`);
  const values: PcrValues = new Map();
  const sel: { hash: HashAlg; pcrs: number[] }[] = [];
  for (const [bankName, bank] of entries) {
    const hash = hashByName(bankName);
    if (!hash) throw jsonError(`unknown bank "${bankName.slice(0, 40)}"`, { bank: bankName.slice(0, 40) });
    if (values.has(hash.name as HashName)) throw jsonError(`bank ${hash.name} given twice`, { bank: hash.name });
    if (typeof bank !== 'object' || bank === null || Array.isArray(bank)) throw jsonError(`bank ${hash.name}: expected {"<pcr>": "<hex>"}`, { bank: hash.name });
    const map = new Map<number, Uint8Array>();
    for (const [key, value] of Object.entries(bank as Record<string, unknown>)) {
      if (!PCR_KEY_RE.test(key) || Number(key) > MAX_PCR_INDEX) throw jsonError(`bank ${hash.name}: "${key.slice(0, 20)}" is not a PCR index 0-${MAX_PCR_INDEX}`, { bank: hash.name, pcr: key.slice(0, 20) });
      if (typeof value !== 'string' || !HEX_DIGEST_RE.test(value) || value.length !== hash.size * 2) {
        throw new ParseError('TPM_BAD_VALUE', `PCR file (json): ${hash.name}:${key} must be ${hash.size * 2} hex digits`, { bank: hash.name, pcr: Number(key), expected: hash.size * 2 });
      }
      map.set(Number(key), Buffer.from(value, 'hex'));
    }
    const sorted = new Map([...map.entries()].sort(([a], [b]) => a - b));
    values.set(hash.name, sorted);
    sel.push({ hash, pcrs: [...sorted.keys()] });
  }
  return { format: 'json', selection: makePcrSelection(sel), values };
}

/** Reads a PCR file in the given format; "values" needs its selection. */
export function parsePcrFile(bytes: Uint8Array, format: PcrFileFormat, selection?: PcrSelection): PcrFile {
  switch (format) {
    case 'serialized':
      return parseSerializedPcrs(bytes);
    case 'marshaled':
      return parseMarshaledPcrs(bytes);
    case 'json':
      return parseJsonPcrs(bytes);
    case 'values':
      if (!selection) throw new ParseError('PCR_SELECTION_INVALID', 'PCR file (values): a selection is needed to read bare PCR values');
      return parseValuesPcrs(bytes, selection);
  }
}
