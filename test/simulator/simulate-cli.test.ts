// `vtpm-verify simulate` as a child process, as a benchmark or a CI job runs
// it: one JSON line once it serves, evidence that verifies with the trust
// anchors it wrote, a clean exit 0 on SIGTERM and SIGINT, and bad usage
// refused with exit 2 (3 when the port is taken).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadTrustStore } from '../../src/cli/trust-files.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { BIN, REPO_ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';
import { attestChain, failures } from './attest-chain.js';

const client = new EvidenceClient({ timeoutMs: 10_000 });
after(() => client.close());

interface Running {
  child: ChildProcessWithoutNullStreams;
  envelope: { ok: boolean; result: any; error: unknown };
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts `simulate ARGS --json` and resolves with its first stdout line, parsed. */
function simulate(args: string[]): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'simulate', ...args, '--json'], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    void exit.then(() => clearTimeout(kill));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        try {
          resolve({ child, envelope: JSON.parse(out.slice(0, nl)), stderr: () => err, exit });
        } catch (e) {
          reject(e);
        }
      }
    });
    void exit.then((code) => reject(new Error(`simulate exited (${code}) before printing a line: ${out}${err}`)));
  });
}

test('simulate --json: one line once serving; the platform attests with the anchors it wrote; SIGTERM ends it with exit 0 and removes its temporary trust folder', async () => {
  const run = await simulate(['--layers', '2', '--tamper', 'pcr@1']);
  const r = run.envelope.result;
  assert.equal(run.envelope.ok, true);
  assert.equal(r.topUrl, `${r.origin}/l/vm`);
  assert.deepEqual(r.urls, [r.topUrl]);
  assert.deepEqual(r.layers.map((l: { position: number; name: string; kind: string }) => [l.position, l.name, l.kind]), [[0, 'vm', 'virtual'], [1, 'host', 'physical']]);
  assert.deepEqual(r.faults, [{ layer: 'host', fault: 'pcr', code: 'QUOTE_PCR_DIGEST_MISMATCH', status: 'not-trusted' }]);
  assert.equal(r.attestCommand, `vtpm-verify attest ${r.topUrl} --trust ${r.trustDir} --instance ${r.layers[0].instanceId}`);
  assert.deepEqual(readdirSync(r.trustDir).sort(), ['ak-ca', 'vplatform-ca']);

  const { store } = loadTrustStore([r.trustDir]);
  assert.deepEqual(failures(await attestChain(client, r.topUrl, store)), [[1, 'QUOTE_PCR_DIGEST_MISMATCH']]);

  run.child.kill('SIGTERM');
  assert.equal(await run.exit, 0);
  assert.match(run.stderr(), /SIGTERM: stopping \(2 evidence documents served\)/);
  assert.equal(existsSync(r.trustDir), false);
});

test('simulate --tamper relayed-top: the printed attest command pins the VM, so it finds what `expected` says (TARGET_INSTANCE_MISMATCH), not a trusted relay', async () => {
  const run = await simulate(['--layers', '3', '--tamper', 'relayed-top']);
  try {
    const r = run.envelope.result;
    assert.equal(r.expected.verdict, 'not-trusted');
    assert.equal(r.expected.faults[0].code, 'TARGET_INSTANCE_MISMATCH');
    assert.match(r.attestCommand, / --instance [0-9a-f]{64}$/);
    const args = (r.attestCommand as string).split(' ').slice(1);
    const attest = await runCli([...args, '--json']);
    assert.equal(attest.code, 1, attest.stdout);
    assert.equal(attest.json?.result?.error?.code, 'TARGET_INSTANCE_MISMATCH');
  } finally {
    run.child.kill('SIGTERM');
    await run.exit;
  }
});

