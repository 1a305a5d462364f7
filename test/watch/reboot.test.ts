// Regression test for Keylime's behaviour (it compared restartCount across a
// reboot and rejected every rebooted machine): a vTPM that restarted
// (restartCount 1) and then rebooted uncleanly (resetCount + 1, restartCount
// back to 0, Clock back to its last NV save) is accepted through the whole
// `attest --state` path: the real CLI, live evidence, the real state file.
// The pure rules are tested in test/state; this is end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NV_CLOCK_UPDATE_INTERVAL_MS } from '../../src/simulator/soft-tpm.js';
import { SCENARIO_TOPOLOGY } from '../../src/simulator/scenarios.js';
import { startSimulator } from '../../src/simulator/start.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../state/tmp.js';

test('a vTPM reboot (resetCount up, restartCount and Clock reset) is accepted end to end with a state file; a real rollback afterwards is not', { timeout: 120_000 }, async (t) => {
  // Clock in the middle of an NV save interval: the unorderly reboot falls back to its start, below every earlier reading
  const sim = await startSimulator({ topology: SCENARIO_TOPOLOGY, migrationController: true, clock: 1000 * NV_CLOCK_UPDATE_INTERVAL_MS + NV_CLOCK_UPDATE_INTERVAL_MS / 2 });
  t.after(() => sim.close());
  const state = join(tempDir(t), 'state.db');
  const attest = async () => {
    const run = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--state', state, '--json']);
    assert.ok(run.json, run.stderr);
    return run;
  };
  const clockOf = (run: Awaited<ReturnType<typeof attest>>) => run.json!.result.layers[0].clockInfo as { clock: string; resetCount: number; restartCount: number; safe: boolean };

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
