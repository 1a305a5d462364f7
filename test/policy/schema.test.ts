// One source of truth: the JSON Schema for editors and README's reference are
// generated from the schema the loader validates with, and agree with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { policyJsonSchema } from '../../src/policy/schema.js';
import { policyReferenceMarkdown } from '../../src/policy/reference.js';
import { checkPolicy } from '../../src/policy/load.js';
import { BASELINE_POLICY_YAML } from '../../src/policy/baseline.js';
import { generatePolicy } from '../../src/policy/generate.js';
import { readIncludedFile } from '../../src/cli/policy-file.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { checkJsonSchema } from '../helpers/json-schema-lite.js';
import { chain } from './fixtures.js';

const POLICIES = join(REPO_ROOT, 'policies');
const examples = readdirSync(POLICIES).filter((f) => f.endsWith('.yaml'));
const fix = 'run `npm run gen:policy-docs` and commit the result';

test('policies/schema.json is exactly what the schema generates', () => {
  const committed = readFileSync(join(POLICIES, 'schema.json'), 'utf8');
  assert.equal(committed, `${JSON.stringify(policyJsonSchema(), null, 2)}\n`, `policies/schema.json is out of date: ${fix}`);
});

test("README's policy language reference is exactly what the schema generates", () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes(policyReferenceMarkdown()), `README.md policy reference is out of date: ${fix}`);
  // every key of the language is documented
  for (const key of ['apiVersion', 'chain.bindings.nonceChain', 'layers[].pcrs.<bank>.<index>', 'layers[].ima.allowList.<path>', 'layers[].select.certificate.manufacturer', 'freshness.maxAge', 'migration.findings.clone']) {
    assert.ok(readme.includes(`| \`${key}\` |`), `README reference lacks ${key}`);
  }
});

test('every example policy is valid for the loader and for the JSON Schema', () => {
  assert.deepEqual(examples.sort(), ['ci-gate.yaml', 'demo.yaml', 'lab.yaml', 'production.yaml']);
  const schema = policyJsonSchema();
  for (const f of examples) {
    const path = join(POLICIES, f);
    const text = readFileSync(path, 'utf8');
    assert.deepEqual(checkPolicy(text, { path, readFile: readIncludedFile }).issues, [], f);
    assert.deepEqual(checkJsonSchema(schema, parse(text)), [], f);
  }
  assert.deepEqual(checkJsonSchema(schema, parse(BASELINE_POLICY_YAML)), []);
  assert.deepEqual(checkJsonSchema(schema, parse(generatePolicy(chain()).yaml)), []);
});

test('the JSON Schema rejects what the loader rejects', () => {
  const schema = policyJsonSchema();
  const base = { apiVersion: 'vtpm-verify/v1', name: 'n' };
  const bad = [
    { ...base, chain: { maxDepht: 3 } },
    { ...base, apiVersion: 'vtpm-verify/v2' },
    { name: 'n' },
    { ...base, layers: [{ name: 'vm', pcrs: { sha256: { '24': 'replay' } } }] },
    { ...base, layers: [{ name: 'vm', pcrs: { sha256: { '7': ['ab'] } } }] },
    { ...base, layers: [{ name: 'vm', pcrs: { sha1: { '7': ['00'.repeat(32)] } } }] },
    { ...base, layers: [{ name: 'vm', pcrs: { sha255: {} } }] },
    { ...base, layers: [{ name: 'vm', trust: {} }] },
    { ...base, layers: [{ name: 'vm', trust: { anchors: ['a', 'a'] } }] },
    { ...base, freshness: { maxAge: '10 minutes' } },
    { ...base, layers: [{ name: 'vm', eventLog: { requireSecureBoot: 'yes' } }] },
  ];
  for (const b of bad) {
    assert.notDeepEqual(checkJsonSchema(schema, b), [], JSON.stringify(b));
    assert.notDeepEqual(checkPolicy(JSON.stringify(b)).issues, [], JSON.stringify(b));
  }
});
