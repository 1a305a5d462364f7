// Whole-chain rules (depth, end, bindings, unmatched layers), freshness of
// offline evidence, migration and state findings, and how rule sets select layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicy, selects } from '../../src/policy/evaluate.js';
import { InternalError } from '../../src/errors.js';
import { NOW, chain, hostLayer, input, layerPolicy, policy, vmLayer, vmmLayer } from './fixtures.js';
import { assertFail, assertNoResult, assertPass, rule } from './rule-helpers.js';

const chainPolicy = (body: string) => policy(`apiVersion: vtpm-verify/v1\nname: t\n${body}\n`);

test('chain.minDepth / chain.maxDepth', () => {
  const p = chainPolicy('chain: { minDepth: 3, maxDepth: 3 }');
  assertPass(evaluatePolicy(p, input()), 'chain.minDepth');
  assertPass(evaluatePolicy(p, input()), 'chain.maxDepth');
  const two = [vmLayer(), vmmLayer()];
  two[1]!.kind = 'unspecified';
  assertFail(evaluatePolicy(p, input(two)), 'chain.minDepth', 'POLICY_CHAIN_DEPTH');
  const four = [...chain(), { ...hostLayer(), position: 3 }];
  four[2]!.kind = 'virtual';
  assertFail(evaluatePolicy(p, input(four)), 'chain.maxDepth', 'POLICY_CHAIN_DEPTH');
});

test('chain.endAt: physical, not-virtual (default), any', () => {
  assertPass(evaluatePolicy(chainPolicy('chain: { endAt: physical }'), input()), 'chain.endAt');
  const lab = [vmLayer(), vmmLayer()];
  lab[1]!.kind = 'unspecified';
  assertFail(evaluatePolicy(chainPolicy('chain: { endAt: physical }'), input(lab)), 'chain.endAt', 'POLICY_CHAIN_END');
  assertPass(evaluatePolicy(chainPolicy('chain: { endAt: not-virtual }'), input(lab)), 'chain.endAt');
  // a virtual lowest layer: the walk stopped before a root
  const stopped = [vmLayer(), vmmLayer()];
  assertFail(evaluatePolicy(chainPolicy('description: default endAt'), input(stopped)), 'chain.endAt', 'POLICY_CHAIN_END');
  assertPass(evaluatePolicy(chainPolicy('chain: { endAt: any }'), input(stopped)), 'chain.endAt');
  assertFail(evaluatePolicy(chainPolicy('chain: { endAt: any }'), input([])), 'chain.endAt', 'POLICY_CHAIN_END');
});

test('chain.bindings: pass passes; a failed check always fails; not-checked fails only when required', () => {
  const p = chainPolicy('chain: { bindings: { nonceChain: required, hostedInstance: required, issuer: optional } }');
  const ok = evaluatePolicy(p, input());
  for (const layer of [1, 2]) for (const b of ['nonceChain', 'hostedInstance', 'issuer']) assertPass(ok, `layer[${layer}].chain.bindings.${b}`);
  assertNoResult(ok, 'layer[0].chain.bindings.nonceChain');

  const relayed = chain();
  relayed[1]!.binding.hostedInstance = 'fail';
  assertFail(evaluatePolicy(p, input(relayed)), 'layer[1].chain.bindings.hostedInstance', 'POLICY_BINDING');

  const issuerFailed = chain();
  issuerFailed[1]!.binding.issuer = 'fail';
  assertFail(evaluatePolicy(p, input(issuerFailed)), 'layer[1].chain.bindings.issuer', 'POLICY_BINDING');

  const unchecked = chain();
  unchecked[1]!.binding.issuer = 'not-checked';
  unchecked[2]!.binding.nonceChain = 'not-checked';
  const e = evaluatePolicy(p, input(unchecked));
  assert.equal(rule(e, 'layer[1].chain.bindings.issuer').status, 'not-applicable');
  assertFail(e, 'layer[2].chain.bindings.nonceChain', 'POLICY_BINDING');
  assertFail(evaluatePolicy(chainPolicy('chain: { bindings: { issuer: required } }'), input(unchecked)), 'layer[1].chain.bindings.issuer', 'POLICY_BINDING');

  // below the top, "not-applicable" is no excuse for a required binding
  const na = chain();
  na[1]!.binding.hostedInstance = 'not-applicable';
  assertFail(evaluatePolicy(p, input(na)), 'layer[1].chain.bindings.hostedInstance', 'POLICY_BINDING');
});

