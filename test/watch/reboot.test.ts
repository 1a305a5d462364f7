// Regression test for Keylime's behaviour (it compared restartCount across a
// reboot and rejected every rebooted machine): a vTPM that restarted
// (restartCount 1) and then rebooted uncleanly (resetCount + 1, restartCount
// back to 0, Clock back to its last NV save) is accepted through the whole
// `attest --state` path: the real CLI, live evidence, the real state file.
// The pure rules are tested in test/state; this is end to end.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NV_CLOCK_UPDATE_INTERVAL_MS } from '../../src/simulator/soft-tpm.js';
import { SCENARIO_TOPOLOGY } from '../../src/simulator/scenarios.js';
import { startSimulator } from '../../src/simulator/start.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../state/tmp.js';

type AttestRun = Awaited<ReturnType<typeof runCli>>;

/** A simulated platform, and `attest --state` of its VM against one state file (the JSON envelope asserted). */
async function attesting(t: TestContext, options: Parameters<typeof startSimulator>[0]) {
  const sim = await startSimulator(options);
  t.after(() => sim.close());
  const state = join(tempDir(t), 'state.db');
  const attest = async (): Promise<AttestRun> => {
    const run = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--state', state, '--json']);
    assert.ok(run.json, run.stderr);
    return run;
  };
  const clockOf = (run: AttestRun) => run.json!.result.layers[0].clockInfo as { clock: string; resetCount: number; restartCount: number; safe: boolean };
  return { sim, state, attest, clockOf };
}

test('a vTPM reboot (resetCount up, restartCount and Clock reset) is accepted end to end with a state file; a real rollback afterwards is not', { timeout: 120_000 }, async (t) => {
  // Clock in the middle of an NV save interval: the unorderly reboot falls back to its start, below every earlier reading
  const { sim, state, attest, clockOf } = await attesting(t, { topology: SCENARIO_TOPOLOGY, migrationController: true, clock: 1000 * NV_CLOCK_UPDATE_INTERVAL_MS + NV_CLOCK_UPDATE_INTERVAL_MS / 2 });

  const first = await attest();
  assert.equal(first.code, 0, first.json!.result.reason);
  const backup = sim.migrations!.backup('vm');

  sim.migrations!.restart('vm');
  const restarted = await attest();
  assert.equal(restarted.code, 0, restarted.json!.result.reason);
  const r1 = clockOf(restarted);
  assert.deepEqual([r1.resetCount, r1.restartCount], [0, 1]);

  sim.migrations!.reboot('vm', { orderly: false });
  const rebooted = await attest();
  const r2 = clockOf(rebooted);
  assert.deepEqual([r2.resetCount, r2.restartCount, r2.safe], [1, 0, false], 'resetCount up, restartCount reset, clock not safe');
  assert.ok(BigInt(r2.clock) < BigInt(r1.clock), `clock went back: ${r1.clock} → ${r2.clock}`);
  assert.equal(rebooted.code, 0, rebooted.json!.result.reason);
  assert.equal(rebooted.json!.result.verdict, 'trusted');
  // the only finding is the unsafe clock, a warning by default
  const findings = (rebooted.json!.result.findings ?? []) as { code: string; status: string }[];
  assert.deepEqual(findings.map((f) => [f.code, f.status]), [['CLOCK_NOT_SAFE', 'warn']]);

  // control: the state from before the reboot, restored in place, is a rollback
  sim.platform.layer('vm').tpm.importState(backup);
  const restored = await attest();
  assert.equal(restored.code, 1);
  assert.ok((restored.json!.result.findings as { code: string }[]).some((f) => f.code === 'CLOCK_RESET_COUNT_DECREASED'));

  const history = await runCli(['history', '--state', state, '--json']);
  assert.deepEqual(
    (history.json!.result.entries as { verdict: string }[]).map((e) => e.verdict),
    ['not-trusted', 'trusted', 'trusted', 'trusted'],
  );
});

test('old vTPM state restored and restarted until its restartCount passes the last one seen is a rollback (CLOCK_WENT_BACK), end to end', { timeout: 120_000 }, async (t) => {
  // The attacker holds the vTPM's state files: it restores a backup taken within the current resetCount and restarts
  // the copy (Shutdown(STATE) + Startup(STATE), so safe = 1) once more than the VM restarted since the backup.
  // restartCount then goes up; a Restart needs the orderly Shutdown(STATE) that saves Clock, so the Clock below the
  // last reading gives it away. (Across a reboot the clock is not compared: libtpms falls back to its last state write
  // after an unorderly reset and still says safe = 1; see the README and clock-findings.test.ts.)
  const { sim, attest, clockOf } = await attesting(t, { topology: SCENARIO_TOPOLOGY, migrationController: true });
  const m = sim.migrations!;
  assert.equal((await attest()).code, 0);
  const backup = m.backup('vm');
  // an hour of running and two restarts later
  sim.platform.layer('vm').tpm.advanceClock(3_600_000);
  m.restart('vm');
  m.restart('vm');
  const before = await attest();
  assert.equal(before.code, 0, before.json!.result.reason);
  const last = clockOf(before);
  assert.deepEqual([last.resetCount, last.restartCount], [0, 2]);

  sim.platform.layer('vm').tpm.importState(backup);
  for (let i = 0; i < 3; i++) m.restart('vm');
  const restored = await attest();
  const now = clockOf(restored);
  assert.deepEqual([now.resetCount, now.restartCount, now.safe], [0, 3, true], 'restartCount past the last one seen, clock safe');
  assert.ok(BigInt(now.clock) < BigInt(last.clock), `the restored Clock is behind: ${last.clock} → ${now.clock}`);
  assert.equal(restored.code, 1, restored.json!.result.reason);
  assert.equal(restored.json!.result.verdict, 'not-trusted');
  const findings = (restored.json!.result.findings ?? []) as { code: string; status: string }[];
  assert.deepEqual(findings.map((f) => [f.code, f.status]), [['CLOCK_WENT_BACK', 'fail']]);
});
