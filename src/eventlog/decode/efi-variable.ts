// UEFI_VARIABLE_DATA (PFP 10.2.6): the data of EV_EFI_VARIABLE_DRIVER_CONFIG,
// EV_EFI_VARIABLE_BOOT(2) and EV_EFI_VARIABLE_AUTHORITY.
//   EFI_GUID VariableName; UINT64 UnicodeNameLength; UINT64 VariableDataLength;
//   CHAR16 UnicodeName[UnicodeNameLength]; INT8 VariableData[VariableDataLength]

import { TpmReader } from '../../tpm/reader.js';
import type { ListEntryBudget } from '../caps.js';
import { EV } from '../event-types.js';
import type { EfiLoadOption, EfiVariableContent } from './content.js';
import { decodeDevicePath } from './device-path.js';
import { GUID, readGuid } from './guid.js';
import { parseSignatureData, parseSignatureLists } from './signature-list.js';
import { decodeText, utf16ToString } from './text.js';

const SIGNATURE_DATABASES = new Set(['PK', 'KEK', 'db', 'dbx', 'dbt', 'dbr', 'PKDefault', 'KEKDefault', 'dbDefault', 'dbxDefault']);
const SHIM_LISTS = new Set(['MokList', 'MokListX', 'MokListRT', 'MokListXRT']);
const BOOLEAN_VARIABLES = new Set(['SecureBoot', 'DeployedMode', 'AuditMode', 'SetupMode', 'MokListTrusted', 'MokSBState']);

export interface ParsedVariable {
  guid: string;
  name: string;
  value: Uint8Array;
  /** bytes of the frame; less than the data when stray bytes follow */
  frameLength: number;
  notes: string[];
}

/** Parses the UEFI_VARIABLE_DATA frame; throws ParseError when the lengths do not fit. */
export function parseVariableData(data: Uint8Array): ParsedVariable {
  const r = new TpmReader(data, 'UEFI_VARIABLE_DATA');
  const guid = readGuid(r, 'VariableName');
  const nameLength = r.u64le('UnicodeNameLength');
  const dataLength = r.u64le('VariableDataLength');
  if (nameLength * 2n > BigInt(r.remaining)) throw r.bad('UnicodeNameLength', `${nameLength} characters do not fit in ${r.remaining} bytes`);
  const name = utf16ToString(r.bytes(Number(nameLength) * 2, 'UnicodeName'));
  if (dataLength > BigInt(r.remaining)) throw r.bad('VariableDataLength', `${dataLength} bytes do not fit in ${r.remaining} bytes`);
  const value = r.bytes(Number(dataLength), 'VariableData');
  const notes: string[] = [];
  if (r.remaining > 0) notes.push(`${r.remaining} byte(s) after the variable data`);
  return { guid, name, value, frameLength: r.offset, notes };
}

/** `maxSignatures`: what the log may still decode (a signature database past it is not decoded, with a note). */
export function decodeEfiVariable(eventType: number, data: Uint8Array, maxSignatures?: ListEntryBudget): EfiVariableContent {
  const v = parseVariableData(data);
  const content: EfiVariableContent = { kind: 'efi-variable', guid: v.guid, name: v.name, value: v.value };
  if (v.frameLength < data.length) content.frameLength = v.frameLength;
  const notes = [...v.notes];
  try {
    interpretValue(eventType, v, content, maxSignatures);
  } catch (err) {
    notes.push(`${v.name}: value not decoded: ${(err as Error).message}`);
  }
  if (notes.length) content.notes = notes;
  return content;
}

function interpretValue(eventType: number, v: ParsedVariable, out: EfiVariableContent, maxSignatures: ListEntryBudget | undefined): void {
  const global = v.guid === GUID.EFI_GLOBAL_VARIABLE;
  const securityDb = v.guid === GUID.EFI_IMAGE_SECURITY_DATABASE;
  const shim = v.guid === GUID.SHIM_LOCK;

  if (eventType === EV.EFI_VARIABLE_AUTHORITY) {
    decodeAuthority(v, out);
    return;
  }
  if (BOOLEAN_VARIABLES.has(v.name) && (global || shim)) {
    // An absent variable is measured with an empty value: it is off.
    out.enabled = v.value.length > 0 && v.value[0] === 1;
    return;
  }
  if ((SIGNATURE_DATABASES.has(v.name) && (global || securityDb)) || (SHIM_LISTS.has(v.name) && shim)) {
    out.signatureLists = parseSignatureLists(v.value, maxSignatures);
    return;
  }
  if (global && v.name === 'BootOrder') {
    if (v.value.length % 2 !== 0) throw new Error('odd length');
    const r = new TpmReader(v.value, 'BootOrder');
    const order: number[] = [];
    while (r.remaining > 0) order.push(r.u16le('BootOrder'));
    out.bootOrder = order;
    return;
  }
  if (global && /^(Boot|Driver|SysPrep)[0-9A-Fa-f]{4}$/.test(v.name)) {
    out.loadOption = parseLoadOption(v.value);
    return;
  }
  const text = decodeText(v.value);
  if (text && text.text.length > 0 && v.value.length > 1) out.text = text.text;
}

/**
 * EV_EFI_VARIABLE_AUTHORITY: for db/dbx the value is the EFI_SIGNATURE_DATA
 * that verified an image; shim logs its own vendor certificate as bare DER
 * ("Shim"), MokListTrusted as one byte, and SbatLevel as text.
 */
function decodeAuthority(v: ParsedVariable, out: EfiVariableContent): void {
  const b = v.value;
  if (b.length >= 20 && b[16] === 0x30) {
    out.authority = parseSignatureData(b);
  } else if (b.length >= 4 && b[0] === 0x30) {
    out.authority = { owner: v.guid, data: b };
  } else if (b.length === 1) {
    out.enabled = b[0] === 1;
  } else if (b.length > 0) {
    const t = decodeText(b);
    if (t) out.text = t.text;
    else if (b.length >= 16) out.authority = parseSignatureData(b);
  }
}

/** EFI_LOAD_OPTION: UINT32 Attributes; UINT16 FilePathListLength; CHAR16 Description[]; device paths; optional data. */
export function parseLoadOption(bytes: Uint8Array): EfiLoadOption {
  const r = new TpmReader(bytes, 'EFI_LOAD_OPTION');
  const attributes = r.u32le('Attributes');
  const pathLength = r.u16le('FilePathListLength');
  const descStart = r.offset;
  let end = descStart;
  while (end + 1 < bytes.length && (bytes[end] !== 0 || bytes[end + 1] !== 0)) end += 2;
  r.skip(end - descStart, 'Description');
  r.skip(2, 'Description terminator');
  const description = utf16ToString(bytes.subarray(descStart, end));
  const path = decodeDevicePath(r.bytes(pathLength, 'FilePathList'));
  const optionalData = r.bytes(r.remaining, 'OptionalData');
  return { attributes, description, devicePath: path.text, filePath: path.filePath, optionalData };
}
