// EFI_GUID: UINT32 Data1, UINT16 Data2, UINT16 Data3 (little-endian), then
// UINT8 Data4[8] in order (UEFI spec, Appendix A). Printed 8-4-4-4-12.

import type { TpmReader } from '../../tpm/reader.js';

export function guidToString(b: Uint8Array): string {
  if (b.length >= 16) {
    // one hex conversion, then the three little-endian fields byte-swapped: a log can hold a million GUIDs
    const h = Buffer.from(b.buffer, b.byteOffset, 16).toString('hex');
    return `${h.slice(6, 8)}${h.slice(4, 6)}${h.slice(2, 4)}${h.slice(0, 2)}-${h.slice(10, 12)}${h.slice(8, 10)}-${h.slice(14, 16)}${h.slice(12, 14)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  }
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Array.from(b.subarray(from, to));
    if (reverse) part.reverse();
    return part.map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

export function guidToBytes(text: string): Buffer {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(text);
  if (!m) throw new Error(`not a GUID: ${text}`);
  const le = (h: string): Buffer => Buffer.from(h, 'hex').reverse();
  return Buffer.concat([le(m[1]!), le(m[2]!), le(m[3]!), Buffer.from(m[4]! + m[5]!, 'hex')]);
}

export function readGuid(r: TpmReader, field: string): string {
  return guidToString(r.bytes(16, field));
}

/** GUIDs that event decoding names; all lower case. */
export const GUID = {
  EFI_GLOBAL_VARIABLE: '8be4df61-93ca-11d2-aa0d-00e098032b8c',
  EFI_IMAGE_SECURITY_DATABASE: 'd719b2cb-3d3a-4596-a3bc-dad00e67656f',
  SHIM_LOCK: '605dab50-e046-4300-abb6-3dd810dd8b23',
  EFI_CERT_X509: 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072',
  EFI_CERT_SHA1: '826ca512-cf10-4ac9-b187-be01496631bd',
  EFI_CERT_SHA256: 'c1c41626-504c-4092-aca9-41f936934328',
  EFI_CERT_SHA384: 'ff3e5307-9fd0-48c9-85f1-8ad56c701e01',
  EFI_CERT_SHA512: '093e0fae-a6c4-4f50-9f1b-d41e2b89c19a',
  EFI_CERT_X509_SHA256: '3bd2a492-96c0-4079-b420-fcf98ef103ed',
  EFI_CERT_X509_SHA384: '7076876e-80c2-4ee6-aad2-28b349a6865b',
  EFI_CERT_X509_SHA512: '446dbf63-2502-4cda-bcfa-2465d2b0fe9d',
  EFI_CERT_RSA2048: '3c5766e8-269c-4e34-aa14-ed776e85b3b6',
  EFI_CERT_RSA2048_SHA256: 'e2b36190-879b-4a3d-ad8d-f2e7bba32784',
  EFI_CERT_RSA2048_SHA1: '67f8444f-8743-48f1-a328-1eaab8736080',
  EFI_CERT_TYPE_PKCS7: '4aafd29d-68df-49ee-8aa9-347d375665a7',
} as const;

const NAMES: ReadonlyMap<string, string> = new Map<string, string>([
  ...Object.entries(GUID).map(([name, guid]) => [guid, name] as [string, string]),
  ['eb9d2d30-2d88-11d3-9a16-0090273fc14d', 'ACPI_TABLE'],
  ['8868e871-e4f1-11d3-bc22-0080c73c8881', 'ACPI_20_TABLE'],
  ['eb9d2d31-2d88-11d3-9a16-0090273fc14d', 'SMBIOS_TABLE'],
  ['f2fd1544-9794-4a2c-992e-e5bbcf20e394', 'SMBIOS3_TABLE'],
  ['77fa9abd-0359-4d32-bd60-28f4e78f784b', 'MICROSOFT_SIGNATURE_OWNER'],
]);

export function guidName(guid: string): string | undefined {
  return NAMES.get(guid);
}
