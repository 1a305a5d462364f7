// Duplicate keys in a YAML document as its plain value sees them. toJS makes
// every scalar key a property name, so `7`, `"7"`, `7.0` and `0x7` are one key
// ("7"), as are `~` and `""` (""), and an alias key is the key it refers to.
// The parser's own uniqueKeys compares scalar values, so `7:` then `"7":` got
// through and the second silently replaced the first (a PCR's golden values
// dropped for "replay"). Keys are compared here as toJS names them.

import type { Alias, Document, Node, YAMLMap } from 'yaml';
import { yamlLibrary } from '../util/lazy-yaml.js';

/** A key that repeats an earlier one of the same mapping: both key offsets in the text. */
export interface DuplicateYamlKey {
  offset: number;
  firstOffset: number;
}

/** Every repeated key of every mapping, in document order. */
export function duplicateYamlKeys(doc: Document): DuplicateYamlKey[] {
  const { maps, aliasTargets } = mapsAndAliases(doc);
  const out: DuplicateYamlKey[] = [];
  for (const map of maps) {
    const seen = new Map<string, number>();
    for (const { key } of map.items) {
      const name = propertyName(key, aliasTargets);
      const offset = rangeStart(key);
      if (name === undefined || offset === undefined) continue;
      const first = seen.get(name);
      if (first === undefined) seen.set(name, offset);
      else out.push({ offset, firstOffset: first });
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/**
 * The mappings, and what each alias refers to: the last node anchored with
 * its name before it, as the library resolves it. One pass in document
 * order (Alias.resolve walks the whole document for every alias).
 */
function mapsAndAliases(doc: Document): { maps: YAMLMap[]; aliasTargets: Map<Alias, Node | undefined> } {
  const { visit, isAlias, isMap, isNode } = yamlLibrary();
  const maps: YAMLMap[] = [];
  const anchors = new Map<string, Node>();
  const aliasTargets = new Map<Alias, Node | undefined>();
  visit(doc, (_key, node) => {
    if (isAlias(node)) aliasTargets.set(node, anchors.get(node.source));
    else if (isNode(node)) {
      if (node.anchor) anchors.set(node.anchor, node);
      if (isMap(node)) maps.push(node);
    }
  });
  return { maps, aliasTargets };
}

/**
 * The property name toJS gives a key (addPairToJSMap: null is "", a number
 * read as a BigInt is its exact decimal text: toJS keeps BigInts, so
 * 12345678901234567890 and ...891 are two keys); undefined for a collection key, which
 * the schema refuses anyway, and for an alias to nothing (a parse error).
 */
function propertyName(key: unknown, aliasTargets: Map<Alias, Node | undefined>): string | undefined {
  const { isAlias, isScalar } = yamlLibrary();
  const node = isAlias(key) ? aliasTargets.get(key) : key;
  if (node === null) return '';
  if (!isScalar(node)) return undefined;
  const v = node.value;
  if (v === null || v === undefined) return '';
  return String(v);
}

function rangeStart(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | null)?.range?.[0];
}
