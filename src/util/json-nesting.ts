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

/** What JSON.parse would build from a text, counted without building it. */
export interface JsonShape {
  /** the deepest nesting of arrays and objects */
  depth: number;
  /** arrays, objects and the values and members separated by commas in them: about the number of values */
  values: number;
}

/**
 * The shape of JSON text in one pass, without parsing it (brackets and commas
 * inside strings do not count). JSON.parse of 32 MiB of `[[],[],...]` builds
 * 11 million arrays (1.2 GB of memory, 4 s), so readers of untrusted text
 * compare the shape with their caps before they parse.
 */
export function jsonShape(text: string): JsonShape {
  let depth = 0;
  let max = 0;
  let values = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: jump to its closing quote (one preceded by an even number of backslashes)
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end === -1) return { depth: max, values };
        let k = end - 1;
        while (text.charCodeAt(k) === 0x5c) k--;
        i = end;
        if ((end - 1 - k) % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      values++;
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c) values++;
  }
  return { depth: max, values };
}