test('chain.unmatchedLayers: fail when no rule set selects a layer', () => {
  const p = chainPolicy('chain: { unmatchedLayers: fail }\nlayers:\n  - name: vm\n    select: { position: 0 }\n  - name: host\n    select: { position: -1 }');
  const e = evaluatePolicy(p, input());
  assertPass(e, 'layer[0].chain.unmatchedLayers');
  assertPass(e, 'layer[2].chain.unmatchedLayers');
  assertFail(e, 'layer[1].chain.unmatchedLayers', 'POLICY_UNMATCHED_LAYER');
  assert.equal(e.layers[1]!.verdict, 'not-trusted');
  assert.equal(e.layers[0]!.verdict, 'trusted');
  assertNoResult(evaluatePolicy(chainPolicy('chain: { unmatchedLayers: allow }'), input()), 'layer[1].chain.unmatchedLayers');
});

test('chain.unmatchedLayers: the failure says why each rule set does not select the layer, patterns as written', () => {
  const p = chainPolicy(
    "chain: { unmatchedLayers: fail }\nlayers:\n  - name: vm\n    select: { position: 0, certificate: { issuer: 'CN=Other|CN=Acme vPlatform CA' } }\n  - name: host\n    select: { position: -1 }\n  - name: vmm\n    select: { certificate: { subject: 'CN=vmm\\.host-[0-9]' } }",
  );
  const e = evaluatePolicy(p, input());
  // the issuer pattern matches only part of the issuer (CN=Acme vPlatform CA,O=Acme): whole-value matching
  const vm = assertFail(e, 'layer[0].chain.unmatchedLayers', 'POLICY_UNMATCHED_LAYER');
  assert.match(vm.message, /vm: AK certificate issuer "CN=Acme vPlatform CA,O=Acme" does not match the whole of \/CN=Other\|CN=Acme vPlatform CA\//);
  assert.match(vm.message, /host: position -1 \(layer 2 of 3\), this is layer 0/);
  assert.match(vm.message, /vmm: AK certificate subject "CN=web-1,O=Acme" does not match the whole of \/CN=vmm\\\.host-\[0-9\]\//);
  const actual = vm.actual as { subject: string; issuer: string; notSelected: { ruleSet: string; because: string }[] };
  assert.equal(actual.issuer, 'CN=Acme vPlatform CA,O=Acme');
  assert.deepEqual(actual.notSelected.map((n) => n.ruleSet), ['vm', 'host', 'vmm']);
  assert.match(assertFail(e, 'layer[1].chain.unmatchedLayers', 'POLICY_UNMATCHED_LAYER').message, /vm: position 0, this is layer 1;/);
  assertPass(e, 'layer[2].chain.unmatchedLayers');
});

test('freshness.maxAge and maxFutureSkew apply to offline evidence only', () => {
  const p = chainPolicy('freshness: { maxAge: 10m }');
  assert.equal(rule(evaluatePolicy(p, input()), 'freshness.maxAge').status, 'not-applicable');
  assertPass(evaluatePolicy(p, input(chain(), { evidenceTime: new Date(NOW.getTime() - 10 * 60_000) })), 'freshness.maxAge');
  const stale = assertFail(evaluatePolicy(p, input(chain(), { evidenceTime: new Date(NOW.getTime() - 10 * 60_000 - 1) })), 'freshness.maxAge', 'POLICY_EVIDENCE_STALE');
  assert.equal(stale.actual, '2026-11-26T11:49:59.999Z');
  assertPass(evaluatePolicy(p, input(chain(), { evidenceTime: new Date(NOW.getTime() + 5 * 60_000) })), 'freshness.maxFutureSkew');
  assertFail(evaluatePolicy(p, input(chain(), { evidenceTime: new Date(NOW.getTime() + 5 * 60_000 + 1) })), 'freshness.maxFutureSkew', 'POLICY_EVIDENCE_FUTURE');
  assertFail(evaluatePolicy(chainPolicy('freshness: { maxFutureSkew: 1s }'), input(chain(), { evidenceTime: new Date(NOW.getTime() + 2000) })), 'freshness.maxFutureSkew', 'POLICY_EVIDENCE_FUTURE');
});

test('migration.requireSourceMigrateOut', () => {
  const req = chainPolicy('migration: { requireSourceMigrateOut: true }');
  const opt = chainPolicy('migration: { requireSourceMigrateOut: false }');
  const m = (sourceCheck: 'migrated-out' | 'still-hosted' | 'not-migrated-out' | 'not-checked') => input(chain(), { migration: { from: 'https://host-3', to: 'https://host-7', sourceCheck } });
  assertPass(evaluatePolicy(req, m('migrated-out')), 'migration.requireSourceMigrateOut');
  assertFail(evaluatePolicy(req, m('not-checked')), 'migration.requireSourceMigrateOut', 'POLICY_SOURCE_STILL_HOSTS');
  assert.equal(rule(evaluatePolicy(opt, m('not-checked')), 'migration.requireSourceMigrateOut').status, 'not-applicable');
  // a source still hosting the instance left a duplicate: fails even when not required
  assertFail(evaluatePolicy(opt, m('still-hosted')), 'migration.requireSourceMigrateOut', 'POLICY_SOURCE_STILL_HOSTS');
  assert.equal(rule(evaluatePolicy(req, input()), 'migration.requireSourceMigrateOut').status, 'not-applicable');
  // a source that was attested but never recorded migrate-out (never hosted it): fails only when required
  assertFail(evaluatePolicy(req, m('not-migrated-out')), 'migration.requireSourceMigrateOut', 'POLICY_SOURCE_STILL_HOSTS');
  assert.equal(rule(evaluatePolicy(opt, m('not-migrated-out')), 'migration.requireSourceMigrateOut').status, 'not-applicable');
});

test('migration.findings: clone and rollback findings fail or warn per policy', () => {
  const clone = input(chain(), { findings: [{ category: 'clone', code: 'STATE_TWO_HOSTS', layer: 0, message: 'hosted by host-3 and host-7' }] });
  assertFail(evaluatePolicy(chainPolicy('description: defaults fail'), clone), 'layer[0].migration.findings.clone', 'POLICY_CLONE');
  const warned = evaluatePolicy(chainPolicy('migration: { findings: { clone: warn } }'), clone);
  const w = rule(warned, 'layer[0].migration.findings.clone');
  assert.equal(w.status, 'warn');
  assert.equal(w.code, 'POLICY_CLONE');
  assert.equal(warned.verdict, 'trusted');
  const rollback = input(chain(), { findings: [{ category: 'rollback', code: 'STATE_CLOCK_BACKWARDS', layer: 1, message: 'clock went back' }] });
  assertFail(evaluatePolicy(chainPolicy('migration: { findings: { clone: warn } }'), rollback), 'layer[1].migration.findings.rollback', 'POLICY_ROLLBACK');
  assert.equal(rule(evaluatePolicy(chainPolicy('migration: { findings: { rollback: warn } }'), rollback), 'layer[1].migration.findings.rollback').status, 'warn');
  // a finding about a layer not in this chain is reported on the chain
  const elsewhere = input(chain(), { findings: [{ category: 'rollback', code: 'X', layer: 9, message: 'm' }] });
  assertFail(evaluatePolicy(chainPolicy('description: d'), elsewhere), 'migration.findings.rollback', 'POLICY_ROLLBACK');
  assertPass(evaluatePolicy(chainPolicy('description: d'), input(chain(), { findings: [] })), 'migration.findings');
});

test('selection: position (negative from the bottom), kind, certificate attributes; every condition must hold', () => {
  const [vm, vmm, host] = chain();
  const sel = (yaml: string) => policy(`apiVersion: vtpm-verify/v1\nname: t\nlayers:\n  - name: r\n    select: ${yaml}\n`).ruleSets[0]!.select;
  assert.ok(selects(sel('{ position: 0 }'), vm!, 3));
  assert.ok(!selects(sel('{ position: 0 }'), vmm!, 3));
  assert.ok(selects(sel('{ position: -1 }'), host!, 3));
  assert.ok(selects(sel('{ position: -2 }'), vmm!, 3));
  assert.ok(selects(sel('{ kind: [virtual] }'), vmm!, 3));
  assert.ok(!selects(sel('{ kind: physical }'), vmm!, 3));
  assert.ok(selects(sel('{ certificate: { subject: "CN=web-[0-9]+,O=Acme" } }'), vm!, 3));
  // patterns match the whole subject
  assert.ok(!selects(sel('{ certificate: { subject: "CN=web" } }'), vm!, 3));
  assert.ok(selects(sel('{ certificate: { issuer: ".*Infineon.*" } }'), host!, 3));
  assert.ok(selects(sel('{ certificate: { anchor: [ifx-rsa-root, x] } }'), host!, 3));
  assert.ok(selects(sel('{ certificate: { manufacturer: IFX } }'), host!, 3));
  assert.ok(!selects(sel('{ certificate: { manufacturer: IFX } }'), vmm!, 3));
  // ST's vendor id is "STM " (id:53544D20): `STM` selects its TPMs, as the policy reads
  const st = { ...host!, certificate: { ...host!.certificate, tcg: { manufacturer: 'id:53544D20' } } };
  assert.ok(selects(sel('{ certificate: { manufacturer: STM } }'), st, 3));
  assert.ok(selects(sel('{ certificate: { manufacturer: "id:53544D20" } }'), st, 3));
  assert.ok(!selects(sel('{ certificate: { manufacturer: IFX } }'), st, 3));
  assert.ok(!selects(sel('{ position: 0, kind: physical }'), vm!, 3));
});

test('every matching rule set applies: a second one can only add demands', () => {
  const p = policy(`apiVersion: vtpm-verify/v1
name: t
layers:
  - name: all-virtual
    select: { kind: virtual }
    tpm: { requireSafeClock: true }
  - name: vm
    select: { position: 0 }
    tpm: { requireSafeClock: true }
    kinds: [virtual]
`);
  const e = evaluatePolicy(p, input());
  assert.deepEqual(e.layers[0]!.ruleSets, ['all-virtual', 'vm']);
  assert.deepEqual(e.layers[1]!.ruleSets, ['all-virtual']);
  assert.deepEqual(e.layers[2]!.ruleSets, []);
  assert.equal(rule(e, 'layer[0].tpm.requireSafeClock', 'vm').status, 'pass');
  assert.equal(rule(e, 'layer[0].tpm.requireSafeClock', 'all-virtual').status, 'pass');
  const unsafe = chain();
  unsafe[0]!.quote.safe = false;
  const bad = evaluatePolicy(p, input(unsafe));
  assert.equal(rule(bad, 'layer[0].tpm.requireSafeClock', 'vm').status, 'fail');
  assert.equal(rule(bad, 'layer[0].tpm.requireSafeClock', 'all-virtual').status, 'fail');
  assert.equal(bad.counts.fail, 2);
});

test('layer facts out of order are a caller bug', () => {
  const c = chain();
  c[1]!.position = 5;
  assert.throws(() => evaluatePolicy(chainPolicy('description: d'), input(c)), InternalError);
});

test('the evaluation is plain data: counts and verdicts add up', () => {
  const e = evaluatePolicy(layerPolicy('kinds: [virtual]'), input());
  assert.equal(e.policy, 't');
  assert.equal(e.verdict, 'not-trusted'); // the host is physical
  assert.equal(e.layers[2]!.verdict, 'not-trusted');
  const total = e.layers.reduce((n, l) => n + l.rules.length, 0) + e.chain.length;
  assert.equal(e.counts.pass + e.counts.fail + e.counts.warn + e.counts.notApplicable, total);
});
