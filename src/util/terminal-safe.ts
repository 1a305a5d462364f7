// Making text from evidence, servers and input files safe to print.

// Control characters (C0, DEL, C1: ESC and CSI start terminal escape
// sequences), format characters (the bidirectional overrides, isolates and
// marks that make text display in another order than it is stored in; the
// zero-width ones, BOM and the TAG characters U+E0000.. that hide text from a
// reader), the Unicode line and paragraph separators, and unpaired surrogates
// (no character: written as UTF-8 each is U+FFFD, so "x\ud800" and "x\udfff"
// would print alike; a pair is one character and stays).
const UNSAFE_FOR_TERMINAL = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu;

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

// The same characters less tab, LF and CR: JSON.stringify escapes those inside
// strings, so in its output they are only the whitespace between tokens.
const UNSAFE_IN_JSON_TEXT = /(?![\t\n\r])[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/**
 * JSON text (JSON.stringify's output) made safe for a terminal without
 * changing what it means: the characters JSON.stringify leaves raw in strings
 * (DEL, C1 controls such as CSI U+009B, bidi overrides, zero-width and TAG
 * characters, U+2028/U+2029) become \uXXXX escapes (a surrogate pair of them
 * past U+FFFF), which parse back to the very same string.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON_TEXT, (c) =>
    [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}
