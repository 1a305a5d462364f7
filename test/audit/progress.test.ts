// Progress: a cli-progress bar when stdout and stderr are a terminal (a real
// pseudo-terminal from util-linux `script`), plain lines in a log, and no
// bar with the --json envelope.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inventoryYaml } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/start.js';
import { BIN, REPO_ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the CLI with stdin, stdout and stderr on a pseudo-terminal; returns what the terminal showed. */
async function onTerminal(t: TestContext, args: string[]): Promise<{ code: number | null; screen: string } | undefined> {
  if (spawnSync('script', ['--version']).status !== 0) {
    t.skip('util-linux script not installed; skipping the terminal test');
    return undefined;
  }
  const command = [process.execPath, BIN, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    // -e: the command's exit code; -q: no script banner; the typescript goes nowhere
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1', COLUMNS: '160' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen }));
  });
}

test('a progress bar on a terminal, lines in a log, no bar with --json', async (t) => {
  const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 10 } });
  t.after(() => sim.close());
  const dir = tempDir(t, 'vtpm-progress-');
  writeFileSync(join(dir, 'fleet.yaml'), inventoryYaml(sim.inventory()));
  const args = ['audit', join(dir, 'fleet.yaml'), '--trust', sim.trustDir];

  const tty = await onTerminal(t, args);
  if (!tty) return;
  assert.equal(tty.code, 0, tty.screen);
  assert.match(tty.screen, /audit [█░]+ \d+\/10 VMs \| ✓ \d+ ✗ 0 \? 0 \| \d+ VMs\/s/);
  assert.match(tty.screen, /10\/10 VMs/);
  assert.doesNotMatch(tty.screen, /audit: \d+\/10 VMs done/, 'no log lines on a terminal');
  assert.match(tty.screen, /Audit summary: 10 VMs/);

  const json = await onTerminal(t, [...args, '--json']);
  assert.equal(json!.code, 0);
  assert.doesNotMatch(json!.screen, /[█░]/, 'no bar with --json');
  assert.match(json!.screen, /"ok": true/);

  const log = await runCli(args);
  assert.equal(log.code, 0);
  assert.doesNotMatch(log.stderr + log.stdout, /[█░]/);
  assert.match(log.stderr, /^audit: 1\/10 VMs done: 1 trusted, 0 not trusted, 0 unreachable$/m);
  assert.match(log.stderr, /^audit: 10\/10 VMs done: 10 trusted, 0 not trusted, 0 unreachable$/m);
});
