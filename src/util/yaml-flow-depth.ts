// How deep YAML flow collections ([ ] and { }) nest, found without parsing.
// The YAML parser recurses once per level and runs out of stack some
// hundreds deep; when the overflow lands while V8 compiles one of its regular
// expressions (which V8 does on a later use, e.g. the second of two deep
// lines), V8 aborts the process ("RegExpCompiler Allocation failed"), which
// nothing can catch. So a text nesting past a cap is refused before the
// parser sees it.
//
// An approximation of YAML's rules: brackets inside quoted scalars and
// comments do not count; outside a flow collection a bracket counts where a
// node may start (after "- ", ": ", "? ", or at a line start), inside one
// every bracket counts (a tag or an anchor may stand before the outermost).
// A quote starts a quoted scalar only where a node may start (after "- ",
// ": ", "? ", a bracket, a comma or at a line start), and is taken to end at
// its line's end at the latest: a quote the parser reads as text (in a block
// scalar, inside a plain scalar) hides no bracket of a later line.

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** The offset of the bracket that nests flow collections deeper than `max`, or -1 when none does. */
export function yamlFlowDepthOver(text: string, max: number): number {
  let depth = 0;
  let prev = 0x0a; // the character before i, as if a line started the text
  let lastSig = 0x0a; // the last character before i on its line that is not a space (a newline at a line start)
  let wordFirst = 0; // the first character of the last word before i on its line
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const tokenStart = isSpace(prev) || prev === 0x5b || prev === 0x7b || prev === 0x2c || (depth > 0 && prev === 0x3a);
    // outside a flow collection a node starts after "- ", ": ", "? " or at a line start
    // (or after a tag or an anchor: "!!seq [", "&a [")
    const blockNodeStart = lastSig === 0x0a || lastSig === 0x2d || lastSig === 0x3a || lastSig === 0x3f || wordFirst === 0x21 || wordFirst === 0x26;
    const nodeStart = lastSig === 0x0a || lastSig === 0x2d || lastSig === 0x3a || lastSig === 0x3f || lastSig === 0x2c || lastSig === 0x5b || lastSig === 0x7b;
    if (c === 0x23 && isSpace(prev)) {
      // a comment: to the end of the line
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 0x0a) i++;
    } else if ((c === 0x22 || c === 0x27) && tokenStart && nodeStart) {
      // a quoted scalar: "..." with backslash escapes, '...' with '' for a quote; to its line's end at most
      for (i++; i < text.length; i++) {
        const q = text.charCodeAt(i);
        if (q === 0x0a) {
          i--;
          break;
        }
        if (c === 0x22 && q === 0x5c && text.charCodeAt(i + 1) !== 0x0a) i++;
        else if (q === c) {
          if (c === 0x27 && text.charCodeAt(i + 1) === 0x27) i++;
          else break;
        }
      }
    } else if ((c === 0x5b || c === 0x7b) && (depth > 0 || (tokenStart && blockNodeStart))) {
      if (++depth > max) return i;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
    const before = prev;
    prev = text.charCodeAt(i);
    if (prev === 0x0a) {
      lastSig = 0x0a;
      wordFirst = 0;
    } else if (!isSpace(prev)) {
      if (isSpace(before)) wordFirst = prev;
      lastSig = prev;
    }
  }
  return -1;
}
