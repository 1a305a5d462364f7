// `vtpm-verify watch` as a child process against the simulated platform and
// its Migration Controller, served by this test process: lines as they
// happen, SIGINT and SIGTERM ending it cleanly (exit 0, the state file sound
// with every result recorded), --exit-on-failure, --json lines, bad usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openState } from '../../src/state/index.js';
import { SCENARIO_TOPOLOGY, startScenario } from '../../src/simulator/scenarios.js';
import { startSimulator, type StartSimulatorOptions } from '../../src/simulator/start.js';
import { BIN, REPO_ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../state/tmp.js';

interface Child {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  /** resolves once a stdout line matches */
  line(re: RegExp): Promise<string>;
  exit: Promise<number | null>;
  stderr(): string;
}

function spawnWatch(args: string[], nodeArgs: string[] = []): Child {
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'watch', ...args], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buffer = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) if (w.re.test(line)) waiters.splice(waiters.indexOf(w), 1), w.resolve(line);
    }
  });
  const kill = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => (clearTimeout(kill), r(code))));
  return {
    child,
    lines,
    exit,
    stderr: () => err,
    line: (re) => {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        void exit.then((code) => reject(new Error(`watch exited (${code}) before printing ${re}:\n${lines.join('\n')}\n${err}`)));
      });
    },
  };
}

