// Killing an audit midway (SIGKILL, after it reported results as stored in
// the state file) leaves a sound state file that holds at least every result
// reported as stored and no result spool in its temp folder; running the
// audit again records a complete run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openState } from '../../src/state/index.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { BIN, REPO_ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';
import { fleetOnDisk } from './fleet-on-disk.js';

test('SIGKILL midway, then again: the state file is sound, holds what was reported stored, and the second run is complete', async (t) => {
  // The last VMs answer only after 10 minutes: the first run cannot finish before it is killed.
  const slow = ['vm-0297', 'vm-0298', 'vm-0299', 'vm-0300'];
  const { sim, dir, inventory } = await fleetOnDisk(t, {
    topology: { hosts: 3, vmmsPerHost: 1, vmsPerVmm: 100 },
    faults: slow.map((layer) => ({ layer, fault: 'slow' as const, mode: 'delay' as const, delayMs: 600_000 })),
  }, 'vtpm-kill-');
  const state = join(dir, 'state.db');
  const args = ['audit', inventory, '--trust', sim.trustDir, '--state', state, '--concurrency', '4', '--retries', '0', '--timeout', '2000'];

  // First run: killed as soon as it reports results stored. It also writes a
  // JUnit report, so it spools results in its own TMPDIR: nothing may be left there.
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  const child = spawn(process.execPath, [BIN, ...args, '--junit', join(dir, 'killed.xml')], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1', TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] });
  const reported = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      const m = /; (\d+) stored in the state file/.exec(line);
      if (m && Number(m[1]) > 0) {
        child.kill('SIGKILL');
        resolve(Number(m[1]));
      }
    });
    child.on('exit', () => reject(new Error('the audit ended before it reported anything stored')));
  });
  const status = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  assert.equal(status, 'SIGKILL');
  assert.deepEqual(readdirSync(tmp), [], 'the killed audit left its result spool behind');
  assert.equal(existsSync(join(dir, 'killed.xml')), false, 'no report from a killed audit');

  let store = await openState(state, { create: false });
  const afterKill = store.history({ limit: 5000 });
  assert.deepEqual(store.integrityCheck(), ['ok']);
  store.close();
  assert.ok(afterKill.length >= reported, `${afterKill.length} results in the file, ${reported} reported stored`);
  assert.ok(afterKill.length < 300, 'killed midway');

  // Second run: complete.
  const started = Date.now();
  const again = await runCli(args, { timeoutMs: 120_000 });
  assert.equal(again.code, 3, `the slow VMs time out: unreachable\n${again.stderr}`);
  assert.match(again.stderr, /finished 300\/300 VMs; 300 stored in the state file/);
  store = await openState(state, { create: false });
  try {
    assert.deepEqual(store.integrityCheck(), ['ok']);
    const all = store.history({ limit: 5000 });
    assert.equal(all.length, afterKill.length + 300);
    const second = all.filter((e) => Date.parse(e.time) >= started);
    assert.deepEqual(new Set(second.map((e) => e.target)), new Set(sim.inventory().map((e) => e.url)));
    assert.deepEqual(
      second.filter((e) => e.verdict !== 'trusted').map((e) => e.target).sort(),
      slow.map((n) => `${sim.origin}/l/${n}`).sort(),
    );
    // the killed run is listed as unfinished, with what it stored; the next run is not compared with it
    const [complete, killed] = store.auditRuns();
    assert.deepEqual([killed!.finishedAt, killed!.exitCode, killed!.planned, killed!.recorded], [null, null, 300, afterKill.length]);
    assert.deepEqual([complete!.exitCode, complete!.recorded, complete!.unreachable, complete!.since], [3, 300, 4, null]);
  } finally {
    store.close();
  }
});

