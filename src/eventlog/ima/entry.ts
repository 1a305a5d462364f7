// An IMA entry whose decoded fields are computed on first use. A list holds
// hundreds of thousands of entries and a replay needs only their template
// data; building every field's view up front would double the objects the
// garbage collector has to move. The template data holds every field, so
// nothing is lost by waiting.

import { TpmReader } from '../../tpm/reader.js';
import { decodeFields } from './fields.js';
import { LEGACY_NAME_FIELD_BYTES, TEMPLATE_FIELDS, templateFieldIds } from './templates.js';
import type { ImaEntry, ImaFields } from './types.js';

export class LazyImaEntry implements ImaEntry {
  index: number;
  line?: number;
  offset?: number;
  pcr: number;
  templateHash: Uint8Array;
  templateName: string;
  templateData: Uint8Array;
  violation: boolean;
  private decoded: ImaFields | undefined;

  constructor(e: Omit<ImaEntry, 'fields'>, fields?: ImaFields) {
    this.index = e.index;
    if (e.line !== undefined) this.line = e.line;
    if (e.offset !== undefined) this.offset = e.offset;
    this.pcr = e.pcr;
    this.templateHash = e.templateHash;
    this.templateName = e.templateName;
    this.templateData = e.templateData;
    this.violation = e.violation;
    this.decoded = fields;
  }

  get fields(): ImaFields {
    return (this.decoded ??= fieldsOf(this.templateName, this.templateData, this.line !== undefined ? { line: this.line } : { entry: this.index }));
  }
}

/** Decodes fields from template data already validated by the parser. */
function fieldsOf(templateName: string, data: Uint8Array, where: Record<string, unknown>): ImaFields {
  if (templateName === 'ima') {
    // digest (20 bytes, 16 for MD5), then the name zero-padded to 256 bytes
    const digestLen = data.length - LEGACY_NAME_FIELD_BYTES === 16 ? 16 : 20;
    const nameArea = data.subarray(digestLen);
    const nul = nameArea.indexOf(0);
    return decodeFields(TEMPLATE_FIELDS['ima'], [data.subarray(0, digestLen), nul < 0 ? nameArea : nameArea.subarray(0, nul)], where);
  }
  const r = new TpmReader(data, 'IMA template data');
  const parts: Uint8Array[] = [];
  while (r.remaining > 0) parts.push(r.bytes(r.u32le('field length'), 'field'));
  return decodeFields(templateFieldIds(templateName), parts, where);
}
