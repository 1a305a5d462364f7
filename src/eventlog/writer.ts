// Writes TCG PC Client event logs: crypto-agile (Spec ID Event03 followed by
// TCG_PCR_EVENT2) or SHA-1 (TCG_PCR_EVENT). Tests use it to build logs that
// a real TPM is extended with; the platform simulator uses it to produce the
// firmware log of a simulated machine. Digests default to the hash of the
// event data in every bank, which is what the PFP prescribes for most types;
// pass explicit digests where the measured thing is not the data (images).

import { bankAlg, digest } from './hash.js';
import type { HashName } from '../tpm/constants.js';
import { EV } from './event-types.js';
import { guidToBytes } from './decode/guid.js';

export interface WriterEvent {
  pcr: number;
  type: number;
  data: Uint8Array;
  /** per-bank digests to log instead of the hash of the data */
  digests?: Partial<Record<HashName, Uint8Array>>;
  /** log digests for these banks only (TPM2_PCR_Extend leaves the others alone); default all */
  banks?: readonly HashName[];
}

export interface WriterOptions {
  /** the banks, in Spec ID order; a 'sha1' format log must be ['sha1'] */
  banks: readonly HashName[];
  format?: 'crypto-agile' | 'sha1';
  /** 2 (64-bit UINTN) unless told otherwise */
  uintnSize?: 1 | 2;
  vendorInfo?: Uint8Array;
}

/** One event as tpm2_pcrextend wants it: the PCR and the digest per bank. */
export interface PcrExtend {
  pcr: number;
  digests: Partial<Record<HashName, Buffer>>;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

export class EventLogWriter {
  private readonly banks: readonly HashName[];
  private readonly format: 'crypto-agile' | 'sha1';
  private readonly uintnSize: 1 | 2;
  private readonly vendorInfo: Uint8Array;
  private readonly events: { event: WriterEvent; digests: Partial<Record<HashName, Buffer>> }[] = [];

  constructor(opts: WriterOptions) {
    this.banks = opts.banks;
    this.format = opts.format ?? 'crypto-agile';
    this.uintnSize = opts.uintnSize ?? 2;
    this.vendorInfo = opts.vendorInfo ?? new Uint8Array(0);
    if (this.format === 'sha1' && (this.banks.length !== 1 || this.banks[0] !== 'sha1')) throw new Error("a SHA-1 format log has exactly the bank ['sha1']");
  }

  add(event: WriterEvent): this {
    const digests: Partial<Record<HashName, Buffer>> = {};
    for (const bank of event.banks ?? this.banks) {
      if (!this.banks.includes(bank)) throw new Error(`bank ${bank} is not one of the log's`);
      const alg = bankAlg(bank);
      const given = event.digests?.[bank];
      digests[bank] = given ? Buffer.from(given) : event.type === EV.NO_ACTION ? Buffer.alloc(alg.size) : digest(alg, event.data);
    }
    this.events.push({ event, digests });
    return this;
  }

  addStartupLocality(locality: number): this {
    return this.add({ pcr: 0, type: EV.NO_ACTION, data: Buffer.concat([Buffer.from('StartupLocality\0', 'latin1'), Buffer.from([locality])]) });
  }

  addSeparator(pcr: number, error = false): this {
    return error
      ? this.add({ pcr, type: EV.SEPARATOR, data: Buffer.from('error', 'latin1'), digests: Object.fromEntries(this.banks.map((b) => [b, digest(bankAlg(b), u32(1))])) })
      : this.add({ pcr, type: EV.SEPARATOR, data: u32(0) });
  }

  addText(pcr: number, type: number, text: string, encoding: 'latin1' | 'utf16le' = 'latin1'): this {
    return this.add({ pcr, type, data: Buffer.from(text, encoding) });
  }

  /** UEFI_VARIABLE_DATA for EV_EFI_VARIABLE_DRIVER_CONFIG / _BOOT / _AUTHORITY. */
  addVariable(pcr: number, type: number, guid: string, name: string, value: Uint8Array): this {
    return this.add({ pcr, type, data: encodeVariableData(guid, name, value) });
  }

  /** UEFI_IMAGE_LOAD_EVENT with a file-path device path; the digests are the image's (Authenticode) hashes. */
  addImageLoad(pcr: number, type: number, imageDigests: Partial<Record<HashName, Uint8Array>>, filePath: string): this {
    const path = encodeFilePathDevicePath(filePath);
    const n = (v: number): Buffer => (this.uintnSize === 2 ? u64(v) : u32(v));
    const data = Buffer.concat([u64(0), n(0), n(0), n(path.length), path]);
    return this.add({ pcr, type, data, digests: imageDigests });
  }

  /** The extends a TPM must see for this log (EV_NO_ACTION events are not extended). */
  extends(): PcrExtend[] {
    return this.events.filter((e) => e.event.type !== EV.NO_ACTION).map((e) => ({ pcr: e.event.pcr, digests: e.digests }));
  }

  toBytes(): Buffer {
    const parts: Buffer[] = [];
    if (this.format === 'crypto-agile') parts.push(this.specIdEvent());
    for (const { event, digests } of this.events) {
      if (this.format === 'sha1') {
        parts.push(u32(event.pcr), u32(event.type), digests['sha1']!, u32(event.data.length), Buffer.from(event.data));
      } else {
        const ds = this.banks.filter((b) => digests[b]).map((b) => Buffer.concat([u16(bankAlg(b).id), digests[b]!]));
        parts.push(u32(event.pcr), u32(event.type), u32(ds.length), ...ds, u32(event.data.length), Buffer.from(event.data));
      }
    }
    return Buffer.concat(parts);
  }

  private specIdEvent(): Buffer {
    const algs = this.banks.map((b) => Buffer.concat([u16(bankAlg(b).id), u16(bankAlg(b).size)]));
    const body = Buffer.concat([
      Buffer.from('Spec ID Event03\0', 'latin1'),
      u32(0), // platformClass: client
      Buffer.from([0, 2, 0, this.uintnSize]), // specVersionMinor, Major, Errata, uintnSize
      u32(algs.length),
      ...algs,
      Buffer.from([this.vendorInfo.length]),
      Buffer.from(this.vendorInfo),
    ]);
    return Buffer.concat([u32(0), u32(EV.NO_ACTION), Buffer.alloc(20), u32(body.length), body]);
  }
}

export function encodeVariableData(guid: string, name: string, value: Uint8Array): Buffer {
  const nameBytes = Buffer.from(name, 'utf16le');
  return Buffer.concat([guidToBytes(guid), u64(name.length), u64(value.length), nameBytes, Buffer.from(value)]);
}

/** A device path of one FilePath media node and the end node. */
export function encodeFilePathDevicePath(path: string): Buffer {
  const p = Buffer.from(`${path}\0`, 'utf16le');
  return Buffer.concat([Buffer.from([0x04, 0x04]), u16(p.length + 4), p, Buffer.from([0x7f, 0xff, 0x04, 0x00])]);
}
