// Making text from evidence, servers and input files safe to print.

/**
 * A regular expression (for the `u` flag) matching one character a reader
 * does not see, or that shows text in another order than it holds: format
 * characters (the bidirectional overrides, isolates and marks; the zero-width
 * ones, BOM and the TAG characters U+E0000.. that hide text), the other
 * default-ignorable code points, which terminals and browsers draw as nothing
 * (the combining grapheme joiner U+034F, variation selectors U+FE00.. and
 * U+E0100.., Hangul fillers U+115F, U+3164, ...: "ba\u034fsh" shows as
 * "bash"), and the Unicode line and paragraph separators; `more` adds the
 * characters of a class of the caller's (`\p{Cc}`). The one definition that
 * terminal, JSON, XML and YAML output escape. (An alternation, not one class:
 * V8 matches the property in a class of its own 2.5 times slower.)
 */
export function unseenPattern(more = ''): string {
  return String.raw`[${more}\p{Cf}\u2028\u2029]|\p{Default_Ignorable_Code_Point}`;
}

// Control characters (C0, DEL, C1: ESC and CSI start terminal escape
// sequences), the unseen ones above, and unpaired surrogates (no character:
// written as UTF-8 each is U+FFFD, so "x\ud800" and "x\udfff" would print
// alike; a pair is one character and stays).
const UNSAFE_FOR_TERMINAL = new RegExp(unseenPattern(String.raw`\p{Cc}\p{Cs}`), 'gu');

/**
 * Text from evidence or servers, made safe for a terminal: control, format,
 * bidi and default-ignorable characters become visible \uXXXX escapes (\u{XXXXX} past U+FFFF),
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
const UNSAFE_IN_JSON_TEXT = new RegExp(`(?![\\t\\n\\r])(?:${unseenPattern(String.raw`\p{Cc}`)})`, 'gu');

const ANY_BUT_PRINTABLE_ASCII = /[^\t\n\r\x20-\x7e]/;

/**
 * JSON text (JSON.stringify's output) made safe for a terminal without
 * changing what it means: the characters JSON.stringify leaves raw in strings
 * (DEL, C1 controls such as CSI U+009B, bidi overrides, zero-width, TAG and
 * other default-ignorable characters, U+2028/U+2029) become \uXXXX escapes (a surrogate pair of them
 * past U+FFFF), which parse back to the very same string.
 */
export function terminalSafeJson(json: string): string {
  // printable ASCII, tab, LF and CR hold none of those characters: most JSON text (hex, paths, numbers) is only
  // that, and this scan costs a fraction of the Unicode-property pattern's (a 64 MiB IMA list's JSON is ~200 MB)
  if (!ANY_BUT_PRINTABLE_ASCII.test(json)) return json;
  return json.replace(UNSAFE_IN_JSON_TEXT, (c) =>
    [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}
