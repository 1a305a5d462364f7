// Parses IMA runtime measurement lists, ASCII (ascii_runtime_measurements)
// and binary (binary_runtime_measurements), into an UnverifiedImaList.
//
// ASCII line:   <pcr> <template-hash hex> <template> <fields...>
// Binary entry (little-endian, the kernel's canonical format):
//   UINT32 pcr; BYTE templateHash[20]; UINT32 nameLen; CHAR name[nameLen];
//   then for "ima": BYTE digest[20]; UINT32 len; CHAR filename[len]
//   otherwise:      UINT32 dataLen; { UINT32 len; BYTE field[len] }...
// A malformed line is IMA_MALFORMED_LINE with its 1-based line number.

import { ParseError, VtpmError } from '../../errors.js';
import { TpmReader } from '../../tpm/reader.js';
import { IMA_CAPS } from '../caps.js';
import { parseEventLog } from '../parse.js';
import { buildLegacyTemplate, buildTemplate, decodeFields, legacyTemplateData } from './fields.js';
import { LazyImaEntry } from './entry.js';
import { TEMPLATE_FIELDS, templateFieldIds } from './templates.js';
import type { ImaEntry, UnverifiedImaList } from './types.js';

export type ImaCaps = { -readonly [K in keyof typeof IMA_CAPS]: number };

export interface ParseImaOptions {
  /** absolute index of the first entry, for incremental lists (Keylime's ima_ml_entry) */
  firstEntryIndex?: number;
  caps?: Partial<ImaCaps>;
  /**
   * Called with the count of entries parsed so far and the list's format,
   * every MEMORY_CHECK_EVERY entries: it may throw (a typed error) to stop a
   * list that would not fit the memory the caller has (the CLI's heap),
   * before the process runs out.
   */
  checkMemory?: (entries: number, format: 'ascii' | 'binary') => void;
}

/** How often (in entries) ParseImaOptions.checkMemory is called. */
export const MEMORY_CHECK_EVERY = 1 << 13;

/** pcr + SHA-1 template hash + template name length */
const BINARY_HEADER_BYTES = 28;
/** Templates whose binary template data can be rebuilt from the ASCII list (the others need the binary list). */
const ASCII_TEMPLATE_NAMES = ['ima-ng', 'ima-sig', 'ima-buf', 'ima', 'ima-ngv2', 'ima-sigv2'];
const ASCII_TEMPLATES = new Set(ASCII_TEMPLATE_NAMES);

function isZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/** ASCII or binary, told apart by the first bytes: a binary list starts with a little-endian PCR index, so with NULs. */
export function parseImaList(bytes: Uint8Array, opts: ParseImaOptions = {}): UnverifiedImaList {
  // The kernel writes no BOM, but an ASCII list saved by an editor may start with one; a binary
  // list cannot (its first PCR index would be 0x..BFBBEF).
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const head = bytes.subarray(bom, bom + 64);
  const looksAscii = head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f));
  if (!looksAscii) return parseImaBinary(bytes, opts);
  return parseAscii(Buffer.from(bytes.buffer, bytes.byteOffset + bom, bytes.byteLength - bom).toString('latin1'), opts, bom > 0);
}

const BOM_NOTE = 'a UTF-8 byte order mark before the first line was skipped (the kernel writes none: the list was saved by another program)';

function malformed(line: number, reason: string, text: string): ParseError {
  return new ParseError('IMA_MALFORMED_LINE', `IMA list line ${line}: ${reason}`, { line, reason, text: text.length > 120 ? `${text.slice(0, 120)}...` : text });
}

/**
 * An ASCII list from its bytes, or from text (a JS string, e.g. from JSON,
 * which is taken as UTF-8). Paths are bytes to the kernel, not always UTF-8,
 * so the list is handled as latin1 internally and rebuilt byte for byte.
 */
export function parseImaAscii(input: string | Uint8Array, opts: ParseImaOptions = {}): UnverifiedImaList {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return parseAscii(bytes.toString('latin1', bom ? 3 : 0), opts, bom);
}

