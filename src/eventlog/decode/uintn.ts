// UINTN fields are 8 bytes on 64-bit firmware and 4 on 32-bit; the Spec ID
// event's uintnSize says which, but some firmware (a Dell Embedded Box PC in
// the corpus) declares 32-bit and writes 64-bit fields. Decoders that read
// UINTN try the declared width first, then the other one, and say so.

import type { EventContent } from './content.js';

export function withUintnFallback<T extends EventContent>(declared: 4 | 8, decode: (width: 4 | 8) => T): T {
  try {
    return decode(declared);
  } catch (first) {
    const other: 4 | 8 = declared === 8 ? 4 : 8;
    let content: T;
    try {
      content = decode(other);
    } catch {
      throw first;
    }
    (content.notes ??= []).push(`fields are ${other}-byte UINTN, not the ${declared} bytes the Spec ID event implies`);
    return content;
  }
}
