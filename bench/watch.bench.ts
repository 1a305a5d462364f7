// `vtpm-verify watch` under a burst of migration notifications: the real CLI
// in a child process against the simulated platform and its Migration
// Controller served by this process. Per burst size: how many attestations
// the burst cost, how long until an attestation covered the last
// notification, and the watcher's peak resident memory (VmHWM) next to a
// watcher that saw no notification. 1,000 are real migrations (the VM moves
// between two hosts each time); the larger bursts are notifications the
// controller publishes without moving the VM (hints the watcher must handle
// the same way).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIO_TOPOLOGY, startScenario } from '../src/simulator/scenarios.js';
import { startSimulator } from '../src/simulator/start.js';
import { fmt, table } from './util.js';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'vtpm-verify.js');

interface Run {
  burst: string;
  attestations: number;
  coverMs: number;
  peakRssMb: number;
}

function procKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function once(kind: 'none' | 'migrations' | 'hints', n: number, heapMb?: number): Promise<Run> {
  const sim = await startSimulator({ topology: SCENARIO_TOPOLOGY, migrationController: true });
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-watch-bench-'));
  const child = spawn(process.execPath, [BIN, 'watch', sim.topUrl, '--trust', sim.trustDir, '--state', join(dir, 's.db'), '--interval', '1h', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...(heapMb ? { NODE_OPTIONS: `--max-old-space-size=${heapMb}` } : {}) },
  });
  const exit = new Promise<void>((r) => child.on('exit', () => r()));
  let buffer = '';
  let attestations = 0;
  const waiters: { test: (o: Record<string, any>) => boolean; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const o = JSON.parse(buffer.slice(0, nl)) as Record<string, any>;
      buffer = buffer.slice(nl + 1);
      if (o['type'] === 'attested' && o['trigger'] === 'migration') attestations++;
      for (const w of [...waiters]) if (w.test(o)) waiters.splice(waiters.indexOf(w), 1), w.resolve();
    }
  });
  const until = (test: (o: Record<string, any>) => boolean) => new Promise<void>((r) => waiters.push({ test, resolve: r }));
  try {
    await until((o) => o['type'] === 'stream' && o['status'] === 'connected');
    const start = performance.now();
    if (kind === 'migrations') startScenario('burst', sim.migrations!).runAll();
    if (kind === 'hints') {
      const c = sim.migrations!.controller;
      const vm = sim.platform.layer('vm');
      for (let i = 0; i < n; i++) c.record({ instance: vm.instanceIdHex, from: sim.platform.layer('vmm-b').url, to: vm.host!.url });
    }
    if (kind !== 'none') await until((o) => o['type'] === 'attested' && o['events']?.lastSeq === n);
    const coverMs = performance.now() - start;
    const peakRssMb = procKb(child.pid!, 'VmHWM') / 1024;
    child.kill('SIGTERM');
    await exit;
    const burst = kind === 'none' ? 'no notification' : `${fmt(n)} ${kind === 'migrations' ? 'real migrations' : 'notifications'}`;
    return { burst: heapMb ? `${burst}, heap capped at ${heapMb} MB` : burst, attestations, coverMs, peakRssMb };
  } finally {
    child.kill('SIGKILL');
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function (): Promise<void> {
  const runs = [await once('none', 0), await once('migrations', 1_000), await once('hints', 10_000), await once('hints', 100_000), await once('hints', 100_000, 32)];
  table([
    ['burst', 'attestations after it', 'ms until covered', 'watcher peak RSS (MB)'],
    ...runs.map((r) => [r.burst, r.attestations, r.burst === 'no notification' ? '-' : fmt(r.coverMs), fmt(r.peakRssMb, 1)]),
  ]);
  console.log('(ms until covered: from the first notification published to the attestation that covers the last one; 1,000 real migrations include moving the VM 1,000 times in the simulator.');
  console.log(' The watcher prints one line per notification and waits while its reader lags, so a slow reader means more, smaller batches; the run with');
  console.log(' a 32 MB heap shows that what grows with the burst is garbage V8 collects lazily, not memory the watcher keeps.)');
}
