// Turning a path inside a parsed value (["layers", 0, "pcrs", "sha256", "7"])
// back into line:column of the text it came from, for YAML (through yaml's
// node ranges) and for JSON (our own scanner: yaml takes ~20 s on a 50,000-path
// allow-list, JSON.parse ~0.1 s, so large reference files are JSON and are only
// scanned when they have errors).

import type { Document, LineCounter, Pair, YAMLMap } from 'yaml';
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

/**
 * A key as the parsed value names it (toJS's property name): `~` and `null`
 * are "", so an issue about such a key is found at it, not at the mapping's
 * first key; a number parsed as a BigInt is its exact decimal text (not rounded
 * through a double: 12345678901234567890 is found at itself).
 */
function keyText(key: unknown): string {
  if (key === null) return '';
  if (!yamlLibrary().isScalar(key)) return String(key);
  const v = key.value;
  if (v === null || v === undefined) return '';
  return String(v);
}

/** Each mapping's pairs by key text, built on the first lookup: a file with an issue per key is located in linear time, not quadratic. */
const pairIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = pairIndexes.get(map);
  if (!index) {
    index = new Map();
    // the first pair of a key, as a search from the start would find it
    for (const p of map.items as Pair[]) {
      const k = keyText(p.key);
      if (!index.has(k)) index.set(k, p);
    }
    pairIndexes.set(map, index);
  }
  return index.get(key);
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
      const pair = pairOf(node, String(seg));
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

/** The offset a JSON.parse SyntaxError points at, when V8 says ("at position N"). */
export function jsonErrorOffset(err: unknown): number {
  const m = /position (\d+)/.exec(err instanceof Error ? err.message : '');
  return m ? Number(m[1]) : 0;
}
