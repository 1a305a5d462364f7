// JSON text scanned without parsing it again: where paths are (for
// line:column in errors) and which keys repeat. JSON.parse silently keeps the
// last of two equal keys in one object, so a document with {"quote": A,
// "quote": B} means different things to different readers; untrusted evidence,
// bundles and data files are refused instead. The check on the success path
// costs one pass over the text's strings (countJsonMembersInText) against a
// count of the parsed value's members; the full scan runs only when they differ.

import { jsonNestingOver } from './json-nesting.js';

/** A path inside a parsed value: object keys and array indices. */
export type JsonPath = readonly (string | number)[];

export interface JsonScan {
  /** offsets of the wanted paths: key offset (members only) and value offset */
  found: Map<string, { key?: number; value: number }>;
  /** members whose key repeats an earlier key of the same object */
  duplicates: { path: JsonPath; offset: number }[];
}

export const pathKey = (path: JsonPath): string => JSON.stringify(path);

/**
 * One pass over JSON text (already accepted by JSON.parse) recording where the
 * wanted paths are and the duplicate keys (JSON.parse silently keeps the last),
 * at most `maxDuplicates` of them: each is recorded with its whole path, so
 * hostile text repeating one key millions of times at depth 250 would take
 * gigabytes (a 6 MB evidence document took a 2 GB heap out of memory). Once
 * that many are found and no paths are wanted, the scan stops.
 */
export function scanJson(text: string, wanted: ReadonlySet<string>, maxDuplicates = Infinity): JsonScan {
  const found = new Map<string, { key?: number; value: number }>();
  const duplicates: { path: JsonPath; offset: number }[] = [];
  let stop = false;
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
        if (seen.has(key)) {
          if (duplicates.length < maxDuplicates) duplicates.push({ path: [...path, key], offset: keyAt });
          if (duplicates.length >= maxDuplicates && wanted.size === 0) stop = true;
        }
        if (stop) return;
        seen.add(key);
        ws();
        i++; // ':'
        path.push(key);
        value(keyAt);
        path.pop();
        if (stop) return;
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
        if (stop) return;
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

/** Members (key/value pairs) of every object in a parsed value; iterative, so any nesting JSON.parse accepted is fine. */
export function countJsonMembers(value: unknown): number {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const x of v) if (typeof x === 'object' && x !== null) stack.push(x);
    } else {
      for (const k in v) {
        n++;
        const x = (v as Record<string, unknown>)[k];
        if (typeof x === 'object' && x !== null) stack.push(x);
      }
    }
  }
  return n;
}

/** Beyond this nesting the duplicate is reported without its path (scanJson recurses). */
const MAX_LOCATED_NESTING = 256;

/**
 * The first repeated key of text that JSON.parse turned into value: its path
 * (the last element is the key), [] when the text nests too deep to say where,
 * or undefined when no key repeats.
 */
export function duplicateJsonKey(text: string, value: unknown): JsonPath | undefined {
  if (countJsonMembers(value) === countJsonMembersInText(text)) return undefined;
  if (jsonNestingOver(text, MAX_LOCATED_NESTING)) return [];
  return scanJson(text, new Set(), 1).duplicates[0]?.path ?? [];
}

/** A path as people read it: $.layers[0].quote */
export function formatJsonPath(path: JsonPath): string {
  return '$' + path.map((p) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join('');
}
