// An entry in the kernel's ASCII list format (ima_ascii_measurements_show),
// as evmctl and ascii_runtime_measurements print it.

import { toHex } from '../../util/bytes.js';
import type { ImaEntry } from './types.js';

export function formatImaEntry(e: ImaEntry): string {
  const f = e.fields;
  const parts = [String(e.pcr), toHex(e.templateHash), e.templateName];
  if (e.templateName === 'ima') {
    parts.push(f.digest ? toHex(f.digest) : '', f.name ?? '');
  } else {
    const prefix = f.digestType ? `${f.digestType}:${f.digestAlgorithm}:` : f.digestAlgorithm ? `${f.digestAlgorithm}:` : '';
    parts.push(`${prefix}${f.digest ? toHex(f.digest) : ''}`, f.name ?? '');
    if (f.signature && f.signature.length) parts.push(toHex(f.signature));
    if (f.buffer) parts.push(toHex(f.buffer));
  }
  return parts.join(' ');
}
