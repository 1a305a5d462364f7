// TPML_PCR_SELECTION (TPM 2.0 Part 2, 10.6.2 TPMS_PCR_SELECTION and 10.9.7
// TPML_PCR_SELECTION), and its text form "sha1:0,7+sha256:0,1,2" as tpm2-tools
// writes it.
//
// A selection names, per hash bank, a bitmap of PCRs: bit j of byte i selects
// PCR 8*i + j. The order of banks and of PCRs is what a TPM hashes into a
// quote's pcrDigest, so parsed selections keep the wire order.

import { ParseError } from '../errors.js';
import { hashById, hashByName, LIMITS, type HashAlg, type HashName } from './constants.js';
import type { PcrValues } from './pcrs.js';
import { TpmReader } from './reader.js';

/** The highest PCR index a selection can name (PCR_SELECT_MAX bytes of bitmap). */
export const MAX_PCR_INDEX = LIMITS.pcrSelectBytes * 8 - 1;

/** PCR_SELECT_MIN of the PC Client profile: tools always send at least 3 bytes. */
const PCR_SELECT_MIN = 3;

export interface PcrBankSelection {
  /** the bank's hash algorithm */
  hash: HashAlg;
  /** the sizeofSelect bytes of the bitmap (a view into the input when parsed) */
  select: Uint8Array;
  /** selected PCR indices, ascending */
  pcrs: readonly number[];
}

export interface PcrSelection {
  /** in wire order: the order a TPM hashes them */
  banks: readonly PcrBankSelection[];
  /** the marshalled TPML_PCR_SELECTION, when parsed from TPM bytes */
  raw?: Uint8Array;
}

function pcrsOfBitmap(select: Uint8Array): number[] {
  const pcrs: number[] = [];
  for (let i = 0; i < select.length; i++) {
    const byte = select[i]!;
    if (byte === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) pcrs.push(i * 8 + bit);
  }
  return pcrs;
}

/** A hash algorithm a PCR bank may use, or TPM_UNSUPPORTED_ALG. */
export function bankHash(r: TpmReader, id: number, field: string): HashAlg {
  const hash = hashById(id);
  if (!hash) {
    throw new ParseError('TPM_UNSUPPORTED_ALG', `${r.what}: ${field}: unknown hash algorithm 0x${id.toString(16).padStart(4, '0')}`, {
      structure: r.what,
      field,
      offset: r.offset - 2,
      alg: id,
    });
  }
  return hash;
}

/** Reads one TPMS_PCR_SELECTION body given its already-read hash (shared with the little-endian tools format). */
export function readPcrBitmap(r: TpmReader, hash: HashAlg, field: string): PcrBankSelection {
  // UINT8 sizeofSelect
  const size = r.u8(`${field}.sizeofSelect`);
  if (size > LIMITS.pcrSelectBytes) {
    throw new ParseError('TPM_SIZE_LIMIT', `${r.what}: ${field}.sizeofSelect ${size} exceeds the maximum ${LIMITS.pcrSelectBytes}`, {
      structure: r.what,
      field: `${field}.sizeofSelect`,
      offset: r.offset - 1,
      size,
      max: LIMITS.pcrSelectBytes,
    });
  }
  // BYTE pcrSelect[sizeofSelect]
  const select = r.bytes(size, `${field}.pcrSelect`);
  return { hash, select, pcrs: pcrsOfBitmap(select) };
}

/** Reads a TPML_PCR_SELECTION at the reader's position (big-endian TPM marshalling). */
export function readPcrSelection(r: TpmReader, field = 'pcrSelect'): PcrSelection {
  const start = r.offset;
  // UINT32 count
  const count = r.u32(`${field}.count`);
  if (count > LIMITS.pcrSelectionCount) {
    throw new ParseError('TPM_SIZE_LIMIT', `${r.what}: ${field}.count ${count} exceeds the maximum ${LIMITS.pcrSelectionCount}`, {
      structure: r.what,
      field: `${field}.count`,
      offset: start,
      count,
      max: LIMITS.pcrSelectionCount,
    });
  }
  const banks: PcrBankSelection[] = [];
  for (let i = 0; i < count; i++) {
    const f = `${field}.pcrSelections[${i}]`;
    // TPMI_ALG_HASH hash
    const hash = bankHash(r, r.u16(`${f}.hash`), `${f}.hash`);
    banks.push(readPcrBitmap(r, hash, f));
  }
  return { banks, raw: r.bytesSince(start) };
}