function parseAscii(text: string, opts: ParseImaOptions, skippedBom = false): UnverifiedImaList {
  const caps: ImaCaps = { ...IMA_CAPS, ...opts.caps };
  const first = opts.firstEntryIndex ?? 0;
  const entries: ImaEntry[] = [];
  let lineNo = 0;
  let pos = 0;
  let blankAt = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    lineNo++;
    if (nl - pos > caps.maxLineBytes) {
      throw new ParseError('IMA_TOO_LARGE', `IMA list line ${lineNo} is longer than the ${caps.maxLineBytes}-byte cap`, { line: lineNo, cap: caps.maxLineBytes });
    }
    let line = text.slice(pos, nl);
    pos = nl + 1;
    if (line.charCodeAt(line.length - 1) === 0x0d) line = line.slice(0, -1);
    if (line.length === 0 || (line.charCodeAt(0) <= 0x20 && line.trim() === '')) {
      blankAt ||= lineNo;
      continue;
    }
    if (blankAt) throw malformed(blankAt, 'blank line inside the list', '');
    if (entries.length >= caps.maxEntries) {
      throw new ParseError('IMA_TOO_LARGE', `the IMA list has more than ${caps.maxEntries} entries (the cap)`, { line: lineNo, cap: caps.maxEntries });
    }
    if (opts.checkMemory && entries.length % MEMORY_CHECK_EVERY === 0 && entries.length > 0) opts.checkMemory(entries.length, 'ascii');
    entries.push(parseAsciiLine(line, lineNo, first + entries.length));
  }
  return { trust: 'unverified', format: 'ascii', entries, firstEntryIndex: first, trailingBytes: 0, notes: skippedBom ? [BOM_NOTE] : [] };
}

function parseAsciiLine(raw: string, line: number, index: number): ImaEntry {
  const l = raw.charCodeAt(0) === 0x20 ? raw.trimStart() : raw;
  const s1 = l.indexOf(' ');
  const s2 = s1 < 0 ? -1 : l.indexOf(' ', s1 + 1);
  const s3 = s2 < 0 ? -1 : l.indexOf(' ', s2 + 1);
  if (s3 < 0) throw malformed(line, 'expected "<pcr> <template-hash> <template> <fields>"', raw);
  let pcr = 0;
  for (let i = 0; i < s1; i++) {
    const c = l.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9 || s1 > 4) throw malformed(line, `PCR "${l.slice(0, s1)}" is not a number`, raw);
    pcr = pcr * 10 + c;
  }
  const hashText = l.slice(s1 + 1, s2);
  if (hashText.length < 40 || hashText.length > 128 || hashText.length % 2) throw malformed(line, `template hash "${hashText.slice(0, 20)}" is not a hex digest`, raw);
  // the known names as constants: no new string per line
  const templateName = ASCII_TEMPLATE_NAMES.find((n) => s3 - s2 - 1 === n.length && l.startsWith(n, s2 + 1)) ?? l.slice(s2 + 1, s3);
  const ids = ASCII_TEMPLATES.has(templateName) ? TEMPLATE_FIELDS[templateName] : undefined;
  if (!ids) {
    throw new ParseError('IMA_UNKNOWN_TEMPLATE', `IMA list line ${line}: template "${templateName}" cannot be rebuilt from ASCII; use the binary list`, { line, template: templateName });
  }
  const texts = splitFields(ids, l, s3 + 1);
  if (!texts || texts.length !== ids.length) throw malformed(line, `the fields do not fit template ${templateName}`, raw);
  const { templateData, templateHash, fields } = templateName === 'ima' ? buildLegacyTemplate(hashText, texts[0]!, texts[1]!, { line }) : buildTemplate(hashText, ids, texts, () => ({ line }));
  if (!templateHash) throw malformed(line, `template hash "${hashText.slice(0, 20)}" is not a hex digest`, raw);
  return new LazyImaEntry({ index, line, pcr, templateHash, templateName, templateData, violation: isZero(templateHash) }, fields);
}

