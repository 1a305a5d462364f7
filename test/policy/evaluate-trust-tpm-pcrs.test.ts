// Layer rules on kind, certificate trust, TPM fields and PCRs: each passing and failing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicy } from '../../src/policy/evaluate.js';
import { chain, input, layerPolicy, pcrValue, sha256 } from './fixtures.js';
import { assertFail, assertPass, rule } from './rule-helpers.js';

const vmOnly = (body: string) => layerPolicy(`select: { position: 0 }\n${body}`);

test('kinds: the selected layer must be of an allowed kind', () => {
  assertPass(evaluatePolicy(vmOnly('kinds: [virtual]'), input()), 'layer[0].kinds');
  const r = assertFail(evaluatePolicy(vmOnly('kinds: [physical, unspecified]'), input()), 'layer[0].kinds', 'POLICY_LAYER_KIND');
  assert.equal(r.actual, 'virtual');
  assert.deepEqual(r.expected, ['physical', 'unspecified']);
  assert.equal(r.ruleSet, 'r');
  assert.equal(r.layer, 0);
});

test('trust.anchors: the AK path must end at a listed anchor', () => {
  assertPass(evaluatePolicy(vmOnly('trust: { anchors: [other, acme-vplatform-ca] }'), input()), 'layer[0].trust.anchors');
  const r = assertFail(evaluatePolicy(vmOnly('trust: { anchors: [other] }'), input()), 'layer[0].trust.anchors', 'POLICY_TRUST_ANCHOR');
  assert.equal(r.actual, 'acme-vplatform-ca');
});

test('trust.anchorRoles: the anchor must vouch for a listed role', () => {
  assertPass(evaluatePolicy(vmOnly('trust: { anchorRoles: [vplatform-ca] }'), input()), 'layer[0].trust.anchorRoles');
  assertFail(evaluatePolicy(vmOnly('trust: { anchorRoles: [tpm-vendor] }'), input()), 'layer[0].trust.anchorRoles', 'POLICY_ANCHOR_ROLE');
});

test('an anchor given under several labels has them all: anchors, anchorRoles and selectors match any of them, in any order', () => {
  for (const labels of [['acme-vplatform-ca', 'vplatform-ca'], ['vplatform-ca', 'acme-vplatform-ca']]) {
    const layers = chain();
    layers[0]!.certificate.anchor = { label: labels[0]!, subject: 'CN=Acme vPlatform Root,O=Acme', vouchesFor: labels[0]!, labels };
    assertPass(evaluatePolicy(vmOnly('trust: { anchors: [acme-vplatform-ca], anchorRoles: [vplatform-ca] }'), input(layers)), 'layer[0].trust.anchors');
    assertPass(evaluatePolicy(vmOnly('trust: { anchors: [acme-vplatform-ca], anchorRoles: [vplatform-ca] }'), input(layers)), 'layer[0].trust.anchorRoles');
    const r = assertFail(evaluatePolicy(vmOnly('trust: { anchors: [other] }'), input(layers)), 'layer[0].trust.anchors', 'POLICY_TRUST_ANCHOR');
    assert.deepEqual(r.actual, labels);
    // a stricter rule set selected by the second label applies as well as by the first
    const selected = layerPolicy('select: { certificate: { anchor: vplatform-ca } }\ntrust: { anchors: [nobody] }');
    assertFail(evaluatePolicy(selected, input(layers)), 'layer[0].trust.anchors', 'POLICY_TRUST_ANCHOR');
  }
});

test('trust.requiredEkus: every listed EKU must be on the AK certificate', () => {
  assertPass(evaluatePolicy(vmOnly('trust: { requiredEkus: ["2.23.133.8.3"] }'), input()), 'layer[0].trust.requiredEkus');
  const r = assertFail(evaluatePolicy(vmOnly('trust: { requiredEkus: ["2.23.133.8.3", "1.3.6.1.5.5.7.3.2"] }'), input()), 'layer[0].trust.requiredEkus', 'POLICY_EKU_MISSING');
  assert.match(r.message, /1\.3\.6\.1\.5\.5\.7\.3\.2/);
});

test('trust.manufacturers: letters and id:hex forms both match the certificate vendor id', () => {
  // the fixture VM's vTPM says id:4D534654 ("MSFT")
  assertPass(evaluatePolicy(vmOnly('trust: { manufacturers: [MSFT] }'), input()), 'layer[0].trust.manufacturers');
  assertPass(evaluatePolicy(vmOnly('trust: { manufacturers: ["id:4d534654"] }'), input()), 'layer[0].trust.manufacturers');
  assertFail(evaluatePolicy(vmOnly('trust: { manufacturers: [IFX, NTC] }'), input()), 'layer[0].trust.manufacturers', 'POLICY_MANUFACTURER');
  const noTcg = chain();
  delete noTcg[0]!.certificate.tcg;
  const r = assertFail(evaluatePolicy(vmOnly('trust: { manufacturers: [MSFT] }'), input(noTcg)), 'layer[0].trust.manufacturers', 'POLICY_MANUFACTURER');
  assert.match(r.message, /names no TPM manufacturer/);
});