async function platform(t: import('node:test').TestContext, extra: Partial<StartSimulatorOptions> = {}) {
  const sim = await startSimulator({ topology: SCENARIO_TOPOLOGY, migrationController: true, ...extra });
  t.after(() => sim.close());
  return { sim, run: startScenario('live-migration', sim.migrations!), dir: tempDir(t) };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} ends watch cleanly: exit 0, streams closed, the state file sound with every result and the cursor recorded`, { timeout: 120_000 }, async (t) => {
    const { sim, run, dir } = await platform(t);
    const stateFile = join(dir, 'watch.db');
    const w = spawnWatch([sim.topUrl, '--trust', sim.trustDir, '--state', stateFile, '--interval', '1h']);
    await w.line(/ attested trusted .* \(initial\) platform /);
    await w.line(/ stream connected /);
    run.step();
    await w.line(/ attested trusted .*\(after 1 notification \(seq 1\)\)/);
    await w.line(/ source .*\/l\/vmm-a migrated-out/);
    assert.ok(w.lines.some((l) => / migrated .* → /.test(l)), w.lines.join('\n'));
    w.child.kill(signal);
    assert.equal(await w.exit, 0, w.stderr());
    assert.match(w.lines.join('\n'), new RegExp(`stopped by ${signal}`));
    assert.match(w.lines.join('\n'), /2 attestation\(s\) \(initial 1, interval 0, after notifications 1\), 0 not trusted/);
    // the controller saw the stream close (the socket went with the process at the latest)
    for (let turn = 0; sim.migrations!.controller.openStreams > 0 && turn < 100_000; turn++) await new Promise((r) => setImmediate(r));
    assert.equal(sim.migrations!.controller.openStreams, 0);

    const store = await openState(stateFile, { create: false });
    try {
      assert.deepEqual(store.integrityCheck(), ['ok']);
      const targets = store.history({ limit: 100 }).map((h) => h.target);
      assert.deepEqual(targets.filter((x) => x === sim.topUrl).length, 2);
      assert.ok(targets.includes(sim.platform.layer('vmm-a').url), 'the source attestation is in the history');
      const instance = sim.platform.layer('vm').instanceIdHex;
      assert.equal(store.migrationCursor(sim.migrations!.controller.url, instance)?.seq, 1);
    } finally {
      store.close();
    }
  });
}

test('--json: one JSON object per event line, the envelope last; a restarted watch resumes after the saved cursor', { timeout: 120_000 }, async (t) => {
  const { sim, run, dir } = await platform(t);
  const stateFile = join(dir, 'watch.db');
  const args = [sim.topUrl, '--trust', sim.trustDir, '--state', stateFile, '--json'];
  const w = spawnWatch(args);
  await w.line(/"status":"connected"/);
  run.step();
  await w.line(/"type":"attested".*"trigger":"migration"/);
  w.child.kill('SIGTERM');
  assert.equal(await w.exit, 0, w.stderr());
  const objects = w.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const envelope = objects.at(-1) as { ok: boolean; result: { attestations: number; signal: string; notifications: number; stateFile: string }; error: unknown };
  assert.equal(envelope.ok, true);
  assert.equal(envelope.error, null);
  assert.deepEqual([envelope.result.attestations, envelope.result.notifications, envelope.result.signal], [2, 1, 'SIGTERM']);
  const types = objects.slice(0, -1).map((o) => o['type']);
  for (const type of ['attested', 'stream', 'notification', 'migrated', 'source']) assert.ok(types.includes(type), `${type} in ${types.join()}`);
  const event = objects.find((o) => o['type'] === 'notification')!;
  assert.deepEqual([event['seq'], event['action']], [1, 'attest']);

  // a second watch on the same state file starts after seq 1: the old move is not replayed
  const again = spawnWatch(args);
  const connected = JSON.parse(await again.line(/"status":"connected"/)) as { resumeAfter: number };
  assert.equal(connected.resumeAfter, 1);
  again.child.kill('SIGINT');
  assert.equal(await again.exit, 0, again.stderr());
  assert.ok(!again.lines.some((l) => l.includes('"type":"notification"')), 'no notification replayed');
});

for (const json of [true, false]) {
  test(`a reader that goes away (EPIPE)${json ? ' with --json' : ''}: the watch stops cleanly with exit 3 IO_ERROR, not 0`, { timeout: 120_000 }, async (t) => {
    const { sim, dir } = await platform(t);
    const stateFile = join(dir, 'watch.db');
    const w = spawnWatch([sim.topUrl, '--trust', sim.trustDir, '--state', stateFile, '--interval', '100ms', ...(json ? ['--json'] : [])]);
    await w.line(/attested/);
    // the reader is gone: the next line (the next interval's attestation at the latest) meets EPIPE
    w.child.stdout.destroy();
    assert.equal(await w.exit, 3, w.stderr());
    assert.doesNotMatch(w.stderr(), /Unhandled|at .*\.js:\d+/);
    if (!json) assert.match(w.stderr(), /IO_ERROR: watch: cannot write the output: EPIPE/);
    const store = await openState(stateFile, { create: false });
    try {
      assert.deepEqual(store.integrityCheck(), ['ok']);
    } finally {
      store.close();
    }
  });
}

test('a reader that stops reading, then goes away after SIGTERM: exit 0 as for any SIGTERM, not node\'s 13 for a print never finished', { timeout: 120_000 }, async (t) => {
  const { sim, dir } = await platform(t);
  // the first line is written, but stdout says its buffer is full and no 'drain' comes: a reader that stopped reading
  const preload = join(dir, 'blocked-stdout.mjs');
  writeFileSync(
    preload,
    `const write = process.stdout.write.bind(process.stdout);
