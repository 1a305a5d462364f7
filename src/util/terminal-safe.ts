// Making text from evidence, servers and input files safe to print.

// Control characters (C0, DEL, C1: ESC and CSI start terminal escape
// sequences), format characters (the bidirectional overrides, isolates and
// marks that make text display in another order than it is stored in; the
// zero-width ones, BOM and the TAG characters U+E0000.. that hide text from a
// reader) and the Unicode line and paragraph separators.
const UNSAFE_FOR_TERMINAL = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/**
 * Text from evidence or servers, made safe for a terminal: control, format
 * and bidi characters become visible \uXXXX escapes (\u{XXXXX} past U+FFFF),
 * so a hostile server cannot move the cursor, recolor, retitle the terminal,
 * hide text or fake a line of output.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINAL, (c) => {
    const cp = c.codePointAt(0)!;
    return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}
