import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { closeSync, existsSync, openSync } from 'node:fs';

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

test('--json taken as another option\'s value (`--timeout --json`) is bad usage, and still answered with one envelope', async () => {
  const r = await runCli(['attest', 'http://127.0.0.1:9/attest', '--timeout', '--json']);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.json?.error?.code, 'USAGE');
  assert.equal(r.json?.error?.details?.value, '--json');
  assert.equal(r.stderr, '');
});

test('--json taken as the value of any option that refuses it (a hex id, a port) is answered with one envelope', async () => {
  for (const args of [
    ['attest', 'http://127.0.0.1:9/attest', '--instance', '--json'],
    ['attest', 'http://127.0.0.1:9/attest', '--challenge', '--json'],
    ['verify', 'bundle.json', '--instance', '--json'],
    ['simulate', '--port', '--json'],
    ['simulate', '--layers', '--json'],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.json?.error?.code, 'USAGE', args.join(' '));
    assert.equal(r.json?.error?.details?.value, '--json', args.join(' '));
    assert.equal(r.stderr, '', args.join(' '));
  }
});

test('an output file name that is an option (`--save --json`, `--junit -v`) is refused before any work, not written as a file of that name', async (t) => {
  const { tempDir } = await import('../helpers/tmp.js');
  const { existsSync: exists, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const dir = tempDir(t, 'vtpm-optfile-');
  const save = await runCli(['attest', 'http://127.0.0.1:9/attest', '--trust', dir, '--save', '--json'], { cwd: dir });
  assert.equal(save.code, 2, save.stderr);
  assert.equal(save.json?.error?.code, 'USAGE');
  assert.match(save.json?.error?.message, /--save --json: that is an option, not a file name \(write \.\/--json/);
  writeFileSync(join(dir, 'fleet.yaml'), 'vms: [{url: "http://127.0.0.1:9/vm"}]\n');
  const junit = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', dir, '--junit', '-v'], { cwd: dir });
  assert.equal(junit.code, 2, junit.stderr);
  assert.match(junit.stderr, /--junit -v: that is an option, not a file name/);
  assert.equal(exists(join(dir, '--json')) || exists(join(dir, '-v')), false, 'no such file written');
});

test('an option of a command given before it is still refused (exit 2), but the message says where it goes; an option no command has gets no such hint', async () => {
  const r = await runCli(['--json', 'attest', 'http://127.0.0.1:9/attest', '--trust', '/nonexistent']);
  assert.equal(r.code, 2);
  assert.equal(r.json?.error?.code, 'USAGE');
  assert.match(r.json?.error?.message, /unknown option '--json'; options go after the command: vtpm-verify attest \.\.\. --json/);
  assert.deepEqual([r.json?.error?.details?.option, r.json?.error?.details?.command], ['--json', 'attest']);
  const plain = await runCli(['--no-color', 'history']);
  assert.equal(plain.code, 2);
  assert.match(plain.stderr, /hint: options go after the command: vtpm-verify history \.\.\. --no-color/);
  const bogus = await runCli(['--bogus', 'demo']);
  assert.equal(bogus.code, 2);
  assert.doesNotMatch(bogus.stderr, /hint:/);
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

/** Runs the CLI with stdout's reader gone before the first byte is written; resolves to its exit code and stderr. */
async function withReaderGone(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../helpers/paths.js');
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.destroy();
  const code = await new Promise<number | null>((r) => child.on('close', r));
  return { code, stderr };
}

test('a reader that goes away does not turn a verdict or an input error into exit 0', async () => {
  const notTrusted = await withReaderGone(['demo', '--tamper', 'pcr@1', '--json']);
  assert.doesNotMatch(notTrusted.stderr, /EPIPE|Unhandled/);
  assert.equal(notTrusted.code, 1);
  const badInput = await withReaderGone(['inspect', 'no-such-file.bin', '--json']);
  assert.equal(badInput.code, 2);
});

test('a reader of stderr that goes away before the verdict (2>&1 | grep -q warning) does not make a not-trusted attest exit 0', async (t) => {
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../helpers/paths.js');
  const { startSimulator } = await import('../../src/simulator/start.js');
  const { cpSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tempDir } = await import('../helpers/tmp.js');
  const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ fault: 'pcr', layer: 1 }] });
  t.after(() => sim.close());
  // an unreadable anchor file: attest warns on stderr before it walks
  const trust = join(tempDir(t), 'trust');
  cpSync(sim.trustDir, trust, { recursive: true });
  writeFileSync(join(trust, 'ak-ca', 'broken.pem'), 'not a certificate');
  const child = spawn(process.execPath, [BIN, 'attest', sim.topUrl, '--trust', trust, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.destroy();
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 1, stdout);
  assert.equal((JSON.parse(stdout) as { ok: boolean }).ok, false);
});

test('stdout that cannot be written (a full disk) is IO_ERROR, exit 3, on stderr without a stack trace', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async () => {
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../helpers/paths.js');
  const run = async (args: string[]): Promise<{ code: number | null; stderr: string }> => {
    const full = openSync('/dev/full', 'w');
    try {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', full, 'pipe'] });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      return { code, stderr };
    } finally {
      closeSync(full);
    }
  };
  // --help and --version are printed by Commander: their error arrived after main() returned 0, which stood
  for (const args of [['policy', 'schema'], ['policy', 'explain', '--baseline', '--json'], ['--version'], ['--help'], ['attest', '--help']]) {
    const r = await run(args);
    assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /IO_ERROR: cannot write the output to stdout: ENOSPC/);
    assert.doesNotMatch(r.stderr, /\n\s+at |INTERNAL_ERROR/);
  }
  // an outcome that already failed keeps its exit code
  const bad = await run(['inspect', 'no-such-file.bin', '--json']);
  assert.equal(bad.code, 2);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});

