// Decodes an event's data by its type. Decoding never fails the log: data
// that does not decode becomes { kind: 'raw' } with a note saying why.

import type { ListEntryBudget } from '../caps.js';
import { EV, eventTypeName, isKnownEventType } from '../event-types.js';
import { isSpecIdEvent03, noActionSignature, parseSpecIdEvent03, parseStartupLocality } from '../spec-id.js';
import type { DigestBinding, EventDigest } from '../types.js';
import { computeBinding } from './binding.js';
import type { EventContent } from './content.js';
import { decodeEfiVariable } from './efi-variable.js';
import { decodeEventTag } from './event-tag.js';
import { decodeFirmwareBlob, decodeHandoffTables } from './firmware.js';
import { decodeGpt } from './gpt.js';
import { guidToString } from './guid.js';
import { decodeImageLoad } from './image-load.js';
import { decodeIpl } from './ipl.js';
import { decodeSeparator } from './separator.js';
import { decodeText } from './text.js';
import { withUintnFallback } from './uintn.js';

export interface DecodeContext {
  /** UINTN width from the Spec ID event (8 unless it says 32-bit firmware) */
  uintnBytes: 4 | 8;
  /** list entries (signatures, partitions, handoff tables) the log may decode in all (maxListEntriesPerLog), and how many are left */
  listEntries?: ListEntryBudget;
}

/** Signatures, partitions or tables an event's content holds: the objects a log of small entries multiplies. */
function listEntriesOf(content: EventContent): number {
  switch (content.kind) {
    case 'efi-variable':
      return (content.signatureLists ?? []).reduce((n, l) => n + l.signatures.length, 0);
    case 'gpt':
      return content.partitions.length;
    case 'handoff-tables':
      return content.tables.length;
    default:
      return 0;
  }
}

export interface DecodedEvent {
  content: EventContent;
  binding: DigestBinding | null;
}

function raw(note?: string): EventContent {
  return note ? { kind: 'raw', notes: [note] } : { kind: 'raw' };
}

function textOrRaw(data: Uint8Array, what: string): EventContent {
  const t = decodeText(data);
  if (!t) return raw(`${what}: data is not text`);
  const content: EventContent = { kind: 'text', text: t.text, encoding: t.encoding };
  if (t.notes) content.notes = t.notes;
  return content;
}

/** EV_S_CRTM_VERSION: a UTF-16 (sometimes ASCII) version string, or a GUID on EDK2-based firmware. */
function decodeCrtmVersion(data: Uint8Array): EventContent {
  const t = decodeText(data);
  if (t && (t.text.length > 0 || (data.length > 0 && data.every((b) => b === 0)))) return { kind: 'version', version: t.text, form: data.length % 2 === 0 && data.length > 0 && data.every((b) => b === 0) ? 'utf-16le' : t.encoding };
  if (data.length === 16) return { kind: 'version', version: guidToString(data), form: 'guid' };
  return { kind: 'version', version: Buffer.from(data).toString('hex'), form: 'hex' };
}

function decodeContent(pcrIndex: number, eventType: number, data: Uint8Array, digests: EventDigest[], ctx: DecodeContext): EventContent {
  switch (eventType) {
    case EV.NO_ACTION: {
      if (isSpecIdEvent03(data)) return { kind: 'spec-id', specId: parseSpecIdEvent03(data) };
      const locality = parseStartupLocality(data);
      if (locality !== undefined) return { kind: 'startup-locality', locality };
      return { kind: 'no-action', signature: noActionSignature(data) };
    }
    case EV.SEPARATOR:
      return decodeSeparator(data, digests);
    case EV.EFI_VARIABLE_DRIVER_CONFIG:
    case EV.EFI_VARIABLE_BOOT:
    case EV.EFI_VARIABLE_BOOT2:
    case EV.EFI_VARIABLE_AUTHORITY:
      return decodeEfiVariable(eventType, data, ctx.listEntries);
    case EV.EFI_BOOT_SERVICES_APPLICATION:
    case EV.EFI_BOOT_SERVICES_DRIVER:
    case EV.EFI_RUNTIME_SERVICES_DRIVER:
      return decodeImageLoad(data, ctx.uintnBytes) ?? raw('UEFI_IMAGE_LOAD_EVENT: lengths do not fit the data');
    case EV.IPL:
      return decodeIpl(pcrIndex, data) ?? raw('EV_IPL: data is not text');
    case EV.EFI_PLATFORM_FIRMWARE_BLOB:
      return decodeFirmwareBlob(data, false);
    case EV.EFI_PLATFORM_FIRMWARE_BLOB2:
      return decodeFirmwareBlob(data, true);
    case EV.POST_CODE:
    case EV.POST_CODE2:
    case EV.S_CRTM_CONTENTS: {
      const t = data.length > 1 ? decodeText(data) : undefined;
      if (t && t.text.length > 0) return { kind: 'text', text: t.text, encoding: t.encoding };
      if (data.length === 16) return decodeFirmwareBlob(data, false);
      return raw(`${eventTypeName(eventType)}: neither text nor a blob reference`);
    }
    case EV.S_CRTM_VERSION:
      return decodeCrtmVersion(data);
    case EV.EFI_ACTION:
    case EV.ACTION:
    case EV.OMIT_BOOT_DEVICE_EVENTS:
    case EV.EFI_HCRTM_EVENT:
      return textOrRaw(data, eventTypeName(eventType));
    case EV.PLATFORM_CONFIG_FLAGS:
    case EV.NONHOST_INFO:
    case EV.NONHOST_CONFIG:
    case EV.COMPACT_HASH:
    case EV.TABLE_OF_DEVICES: {
      // often binary (AMD SEV info, option lists): text when it is, raw otherwise, without complaint
      const t = decodeText(data);
      return t && t.text.length > 0 ? { kind: 'text', text: t.text, encoding: t.encoding } : raw();
    }
    case EV.EFI_GPT_EVENT:
      return withUintnFallback(ctx.uintnBytes, (w) => decodeGpt(data, w));
    case EV.EFI_HANDOFF_TABLES:
      return withUintnFallback(ctx.uintnBytes, (w) => decodeHandoffTables(data, false, w));
    case EV.EFI_HANDOFF_TABLES2:
      return withUintnFallback(ctx.uintnBytes, (w) => decodeHandoffTables(data, true, w));
    case EV.EVENT_TAG:
      return decodeEventTag(data);
    default:
      return isKnownEventType(eventType) ? raw() : raw(`unknown event type 0x${eventType.toString(16).padStart(8, '0')}: kept raw`);
  }
}

/** Decodes an event's data and checks whether its digests are hashes of it. */
export function decodeEvent(pcrIndex: number, eventType: number, data: Uint8Array, digests: EventDigest[], ctx: DecodeContext): DecodedEvent {
  let content: EventContent;
  try {
    content = decodeContent(pcrIndex, eventType, data, digests, ctx);
  } catch (err) {
    content = raw(`${eventTypeName(eventType)}: could not decode: ${(err as Error).message}`);
  }
  const budget = ctx.listEntries;
  if (budget) {
    const entries = listEntriesOf(content);
    if (entries > budget.left) {
      budget.refused++;
      // kept raw (its digest still replays); what the policy would read from it is unknown, as for any raw event
      content = raw(`${eventTypeName(eventType)}: not decoded: its ${entries} list entries would take the log past ${budget.cap} signatures, partitions and tables in all`);
    } else budget.left -= entries;
  }
  return { content, binding: computeBinding(pcrIndex, eventType, data, content, digests) };
}
