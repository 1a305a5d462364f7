// `vtpm-verify prune` and `audit --keep-history`, run as the real CLI on real
// state files: what goes, what stays, the envelope, exit codes for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../../src/state/index.js';
import { startSimulator } from '../../src/simulator/start.js';
import { inventoryYaml } from '../../src/simulator/fleet.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../state/tmp.js';

const DAY = 86_400_000;

/** Results 40, 20 and 1 day(s) old. */
async function prepare(dir: string): Promise<string> {
  const file = join(dir, 'state.db');
  const s = await openState(file);
  for (const days of [40, 20, 1]) s.appendResult({ time: Date.now() - days * DAY, target: `https://vm-${days}.example`, verdict: 'trusted', result: { days } });
  s.close();
  return file;
}

test('prune --older-than AGE --json: older results go, newer stay; --dry-run only counts', async (t) => {
  const file = await prepare(tempDir(t));
  const dry = await runCli(['prune', '--older-than', '30d', '--state', file, '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.json?.result.results, 1);
  assert.equal(dry.json?.result.dryRun, true);

  const run = await runCli(['prune', '--older-than', '7d', '--state', file, '--json']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.json?.ok, true);
  assert.deepEqual([run.json?.result.results, run.json?.result.readings, run.json?.result.dryRun], [2, 0, false]);
  assert.equal(run.json?.result.stateFile, file);
  assert.deepEqual(run.json?.result.kept, { identities: 0, stays: 0 });

  const history = await runCli(['history', '--state', file, '--json']);
  assert.deepEqual(
    history.json?.result.entries.map((e: { target: string }) => e.target),
    ['https://vm-1.example'],
  );

  const text = await runCli(['prune', '--older-than', '2026-01-01T00:00:00Z', '--state', file, '--vacuum', '--no-color']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Pruned .*state\.db: 0 result\(s\) and 0 clock reading\(s\) recorded before 2026-01-01T00:00:00\.000Z; file vacuumed/);
  assert.match(text.stdout, /Kept: the last verified reading of 0 TPM identities/);
});

test('prune: bad usage exits 2 with a stable code (bad age, future time, no state file, option missing)', async (t) => {
  const dir = tempDir(t);
  const file = await prepare(dir);
  for (const [args, code, message] of [
    [['--older-than', 'a month'], 'USAGE', /--older-than: expected an age/],
    [['--older-than', '2999-01-01'], 'USAGE', /is in the future/],
    [['--older-than', '7d', '--state', join(dir, 'absent.db')], 'STATE_NOT_FOUND', /absent\.db/],
  ] as const) {
    const r = await runCli(['prune', '--state', file, ...args, '--json']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.json?.error?.code, code);
    assert.match(r.json?.error?.message ?? '', message);
  }
  const missing = await runCli(['prune', '--state', file]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--older-than/);
});

test('audit --keep-history: results older than the age are pruned after the audit, this run’s stay', async (t) => {
  const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 2 } });
  t.after(() => sim.close());
  const dir = tempDir(t);
  const file = await prepare(dir);
  writeFileSync(join(dir, 'fleet.yaml'), inventoryYaml(sim.inventory()));

  const noState = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', sim.trustDir, '--keep-history', '7d', '--json']);
  assert.equal(noState.code, 2);
  assert.match(noState.json?.error?.message ?? '', /--keep-history needs --state/);
  const badAge = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', sim.trustDir, '--state', file, '--keep-history', 'forever', '--json']);
  assert.equal(badAge.code, 2);
  assert.equal(badAge.json?.error?.code, 'USAGE');

  const r = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', sim.trustDir, '--state', file, '--keep-history', '7d', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.json?.result.state.stored, 2);
  assert.equal(r.json?.result.state.pruned.results, 2);
  assert.ok(r.json?.result.state.pruned.readings === 0);
  const history = await runCli(['history', '--state', file, '--json']);
  assert.deepEqual(history.json?.result.entries.map((e: { target: string }) => new URL(e.target).hostname).sort(), ['127.0.0.1', '127.0.0.1', 'vm-1.example']);

  // an old finished audit run with one old result: the prune takes both, and the human line says so as prune does
  const s = await openState(file);
  const old = Date.now() - 2 * DAY;
  const runId = s.beginAuditRun({ startedAt: old, inventory: join(dir, 'old.yaml'), shard: null, planned: 1 });
  s.appendResult({ time: old, target: 'https://old.example', verdict: 'trusted', result: {}, runId });
  s.finishAuditRun(runId, { finishedAt: old + 1000, exitCode: 0, interrupted: null, failureCodes: [] });
  s.close();
  const human = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', sim.trustDir, '--state', file, '--keep-history', '12h', '--no-color']);
  assert.equal(human.code, 0, human.stdout + human.stderr);
  assert.match(human.stdout, /state: pruned 2 result\(s\) and 0 clock reading\(s\) recorded before [^\n]*, and 1 audit run\(s\) left without results/);
});

