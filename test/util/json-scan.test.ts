import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Worker } from 'node:worker_threads';
import { countJsonMembers, countJsonMembersInText, duplicateJsonKey, formatJsonPath, scanJson } from '../../src/util/json-scan.js';

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

test('duplicateJsonKey on hostile text: one key repeated 100,000 times 250 objects deep is found without recording every repeat', async () => {
  // Each repeat used to be recorded with its whole path (251 elements): 600 KB of text took 400 MB
  // of heap, and 6 MB took a 2 GB heap out of memory. Now the scan stops at the first.
  const text = `{"version":1,"x":${'{"k":'.repeat(250)}{${'"a":1,'.repeat(100_000)}"a":1}${'}'.repeat(250)}}`;
  assert.equal(scanJson(text, new Set(), 1).duplicates.length, 1);
  assert.equal(scanJson(text, new Set(), 3).duplicates.length, 3);
  assert.equal(dup(text)?.length, 252);
  // evidence with it, parsed in a worker whose heap is capped at 64 MB: a typed error, not out of memory
  // (its nesting cap raised past 250, so that the duplicate scan is what is tested)
  const evidenceModule = new URL('../../src/transport/evidence.js', import.meta.url).href;
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.module).then((m) => {
       try { m.parseEvidenceBytes(workerData.text, { limits: { jsonDepth: 300 } }); parentPort.postMessage('parsed'); }
       catch (err) { parentPort.postMessage(err.code); }
     });`,
    { eval: true, workerData: { module: evidenceModule, text }, resourceLimits: { maxOldGenerationSizeMb: 64 } },
  );
  const outcome = await new Promise<string>((resolve) => {
    worker.once('message', (m: string) => resolve(m));
    worker.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
  await worker.terminate();
  assert.equal(outcome, 'EVIDENCE_JSON');
});
