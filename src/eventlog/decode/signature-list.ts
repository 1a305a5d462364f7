// EFI_SIGNATURE_LIST (UEFI spec 2.10, section 32.4.1), the value of PK, KEK,
// db, dbx, MokList...:
//   EFI_GUID SignatureType; UINT32 SignatureListSize; UINT32 SignatureHeaderSize;
//   UINT32 SignatureSize; UINT8 SignatureHeader[SignatureHeaderSize];
//   EFI_SIGNATURE_DATA Signatures[...]   (each: EFI_GUID SignatureOwner; UINT8 SignatureData[SignatureSize - 16])

import { ParseError } from '../../errors.js';
import { TpmReader } from '../../tpm/reader.js';
import { EVENTLOG_CAPS, type ListEntryBudget } from '../caps.js';
import type { EfiSignature, EfiSignatureList } from './content.js';
import { guidName, guidToString, readGuid } from './guid.js';

const LIST_HEADER_BYTES = 28;

/**
 * Parses a sequence of EFI_SIGNATURE_LISTs; throws ParseError on malformed framing, and before decoding a
 * list that would take the variable past maxListEntries, or the log past what `logBudget` has left.
 */
export function parseSignatureLists(bytes: Uint8Array, logBudget?: ListEntryBudget): EfiSignatureList[] {
  const r = new TpmReader(bytes, 'EFI_SIGNATURE_LIST');
  const lists: EfiSignatureList[] = [];
  let total = 0;
  while (r.remaining > 0) {
    const start = r.offset;
    const type = readGuid(r, 'SignatureType');
    const listSize = r.u32le('SignatureListSize');
    const headerSize = r.u32le('SignatureHeaderSize');
    const sigSize = r.u32le('SignatureSize');
    if (listSize < LIST_HEADER_BYTES || listSize - LIST_HEADER_BYTES > r.remaining + 0 || start + listSize > bytes.length) {
      throw r.bad('SignatureListSize', `list at offset ${start} claims ${listSize} bytes; ${bytes.length - start} remain`);
    }
    if (sigSize < 16 || headerSize > listSize - LIST_HEADER_BYTES || (listSize - LIST_HEADER_BYTES - headerSize) % sigSize !== 0) {
      throw r.bad('SignatureSize', `list at offset ${start}: size ${listSize}, header ${headerSize} and signature size ${sigSize} do not fit together`);
    }
    r.skip(headerSize, 'SignatureHeader');
    const count = (listSize - LIST_HEADER_BYTES - headerSize) / sigSize;
    total += count;
    if (total > EVENTLOG_CAPS.maxListEntries) {
      throw new ParseError('EVENTLOG_EVENT_TOO_LARGE', `more than ${EVENTLOG_CAPS.maxListEntries} signatures in one variable`, { cap: EVENTLOG_CAPS.maxListEntries });
    }
    if (logBudget && total > logBudget.left) {
      logBudget.refused++;
      throw new ParseError('EVENTLOG_EVENT_TOO_LARGE', `its signatures would take the log past ${logBudget.cap} signatures, partitions and tables in all`, { cap: logBudget.cap });
    }
    const signatures: EfiSignature[] = [];
    for (let i = 0; i < count; i++) {
      const owner = readGuid(r, 'SignatureOwner');
      signatures.push({ owner, data: r.bytes(sigSize - 16, 'SignatureData') });
    }
    lists.push({ type, typeName: guidName(type), signatures });
  }
  return lists;
}

/** One EFI_SIGNATURE_DATA on its own (EV_EFI_VARIABLE_AUTHORITY for db entries). */
export function parseSignatureData(bytes: Uint8Array): EfiSignature {
  if (bytes.length < 16) throw new TpmReader(bytes, 'EFI_SIGNATURE_DATA').bad('SignatureOwner', 'shorter than a GUID');
  return { owner: guidToString(bytes.subarray(0, 16)), data: bytes.subarray(16) };
}
