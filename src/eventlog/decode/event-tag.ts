// EV_EVENT_TAG (PFP 10.4.2): TCG_PCClientTaggedEvent {UINT32 taggedEventID;
// UINT32 taggedEventDataSize; BYTE taggedEventData[]}. Windows packs several
// tagged (SIPA) events into one; each is decoded in turn.

import { TpmReader } from '../../tpm/reader.js';
import type { EventTagContent, TaggedEvent } from './content.js';
import { decodeText } from './text.js';

/** Tag IDs defined by the Linux EFI stub (drivers/firmware/efi/libstub/efistub.h). */
const TAG_NAMES: ReadonlyMap<number, string> = new Map([
  [0x8f3b22ec, 'LINUX_INITRD'],
  [0x8f3b22ed, 'LINUX_LOAD_OPTIONS'],
]);

const MAX_TAGS = 4096;

export function decodeEventTag(data: Uint8Array): EventTagContent {
  const r = new TpmReader(data, 'TCG_PCClientTaggedEvent');
  const tags: TaggedEvent[] = [];
  while (r.remaining > 0 && tags.length < MAX_TAGS) {
    const id = r.u32le('taggedEventID');
    const size = r.u32le('taggedEventDataSize');
    const body = r.bytes(size, 'taggedEventData');
    const tag: TaggedEvent = { id, name: TAG_NAMES.get(id), data: body };
    const t = decodeText(body);
    if (t && t.text.length > 0 && body.length > 1) tag.text = t.text;
    tags.push(tag);
  }
  r.end();
  return { kind: 'event-tag', tags };
}
