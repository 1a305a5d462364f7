// YAML parsed with a cap on how deep its collections nest. The YAML library
// composes its documents recursively, once per level of nesting, and runs out
// of stack some hundreds deep; when the overflow lands while V8 compiles one
// of the library's regular expressions (which V8 does on a later use, e.g. the
// second of two deep lines), V8 aborts the process ("RegExpCompiler Allocation
// failed"), which nothing can catch. Flow collections ([[[...) and block ones
// (- - - ... on one line) alike did, in a file of a few KB.
//
// So the text goes through the library's own stages, parseDocument's, with a
// check between them: its parser builds each document's syntax tree, whose
// depth is measured with a loop, and a document nesting past the cap is refused
// before the composer recurses into it. (The parser keeps the collections it
// has open on a stack of its own, but closes them by recursing once per level:
// that stack is not let grow past the cap either.) Flow brackets are counted on the
// lexer's tokens before the parser sees each: a text of hundreds of thousands
// of "[" is refused at the 65th, not after the parser has built them all.

import type { CST, Document, DocumentOptions, LineCounter, ParseOptions, SchemaOptions } from 'yaml';
import { yamlLibrary } from './lazy-yaml.js';

/** How deep flow collections ([ ] { }) may nest in a YAML file read. */
export const MAX_FLOW_NESTING = 64;
/** How deep collections of any kind (flow, block mappings and sequences) may nest in a YAML file read. */
export const MAX_YAML_NESTING = 2 * MAX_FLOW_NESTING;

/** A text whose collections nest past a cap: where the one that passes it starts, and which cap, said for a reader. */
export interface YamlTooDeep {
  tooDeepAt: number;
  message: string;
}

export type CappedParseOptions = ParseOptions & DocumentOptions & SchemaOptions & { prettyErrors: false; lineCounter?: LineCounter };

/**
 * parseDocument(text, options), except that a text whose flow collections nest deeper than MAX_FLOW_NESTING, or its
 * collections of any kind deeper than MAX_YAML_NESTING, is not composed: where the collection that passes the cap
 * starts is returned instead. (Errors are not prettified: the library's helper for that is not exported; callers
 * locate them with a LineCounter.)
 */
export function parseDocumentCapped(text: string, options: CappedParseOptions): Document.Parsed | YamlTooDeep {
  const yaml = yamlLibrary();
  const parser = new yaml.Parser(options.lineCounter?.addNewLine);
  const composer = new yaml.Composer(options);
  let tooDeepAt = -1;
  let flowTooDeep = false;
  // flow brackets counted on the same lexemes, before the parser sees them (one lexing pass, not two)
  const flow = hasMoreBrackets(text, MAX_FLOW_NESTING) ? flowCounter(MAX_FLOW_NESTING) : undefined;
  // parser.parse(text), lexeme by lexeme: the parser keeps the collections it has open on a stack of its own, but
  // closes them by recursing once per level (at a line less indented), so they are not let pile up past the cap
  function* parsed(): Generator<CST.Token> {
    options.lineCounter?.addNewLine(0);
    for (const lexeme of new yaml.Lexer().lex(text)) {
      if (flow) {
        tooDeepAt = flow(lexeme);
        if (tooDeepAt >= 0) {
          flowTooDeep = true;
          return;
        }
      }
      yield* parser.next(lexeme);
      if (parser.stack.length > MAX_YAML_NESTING + 1) {
        tooDeepAt = openOver(parser.stack, MAX_YAML_NESTING);
        if (tooDeepAt >= 0) return;
      }
    }
    yield* parser.end();
  }
  function* capped(tokens: Iterable<CST.Token>): Generator<CST.Token> {
    for (const token of tokens) {
      tooDeepAt = cstDepthOver(token, MAX_YAML_NESTING);
      if (tooDeepAt >= 0) return;
      yield token;
    }
  }
  // as parseDocument: the first document, and an error where a second one starts
  let doc: Document.Parsed | undefined;
  for (const next of composer.compose(capped(parsed()), true, text.length)) {
    if (tooDeepAt >= 0) break;
    if (!doc) doc = next;
    else {
      doc.errors.push(new yaml.YAMLParseError([next.range[0], next.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'));
      break;
    }
  }
  if (flowTooDeep) return { tooDeepAt, message: `nested too deeply to read (flow collections [ ] { } inside one another, more than ${MAX_FLOW_NESTING} deep)` };
  if (tooDeepAt >= 0) return { tooDeepAt, message: `nested too deeply to read (collections, block or flow, inside one another more than ${MAX_YAML_NESTING} deep)` };
  return doc!;
}

/** The offset of the collection open on the parser's stack that nests deeper than `max`, or -1. */
function openOver(stack: readonly CST.Token[], max: number): number {
  let depth = 0;
  for (const token of stack) {
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    if (++depth > max) return token.offset;
  }
  return -1;
}

/** The offset of the collection of a syntax tree nesting deeper than `max`, or -1 (a loop: the tree may be deep). */
function cstDepthOver(root: CST.Token, max: number): number {
  const stack: { token: CST.Token; depth: number }[] = [{ token: root, depth: 0 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { token } = top;
    let depth = top.depth;
    if (token.type === 'document') {
      if (token.value) stack.push({ token: token.value, depth });
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    if (++depth > max) return token.offset;
    // last pushed first, so that the first collection past the cap in the text is the one found
    const items = token.items as CST.CollectionItem[];
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i]!;
      if (item.value) stack.push({ token: item.value, depth });
      if (item.key) stack.push({ token: item.key, depth });
    }
  }
  return -1;
}

/** The offset of the bracket whose flow collection nests deeper than `max` by the lexer's tokens, or -1. */
export function flowDepthOver(text: string, max: number): number {
  if (!hasMoreBrackets(text, max)) return -1;
  const count = flowCounter(max);
  for (const token of new (yamlLibrary().Lexer)().lex(text)) {
    const at = count(token);
    if (at >= 0) return at;
  }
  return -1;
}

/** Counts flow nesting on the lexer's tokens, fed one at a time: each returns the offset of a bracket past `max`, or -1. */
function flowCounter(max: number): (token: string) => number {
  // the lexer's tokens that stand for no source text (a document start, a scalar, the end of unclosed flow collections)
  const { DOCUMENT, SCALAR, FLOW_END } = yamlLibrary().CST;
  let depth = 0;
  let offset = 0;
  return (token) => {
    let over = -1;
    if (token === '[' || token === '{') {
      if (++depth > max) over = offset;
    } else if ((token === ']' || token === '}') && depth > 0) depth--;
    // the lexer ends every open flow collection where a line less indented or a document marker starts (an error the parser reports)
    else if (token === FLOW_END) depth = 0;
    if (token !== DOCUMENT && token !== SCALAR && token !== FLOW_END) offset += token.length;
    return over;
  };
}

/** Whether the text holds more than `max` opening brackets (fewer cannot nest past `max`). */
function hasMoreBrackets(text: string, max: number): boolean {
  let n = 0;
  for (let i = text.indexOf('['); i >= 0 && n <= max; i = text.indexOf('[', i + 1)) n++;
  for (let i = text.indexOf('{'); i >= 0 && n <= max; i = text.indexOf('{', i + 1)) n++;
  return n > max;
}