test('audit --keep-history: a prune that fails leaves the audit’s results and exit code alone and is reported', async (t) => {
  const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 2 } });
  t.after(() => sim.close());
  const dir = tempDir(t);
  const file = await prepare(dir);
  // a real SQLite refusal: this file's owner keeps every result
  const db = new Database(file);
  db.exec(`CREATE TRIGGER keep_results BEFORE DELETE ON result BEGIN SELECT RAISE(ABORT, 'results are kept here'); END`);
  db.close();
  writeFileSync(join(dir, 'fleet.yaml'), inventoryYaml(sim.inventory()));

  const junit = join(dir, 'audit.xml');
  const r = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', sim.trustDir, '--state', file, '--keep-history', '7d', '--json', '--junit', junit]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.json?.ok, true);
  // the reports keep the warning, for whoever reads them later (run.warnings: the JUnit suite's system-err)
  assert.match(readFileSync(junit, 'utf8'), /<system-err>warning: --keep-history: the history was not pruned: STATE_WRITE_REFUSED: .*results are kept here/);
  assert.ok((r.json?.result.run.warnings as string[]).some((w) => w.startsWith('--keep-history: the history was not pruned')));
  assert.equal(r.json?.result.state.stored, 2);
  assert.equal(r.json?.result.state.pruned, undefined);
  // SQLite's refusal (SQLITE_CONSTRAINT_TRIGGER) is the file's, not a bug of vtpm-verify
  assert.equal(r.json?.result.state.pruneError.code, 'STATE_WRITE_REFUSED');
  assert.match(r.json?.result.state.pruneError.message, /results are kept here/);
  assert.match(r.stderr, /warning: --keep-history: the history was not pruned/);
  const history = await runCli(['history', '--state', file, '--json']);
  assert.equal(history.json?.result.count, 5, 'the 3 old results and the 2 new ones');
  // prune itself: could not complete (exit 3), with the same code
  const p = await runCli(['prune', '--older-than', '7d', '--state', file, '--json']);
  assert.equal(p.code, 3, p.stdout + p.stderr);
  assert.equal(p.json?.error?.code, 'STATE_WRITE_REFUSED');
});

test('audit --keep-history: a refusal quoting the state file (a trigger\'s RAISE text) reaches the terminal escaped', async (t) => {
  const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 1 } });
  t.after(() => sim.close());
  const dir = tempDir(t);
  const file = await prepare(dir);
  // whoever wrote the file chose this text: a terminal title change (OSC 0), a color, a bidi override
  const db = new Database(file);
  db.exec(`CREATE TRIGGER keep_results BEFORE DELETE ON result BEGIN SELECT RAISE(ABORT, 'kept \u001b]0;owned\u0007\u001b[41mred\u001b[0m \u202eevil'); END`);
  db.close();
  writeFileSync(join(dir, 'fleet.yaml'), inventoryYaml(sim.inventory()));

  const r = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', sim.trustDir, '--state', file, '--keep-history', '7d', '--no-color']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const [stream, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
    assert.doesNotMatch(text, /[\u001b\u0007\u202e]/, `${stream} carries raw control or bidi characters: ${JSON.stringify(text)}`);
  }
  assert.match(r.stderr, /warning: --keep-history: the history was not pruned: STATE_WRITE_REFUSED: .*kept \\u001b\]0;owned\\u0007\\u001b\[41mred\\u001b\[0m \\u202eevil/);
  assert.match(r.stdout, /state: not pruned \(--keep-history\): STATE_WRITE_REFUSED: .*kept \\u001b\]0;owned\\u0007/);
});
