// How deep YAML flow collections ([ ] and { }) nest, found without parsing.
// The YAML parser recurses once per level and runs out of stack some
// hundreds deep; when the overflow lands while V8 compiles one of its regular
// expressions (which V8 does on a later use, e.g. the second of two deep
// lines), V8 aborts the process ("RegExpCompiler Allocation failed"), which
// nothing can catch. So a text nesting past a cap is refused before the
// parser sees it.
//
// The brackets counted are the ones the parser will nest: the flow-collection
// tokens of the YAML library's own lexer, which is linear and recurses
// nowhere. (A hand-written approximation of YAML's rules both missed nesting
// the parser read, e.g. after a multi-line quoted scalar whose second line
// holds a "#", and refused honest text, e.g. a block scalar holding a regular
// expression or code with an unbalanced bracket.) Bracketless text is not
// lexed: it cannot nest.

import { yamlLibrary } from './lazy-yaml.js';

// the lexer's tokens that stand for no source text (a document, a scalar, a flow error end)
const DOCUMENT = '\x02';
const SCALAR = '\x1f';
const FLOW_ERROR_END = '\x18';

/** The offset of the bracket that nests flow collections deeper than `max`, or -1 when none does. */
export function yamlFlowDepthOver(text: string, max: number): number {
  if (!hasMoreBrackets(text, max)) return -1;
  let depth = 0;
  let offset = 0;
  for (const token of new (yamlLibrary().Lexer)().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > max) return offset;
    } else if ((token === ']' || token === '}') && depth > 0) depth--;
    if (token !== DOCUMENT && token !== SCALAR && token !== FLOW_ERROR_END) offset += token.length;
  }
  return -1;
}

/** Whether the text holds more than `max` opening brackets (fewer cannot nest past `max`). */
function hasMoreBrackets(text: string, max: number): boolean {
  let n = 0;
  for (let i = text.indexOf('['); i >= 0 && n <= max; i = text.indexOf('[', i + 1)) n++;
  for (let i = text.indexOf('{'); i >= 0 && n <= max; i = text.indexOf('{', i + 1)) n++;
  return n > max;
}