test('a fleet with --trust-out, --inventory-out and a fault plan; SIGINT ends it with exit 0, the files stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
  try {
    const plan = join(dir, 'plan.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(plan, 'faults:\n  - { layer: vmm-002, fault: unreachable }\n');
    const run = await simulate(['--hosts', '3', '--vmms-per-host', '1', '--vms-per-vmm', '4', '--fault-plan', plan, '--trust-out', join(dir, 'trust'), '--inventory-out', join(dir, 'fleet.yaml')]);
    const r = run.envelope.result;
    assert.deepEqual(r.counts, { hosts: 3, vmms: 3, vms: 12, layers: 18 });
    assert.equal(r.trustDir, join(dir, 'trust'));
    assert.equal(r.inventoryFile, join(dir, 'fleet.yaml'));
    const inventory = parseYaml(readFileSync(join(dir, 'fleet.yaml'), 'utf8')) as { vms: { name: string; url: string }[] };
    assert.deepEqual(inventory.vms.map((v) => v.url), r.urls);
    const { store } = loadTrustStore([r.trustDir]);
    assert.deepEqual(failures(await attestChain(client, inventory.vms[4]!.url, store)), [[1, 'TRANSPORT_REFUSED']]);
    assert.deepEqual(failures(await attestChain(client, inventory.vms[0]!.url, store)), []);
    run.child.kill('SIGINT');
    assert.equal(await run.exit, 0);
    assert.ok(existsSync(join(dir, 'trust', 'vplatform-ca', 'sim-vplatform-root-ca.pem')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without --json: the URLs, the trust folder and a ready-to-run attest command', async () => {
  const child = spawn(process.execPath, [BIN, 'simulate', '--layers', '3'], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((resolve) =>
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('serving until')) resolve();
    }),
  );
  child.kill('SIGTERM');
  assert.equal(await exit, 0);
  assert.match(out, /\[0\] vm +http:\/\/127\.0\.0\.1:\d+\/l\/vm +virtual/);
  assert.match(out, /\[2\] host +http:\/\/127\.0\.0\.1:\d+\/l\/host +physical/);
  assert.match(out, /vtpm-verify attest http:\/\/127\.0\.0\.1:\d+\/l\/vm --trust \S+/);
});

test('bad usage is exit 2 with its code; a port in use is exit 3', async () => {
  const cases: [string[], string][] = [
    [['--layers', '0'], 'USAGE'],
    [['--layers', '3', '--hosts', '2'], 'USAGE'],
    [['--hosts', '2'], 'USAGE'],
    [['--port', '70000'], 'USAGE'],
    [['--tamper', 'melt@0'], 'SIM_FAULT_INVALID'],
    [['--layers', '2', '--tamper', 'ima-tamper@1'], 'SIM_FAULT_INVALID'],
    [['--fault-plan', '/nonexistent/plan.json'], 'FILE_UNREADABLE'],
    [['--fleet', '/nonexistent/fleet.yaml'], 'FILE_UNREADABLE'],
    // outputs named wrongly are the command line's mistake, found before the platform starts
    [['--inventory-out', REPO_ROOT], 'USAGE'],
    [['--inventory-out', '/nonexistent/fleet.yaml'], 'USAGE'],
    [['--trust-out', join(REPO_ROOT, 'package.json')], 'USAGE'],
  ];
  for (const [args, code] of cases) {
    const run = await runCli(['simulate', ...args, '--json']);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
    assert.equal(run.json?.error?.code, code, args.join(' '));
  }
  const step = await runCli(['simulate', '--scenario', 'burst', '--step-every', '0s', '--json']);
  assert.equal(step.code, 2);
  assert.match(step.json?.error?.message ?? '', /^--step-every: /);
  // a FIFO as --inventory-out would block the write for ever once the platform serves
  if (process.platform !== 'win32') {
    const dir = mkdtempSync(join(tmpdir(), 'vtpm-sim-fifo-'));
    try {
      const fifo = join(dir, 'fleet.yaml');
      execFileSync('mkfifo', [fifo]);
      const run = await runCli(['simulate', '--inventory-out', fifo, '--json'], { timeoutMs: 20_000 });
      assert.equal(run.code, 2, run.stdout + run.stderr);
      assert.equal(run.json?.error?.code, 'USAGE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (taken.address() as { port: number }).port;
    const run = await runCli(['simulate', '--port', String(port), '--json']);
    assert.equal(run.code, 3);
    assert.equal(run.json?.error?.code, 'SIM_LISTEN_FAILED');
  } finally {
    taken.close();
  }
});
