// Is an event's digest the hash of its data? For some event types the PFP
// makes it so (separators, EFI actions, UEFI variables, GPT, GRUB strings),
// and only then does the decoded content carry the weight of the verified
// digest: a matched replay proves the digests, never data that is not hashed.
// Types whose digest covers something else (PE images, firmware volumes,
// handoff tables) have no binding: their data is informational.

import type { HashName } from '../../tpm/constants.js';
import { EV } from '../event-types.js';
import { digest as hashOf } from '../hash.js';
import type { DigestBinding, EventDigest } from '../types.js';
import type { EventContent } from './content.js';
import { SEPARATOR_ERROR_VALUE } from './separator.js';

/** A variable event bound this way attests its value, not which variable it is (facts.ts reads nothing from it). */
export const VARIABLE_VALUE_ONLY = 'variable value only (TCG EFI 1.2 rule: name and GUID not hashed)';

interface Candidate {
  measured: string;
  bytes: Uint8Array;
}

function stripTrailingNuls(b: Uint8Array, unit: 1 | 2): Uint8Array {
  let end = b.length;
  while (end >= unit && b[end - 1] === 0 && (unit === 1 || b[end - 2] === 0)) end -= unit;
  return b.subarray(0, end);
}

function candidates(pcrIndex: number, eventType: number, data: Uint8Array, content: EventContent): Candidate[] | null {
  switch (eventType) {
    case EV.SEPARATOR:
      if (content.kind === 'separator' && content.error) return [{ measured: 'the error value 0x00000001', bytes: SEPARATOR_ERROR_VALUE }];
      return [{ measured: 'event data', bytes: data }];
    case EV.EFI_VARIABLE_DRIVER_CONFIG: {
      // The PFP hashes the whole UEFI_VARIABLE_DATA; TCG EFI 1.2-era firmware hashed only the value.
      const out: Candidate[] = [{ measured: 'event data', bytes: data }];
      if (content.kind === 'efi-variable') out.push({ measured: VARIABLE_VALUE_ONLY, bytes: content.value });
      return out;
    }
    case EV.EFI_ACTION:
    case EV.ACTION:
    case EV.EFI_GPT_EVENT:
    case EV.EFI_VARIABLE_BOOT2:
    case EV.S_CRTM_VERSION:
    case EV.OMIT_BOOT_DEVICE_EVENTS:
      return [{ measured: 'event data', bytes: data }];
    case EV.EFI_VARIABLE_AUTHORITY: {
      // shim logs its vendor certificate with stray bytes after the variable frame, but hashes only the frame
      const out: Candidate[] = [{ measured: 'event data', bytes: data }];
      if (content.kind === 'efi-variable' && content.frameLength !== undefined && content.frameLength < data.length) {
        out.push({ measured: 'UEFI_VARIABLE_DATA without the stray bytes after it', bytes: data.subarray(0, content.frameLength) });
      }
      return out;
    }
    case EV.EFI_VARIABLE_BOOT: {
      // The PFP hashes VariableData only; some firmware hashes the whole UEFI_VARIABLE_DATA.
      const out: Candidate[] = [];
      if (content.kind === 'efi-variable') out.push({ measured: 'variable value', bytes: content.value });
      out.push({ measured: 'event data', bytes: data });
      return out;
    }
    case EV.EVENT_TAG: {
      // The Linux EFI stub's tags describe what was hashed (the initrd, the load options); they are not it.
      if (content.kind === 'event-tag' && content.tags.some((t) => t.name?.startsWith('LINUX_'))) return null;
      const out: Candidate[] = [{ measured: 'event data', bytes: data }];
      if (content.kind === 'event-tag' && content.tags.length === 1) out.push({ measured: 'tagged event data', bytes: content.tags[0]!.data });
      return out;
    }
    case EV.IPL: {
      // File names (PCR 9) and shim's variable names (PCR 14) stand for content hashed elsewhere.
      if (content.kind !== 'ipl' || (content.role === 'string' && pcrIndex !== 8 && pcrIndex !== 12)) return null;
      const out: Candidate[] = [
        { measured: 'event data', bytes: data },
        { measured: 'event data without trailing NUL', bytes: stripTrailingNuls(data, content.kind === 'ipl' && content.encoding === 'utf-16le' ? 2 : 1) },
      ];
      if (content.value !== content.text) {
        const value = Buffer.from(content.value, content.encoding === 'utf-16le' ? 'utf16le' : 'utf8');
        out.push({ measured: 'text after the prefix', bytes: value });
        out.push({ measured: 'text after the prefix, with its NUL', bytes: Buffer.concat([value, Buffer.alloc(content.encoding === 'utf-16le' ? 2 : 1)]) });
      }
      return out;
    }
    default:
      return null;
  }
}

export function computeBinding(pcrIndex: number, eventType: number, data: Uint8Array, content: EventContent, digests: EventDigest[]): DigestBinding | null {
  const cands = candidates(pcrIndex, eventType, data, content);
  if (!cands) return null;
  const banks: Partial<Record<HashName, boolean>> = {};
  const measuredIn: Partial<Record<HashName, string>> = {};
  let measured: string | undefined;
  for (const d of digests) {
    if (!d.alg) continue;
    let bound = false;
    for (const c of cands) {
      if (hashOf(d.alg, c.bytes).equals(d.digest)) {
        bound = true;
        measured ??= c.measured;
        measuredIn[d.alg.name] = c.measured;
        break;
      }
    }
    banks[d.alg.name] = bound;
  }
  return { measured: measured ?? cands[0]!.measured, banks, measuredIn };
}