test('SIGTERM midway: the VMs in flight are stopped at once, the results so far are stored and reported, exit 3 (AUDIT_INTERRUPTED)', async (t) => {
  // As above: the last VMs answer only after 10 minutes, so the audit is still running when it is told to stop.
  const slow = ['vm-0199', 'vm-0200'];
  const { sim, dir, inventory } = await fleetOnDisk(t, {
    topology: { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 100 },
    faults: slow.map((layer) => ({ layer, fault: 'slow' as const, mode: 'delay' as const, delayMs: 600_000 })),
  }, 'vtpm-term-');
  const state = join(dir, 'state.db');
  const report = join(dir, 'audit.json');
  const args = ['audit', inventory, '--trust', sim.trustDir, '--state', state, '--json', report, '--concurrency', '2', '--retries', '0', '--timeout', '3000'];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr += `${line}\n`;
    if (/^audit: 100\/200 VMs done/.test(line)) child.kill('SIGTERM');
  });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const code = await exited;
  assert.equal(code, 3, stderr);
  assert.match(stderr, /SIGTERM: stopping the VMs in flight/);
  // the terminal says so too, not only the JSON and stderr
  assert.match(stdout, /Interrupted by SIGTERM: \d+ of 200 VMs audited, \d+ not started/);

  const r = JSON.parse(readFileSync(report, 'utf8'));
  assert.equal(r.run.interrupted.signal, 'SIGTERM');
  assert.ok(r.results.length >= 100 && r.results.length < 200, `${r.results.length} results reported`);
  assert.equal(r.run.interrupted.notStarted, 200 - r.results.length);
  assert.equal(r.summary.total, r.results.length);
  const store = await openState(state, { create: false });
  try {
    assert.deepEqual(store.integrityCheck(), ['ok']);
    assert.equal(store.history({ limit: 5000 }).length, r.results.length, 'every reported result is stored');
  } finally {
    store.close();
  }
});

test("SIGKILL after results are stored: history --runs lists the killed run's failure codes, those of the results it stored", async (t) => {
  // VMs 1-50 (under vmm-001) fail on their VMM's quote; the last two answer only after 10 minutes, longer than
  // the audit waits for them (--timeout 60 s): the run cannot end before it is killed.
  const slow = ['vm-0099', 'vm-0100'];
  const { dir, inventory, sim } = await fleetOnDisk(t, {
    topology: { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 50 },
    faults: [{ layer: 'vmm-001', fault: 'pcr' as const }, ...slow.map((layer) => ({ layer, fault: 'slow' as const, mode: 'delay' as const, delayMs: 600_000 }))],
  }, 'vtpm-killcodes-');
  const state = join(dir, 'state.db');
  const child = spawn(process.execPath, [BIN, 'audit', inventory, '--trust', sim.trustDir, '--state', state, '--concurrency', '4', '--retries', '0', '--timeout', '60000'], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const m = /; (\d+) stored in the state file/.exec(line);
      if (m && Number(m[1]) > 0) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error('the audit ended before it reported anything stored')));
  });
  assert.equal(await exited, 'SIGKILL');

  // what the file holds of the killed run, counted as the audit's summary counts failure codes
  const { summarize } = await import('../../src/report/summary.js');
  const store = await openState(state, { create: false });
  const stored = store.history({ limit: 5000 });
  store.close();
  const expected = summarize(stored.map((e) => e.result as AttestationResult)).failureCodes;
  assert.ok(stored.length > 0 && stored.length < 100, `${stored.length} results stored`);
  assert.ok(expected.some((c) => c.code === 'QUOTE_PCR_DIGEST_MISMATCH'), JSON.stringify(expected));

  const json = await runCli(['history', '--runs', '--state', state, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const [run] = JSON.parse(json.stdout).result.runs;
  assert.deepEqual([run.finishedAt, run.exitCode, run.recorded, run.notTrusted], [null, null, stored.length, expected.reduce((n, c) => n + c.count, 0)]);
  assert.deepEqual(run.failureCodes, expected, 'the killed run lists the codes of what it stored (it was null: "-")');

  const human = await runCli(['history', '--runs', '--state', state]);
  assert.equal(human.code, 0, human.stderr);
  const row = human.stdout.split('\n').find((l) => /\bunfinished\b/.test(l));
  assert.ok(row, human.stdout);
  assert.match(row!, new RegExp(`QUOTE_PCR_DIGEST_MISMATCH×${expected.find((c) => c.code === 'QUOTE_PCR_DIGEST_MISMATCH')!.count}`));
});
