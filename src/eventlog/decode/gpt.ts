// UEFI_GPT_DATA (PFP 10.2.9), the data of EV_EFI_GPT_EVENT:
//   UEFI_PARTITION_TABLE_HEADER EfiPartitionHeader (92 bytes, UEFI 5.3.2);
//   UINTN NumberOfPartitions; UEFI_PARTITION_ENTRY Partitions[NumberOfPartitions]
// with entries of SizeOfPartitionEntry bytes: EFI_GUID PartitionTypeGUID;
// EFI_GUID UniquePartitionGUID; EFI_LBA StartingLBA; EFI_LBA EndingLBA;
// UINT64 Attributes; CHAR16 PartitionName[36].

import { TpmReader } from '../../tpm/reader.js';
import { EVENTLOG_CAPS } from '../caps.js';
import type { GptContent, GptPartition } from './content.js';
import { guidToString, readGuid } from './guid.js';
import { utf16ToString } from './text.js';

const MIN_ENTRY_BYTES = 128;

export function decodeGpt(data: Uint8Array, uintnBytes: 4 | 8): GptContent {
  const r = new TpmReader(data, 'UEFI_GPT_DATA');
  const signature = Buffer.from(r.bytes(8, 'Signature')).toString('latin1');
  if (signature !== 'EFI PART') throw r.bad('Signature', `"${signature}" is not "EFI PART"`);
  r.u32le('Revision');
  r.u32le('HeaderSize');
  r.u32le('HeaderCRC32');
  r.u32le('Reserved');
  r.u64le('MyLBA');
  r.u64le('AlternateLBA');
  r.u64le('FirstUsableLBA');
  r.u64le('LastUsableLBA');
  const diskGuid = readGuid(r, 'DiskGUID');
  r.u64le('PartitionEntryLBA');
  r.u32le('NumberOfPartitionEntries');
  const entrySize = r.u32le('SizeOfPartitionEntry');
  r.u32le('PartitionEntryArrayCRC32');
  const count = uintnBytes === 8 ? r.u64le('NumberOfPartitions') : BigInt(r.u32le('NumberOfPartitions'));
  if (entrySize < MIN_ENTRY_BYTES || count > BigInt(EVENTLOG_CAPS.maxListEntries) || count * BigInt(entrySize) !== BigInt(r.remaining)) {
    throw r.bad('NumberOfPartitions', `${count} entries of ${entrySize} bytes do not fill the ${r.remaining} remaining bytes`);
  }
  const partitions: GptPartition[] = [];
  for (let i = 0n; i < count; i++) {
    const e = r.sub(entrySize, 'Partitions', 'UEFI_PARTITION_ENTRY');
    const typeGuid = guidToString(e.bytes(16, 'PartitionTypeGUID'));
    const uniqueGuid = guidToString(e.bytes(16, 'UniquePartitionGUID'));
    const firstLba = e.u64le('StartingLBA');
    const lastLba = e.u64le('EndingLBA');
    const attributes = e.u64le('Attributes');
    const name = utf16ToString(e.bytes(72, 'PartitionName'));
    partitions.push({ typeGuid, uniqueGuid, firstLba, lastLba, attributes, name });
  }
  return { kind: 'gpt', diskGuid, partitions };
}
