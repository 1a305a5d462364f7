import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { countJsonMembers, countJsonMembersInText, duplicateJsonKey, formatJsonPath } from '../../src/util/json-scan.js';

const dup = (text: string): readonly (string | number)[] | undefined => duplicateJsonKey(text, JSON.parse(text));

test('duplicateJsonKey: the first repeated key with its path; none in documents without one', () => {
  assert.equal(dup('{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}'), undefined, 'equal keys in different objects are not duplicates');
  assert.deepEqual(dup('{"a": 1, "a": 2}'), ['a']);
  assert.deepEqual(dup('{"x": [{"q": 1}, {"q": 1, "q": 1}]}'), ['x', 1, 'q'], 'even when both values are equal');
  // a key spelled with escapes is the same key
  assert.deepEqual(dup('{"quote": 1, "q\\u0075ote": 2}'), ['quote']);
  assert.deepEqual(dup('{"__proto__": 1, "__proto__": 2}'), ['__proto__']);
  // strings that look like keys inside values do not count
  assert.equal(dup('{"a": "\\"a\\": 1", "b": ["a", ":", "\\\\"], "c": "x\\\\"}'), undefined);
});

test('duplicateJsonKey: nesting deeper than the scanner follows is still found, without a path', () => {
  const deep = `${'['.repeat(10_000)}{"k": 1, "k": 2}${']'.repeat(10_000)}`;
  assert.deepEqual(dup(deep), []);
  assert.equal(dup(`${'['.repeat(100_000)}{"k": 1}${']'.repeat(100_000)}`), undefined);
});

test('property: text and parsed member counts agree exactly when no object repeats a key; a repeated key is always found', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.boolean(), (value, pretty) => {
      const text = JSON.stringify(value, null, pretty ? 2 : undefined);
      assert.equal(countJsonMembersInText(text), countJsonMembers(JSON.parse(text)));
      assert.equal(dup(text), undefined);
    }),
    { numRuns: 300, seed: 20261127 },
  );
  // an object whose first key is written twice, nested anywhere: keys and values may hold quotes, colons, braces
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1, maxKeys: 5 }), fc.jsonValue(), (object, around) => {
      const [first] = Object.keys(object);
      const inner = JSON.stringify(object);
      const doubled = `{${JSON.stringify(first)}:null,${inner.slice(1)}`;
      const text = JSON.stringify([around, { wrapper: '__X__' }]).replace('"__X__"', () => doubled);
      assert.deepEqual(dup(text), [1, 'wrapper', first], text);
    }),
    { numRuns: 300, seed: 20261128 },
  );
});

test('formatJsonPath: identifiers dotted, others quoted, indices in brackets', () => {
  assert.equal(formatJsonPath(['layers', 0, 'evidence', 'quote']), '$.layers[0].evidence.quote');
  assert.equal(formatJsonPath(['sha256', '7']), '$.sha256["7"]');
  assert.equal(formatJsonPath([]), '$');
});
