// The simulated fleet in ANOTHER process, as the audit and attestation
// benchmarks need it: `vtpm-verify simulate --json` as a child, whose one
// stdout line says where it serves. Its CPU time is read from /proc (Linux)
// so a benchmark can show how the two cores were shared.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { BIN } from './paths.js';

export interface SimProcess {
  child: ChildProcess;
  origin: string;
  urls: string[];
  trustDir: string;
  inventoryFile: string | undefined;
  /** user + system CPU time of the simulator so far, ms (NaN where /proc is absent) */
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function startSimProcess(opts: { hosts: number; vmsPerVmm: number; dir: string; inventory?: string }): Promise<SimProcess> {
  const args = [BIN, 'simulate', '--hosts', String(opts.hosts), '--vmms-per-host', '1', '--vms-per-vmm', String(opts.vmsPerVmm), '--trust-out', join(opts.dir, 'trust'), '--json'];
  if (opts.inventory) args.push('--inventory-out', join(opts.dir, opts.inventory));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`simulate exited with ${code}`)));
  });
  const envelope = JSON.parse(line) as { ok: boolean; result: { origin: string; urls: string[]; trustDir: string; inventoryFile?: string } };
  if (!envelope.ok) throw new Error(`simulate failed: ${line}`);
  const ticks = 100; // USER_HZ on Linux
  return {
    child,
    origin: envelope.result.origin,
    urls: envelope.result.urls,
    trustDir: envelope.result.trustDir,
    inventoryFile: envelope.result.inventoryFile,
    cpuMs: () => {
      try {
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticks;
      } catch {
        return NaN;
      }
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
