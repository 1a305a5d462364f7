// How deep JSON text nests, found without parsing it: a value nested 100,000
// deep parses fine but overflows the stack of every recursive walk after it
// (serializing, locating issues, rendering), so readers refuse it first.

/** Whether JSON text nests arrays and objects deeper than `max` (brackets inside strings do not count). */
export function jsonNestingOver(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
