// EFI_DEVICE_PATH_PROTOCOL (UEFI spec 2.10, section 10.3): a sequence of
// nodes {UINT8 Type; UINT8 SubType; UINT16 Length; data}, ended by type 0x7F.
// Rendered in the UEFI text form (section 10.6) for the node kinds firmware
// logs use; others render generically as Path(type,subtype,hex) so nothing
// is lost.

import { TpmReader } from '../../tpm/reader.js';
import { EVENTLOG_CAPS } from '../caps.js';
import { guidToString } from './guid.js';
import { utf16ToString } from './text.js';

export interface DevicePath {
  text: string;
  /** the FilePath nodes joined, e.g. \EFI\BOOT\BOOTX64.EFI */
  filePath: string | undefined;
  notes: string[];
}

const hex = (n: number | bigint): string => `0x${n.toString(16).toUpperCase()}`;

/** Decodes a device path; a malformed one yields the nodes before the fault plus a note. */
export function decodeDevicePath(bytes: Uint8Array): DevicePath {
  const parts: string[] = [];
  const files: string[] = [];
  const notes: string[] = [];
  const r = new TpmReader(bytes, 'EFI_DEVICE_PATH');
  let nodes = 0;
  while (r.remaining > 0) {
    if (++nodes > EVENTLOG_CAPS.maxDevicePathNodes) {
      notes.push(`device path has more than ${EVENTLOG_CAPS.maxDevicePathNodes} nodes; the rest is not shown`);
      break;
    }
    if (r.remaining < 4) {
      notes.push(`device path: ${r.remaining} stray byte(s) at its end`);
      break;
    }
    const start = r.offset;
    const type = r.u8('Type');
    const subType = r.u8('SubType');
    const length = r.u16le('Length');
    if (length < 4 || length - 4 > r.remaining) {
      notes.push(`device path node at offset ${start} has an impossible length ${length}`);
      break;
    }
    const body = r.sub(length - 4, 'node', `device path node ${type}/${subType}`);
    if (type === 0x7f) {
      if (subType === 0xff) break; // end of entire device path
      parts.push(',');
      continue; // end of this instance
    }
    try {
      const node = renderNode(type, subType, body);
      parts.push(node.text);
      if (node.file !== undefined) files.push(node.file);
    } catch {
      notes.push(`device path node ${type}/${subType} at offset ${start} is malformed`);
      parts.push(generic(type, subType, bytes.subarray(start + 4, start + length)));
    }
  }
  const text = parts.join('/').replace(/\/,\//g, ',');
  return { text, filePath: files.length > 0 ? joinFilePath(files) : undefined, notes };
}

function joinFilePath(parts: string[]): string {
  let out = '';
  for (const p of parts) {
    if (out === '' || out.endsWith('\\') || p.startsWith('\\')) out += p;
    else out += `\\${p}`;
  }
  return out;
}

function generic(type: number, subType: number, data: Uint8Array): string {
  return `Path(${type},${subType}${data.length ? `,${Buffer.from(data).toString('hex')}` : ''})`;
}

function eisaId(id: number): string {
  // Compressed EISA ID: three 5-bit letters (A = 1) in the low 16 bits, the product number in the high 16.
  const v = id & 0xffff;
  const letters = [10, 5, 0].map((s) => String.fromCharCode(((v >> s) & 0x1f) + 0x40)).join('');
  return `${letters}${((id >>> 16) & 0xffff).toString(16).toUpperCase().padStart(4, '0')}`;
}

function renderNode(type: number, subType: number, r: TpmReader): { text: string; file?: string } {
  const all = (): Uint8Array => r.bytes(r.remaining, 'data');
  switch (type) {
    case 0x01: // Hardware
      switch (subType) {
        case 0x01: {
          const fn = r.u8('Function');
          const dev = r.u8('Device');
          return { text: `Pci(${hex(dev)},${hex(fn)})` };
        }
        case 0x03: {
          const memType = r.u32le('MemoryType');
          const start = r.u64le('StartingAddress');
          const end = r.u64le('EndingAddress');
          return { text: `MemoryMapped(${hex(memType)},${hex(start)},${hex(end)})` };
        }
        case 0x04: {
          const guid = guidToString(r.bytes(16, 'VendorGuid'));
          const rest = all();
          return { text: `VenHw(${guid}${rest.length ? `,${Buffer.from(rest).toString('hex')}` : ''})` };
        }
        case 0x05:
          return { text: `Ctrl(${hex(r.u32le('ControllerNumber'))})` };
      }
      break;
    case 0x02: // ACPI
      if (subType === 0x01) {
        const hid = r.u32le('HID');
        const uid = r.u32le('UID');
        if (hid === 0x0a0341d0) return { text: `PciRoot(${hex(uid)})` };
        if (hid === 0x0a0841d0) return { text: `PcieRoot(${hex(uid)})` };
        return { text: `Acpi(${eisaId(hid)},${hex(uid)})` };
      }
      if (subType === 0x03) return { text: `AcpiAdr(${hex(r.u32le('ADR'))})` };
      break;
    case 0x03: // Messaging
      switch (subType) {
        case 0x01: {
          const primary = r.u8('PrimarySecondary');
          const slave = r.u8('SlaveMaster');
          const lun = r.u16le('Lun');
          return { text: `Ata(${primary ? 'Secondary' : 'Primary'},${slave ? 'Slave' : 'Master'},${hex(lun)})` };
        }
        case 0x02:
          return { text: `Scsi(${hex(r.u16le('Pun'))},${hex(r.u16le('Lun'))})` };
        case 0x05:
          return { text: `USB(${hex(r.u8('ParentPort'))},${hex(r.u8('Interface'))})` };
        case 0x0a: {
          const guid = guidToString(r.bytes(16, 'VendorGuid'));
          const rest = all();
          return { text: `VenMsg(${guid}${rest.length ? `,${Buffer.from(rest).toString('hex')}` : ''})` };
        }
        case 0x0b: {
          const mac = r.bytes(32, 'MacAddress');
          const ifType = r.u8('IfType');
          const len = ifType === 0 || ifType === 1 ? 6 : 32;
          return { text: `MAC(${Buffer.from(mac.subarray(0, len)).toString('hex')},${hex(ifType)})` };
        }
        case 0x0c: {
          const local = r.bytes(4, 'LocalIp');
          const remote = r.bytes(4, 'RemoteIp');
          return { text: `IPv4(${Array.from(remote).join('.')},${Array.from(local).join('.')})` };
        }
        case 0x11:
          return { text: `Unit(${hex(r.u8('Lun'))})` };
        case 0x12:
          return { text: `Sata(${hex(r.u16le('HBAPort'))},${hex(r.u16le('PortMultiplierPort'))},${hex(r.u16le('Lun'))})` };
        case 0x17: {
          const nsid = r.u32le('NamespaceId');
          const eui = Array.from(r.bytes(8, 'EUI64'), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join('-');
          return { text: `NVMe(${hex(nsid)},${eui})` };
        }
        case 0x18:
          return { text: `Uri(${Buffer.from(all()).toString('utf8')})` };
      }
      break;
    case 0x04: // Media
      switch (subType) {
        case 0x01: {
          const part = r.u32le('PartitionNumber');
          const start = r.u64le('PartitionStart');
          const size = r.u64le('PartitionSize');
          const sig = r.bytes(16, 'PartitionSignature');
          const format = r.u8('PartitionFormat');
          const sigType = r.u8('SignatureType');
          let sigText: string;
          if (sigType === 2) sigText = `GPT,${guidToString(sig)}`;
          else if (sigType === 1) sigText = `MBR,${hex(new TpmReader(sig, 'MBR signature').u32le('signature'))}`;
          else sigText = `${format},${hex(sigType)}`;
          return { text: `HD(${part},${sigText},${hex(start)},${hex(size)})` };
        }
        case 0x02: {
          const entry = r.u32le('BootEntry');
          const start = r.u64le('PartitionStart');
          const size = r.u64le('PartitionSize');
          return { text: `CDROM(${hex(entry)},${hex(start)},${hex(size)})` };
        }
        case 0x03: {
          const guid = guidToString(r.bytes(16, 'VendorGuid'));
          const rest = all();
          return { text: `VenMedia(${guid}${rest.length ? `,${Buffer.from(rest).toString('hex')}` : ''})` };
        }
        case 0x04: {
          const path = utf16ToString(all());
          return { text: path, file: path };
        }
        case 0x05:
          return { text: `Media(${guidToString(r.bytes(16, 'Protocol'))})` };
        case 0x06:
          return { text: `FvFile(${guidToString(r.bytes(16, 'FvFileName'))})` };
        case 0x07:
          return { text: `Fv(${guidToString(r.bytes(16, 'FvName'))})` };
        case 0x08: {
          r.u32le('Reserved');
          const start = r.u64le('StartingOffset');
          const end = r.u64le('EndingOffset');
          return { text: `Offset(${hex(start)},${hex(end)})` };
        }
      }
      break;
    case 0x05: // BIOS Boot Specification
      if (subType === 0x01) {
        const devType = r.u16le('DeviceType');
        r.u16le('StatusFlag');
        const desc = Buffer.from(all()).toString('latin1').replace(/\0+$/, '');
        return { text: `BBS(${hex(devType)},${desc})` };
      }
      break;
  }
  return { text: generic(type, subType, all()) };
}
