// Hostile or random input never crashes the loaders: every problem is a typed
// issue, never a raw TypeError/RangeError. Property tests with fast-check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkPolicy } from '../../src/policy/load.js';
import { parseFactsJson } from '../../src/policy/evidence-json.js';
import { countJsonMembersInText } from '../../src/util/json-scan.js';
import { VtpmError } from '../../src/errors.js';

const members = (v: unknown): number =>
  Array.isArray(v) ? v.reduce((n: number, x) => n + members(x), 0) : typeof v === 'object' && v !== null ? Object.values(v).reduce((n: number, x) => n + 1 + members(x), 0) : 0;

test('any text: checkPolicy returns located issues, never throws', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (text) => {
      const r = checkPolicy(text, { path: 'x.yaml' });
      assert.ok(r.policy !== undefined || r.issues.length > 0);
      for (const i of r.issues) assert.ok(i.line >= 1 && i.column >= 1 && i.code.startsWith('POLICY_'));
    }),
    { numRuns: 300 },
  );
});

test('any JSON value under a valid header: issues, never a throw', () => {
  const header = { apiVersion: 'vtpm-verify/v1', name: 'n' };
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom('chain', 'layers', 'freshness', 'migration', 'description', 'x'), fc.jsonValue({ maxDepth: 4 })), (rest) => {
      const r = checkPolicy(JSON.stringify({ ...header, ...rest }));
      for (const i of r.issues) assert.ok(i.line >= 1 && i.code.startsWith('POLICY_'));
    }),
    { numRuns: 300 },
  );
});

test('random layer rule sets: issues, never a throw', () => {
  const keys = fc.constantFrom('name', 'select', 'kinds', 'trust', 'tpm', 'pcrs', 'eventLog', 'ima', 'position', 'sha256', '7', 'allowList', 'include', 'required', 'patterns');
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(keys, tie('v'), { maxKeys: 4 })),
  })).v;
  fc.assert(
    fc.property(fc.array(fc.dictionary(keys, value, { maxKeys: 5 }), { maxLength: 3 }), (layers) => {
      checkPolicy(JSON.stringify({ apiVersion: 'vtpm-verify/v1', name: 'n', layers }), { path: 'p.yaml', readFile: () => '{"a": ["zz"]}' });
    }),
    { numRuns: 300 },
  );
});

test('facts files: any JSON is a typed POLICY_FACTS_INVALID or facts', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), (v) => {
      try {
        parseFactsJson(JSON.stringify(v) ?? 'null', 'f.json');
      } catch (err) {
        assert.ok(err instanceof VtpmError, String(err));
        assert.equal(err.code, 'POLICY_FACTS_INVALID');
      }
    }),
    { numRuns: 300 },
  );
});

test('counting members in JSON text agrees with the parsed value', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), fc.boolean(), (v, pretty) => {
      const text = JSON.stringify(v, null, pretty ? 2 : undefined) ?? 'null';
      assert.equal(countJsonMembersInText(text), members(JSON.parse(text)));
    }),
    { numRuns: 500 },
  );
});

test('__proto__ and constructor keys are ordinary (unknown or data) keys', () => {
  const r = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\n__proto__: { polluted: true }\nconstructor: 1\nlayers:\n  - name: vm\n    ima:\n      allowList:\n        __proto__: ["' + 'a'.repeat(64) + '"]\n');
  assert.deepEqual(r.issues.map((i) => [i.code, i.path]), [
    ['POLICY_UNKNOWN_KEY', '__proto__'],
    ['POLICY_UNKNOWN_KEY', 'constructor'],
  ]);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  const ok = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    ima:\n      allowList:\n        __proto__: ["' + 'a'.repeat(64) + '"]\n');
  assert.deepEqual(ok.policy?.spec.layers[0]!.ima!.allowList!.get('__proto__'), ['a'.repeat(64)]);
});

test('a facts file with an issue in every one of 300,000 items: validation stops, the issues listed are capped', () => {
  // 900 KB of `{}` items gave 1.2 million issues (4 missing keys each): 1.6 GB, 7 s, and 400 MB of --json output
  const layer = {
    position: 0,
    uri: 'x',
    kind: 'physical',
    certificate: { subject: '', issuer: '', anchor: { label: 'a', subject: '', vouchesFor: 'v' } },
    quote: { clock: '1', resetCount: 0, restartCount: 0, safe: true, firmwareVersion: '1', pcrs: {} },
    binding: { nonceChain: 'pass', hostedInstance: 'pass', issuer: 'pass' },
    ima: { replayMatched: true, entries: '@' },
  };
  const text = JSON.stringify({ layers: [layer] }).replace('"@"', `[${Array(300_000).fill('{}').join(',')}]`);
  const t0 = performance.now();
  let caught: unknown;
  try {
    parseFactsJson(text, 'f.json');
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof VtpmError);
  assert.equal(caught.code, 'POLICY_FACTS_INVALID');
  const issues = (caught.details as { issues: { message: string }[] }).issues;
  assert.equal(issues.length, 1001);
  assert.match(issues[1000]!.message, /at least \d+ more/);
  assert.match(caught.message, /or more problem/);
  assert.ok(performance.now() - t0 < 3000, `took ${performance.now() - t0} ms`);
});

test('a policy whose included allow-list has an issue per path: validation stops', () => {
  const include = `{${Array.from({ length: 200_000 }, (_, i) => `"/p${i}":1`).join(',')}}`;
  const t0 = performance.now();
  const r = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: a\n    ima:\n      allowList: {include: big.json}\n', { path: 'p.yaml', readFile: () => include });
  assert.equal(r.policy, undefined);
  assert.equal(r.issues.length, 1001);
  assert.match(r.issues[1000]!.message, /at least \d+ more/);
  assert.ok(performance.now() - t0 < 3000, `took ${performance.now() - t0} ms`);
});
