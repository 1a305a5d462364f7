// Firmware-phase events whose data is a blob reference or a table list:
// UEFI_PLATFORM_FIRMWARE_BLOB(2) (PFP 10.2.4/10.2.5: UINT8 BlobDescriptionSize;
// BYTE BlobDescription[]; EFI_PHYSICAL_ADDRESS BlobBase; UINT64 BlobLength)
// and UEFI_HANDOFF_TABLE_POINTERS(2) (10.2.7/10.2.8: UINT8 TableDescriptionSize;
// BYTE TableDescription[]; UINTN NumberOfTables; EFI_CONFIGURATION_TABLE
// TableEntry[] = {EFI_GUID VendorGuid; VOID *VendorTable}).

import { TpmReader } from '../../tpm/reader.js';
import { EVENTLOG_CAPS } from '../caps.js';
import type { FirmwareBlobContent, HandoffTablesContent } from './content.js';
import { guidName, readGuid } from './guid.js';

export function decodeFirmwareBlob(data: Uint8Array, withDescription: boolean): FirmwareBlobContent {
  const r = new TpmReader(data, withDescription ? 'UEFI_PLATFORM_FIRMWARE_BLOB2' : 'UEFI_PLATFORM_FIRMWARE_BLOB');
  let description: string | undefined;
  if (withDescription) {
    const n = r.u8('BlobDescriptionSize');
    description = Buffer.from(r.bytes(n, 'BlobDescription')).toString('latin1').replace(/\0+$/, '');
  }
  const base = r.u64le('BlobBase');
  const length = r.u64le('BlobLength');
  r.end();
  const content: FirmwareBlobContent = { kind: 'firmware-blob', base, length };
  if (description !== undefined) content.description = description;
  return content;
}

export function decodeHandoffTables(data: Uint8Array, withDescription: boolean, uintnBytes: 4 | 8): HandoffTablesContent {
  const r = new TpmReader(data, withDescription ? 'UEFI_HANDOFF_TABLE_POINTERS2' : 'UEFI_HANDOFF_TABLE_POINTERS');
  let description: string | undefined;
  if (withDescription) {
    const n = r.u8('TableDescriptionSize');
    description = Buffer.from(r.bytes(n, 'TableDescription')).toString('latin1').replace(/\0+$/, '');
  }
  const count = uintnBytes === 8 ? r.u64le('NumberOfTables') : BigInt(r.u32le('NumberOfTables'));
  if (count > BigInt(EVENTLOG_CAPS.maxListEntries) || count * BigInt(16 + uintnBytes) !== BigInt(r.remaining)) {
    throw r.bad('NumberOfTables', `${count} tables do not fill the ${r.remaining} remaining bytes`);
  }
  const tables: HandoffTablesContent['tables'] = [];
  for (let i = 0n; i < count; i++) {
    const guid = readGuid(r, 'VendorGuid');
    const address = uintnBytes === 8 ? r.u64le('VendorTable') : BigInt(r.u32le('VendorTable'));
    tables.push({ guid, name: guidName(guid), address });
  }
  const content: HandoffTablesContent = { kind: 'handoff-tables', tables };
  if (description !== undefined) content.description = description;
  return content;
}