/** Where the name is in every ASCII template's fields: after the digest. */
const NAME_FIELD = 1;

/**
 * Splits the field text. The kernel prints " " before every field and the
 * name raw (spaces and all), so the name cannot be cut at a space of its
 * own: the digest never has a space and ends at the first one; the fields
 * after the name (sig, buf) are hex or empty, never a space, so each starts
 * after a space counted from the END of the line; the name is what is left
 * between them, whatever it holds (spaces, trailing spaces, hex-like words).
 * An ima/ima-ng name is the rest of the line.
 */
function splitFields(ids: readonly string[], l: string, start: number): string[] | undefined {
  const sp = l.indexOf(' ', start);
  if (sp <= start) return undefined;
  const texts = new Array<string>(ids.length);
  texts[0] = l.slice(start, sp);
  let end = l.length;
  for (let i = ids.length - 1; i > NAME_FIELD; i--) {
    const s = l.lastIndexOf(' ', end - 1);
    if (s <= sp) return end === l.length ? emptyTrailingFields(texts, l, sp) : undefined;
    texts[i] = l.slice(s + 1, end);
    end = s;
  }
  if (end === l.length && sp + 1 >= l.length) return undefined; // the name is the rest of the line and there is none
  texts[NAME_FIELD] = l.slice(sp + 1, end);
  return texts;
}

/**
 * No space after the digest's: the kernel wrote one before the empty last
 * field, so an editor trimmed it. The rest of the line can then only be the
 * name (it has no space), so the line is read with empty trailing fields. A
 * trimmed line whose name has spaces is split at one of them and its template
 * hash does not verify (or its last field is not hex): it fails, it is never
 * taken wrongly.
 */
function emptyTrailingFields(texts: string[], l: string, sp: number): string[] | undefined {
  if (sp + 1 >= l.length) return undefined;
  texts[NAME_FIELD] = l.slice(sp + 1);
  texts.fill('', NAME_FIELD + 1);
  return texts;
}

export function parseImaBinary(bytes: Uint8Array, opts: ParseImaOptions = {}): UnverifiedImaList {
  const caps: ImaCaps = { ...IMA_CAPS, ...opts.caps };
  const first = opts.firstEntryIndex ?? 0;
  const r = new TpmReader(bytes, 'IMA binary measurement list');
  const entries: ImaEntry[] = [];
  const notes: string[] = [];
  let trailingBytes = 0;
  while (r.remaining > 0) {
    if (r.remaining < BINARY_HEADER_BYTES && entries.length > 0) {
      // A fragment shorter than an entry header cannot be an entry; evmctl
      // stops there silently. It is reported, not replayed.
      trailingBytes = r.remaining;
      notes.push(`${trailingBytes} trailing byte(s) after the last complete entry, too few for an entry header; ignored`);
      break;
    }
    if (entries.length >= caps.maxEntries) {
      throw new ParseError('IMA_TOO_LARGE', `the IMA list has more than ${caps.maxEntries} entries (the cap)`, { entry: first + entries.length, cap: caps.maxEntries });
    }
    if (opts.checkMemory && entries.length % MEMORY_CHECK_EVERY === 0 && entries.length > 0) opts.checkMemory(entries.length, 'binary');
    const offset = r.offset;
    const index = first + entries.length;
    try {
      entries.push(readBinaryEntry(r, index, offset, caps));
    } catch (err) {
      if (entries.length === 0 && err instanceof VtpmError && isFirmwareLog(bytes)) {
        throw new ParseError(
          'IMA_FIELD_INVALID',
          'this is a TCG PC Client firmware event log (binary_bios_measurements), not an IMA measurement list: pass it as the event log, and the IMA list (ascii_runtime_measurements or binary_runtime_measurements) as the IMA list',
          { entry: index, offset, field: 'entry header', format: 'tcg-pc-client' },
          { cause: err },
        );
      }
      if (err instanceof VtpmError && err.code === 'TPM_TRUNCATED') {
        throw new ParseError(
          'IMA_TRUNCATED',
          `IMA entry ${index} (offset ${offset}) is truncated at ${String(err.details['field'])}`,
          { entry: index, offset, field: err.details['field'], needed: err.details['needed'], available: err.details['available'] },
          { cause: err },
        );
      }
      throw err;
    }
  }
  return { trust: 'unverified', format: 'binary', entries, firstEntryIndex: first, trailingBytes, notes };
}

