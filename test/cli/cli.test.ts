import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';

test('--help lists exit codes and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Exit codes:/);
});

test('an unknown option is a usage error: exit 2 and a JSON envelope with --json', async () => {
  const r = await runCli(['--no-such-option', '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.json?.ok, false);
  assert.equal(r.json?.error?.code, 'USAGE');
});

test('a reader that goes away early (| head) ends the command quietly, not with an EPIPE crash', async () => {
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../helpers/paths.js');
  const child = spawn(process.execPath, [BIN, 'demo', '--json', '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // the reader is gone before the first byte is written: every write meets EPIPE
  child.stdout.destroy();
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
  assert.equal(code, 0);
});
