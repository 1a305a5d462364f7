// UEFI_IMAGE_LOAD_EVENT (PFP 10.2.3), the data of EV_EFI_BOOT_SERVICES_APPLICATION,
// _DRIVER and EV_EFI_RUNTIME_SERVICES_DRIVER:
//   EFI_PHYSICAL_ADDRESS ImageLocationInMemory; UINTN ImageLengthInMemory;
//   UINTN ImageLinkTimeAddress; UINTN LengthOfDevicePath;
//   EFI_DEVICE_PATH DevicePath[LengthOfDevicePath]
// UINTN is 8 bytes unless the Spec ID event says uintnSize 1 (32-bit firmware).
// The event's digest is the Authenticode hash of the PE image, not of this data.

import { TpmReader } from '../../tpm/reader.js';
import type { ImageLoadContent } from './content.js';
import { decodeDevicePath } from './device-path.js';

function readUintn(r: TpmReader, size: 4 | 8, field: string): bigint {
  return size === 8 ? r.u64le(field) : BigInt(r.u32le(field));
}

function tryDecode(data: Uint8Array, uintn: 4 | 8, exact: boolean): ImageLoadContent | undefined {
  try {
    const r = new TpmReader(data, 'UEFI_IMAGE_LOAD_EVENT');
    const imageLocation = r.u64le('ImageLocationInMemory');
    const imageLength = readUintn(r, uintn, 'ImageLengthInMemory');
    const linkTimeAddress = readUintn(r, uintn, 'ImageLinkTimeAddress');
    const pathLength = readUintn(r, uintn, 'LengthOfDevicePath');
    if (pathLength > BigInt(r.remaining) || (exact && pathLength !== BigInt(r.remaining))) return undefined;
    const path = decodeDevicePath(r.bytes(Number(pathLength), 'DevicePath'));
    const content: ImageLoadContent = { kind: 'efi-image-load', imageLocation, imageLength, linkTimeAddress, devicePath: path.text, filePath: path.filePath };
    const notes = [...path.notes];
    // shim's LoadImage events carry an empty device path followed by stray bytes
    if (r.remaining > 0) notes.push(`${r.remaining} byte(s) after the device path`);
    if (notes.length) content.notes = notes;
    return content;
  } catch {
    return undefined;
  }
}

/**
 * Decodes the image-load event. Some firmware declares 32-bit UINTN and writes
 * 64-bit fields (or the reverse), so both widths are tried, exact fits first.
 */
export function decodeImageLoad(data: Uint8Array, uintnBytes: 4 | 8): ImageLoadContent | undefined {
  const other: 4 | 8 = uintnBytes === 8 ? 4 : 8;
  for (const exact of [true, false]) {
    const declared = tryDecode(data, uintnBytes, exact);
    if (declared) return declared;
    const fallback = tryDecode(data, other, exact);
    if (fallback) {
      (fallback.notes ??= []).push(`fields are ${other}-byte UINTN, not the ${uintnBytes} bytes the Spec ID event implies`);
      return fallback;
    }
  }
  return undefined;
}