let calls = 0;
process.stdout.write = (...args) => {
  const ok = write(...args);
  if (++calls > 1) return ok;
  process.stderr.write('stdout blocked\\n');
  return false;
};
`,
  );
  const w = spawnWatch([sim.topUrl, '--trust', sim.trustDir, '--state', join(dir, 'watch.db'), '--interval', '1h', '--json'], ['--import', pathToFileURL(preload).href]);
  await w.line(/"type":"attested"/);
  for (let turn = 0; !w.stderr().includes('stdout blocked') && turn < 100_000; turn++) await new Promise((r) => setImmediate(r));
  assert.match(w.stderr(), /stdout blocked/);
  // the reader goes away; then SIGTERM: the final envelope meets EPIPE after the watch has ended
  w.child.stdout.destroy();
  await once(w.child.stdout, 'close');
  w.child.kill('SIGTERM');
  assert.equal(await w.exit, 0, w.stderr());
  assert.doesNotMatch(w.stderr(), /unsettled top-level await|Unhandled/i);
});

test('--exit-on-failure: exit 1 at the first result not trusted, with its code', { timeout: 120_000 }, async (t) => {
  const { sim, dir } = await platform(t, { faults: [{ layer: 'host-a', fault: 'pcr' }] });
  const w = spawnWatch([sim.topUrl, '--trust', sim.trustDir, '--state', join(dir, 'w.db'), '--exit-on-failure', '--json']);
  assert.equal(await w.exit, 1, w.stderr());
  const envelope = JSON.parse(w.lines.at(-1)!) as { ok: boolean; error: { code: string }; result: { stoppedBy: string; failures: number } };
  assert.equal(envelope.ok, false);
  assert.equal(envelope.error.code, 'QUOTE_PCR_DIGEST_MISMATCH');
  assert.deepEqual([envelope.result.stoppedBy, envelope.result.failures], ['failure', 1]);
});

test('watch --help has a worked example; bad usage is exit 2 before anything is attested', async () => {
  const help = await runCli(['watch', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Example:\n\s+\$ vtpm-verify watch /);
  for (const word of ['attested', 'migrated', 'source', 'finding', 'notification', 'stream', 'controller', '--exit-on-failure', '--interval']) assert.ok(help.stdout.includes(word), word);
  const badUrl = await runCli(['watch', 'not a url', '--trust', '.', '--json']);
  assert.equal(badUrl.code, 2);
  assert.equal(badUrl.json?.error?.code, 'USAGE');
  const badInterval = await runCli(['watch', 'http://127.0.0.1:1/l/vm', '--trust', '.', '--interval', '5 minutes', '--json']);
  assert.equal(badInterval.code, 2);
  assert.match(badInterval.json?.error?.message ?? '', /--interval/);
  const tooShort = await runCli(['watch', 'http://127.0.0.1:1/l/vm', '--trust', '.', '--interval', '10ms', '--json']);
  assert.equal(tooShort.code, 2);
  // the message offers only units the option takes (it once said "to 24d", and "1d" is refused)
  const days = await runCli(['watch', 'http://127.0.0.1:1/l/vm', '--trust', '.', '--interval', '1d', '--json']);
  assert.equal(days.code, 2);
  assert.match(days.json?.error?.message ?? '', /unit ms, s, m or h, from 100ms to 596h/);
  assert.doesNotMatch((days.json?.error?.message ?? '').split(', got')[0]!, /\d+d\b/);
  assert.ok(help.stdout.includes('--notification-gap'));
  for (const gap of ['2h', '-1s', 'soon']) {
    const badGap = await runCli(['watch', 'http://127.0.0.1:1/l/vm', '--trust', '.', '--notification-gap', gap, '--json']);
    assert.equal(badGap.code, 2, gap);
    assert.match(badGap.json?.error?.message ?? '', /--notification-gap: expected a duration from 0ms to 1h/);
  }
});

test('watch --json with stdout on a full disk: exit 3, and IO_ERROR said on stderr (its envelope cannot be)', { timeout: 120_000, skip: !existsSync('/dev/full') && 'no /dev/full' }, async (t) => {
  const { sim, dir } = await platform(t);
  const stateFile = join(dir, 'watch.db');
  const full = openSync('/dev/full', 'w');
  t.after(() => closeSync(full));
  const child = spawn(process.execPath, [BIN, 'watch', sim.topUrl, '--trust', sim.trustDir, '--state', stateFile, '--interval', '100ms', '--json'], { cwd: REPO_ROOT, stdio: ['ignore', full, 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 3, stderr);
  assert.match(stderr, /IO_ERROR: watch: cannot write the output: ENOSPC/);
  assert.doesNotMatch(stderr, /Unhandled|at .*\.js:\d+/);
});
