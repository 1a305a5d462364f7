// A Linux IMA measurement list for the simulated VM: the text of
// /sys/kernel/security/ima/ascii_runtime_measurements with the ima-ng
// template, and the matching extensions of PCR 10 in the soft TPM.
//
// How Linux computes it (security/integrity/ima, kernels >= 5.11):
// - ima-ng template data is two fields, each a u32 length (little-endian on
//   the x86/arm64 hosts we imitate, and always so with ima_canonical_fmt)
//   followed by the field:
//     d-ng: "<hash algo>:" NUL <file digest>
//     n-ng: "<path>" NUL
// - the template hash of each allocated PCR bank is that bank's hash over the
//   template data (length prefixes included); every bank of PCR 10 is
//   extended with its own. The ascii list shows the SHA-1 one.
//   (Kernels before 5.11 extended non-SHA-1 banks with the zero-padded SHA-1
//   template hash; `legacyPaddedSha1` imitates them.)
// - the first entry, boot_aggregate, digests PCRs 0-7 and, for a non-SHA-1
//   algorithm, PCRs 8-9 too, of the bank of IMA's hash algorithm (sha256).

import { hash } from 'node:crypto';
import type { HashName } from '../tpm/constants.js';
import { toHex } from '../util/bytes.js';
import { invalidArgument } from './codes.js';
import { hashAlg } from './marshal.js';
import type { SoftTpm } from './soft-tpm.js';

export const IMA_PCR = 10;

export interface ImaEntry {
  pcr: number;
  /** SHA-1 over the template data: the second column of the ascii list */
  templateHash: Buffer;
  templateName: 'ima-ng';
  fileHash: HashName;
  fileDigest: Buffer;
  path: string;
  /** the template data the template hashes are computed over */
  templateData: Buffer;
  /** what was extended into PCR 10 of each bank of the TPM */
  extended: Map<HashName, Buffer>;
}

/** ima-ng template data: u32le len || "algo:" NUL digest, u32le len || path NUL. */
export function imaNgTemplateData(fileHash: HashName, fileDigest: Uint8Array, path: string): Buffer {
  const algo = Buffer.from(`${fileHash}:\0`, 'latin1');
  const name = Buffer.from(`${path}\0`, 'utf8');
  const out = Buffer.alloc(4 + algo.length + fileDigest.length + 4 + name.length);
  let at = out.writeUInt32LE(algo.length + fileDigest.length, 0);
  at += algo.copy(out, at);
  out.set(fileDigest, at);
  at += fileDigest.length;
  at = out.writeUInt32LE(name.length, at);
  name.copy(out, at);
  return out;
}

/** One line of ascii_runtime_measurements. */
export function formatImaLine(e: ImaEntry): string {
  return `${e.pcr} ${toHex(e.templateHash)} ${e.templateName} ${e.fileHash}:${toHex(e.fileDigest)} ${e.path}`;
}

export interface ImaListOptions {
  /** IMA's file hash algorithm (ima_hash=); default sha256 */
  fileHash?: HashName;
  /** extend non-SHA-1 banks with the zero-padded SHA-1 template hash, as kernels before 5.11 did */
  legacyPaddedSha1?: boolean;
}

// A path becomes the last column of a text line; a newline or NUL would break the list.
const BAD_PATH_RE = /[\0\n\r]/;

/** Builds an IMA list entry by entry, extending the soft TPM's PCR 10 as the kernel would. */
export class ImaMeasurementList {
  private readonly tpm: SoftTpm;
  private readonly fileHash: HashName;
  private readonly legacyPaddedSha1: boolean;
  private readonly list: ImaEntry[] = [];

  constructor(tpm: SoftTpm, opts: ImaListOptions = {}) {
    this.tpm = tpm;
    this.fileHash = opts.fileHash ?? 'sha256';
    hashAlg(this.fileHash, 'IMA file hash');
    this.legacyPaddedSha1 = opts.legacyPaddedSha1 ?? false;
  }

  get entries(): readonly ImaEntry[] {
    return this.list;
  }

  /**
   * The boot_aggregate entry, from the TPM's PCRs now: H(PCR0 || ... || PCR7
   * [|| PCR8 || PCR9]) in the bank of IMA's hash algorithm (SHA-1 bank and
   * PCRs 0-7 only when that algorithm is SHA-1).
   */
  addBootAggregate(): ImaEntry {
    const h = hashAlg(this.fileHash);
    const last = h.name === 'sha1' ? 7 : 9;
    const values: Buffer[] = [];
    for (let i = 0; i <= last; i++) values.push(this.tpm.readPcr(h.name, i));
    return this.append('boot_aggregate', hash(h.nodeName, Buffer.concat(values), 'buffer'));
  }

  /** Measures a file by its content. */
  measureFile(path: string, content: Uint8Array): ImaEntry {
    return this.append(path, hash(hashAlg(this.fileHash).nodeName, content, 'buffer'));
  }

  /** Measures a file by its digest (of IMA's file hash algorithm). */
  measureDigest(path: string, fileDigest: Uint8Array): ImaEntry {
    return this.append(path, Buffer.from(fileDigest));
  }

  private append(path: string, fileDigest: Buffer): ImaEntry {
    if (BAD_PATH_RE.test(path) || path.length === 0) throw invalidArgument('IMA path: must be non-empty, without NUL or line breaks', { path });
    const size = hashAlg(this.fileHash).size;
    if (fileDigest.length !== size) throw invalidArgument(`IMA file digest: ${this.fileHash} has ${size} bytes, got ${fileDigest.length}`, {});
    const templateData = imaNgTemplateData(this.fileHash, fileDigest, path);
    const templateHash = hash('sha1', templateData, 'buffer');
    const extended = new Map<HashName, Buffer>();
    for (const bank of this.tpm.banks) {
      const b = hashAlg(bank);
      let digest: Buffer;
      if (bank === 'sha1') digest = templateHash;
      else if (this.legacyPaddedSha1) digest = Buffer.concat([templateHash, Buffer.alloc(b.size - templateHash.length)]);
      else digest = hash(b.nodeName, templateData, 'buffer');
      this.tpm.extend(bank, IMA_PCR, digest);
      extended.set(bank, digest);
    }
    const entry: ImaEntry = { pcr: IMA_PCR, templateHash, templateName: 'ima-ng', fileHash: this.fileHash, fileDigest, path, templateData, extended };
    this.list.push(entry);
    return entry;
  }

  /** The ascii_runtime_measurements text (one line per entry, each ending with a newline). */
  toText(): string {
    let out = '';
    for (const e of this.list) out += `${formatImaLine(e)}\n`;
    return out;
  }
}
