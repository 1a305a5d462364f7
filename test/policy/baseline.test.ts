// The built-in baseline: every check that needs no reference values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { baselinePolicy, BASELINE_POLICY_YAML, BASELINE_SPEC } from '../../src/policy/baseline.js';
import { evaluatePolicy, failedRules } from '../../src/policy/evaluate.js';
import { checkPolicy, loadPolicy } from '../../src/policy/load.js';
import { chain, input, vmLayer, vmmLayer } from './fixtures.js';
import { assertFail } from './rule-helpers.js';

test('the baseline is a valid policy in the same language', () => {
  assert.deepEqual(checkPolicy(BASELINE_POLICY_YAML).issues, []);
  assert.equal(baselinePolicy().name, 'baseline');
  assert.equal(baselinePolicy(), baselinePolicy());
});

test('the baseline built from BASELINE_SPEC is the policy its YAML text loads to, rule-set positions included', () => {
  assert.deepEqual(BASELINE_SPEC, parse(BASELINE_POLICY_YAML));
  assert.deepEqual(baselinePolicy(), loadPolicy(BASELINE_POLICY_YAML, { path: '<baseline>' }));
});

test('the YAML parser is loaded only when YAML is parsed: not for the baseline or a JSON inventory', () => {
  // a fresh process: what this one has loaded says nothing
  const src = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
  const script = `
    import { createRequire } from 'node:module';
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => /[\\/]node_modules[\\/]yaml[\\/]/.test(k));
    const { baselinePolicy } = await import(${JSON.stringify(src('../../src/policy/baseline.js'))});
    const { parseInventory } = await import(${JSON.stringify(src('../../src/audit/inventory.js'))});
    const { loadPolicy } = await import(${JSON.stringify(src('../../src/policy/load.js'))});
    const steps = [];
    baselinePolicy();
    steps.push(loaded());
    const inv = parseInventory(JSON.stringify({ vms: [{ name: 'a', url: 'https://a.example' }] }), 'fleet.json');
    steps.push(inv.issues.length === 0 && loaded());
    loadPolicy(${JSON.stringify('apiVersion: vtpm-verify/v1\nname: p\nlayers: []\n')}, { path: 'p.yaml' });
    steps.push(loaded());
    console.log(JSON.stringify(steps));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), [false, false, true]);
});

test('the baseline accepts a sound chain without any reference values', () => {
  const e = evaluatePolicy(baselinePolicy(), input());
  assert.deepEqual(failedRules(e), []);
  assert.equal(e.verdict, 'trusted');
});

test('the baseline fails broken bindings, a walk that stopped early, logs that do not replay, and clones', () => {
  const relayed = chain();
  relayed[1]!.binding.hostedInstance = 'fail';
  assertFail(evaluatePolicy(baselinePolicy(), input(relayed)), 'layer[1].chain.bindings.hostedInstance', 'POLICY_BINDING');
  const replayed = chain();
  replayed[2]!.binding.nonceChain = 'not-checked';
  assertFail(evaluatePolicy(baselinePolicy(), input(replayed)), 'layer[2].chain.bindings.nonceChain', 'POLICY_BINDING');
  assertFail(evaluatePolicy(baselinePolicy(), input([vmLayer(), vmmLayer()])), 'chain.endAt', 'POLICY_CHAIN_END');
  const badLog = chain();
  badLog[0]!.eventLog!.replayMatched = false;
  assertFail(evaluatePolicy(baselinePolicy(), input(badLog)), 'layer[0].eventLog.mustReplay', 'POLICY_EVENTLOG_REPLAY');
  const badIma = chain();
  badIma[0]!.ima!.replayMatched = false;
  assertFail(evaluatePolicy(baselinePolicy(), input(badIma)), 'layer[0].ima.mustReplay', 'POLICY_IMA_REPLAY');
  const clone = input(chain(), { findings: [{ category: 'clone', code: 'STATE_TWO_HOSTS', layer: 0, message: 'two hosts' }] });
  assertFail(evaluatePolicy(baselinePolicy(), clone), 'layer[0].migration.findings.clone', 'POLICY_CLONE');
});