/** Does a list that failed at its first entry parse as a TCG PC Client firmware log instead (the two files swapped)? Any 32 bytes frame as a SHA-1 event, so it must also start like one. */
function isFirmwareLog(bytes: Uint8Array): boolean {
  try {
    // every firmware log starts in PCR 0 (a Spec ID event, or the CRTM's first measurement); a CCEL log has a Spec ID
    const log = parseEventLog(bytes);
    return log.specId !== undefined || log.events[0]?.pcrIndex === 0;
  } catch {
    return false;
  }
}

function readBinaryEntry(r: TpmReader, index: number, offset: number, caps: ImaCaps): ImaEntry {
  const where = { entry: index, offset };
  const pcr = r.u32le('pcr');
  const templateHash = r.bytes(20, 'template hash');
  const nameLen = r.u32le('template name length');
  if (nameLen === 0) {
    throw new ParseError('IMA_FIELD_INVALID', `IMA entry ${index} (offset ${offset}): the template name is empty`, { ...where, field: 'template name', nameLen });
  }
  if (nameLen > caps.maxTemplateNameBytes) {
    throw new ParseError('IMA_TOO_LARGE', `IMA entry ${index} (offset ${offset}): template name length ${nameLen} is outside 1..${caps.maxTemplateNameBytes}`, { ...where, nameLen });
  }
  const nameBytes = r.bytes(nameLen, 'template name');
  const templateName = Buffer.from(nameBytes.buffer, nameBytes.byteOffset, nameBytes.byteLength).toString('latin1');
  const fieldData: Uint8Array[] = [];
  let templateData: Uint8Array;
  if (templateName === 'ima') {
    const digest = r.bytes(20, 'digest');
    const len = r.u32le('filename length');
    if (len > caps.maxTemplateDataBytes) throw new ParseError('IMA_TOO_LARGE', `IMA entry ${index}: filename length ${len} is above the cap`, { ...where, len });
    const name = r.bytes(len, 'filename');
    const legacy = legacyTemplateData(digest, name, where);
    templateData = legacy.templateData;
    fieldData.push(legacy.digest, name);
  } else {
    const dataLen = r.u32le('template data length');
    if (dataLen > caps.maxTemplateDataBytes) {
      throw new ParseError('IMA_TOO_LARGE', `IMA entry ${index} (offset ${offset}): template data of ${dataLen} bytes is above the ${caps.maxTemplateDataBytes}-byte cap`, { ...where, dataLen });
    }
    // the binary template data is already the kernel's hash input: (le32 length, field) pairs
    const start = r.offset;
    const data = r.sub(dataLen, 'template data', 'IMA template data');
    templateData = r.bytesSince(start);
    while (data.remaining > 0) {
      if (fieldData.length >= caps.maxTemplateFields) throw new ParseError('IMA_FIELD_INVALID', `IMA entry ${index}: more than ${caps.maxTemplateFields} template fields`, { ...where, field: 'template data' });
      const len = data.u32le(`field ${fieldData.length} length`);
      fieldData.push(data.bytes(len, `field ${fieldData.length}`));
    }
  }
  const ids = templateFieldIds(templateName);
  if (ids && ids.length !== fieldData.length) {
    throw new ParseError('IMA_FIELD_INVALID', `IMA entry ${index} (offset ${offset}): template ${templateName} has ${ids.length} fields, the entry ${fieldData.length}`, {
      ...where,
      field: 'template data',
    });
  }
  return new LazyImaEntry({ index, offset, pcr, templateHash, templateName, templateData, violation: isZero(templateHash) }, decodeFields(ids, fieldData, where));
}
