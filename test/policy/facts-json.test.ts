// Facts files (EvaluationInput as JSON): round trip, and strict reading of
// untrusted input with located errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { factsToJson, parseFactsJson } from '../../src/policy/evidence-json.js';
import { toJsonText } from '../../src/cli/output.js';
import type { PolicyIssue } from '../../src/policy/load.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { NOW, chain } from './fixtures.js';

test('facts survive JSON and back, bigints and PCR bytes included', () => {
  const layers = chain();
  const text = toJsonText(factsToJson({ layers, now: NOW, evidenceTime: new Date(NOW.getTime() - 1000), findings: [], migration: { from: 'a', to: 'b', sourceCheck: 'migrated-out' } }));
  const back = parseFactsJson(text, 'f.json');
  assert.deepEqual(back.layers, layers);
  assert.equal(back.now?.toISOString(), NOW.toISOString());
  assert.equal(back.evidenceTime?.getTime(), NOW.getTime() - 1000);
  assert.deepEqual(back.migration, { from: 'a', to: 'b', sourceCheck: 'migrated-out' });
  assert.equal(typeof back.layers[0]!.quote.firmwareVersion, 'bigint');
});

test('IMA violations survive JSON and back, with or without a path, at any entry index (an incremental list continues a long one)', () => {
  const layers = chain();
  layers[0]!.ima!.violations = [{ entry: 4, path: '/tmp/sh-thd-1' }, { entry: 2_500_000 }, { entry: 9_000_000_000, path: '/var/log/x' }];
  const back = parseFactsJson(toJsonText(factsToJson({ layers })), 'f.json');
  assert.deepEqual(back.layers[0]!.ima!.violations, layers[0]!.ima!.violations);
});

test('undecoded IMA entries (a template the verifier cannot read) survive JSON and back', () => {
  const layers = chain();
  layers[0]!.ima!.undecoded = [{ entry: 7, template: 'ima-xx' }, { entry: 9, template: 'd-ng|n-ng|sig' }];
  const back = parseFactsJson(toJsonText(factsToJson({ layers })), 'f.json');
  assert.deepEqual(back.layers[0]!.ima!.undecoded, layers[0]!.ima!.undecoded);
});

test('a bad facts file lists every problem with its line:column', () => {
  const json = toJsonText(factsToJson({ layers: chain() }));
  const broken = json
    .replace('"kind": "physical"', '"kind": "hardware"')
    .replace('"safe": true', '"safe": "yes"')
    .replace('"resetCount": 3', '"resetCount": -3');
  const err = assertThrowsCode(() => parseFactsJson(broken, 'f.json'), 'POLICY_FACTS_INVALID');
  const issues = err.details['issues'] as PolicyIssue[];
  assert.deepEqual(issues.map((i) => i.path).sort(), ['layers[0].quote.resetCount', 'layers[0].quote.safe', 'layers[2].kind']);
  const kind = issues.find((i) => i.path === 'layers[2].kind')!;
  const line = broken.split('\n')[kind.line - 1]!;
  assert.equal(line.slice(kind.column - 1), '"hardware",');
});

test('facts: positions must run 0, 1, ...; unknown keys and missing keys are errors', () => {
  const obj = JSON.parse(toJsonText(factsToJson({ layers: chain() })));
  obj.layers[1].position = 2;
  obj.layers[0].extra = 1;
  delete obj.layers[2].binding;
  const err = assertThrowsCode(() => parseFactsJson(JSON.stringify(obj), 'f.json'), 'POLICY_FACTS_INVALID');
  const issues = err.details['issues'] as PolicyIssue[];
  assert.deepEqual(issues.map((i) => i.code).sort(), ['POLICY_MISSING_KEY', 'POLICY_UNKNOWN_KEY']);
  delete obj.layers[0].extra;
  obj.layers[2].binding = obj.layers[1].binding;
  assert.match(assertThrowsCode(() => parseFactsJson(JSON.stringify(obj), 'f.json'), 'POLICY_FACTS_INVALID').message, /positions 0, 1/);
});

test('facts: not JSON, duplicate keys, and wrong shapes never throw raw errors', () => {
  for (const text of ['', '{', '[]', 'null', '{"layers": 5}', '{"layers": []}', '{"layers": [{}]}', '{"layers": [], "layers": []}', '"\\ud800"']) {
    assertThrowsCode(() => parseFactsJson(text, 'f.json'), 'POLICY_FACTS_INVALID');
  }
});
