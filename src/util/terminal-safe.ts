// Making text from evidence, servers and input files safe to print.

// C0 controls, DEL, C1 controls (ESC and CSI start terminal escape sequences),
// and the Unicode bidirectional overrides/isolates that can make text display
// in an order other than the one it is stored in.
// eslint-disable-next-line no-control-regex
const UNSAFE_FOR_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Text from evidence or servers, made safe for a terminal: control and
 * bidi characters become visible \uXXXX escapes, so a hostile server cannot
 * move the cursor, recolor, retitle the terminal or fake a line of output.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINAL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
