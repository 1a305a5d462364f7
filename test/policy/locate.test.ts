// Locating paths in JSON text: the scanner behind positions in large included files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { positioner, yamlOffset } from '../../src/policy/locate.js';
import { yamlLibrary } from '../../src/util/lazy-yaml.js';
import { countJsonMembersInText, pathKey, scanJson } from '../../src/util/json-scan.js';

function countJsonMembers(v: unknown): number {
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + countJsonMembers(x), 0);
  if (typeof v === 'object' && v !== null) return Object.values(v).reduce((n: number, x) => n + 1 + countJsonMembers(x), 0);
  return 0;
}

test('scanJson finds key and value offsets of wanted paths, and duplicate keys', () => {
  const text = '{"a": {"b": [1, {"c": "x\\"y"}], "a2": null}, "a": 2, "z": "\\u0041"}';
  const scan = scanJson(text, new Set([pathKey(['a', 'b', 1, 'c']), pathKey(['z'])]));
  const c = scan.found.get(pathKey(['a', 'b', 1, 'c']))!;
  assert.equal(text.slice(c.key!, c.key! + 3), '"c"');
  assert.equal(text.slice(c.value, c.value + 3), '"x\\');
  assert.equal(text.slice(scan.found.get(pathKey(['z']))!.value).startsWith('"\\u0041"'), true);
  assert.deepEqual(scan.duplicates.map((d) => d.path), [['a']]);
});

test('member counts from text and from the parsed value differ exactly when keys repeat', () => {
  const ok = '{"a": ["x:", "y"], "b": {"c": "d\\":"}, "e": [{"f": 1}, {"f": 2}]}';
  assert.equal(countJsonMembersInText(ok), countJsonMembers(JSON.parse(ok)));
  const escaped = '{"a\\\\": "\\\\", "b\\"": ":", "c": ["\\"", ":"]}';
  assert.equal(countJsonMembersInText(escaped), 3);
  assert.equal(countJsonMembers(JSON.parse(escaped)), 3);
  const dup = '{"a": 1, "b": {"c": 1, "c": 2}}';
  assert.notEqual(countJsonMembersInText(dup), countJsonMembers(JSON.parse(dup)));
});

test('positioner gives 1-based line and column', () => {
  const pos = positioner('ab\ncd\n\nef');
  assert.deepEqual(pos(0), { line: 1, column: 1 });
  assert.deepEqual(pos(4), { line: 2, column: 2 });
  assert.deepEqual(pos(7), { line: 4, column: 1 });
  assert.deepEqual(pos(999), { line: 4, column: 3 });
});

test('locating keys of a large YAML mapping: every key at its own offset, the first of a repeated key wins', () => {
  // how long this takes is measured by npm run bench policy (an index per mapping: a search per lookup was quadratic)
  const n = 40_000;
  const lines: string[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    lines.push(`/f${i}: [x]`);
    offsets.push(at + `/f${i}: [`.length);
    at += lines[i]!.length + 1;
  }
  lines.push('/f7: [y]');
  const doc = yamlLibrary().parseDocument(lines.join('\n'), { uniqueKeys: false });
  for (let i = 0; i < n; i++) assert.equal(yamlOffset(doc, [`/f${i}`, 0], 'value'), offsets[i]);
  assert.equal(yamlOffset(doc, ['/f7'], 'key'), offsets[7]! - '/f7: ['.length);
  assert.equal(yamlOffset(doc, ['/nowhere', 0], 'value'), 0, 'a missing key: the deepest node that exists');
});