test('SIGINT or SIGTERM while a command works: INTERRUPTED, exit 3, and with --json its one envelope', async (t) => {
  const { spawn } = await import('node:child_process');
  const { createServer } = await import('node:http');
  const { BIN } = await import('../helpers/paths.js');
  const { makeCert, tempDir, writeTemp } = await import('../helpers/pki.js');
  const root = await makeCert({ subject: 'CN=Interrupt Test Root', ca: true });
  const trust = tempDir('vtpm-interrupt-');
  writeTemp(trust, 'root.pem', root.pem);
  // an evidence endpoint that takes the request and never answers: the attestation is under way when it arrives
  let arrived: () => void = () => {};
  const server = createServer(() => arrived());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  for (const [signal, json] of [['SIGINT', true], ['SIGTERM', true], ['SIGINT', false]] as const) {
    const request = new Promise<void>((r) => (arrived = r));
    const args = ['attest', `http://127.0.0.1:${port}/l/vm`, '--trust', trust, ...(json ? ['--json'] : [])];
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((r) => child.on('close', r));
    await request;
    child.kill(signal);
    const code = await closed;
    assert.equal(code, 3, `${signal} ${json}: ${stdout}${stderr}`);
    if (json) {
      const env = JSON.parse(stdout) as { ok: boolean; error: { code: string; details: { signal: string } } };
      assert.equal(env.ok, false);
      assert.equal(env.error.code, 'INTERRUPTED');
      assert.equal(env.error.details.signal, signal);
    } else {
      assert.equal(stdout, '');
      assert.match(stderr, /INTERRUPTED: SIGINT/);
    }
  }
});

test('stderr that cannot be written (a full disk) does not stop an audit: its reports are written and it exits with its verdict', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async (t) => {
  const { spawn } = await import('node:child_process');
  const { join } = await import('node:path');
  const { readFileSync, writeFileSync } = await import('node:fs');
  const { BIN } = await import('../helpers/paths.js');
  const { fleetOnDisk } = await import('../audit/fleet-on-disk.js');
  const { sim, dir, inventory } = await fleetOnDisk(t, { topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 3 }, faultPlan: { version: 1, faults: [{ layer: 'vm-0001', fault: 'pcr' }] } }, 'vtpm-stderr-full-');
  const report = join(dir, 'r.json');
  writeFileSync(report, 'an earlier run');
  const full = openSync('/dev/full', 'w');
  let code: number | null;
  try {
    // progress lines go to stderr from the first VM on
    const child = spawn(process.execPath, [BIN, 'audit', inventory, '--trust', sim.trustDir, '--retries', '0', '--json', report], { stdio: ['ignore', 'ignore', full] });
    code = await new Promise<number | null>((r) => child.on('close', r));
  } finally {
    closeSync(full);
  }
  assert.equal(code, 1);
  const written = JSON.parse(readFileSync(report, 'utf8')) as { summary: { total: number; notTrusted: number } };
  assert.equal(written.summary.total, 3);
  assert.equal(written.summary.notTrusted, 1);
});