/** Parses bytes that hold exactly one marshalled TPML_PCR_SELECTION. */
export function parsePcrSelection(bytes: Uint8Array): PcrSelection {
  const r = new TpmReader(bytes, 'TPML_PCR_SELECTION');
  const sel = readPcrSelection(r);
  r.end();
  return sel;
}

function bitmapOf(pcrs: readonly number[]): Uint8Array {
  const max = pcrs.length ? Math.max(...pcrs) : 0;
  const select = new Uint8Array(Math.max(PCR_SELECT_MIN, (max >> 3) + 1));
  for (const p of pcrs) select[p >> 3]! |= 1 << (p & 7);
  return select;
}

/** A selection from (bank, PCR list) pairs, in the order given; PCRs are sorted and deduplicated. */
export function makePcrSelection(entries: readonly { hash: HashAlg; pcrs: readonly number[] }[]): PcrSelection {
  return {
    banks: entries.map((e) => {
      const pcrs = [...new Set(e.pcrs)].sort((a, b) => a - b);
      return { hash: e.hash, select: bitmapOf(pcrs), pcrs };
    }),
  };
}

const TEXT_BANK_RE = /^([A-Za-z0-9_-]+):(.*)$/;

/**
 * Parses the tpm2-tools text form: banks separated by "+", each "alg:i,j,k"
 * (or "alg:all" for PCRs 0-23). Errors are PCR_SELECTION_INVALID.
 */
export function parsePcrSelectionText(text: string): PcrSelection {
  const bad = (why: string): ParseError =>
    new ParseError('PCR_SELECTION_INVALID', `PCR selection "${text.length > 80 ? `${text.slice(0, 80)}...` : text}": ${why}`, { selection: text.slice(0, 200) });
  const t = text.trim();
  if (t === '') throw bad('empty');
  const parts = t.split('+');
  if (parts.length > LIMITS.pcrSelectionCount) throw bad(`more than ${LIMITS.pcrSelectionCount} banks`);
  const entries = parts.map((part) => {
    const m = TEXT_BANK_RE.exec(part.trim());
    if (!m) throw bad(`"${part}" is not bank:pcr,pcr,...`);
    const hash = hashByName(m[1]!);
    if (!hash) throw bad(`unknown hash algorithm "${m[1]}"`);
    const list = m[2]!.trim();
    if (list === 'all') return { hash, pcrs: Array.from({ length: 24 }, (_, i) => i) };
    if (list === '') throw bad(`bank ${hash.name} selects no PCR`);
    const pcrs = list.split(',').map((s) => {
      const n = s.trim();
      if (!/^\d{1,2}$/.test(n) || Number(n) > MAX_PCR_INDEX) throw bad(`"${s}" is not a PCR index 0-${MAX_PCR_INDEX}`);
      return Number(n);
    });
    return { hash, pcrs };
  });
  return makePcrSelection(entries);
}

/** The text form, banks in selection order: "sha1:0,7+sha256:0,1,2". An empty selection is "". */
export function formatPcrSelection(sel: PcrSelection): string {
  return sel.banks.map((b) => `${b.hash.name}:${b.pcrs.join(',')}`).join('+');
}

/**
 * The set of (bank, PCR) pairs a selection names, as a canonical string
 * (banks merged and sorted by name, PCRs ascending), for equality tests.
 */
export function canonicalSelection(sel: PcrSelection): string {
  const byBank = new Map<string, Set<number>>();
  for (const b of sel.banks) {
    let set = byBank.get(b.hash.name);
    if (!set) byBank.set(b.hash.name, (set = new Set()));
    for (const p of b.pcrs) set.add(p);
  }
  return [...byBank.entries()]
    .filter(([, set]) => set.size > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, set]) => `${name}:${[...set].sort((x, y) => x - y).join(',')}`)
    .join('+');
}

/** The selection a set of PCR values covers (banks in insertion order, PCRs ascending). */
export function selectionOfPcrValues(values: PcrValues): PcrSelection {
  const entries: { hash: HashAlg; pcrs: number[] }[] = [];
  for (const [bank, pcrs] of values) {
    const hash = hashByName(bank as HashName);
    if (hash) entries.push({ hash, pcrs: [...pcrs.keys()] });
  }
  return makePcrSelection(entries);
}

/** Number of PCR values the selection asks for (counting a PCR named twice twice, as a TPM does). */
export function selectedPcrCount(sel: PcrSelection): number {
  let n = 0;
  for (const b of sel.banks) n += b.pcrs.length;
  return n;
}

/** Total size in bytes of the PCR values the selection asks for, in order. */
export function selectedDigestBytes(sel: PcrSelection): number {
  let n = 0;
  for (const b of sel.banks) n += b.pcrs.length * b.hash.size;
  return n;
}
