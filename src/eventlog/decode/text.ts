// Text in event data comes as ASCII/UTF-8 (EV_EFI_ACTION, GRUB) or UTF-16LE
// (UEFI variable names, CRTM versions, systemd-boot's command line), usually
// NUL-terminated, sometimes not. These helpers never throw.

/** UTF-16LE to a string, dropping one trailing NUL terminator (and any after it). */
export function utf16ToString(b: Uint8Array): string {
  const even = b.length - (b.length % 2);
  let s = Buffer.from(b.buffer, b.byteOffset, even).toString('utf16le');
  const nul = s.indexOf('\u0000');
  if (nul >= 0 && /^\u0000*$/.test(s.slice(nul))) s = s.slice(0, nul);
  return s;
}

/** UTF-8 to a string, dropping trailing NULs. */
export function utf8ToString(b: Uint8Array): string {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return Buffer.from(b.buffer, b.byteOffset, end).toString('utf8');
}

/** Printable text: no control characters other than tab/newline/CR. */
export function isPrintable(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.test(s);
}

/** Looks like UTF-16LE text: even length, and most odd bytes are zero. */
export function looksUtf16(b: Uint8Array): boolean {
  if (b.length < 2) return false;
  let zeros = 0;
  for (let i = 1; i < b.length; i += 2) if (b[i] === 0) zeros++;
  return zeros >= (b.length / 2) * 0.9 && b[0] !== 0;
}

export interface DecodedText {
  text: string;
  encoding: 'utf-8' | 'utf-16le';
  /** oddities that did not stop decoding: a stray byte, bytes after the NUL */
  notes?: string[];
}

/** Text from event data in whichever encoding it appears to use; undefined when it is not text. */
export function decodeText(b: Uint8Array): DecodedText | undefined {
  if (b.length === 0) return { text: '', encoding: 'utf-8' };
  if (looksUtf16(b)) {
    const text = utf16ToString(b);
    if (isPrintable(text)) return b.length % 2 ? { text, encoding: 'utf-16le', notes: ['UTF-16 text with one stray byte at its end'] } : { text, encoding: 'utf-16le' };
  }
  const text = utf8ToString(b);
  if (isPrintable(text) && !text.includes('\u0000')) return { text, encoding: 'utf-8' };
  // NUL-terminated text followed by junk (shim logs "MokList\0" plus a stray byte)
  const nul = b.indexOf(0);
  if (nul >= 2) {
    const head = Buffer.from(b.buffer, b.byteOffset, nul).toString('utf8');
    if (isPrintable(head)) return { text: head, encoding: 'utf-8', notes: [`${b.length - nul - 1} byte(s) after the NUL terminator`] };
  }
  return undefined;
}
