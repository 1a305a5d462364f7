// vtpm-verify demo: README's first command. The clean simulated platform is
// trusted under policies/demo.yaml; a tampered one fails with the fault's code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';

test('demo: the simulated VM → VMM → physical platform is trusted under policies/demo.yaml', async () => {
  const r = await runCli(['demo']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /vm → vmm → physical/);
  assert.match(r.stdout, /TRUSTED/);
  assert.match(r.stdout, /policy demo/);
});

test('demo --json at depth 5: one envelope, every layer trusted, the reference-value rules ran', async () => {
  const r = await runCli(['demo', '--layers', '5', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const a = r.json!.result.attestation;
  assert.equal(a.verdict, 'trusted');
  assert.equal(a.layers.length, 5);
  const vmRules = a.layers[0].rules.filter((x: any) => x.status === 'pass').map((x: any) => x.id);
  for (const id of ['layer[0].eventLog.bootApplications', 'layer[0].eventLog.kernelCmdlines', 'layer[0].ima.allowList']) {
    assert.ok(vmRules.some((x: string) => x.startsWith(id)), `${id} passed: ${vmRules.join(', ')}`);
  }
});

for (const [tamper, code, layer, exit] of [
  ['pcr@1', 'QUOTE_PCR_DIGEST_MISMATCH', 1, 1],
  ['log-event@0', 'EVENTLOG_REPLAY_MISMATCH', 0, 1],
  ['foreign-issuer@1', 'VPLATFORM_ISSUER_NOT_RECORDED', 1, 1],
  ['unreachable@2', 'TRANSPORT_REFUSED', 2, 3],
] as const) {
  test(`demo --tamper ${tamper}: ${code} on layer ${layer}, exit ${exit}`, async () => {
    const r = await runCli(['demo', '--tamper', tamper, '--json']);
    assert.equal(r.code, exit, r.stdout + r.stderr);
    assert.equal(r.json?.error?.code, code);
    const failing = r.json!.result.attestation.layers.find((l: any) => l.status !== 'trusted');
    assert.equal(failing.position, layer);
    assert.deepEqual(r.json!.result.simulator.injected.map((f: any) => [f.layer, f.expectedCode]), [[layer, code]]);
  });
}

test('demo with a bad --tamper is bad usage (exit 2)', async () => {
  const r = await runCli(['demo', '--tamper', 'no-such-fault', '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.json?.error?.code, 'SIM_FAULT_INVALID');
});