test('trust.manufacturers: a short vendor name matches its registered id, padded with zero bytes or with spaces', () => {
  // ST's TCG vendor id is "STM " (id:53544D20) and National's "NSM " (id:4E534D20); IFX's is "IFX\0" (id:49465800)
  const vendor = (id: string) => {
    const layers = chain();
    layers[0]!.certificate.tcg = { manufacturer: id };
    return input(layers);
  };
  assertPass(evaluatePolicy(vmOnly('trust: { manufacturers: [IFX, NTC, STM, INTC] }'), vendor('id:53544D20')), 'layer[0].trust.manufacturers');
  assertPass(evaluatePolicy(vmOnly('trust: { manufacturers: [NSM] }'), vendor('id:4E534D20')), 'layer[0].trust.manufacturers');
  assertPass(evaluatePolicy(vmOnly('trust: { manufacturers: ["id:53544D20"] }'), vendor('id:53544D20')), 'layer[0].trust.manufacturers');
  assertPass(evaluatePolicy(vmOnly('trust: { manufacturers: [IFX] }'), vendor('id:49465800')), 'layer[0].trust.manufacturers');
  // padding is only at the end, and only zero bytes or spaces: other vendors stay apart
  assertFail(evaluatePolicy(vmOnly('trust: { manufacturers: [STM] }'), vendor('id:53544D4C')), 'layer[0].trust.manufacturers', 'POLICY_MANUFACTURER');
  assertFail(evaluatePolicy(vmOnly('trust: { manufacturers: ["id:53540000"] }'), vendor('id:53544D20')), 'layer[0].trust.manufacturers', 'POLICY_MANUFACTURER');
  assertFail(evaluatePolicy(vmOnly('trust: { manufacturers: [IFX] }'), vendor('id:20494658')), 'layer[0].trust.manufacturers', 'POLICY_MANUFACTURER');
});

test('trust.instanceIds: pins one vTPM instance', () => {
  assertPass(evaluatePolicy(vmOnly(`trust: { instanceIds: ["${sha256('instance web-1')}"] }`), input()), 'layer[0].trust.instanceIds');
  assertFail(evaluatePolicy(vmOnly(`trust: { instanceIds: ["${sha256('another vm')}"] }`), input()), 'layer[0].trust.instanceIds', 'POLICY_INSTANCE_ID');
  const noId = chain();
  delete noId[0]!.instanceId;
  assertFail(evaluatePolicy(vmOnly(`trust: { instanceIds: ["${sha256('instance web-1')}"] }`), input(noId)), 'layer[0].trust.instanceIds', 'POLICY_INSTANCE_ID');
});

test('tpm.firmwareVersions: allow-list, written as integer or 0x hex', () => {
  assertPass(evaluatePolicy(vmOnly('tpm: { firmwareVersions: ["0x0001000200030004"] }'), input()), 'layer[0].tpm.firmwareVersions');
  assertPass(evaluatePolicy(vmOnly(`tpm: { firmwareVersions: [${0x0001000200030004n}] }`), input()), 'layer[0].tpm.firmwareVersions');
  const r = assertFail(evaluatePolicy(vmOnly('tpm: { firmwareVersions: ["0x0001000200030005"] }'), input()), 'layer[0].tpm.firmwareVersions', 'POLICY_FIRMWARE_VERSION');
  assert.equal(r.actual, '0x0001000200030004');
});

test('tpm.minFirmwareVersion: at least the minimum (64-bit compare)', () => {
  assertPass(evaluatePolicy(vmOnly('tpm: { minFirmwareVersion: "0x0001000200030004" }'), input()), 'layer[0].tpm.minFirmwareVersion');
  assertFail(evaluatePolicy(vmOnly('tpm: { minFirmwareVersion: "0x0001000200030005" }'), input()), 'layer[0].tpm.minFirmwareVersion', 'POLICY_FIRMWARE_VERSION');
  // above 2^53: must not lose precision
  const big = chain();
  big[0]!.quote.firmwareVersion = 0xffff_ffff_ffff_fff0n;
  assertPass(evaluatePolicy(vmOnly('tpm: { minFirmwareVersion: 18446744073709551600 }'), input(big)), 'layer[0].tpm.minFirmwareVersion');
  assertFail(evaluatePolicy(vmOnly('tpm: { minFirmwareVersion: 18446744073709551601 }'), input(big)), 'layer[0].tpm.minFirmwareVersion', 'POLICY_FIRMWARE_VERSION');
});

