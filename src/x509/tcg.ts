// The TPM's identity in an EK (or AK) certificate: TCG EK Credential Profile
// 2.x section 3.2.9 puts tpmManufacturer, tpmModel and tpmVersion in a
// directoryName of the subjectAltName (critical when the subject is empty);
// older certificates carry them in the subject. Values are UTF8Strings;
// manufacturer and version are "id:" followed by 8 hex digits.

import type { DecodedExtensions } from './extensions.js';
import { nameAttribute, type Name } from './name.js';
import { OID } from './oids.js';

export interface TcgAttributes {
  /** as written: "id:4E544300" */
  manufacturer?: string;
  /** the 4-byte vendor id as ASCII when printable: "NTC" */
  manufacturerId?: string;
  /** vendor name from the TCG Vendor ID Registry when known: "Nuvoton Technology" */
  manufacturerName?: string;
  model?: string;
  /** as written: "id:00070002" */
  version?: string;
  /** firmware version: the two 16-bit halves of tpmVersion, "7.2" */
  firmwareVersion?: string;
  /** where the attributes were found */
  source: 'subjectAltName' | 'subject';
  /** TPMSpecification from subjectDirectoryAttributes, e.g. family "2.0", level 0, revision 138 */
  specification?: { family: string; level: number; revision: number };
}

/** The TCG vendor id registry by the letters people know ids by (TCG Vendor ID Registry), with each vendor's name: version 1.07, the ids EK certificates use. */
export const VENDORS: Readonly<Record<string, string>> = {
  AMD: 'AMD',
  ANT: 'Ant Group',
  ATML: 'Atmel',
  BRCM: 'Broadcom',
  CSCO: 'Cisco',
  FLYS: 'Flyslice Technologies',
  ROCC: 'Fuzhou Rockchip',
  GOOG: 'Google',
  HPI: 'HPI',
  HPE: 'HPE',
  HISI: 'Huawei',
  IBM: 'IBM',
  IFX: 'Infineon',
  INTC: 'Intel',
  LEN: 'Lenovo',
  MSFT: 'Microsoft',
  NSM: 'National Semiconductor',
  NTZ: 'Nationz',
  NSG: 'NSING',
  NTC: 'Nuvoton Technology',
  QCOM: 'Qualcomm',
  SMSN: 'Samsung',
  SECE: 'SecEdge',
  SNS: 'Sinosun',
  SMSC: 'SMSC',
  STM: 'STMicroelectronics',
  TXN: 'Texas Instruments',
  WEC: 'Winbond',
  SEAL: 'Wisekey',
};

function idHex(value: string | undefined): string | undefined {
  const m = value === undefined ? null : /^id:([0-9a-fA-F]{8})$/.exec(value.trim());
  return m ? m[1]!.toLowerCase() : undefined;
}

export function tcgAttributes(subject: Name, extensions: DecodedExtensions): TcgAttributes | null {
  let source: TcgAttributes['source'] | undefined;
  let from: Name | undefined;
  for (const gn of extensions.subjectAltName ?? []) {
    if (gn.type === 'directoryName' && nameAttribute(gn.name, OID.tpmManufacturer) !== undefined) {
      from = gn.name;
      source = 'subjectAltName';
      break;
    }
  }
  if (!from && nameAttribute(subject, OID.tpmManufacturer) !== undefined) {
    from = subject;
    source = 'subject';
  }
  if (!from || !source) return null;

  const out: TcgAttributes = { source };
  const manufacturer = nameAttribute(from, OID.tpmManufacturer);
  const model = nameAttribute(from, OID.tpmModel);
  const version = nameAttribute(from, OID.tpmVersion);
  if (manufacturer !== undefined) {
    out.manufacturer = manufacturer;
    const hex = idHex(manufacturer);
    if (hex) {
      const ascii = Buffer.from(hex, 'hex').toString('latin1').replace(/\0+$/, '');
      if (/^[\x20-\x7e]+$/.test(ascii)) {
        out.manufacturerId = ascii.trim();
        const name = VENDORS[out.manufacturerId];
        if (name) out.manufacturerName = name;
      }
    }
  }
  if (model !== undefined) out.model = model;
  if (version !== undefined) {
    out.version = version;
    const hex = idHex(version);
    if (hex) out.firmwareVersion = `${parseInt(hex.slice(0, 4), 16)}.${parseInt(hex.slice(4), 16)}`;
  }
  if (extensions.tpmSpecification) out.specification = extensions.tpmSpecification;
  return out;
}
