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