test('tpm.requireSafeClock: the quote must mark the clock safe', () => {
  assertPass(evaluatePolicy(vmOnly('tpm: { requireSafeClock: true }'), input()), 'layer[0].tpm.requireSafeClock');
  const unsafe = chain();
  unsafe[0]!.quote.safe = false;
  assertFail(evaluatePolicy(vmOnly('tpm: { requireSafeClock: true }'), input(unsafe)), 'layer[0].tpm.requireSafeClock', 'POLICY_CLOCK_UNSAFE');
  // false demands nothing
  const e = evaluatePolicy(vmOnly('tpm: { requireSafeClock: false }'), input(unsafe));
  assert.equal(e.verdict, 'trusted');
});

test('pcrs: golden values per bank and index', () => {
  const ok = evaluatePolicy(vmOnly(`pcrs:\n  sha256:\n    "7": ["${sha256('x')}", "${pcrValue(0, 7)}"]\n    0: ["${pcrValue(0, 0)}"]`), input());
  assertPass(ok, 'layer[0].pcrs.sha256.7');
  assertPass(ok, 'layer[0].pcrs.sha256.0');
  const bad = assertFail(evaluatePolicy(vmOnly(`pcrs:\n  sha256:\n    "7": ["${sha256('x')}"]`), input()), 'layer[0].pcrs.sha256.7', 'POLICY_PCR_VALUE');
  assert.equal(bad.actual, pcrValue(0, 7));
  assert.deepEqual(bad.expected, [sha256('x')]);
});

test('pcrs: a rule on a PCR the quote does not cover fails', () => {
  assertFail(evaluatePolicy(vmOnly(`pcrs:\n  sha256:\n    "15": ["${sha256('x')}"]`), input()), 'layer[0].pcrs.sha256.15', 'POLICY_PCR_NOT_QUOTED');
  assertFail(evaluatePolicy(vmOnly(`pcrs:\n  sha1:\n    "0": ["${'00'.repeat(20)}"]`), input()), 'layer[0].pcrs.sha1.0', 'POLICY_PCR_NOT_QUOTED');
});

test('pcrs: "replay" requires the quoted value to equal the event log replay', () => {
  assertPass(evaluatePolicy(vmOnly('pcrs: { sha256: { "4": replay } }'), input()), 'layer[0].pcrs.sha256.4');
  const tampered = chain();
  tampered[0]!.eventLog!.replayedPcrs.get('sha256')!.set(4, Buffer.from(sha256('other'), 'hex'));
  const r = assertFail(evaluatePolicy(vmOnly('pcrs: { sha256: { "4": replay } }'), input(tampered)), 'layer[0].pcrs.sha256.4', 'POLICY_PCR_REPLAY');
  assert.equal(r.expected, sha256('other'));
  // PCR 10 is quoted but the event log replays nothing into it
  assertFail(evaluatePolicy(vmOnly('pcrs: { sha256: { "10": replay } }'), input()), 'layer[0].pcrs.sha256.10', 'POLICY_PCR_REPLAY');
  const noLog = chain();
  delete noLog[0]!.eventLog;
  assertFail(evaluatePolicy(vmOnly('pcrs: { sha256: { "4": replay } }'), input(noLog)), 'layer[0].pcrs.sha256.4', 'POLICY_EVENTLOG_MISSING');
  // a log that does not replay as a whole is no evidence, even for a PCR whose own events still replay
  const mismatched = chain();
  mismatched[0]!.eventLog!.replayMatched = false;
  mismatched[0]!.eventLog!.replayedPcrs.get('sha256')!.set(7, Buffer.from(sha256('edited'), 'hex'));
  assertFail(evaluatePolicy(vmOnly('pcrs: { sha256: { "4": replay } }'), input(mismatched)), 'layer[0].pcrs.sha256.4', 'POLICY_EVENTLOG_REPLAY');
});

test('a layer with no rule set selecting it still gets binding results and is trusted by default', () => {
  const e = evaluatePolicy(vmOnly('kinds: [virtual]'), input());
  assert.equal(e.layers[1]!.ruleSets.length, 0);
  assert.equal(e.layers[1]!.verdict, 'trusted');
  assert.equal(rule(e, 'layer[1].chain.bindings.nonceChain').status, 'pass');
});
