// The VMM's vPlatform table recorder: what it extends into its soft TPM's
// PCR 23 is what its quotes cover, and the verifier's side accepts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SoftTpm } from '../../src/simulator/soft-tpm.js';
import { VplatformRecorder } from '../../src/simulator/vplatform-recorder.js';
import { checkInstanceHosted, checkIssuerRecorded, verifyVplatformLog } from '../../src/verify/vplatform.js';
import { assertThrowsCode } from '../helpers/assert.js';

const NONCE = Buffer.alloc(32, 5);

test('recorded entries replay to the PCR 23 the host\'s quote covers; hosting and issuer checks pass', () => {
  const host = SoftTpm.create({ seed: 'host' });
  const vm1 = SoftTpm.create({ seed: 'vm-1' });
  const vm2 = SoftTpm.create({ seed: 'vm-2' });
  const ca = Buffer.from('per-host vPlatform CA certificate DER');
  const rec = new VplatformRecorder(host);
  rec.recordIssuer(ca);
  rec.record('create', vm1.instanceId, { vm: 'web-1' });
  rec.record('create', vm2.instanceId, { vm: 'db-1' });
  rec.record('migrate-out', vm2.instanceId);

  const q = host.quote(NONCE, [{ bank: 'sha256', pcrs: [23] }]);
  const evidence = JSON.parse(JSON.stringify(rec.entries)); // as served over HTTP
  assert.deepEqual(evidence[1], { pcr: 23, op: 'create', instance: vm1.instanceIdHex, vm: 'web-1' });
  const r = verifyVplatformLog(evidence, q.pcrs.get('sha256')!.get(23)!);
  assert.deepEqual(
    r.checks.map((c) => c.status),
    ['pass', 'pass'],
  );
  assert.equal(checkInstanceHosted(r.table!, vm1.instanceId).status, 'pass');
  assert.equal(checkInstanceHosted(r.table!, vm2.instanceId).code, 'VPLATFORM_INSTANCE_LEFT');
  assert.equal(checkIssuerRecorded(r.table!, ca).status, 'pass');
  assert.deepEqual(rec.hostedNow(), [vm1.instanceIdHex]);
  assert.deepEqual([...rec.table().hostedNow], [vm1.instanceIdHex]);
});

test('the recorder refuses lifecycle violations unless asked to build one', () => {
  const host = SoftTpm.create();
  const vm = SoftTpm.create();
  const rec = new VplatformRecorder(host);
  assertThrowsCode(() => rec.record('destroy', vm.instanceId), 'SIM_INVALID_ARGUMENT');
  rec.record('create', vm.instanceId);
  assertThrowsCode(() => rec.record('create', vm.instanceId), 'SIM_INVALID_ARGUMENT');
  assert.equal(rec.entries.length, 1, 'a refused entry is neither logged nor extended');
  rec.record('create', vm.instanceId, { allowViolation: true });
  const r = verifyVplatformLog(rec.entries, host.readPcr('sha256', 23));
  assert.equal(r.checks[0]!.status, 'pass');
  assert.equal(r.checks[1]!.code, 'VPLATFORM_LIFECYCLE_VIOLATION');
});

test('after the host TPM resets, the recorder starts a new log with the issuers and the instances still hosted', () => {
  const host = SoftTpm.create();
  const vms = [SoftTpm.create({ seed: 'a' }), SoftTpm.create({ seed: 'b' }), SoftTpm.create({ seed: 'c' })];
  const rec = new VplatformRecorder(host);
  rec.recordIssuer(Buffer.from('ca'));
  vms.forEach((vm, i) => rec.record('create', vm.instanceId, { vm: `vm-${i}` }));
  rec.record('destroy', vms[1]!.instanceId);
  host.reboot();
  assert.equal(verifyVplatformLog(rec.entries, host.readPcr('sha256', 23)).table, null, 'the old log no longer replays');
  rec.restartAfterTpmReset();
  assert.deepEqual(
    rec.entries.map((e) => [e.op, e.vm]),
    [
      ['issuer', undefined],
      ['create', 'vm-0'],
      ['create', 'vm-2'],
    ],
  );
  const r = verifyVplatformLog(rec.entries, host.readPcr('sha256', 23));
  assert.ok(r.table);
  assert.deepEqual([...r.table.hostedNow].sort(), [vms[0]!.instanceIdHex, vms[2]!.instanceIdHex].sort());
});
