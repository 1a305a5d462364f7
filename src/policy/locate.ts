// Turning a path inside a parsed value (["layers", 0, "pcrs", "sha256", "7"])
// back into line:column of the text it came from, for YAML (through yaml's
// node ranges) and for JSON (our own scanner: yaml takes ~20 s on a 50,000-path
// allow-list, JSON.parse ~0.1 s, so large reference files are JSON and are only
// scanned when they have errors).

import type { Document, LineCounter } from 'yaml';
import { yamlLibrary } from '../util/lazy-yaml.js';
import type { Path } from './schema-dsl.js';

export interface TextPosition {
  line: number;
  column: number;
}

/** 1-based line and column of character offsets in one text (line starts indexed once). */
export function positioner(text: string): (offset: number) => TextPosition {
  let starts: number[] | undefined;
  return (offset) => {
    if (!starts) {
      starts = [0];
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    }
    const at = Math.max(0, Math.min(offset, text.length));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: at - starts[lo]! + 1 };
  };
}

function keyText(key: unknown): string {
  return yamlLibrary().isScalar(key) ? String(key.value) : String(key);
}

/**
 * The offset of the node at path (its key when at is 'key'); when the path
 * runs out (a missing key), the deepest node that exists.
 */
export function yamlOffset(doc: Document, path: Path, at: 'key' | 'value'): number {
  const { isMap, isSeq } = yamlLibrary();
  let node: unknown = doc.contents;
  let best = rangeStart(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (!pair) return best;
      const keyStart = rangeStart(pair.key);
      if (last && at === 'key' && keyStart !== undefined) return keyStart;
      node = pair.value;
      best = rangeStart(node) ?? keyStart ?? best;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      best = rangeStart(node) ?? best;
    } else return best;
  }
  return best;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? range[0] : undefined;
}

export function yamlPosition(doc: Document, lineCounter: LineCounter, path: Path, at: 'key' | 'value'): TextPosition {
  const { line, col } = lineCounter.linePos(yamlOffset(doc, path, at));
  return { line, column: col };
}

// ---------------------------------------------------------------- JSON

export interface JsonScan {
  /** offsets of the wanted paths: key offset (members only) and value offset */
  found: Map<string, { key?: number; value: number }>;
  /** members whose key repeats an earlier key of the same object */
  duplicates: { path: Path; offset: number }[];
}

export const pathKey = (path: Path): string => JSON.stringify(path);

/**
 * One pass over JSON text (already accepted by JSON.parse) recording where the
 * wanted paths are and every duplicate key (JSON.parse silently keeps the last).
 */
export function scanJson(text: string, wanted: ReadonlySet<string>): JsonScan {
  const found = new Map<string, { key?: number; value: number }>();
  const duplicates: { path: Path; offset: number }[] = [];
  let i = 0;
  const path: (string | number)[] = [];
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const string = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++; // closing quote
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (keyOffset?: number): void => {
    ws();
    if (wanted.size) {
      const k = pathKey(path);
      if (wanted.has(k)) found.set(k, keyOffset === undefined ? { value: i } : { key: keyOffset, value: i });
    }
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const keyAt = i;
        const key = string();
        if (seen.has(key)) duplicates.push({ path: [...path, key], offset: keyAt });
        seen.add(key);
        ws();
        i++; // ':'
        path.push(key);
        value(keyAt);
        path.pop();
        ws();
        if (text[i++] !== ',') return; // '}' (or malformed: stop)
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        path.push(n);
        value();
        path.pop();
        ws();
        if (text[i++] !== ',') return;
      }
    } else if (c === '"') string();
    else while (i < text.length && !',]} \n\r\t'.includes(text[i]!)) i++;
  };
  value();
  return { found, duplicates };
}

/** Every object member in JSON text (accepted by JSON.parse): one pass over its strings. */
export function countJsonMembersInText(text: string): number {
  // Outside strings JSON has no '"', so jumping from string to string never
  // falls out of step; a string followed by ':' is a member key.
  let n = 0;
  let i = text.indexOf('"');
  while (i !== -1) {
    let end = text.indexOf('"', i + 1);
    while (end !== -1 && isEscaped(text, end)) end = text.indexOf('"', end + 1);
    if (end === -1) break;
    let j = end + 1;
    while (j < text.length && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 10 || text.charCodeAt(j) === 13 || text.charCodeAt(j) === 9)) j++;
    if (text.charCodeAt(j) === 58 /* : */) n++;
    i = text.indexOf('"', j);
  }
  return n;
}

/** A quote preceded by an odd number of backslashes is escaped. */
function isEscaped(text: string, quote: number): boolean {
  let k = quote - 1;
  while (k >= 0 && text.charCodeAt(k) === 92 /* \ */) k--;
  return (quote - 1 - k) % 2 === 1;
}

/** The offset a JSON.parse SyntaxError points at, when V8 says ("at position N"). */
export function jsonErrorOffset(err: unknown): number {
  const m = /position (\d+)/.exec(err instanceof Error ? err.message : '');
  return m ? Number(m[1]) : 0;
}
