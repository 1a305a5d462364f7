// Fleet audit figures (issue #8): VMs audited per second, each down through
// 3 layers (VM → VMM → physical), and the audit's peak memory, for 1,000 and
// 10,000 simulated VMs. The simulator runs in ANOTHER process (`vtpm-verify
// simulate --json`), the audit in a fresh process of its own
// (bench/audit-run.ts) so that its peak memory is its own; both share this
// machine's cores, as they would not in production.
//
// The simulator is warmed up by one untimed audit of the fleet first. Four
// configurations, run interleaved (round by round, so that a slow
// phase of this shared machine hits all of them alike): the audit alone
// (summary only), the same with V8's default tiering (VTPM_NO_V8_TUNING=1,
// to show what the flags of src/cli/v8-tuning.ts buy), with everything
// on (--state, --json, --junit, --html), and the audit alone in a warm
// process (shard 1/2 timed after shard 0/2: what a fresh process pays for
// JIT warm-up is the difference). Then dense hosts: the same 1,000 VMs at
// 200 and at 1,000 VMs per VMM. "JS thread CPU" is that thread's own CPU
// time (from /proc); the rest of the audit's CPU is signature verification on
// libuv's thread pool, V8's GC and compiler threads and, with --state, the
// audit's state thread. "event loop busy" is the time the event loop was not
// waiting for events: the JS thread's CPU, plus the time it spent in blocking
// calls or waiting for a core. Memory is the kernel's maximum RSS
// and the V8 heap sampled every 10 ms: it must not grow with the fleet
// beyond what the inventory itself takes. "host steal" is the CPU time the
// hypervisor took from this machine's vCPUs while the run's process lived, as
// a share of all of them (from /proc/stat): the noise of a shared host, shown.
// "first tenth" and "second half" are the rates over those parts of one run,
// from the audit's progress lines: the warm-up inside a fresh process.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { parseInventory } from '../src/audit/inventory.js';
import { LOOKUP_THREADS } from '../src/transport/lookup.js';
import { startSimProcess } from './sim-process.js';
import { fmt, median, table } from './util.js';

const here = dirname(fileURLToPath(import.meta.url));
// The runner as npm run build bundles it (scripts/bundle.mjs), as the CLI loads the audit;
// the unbundled one where esbuild is missing.
const bundledRunner = join(here, '..', 'bench-bundle', 'audit-run.js');
const runner = existsSync(bundledRunner) ? bundledRunner : join(here, 'audit-run.js');

interface RunFigures {
  exitCode: number;
  total: number;
  trusted: number;
  concurrency: number;
  wallMs: number;
  cpuMs: number;
  /** the event loop's busy time (the JS thread), ms */
  loopBusyMs: number;
  /** the JS thread's own CPU time, ms (null without /proc) */
  jsThreadCpuMs: number | null;
  maxRssMB: number;
  baselineRssMB: number;
  heapPeakMB: number;
  baselineHeapMB: number;
  /** with --expose-gc: the heap after a full GC, sampled every 250 ms: what is really kept */
  liveHeapPeakMB?: number;
  simCpuMs: number;
  /** CPU time the hypervisor took from this machine's vCPUs during the run (ms, all CPUs); null where /proc/stat is not there */
  stealMs: number | null;
  /** wall time of the whole child process (start-up included), over which steal was counted */
  spanMs: number;
  /** [VMs done, ms since the audit started] at each of the audit's progress lines (every tenth of the VMs) */
  progress: [number, number][];
}

/**
 * The fresh process's warm-up, seen from inside one run: the VMs/s of its
 * first tenth (set-up included) and of its second half, from the progress
 * lines. A warm-up that costs the same per process shows as a slow first
 * tenth, whatever the fleet's size.
 */
function phaseRates(x: Pick<RunFigures, 'progress' | 'total' | 'wallMs'>): { firstTenth: number; secondHalf: number } | null {
  const at = (share: number): [number, number] | undefined => x.progress.find(([n]) => n >= x.total * share);
  const tenth = at(0.1);
  const half = at(0.5);
  if (!tenth || !half || half[0] >= x.total) return null;
  return { firstTenth: (tenth[0] * 1000) / tenth[1], secondHalf: ((x.total - half[0]) * 1000) / (x.wallMs - half[1]) };
}

function phaseText(x: RunFigures, which: 'firstTenth' | 'secondHalf'): string {
  const p = phaseRates(x);
  return p ? fmt(p[which]) : '–';
}

type Mode = 'plain' | 'full' | 'warm';

/**
 * The kernel's count of steal time (ms, summed over CPUs): time the hypervisor
 * ran something else while this VM's vCPUs wanted to run. On a shared host it
 * is what makes identical runs differ, so each run reports its own.
 */
function stealMs(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    const ticks = Number(fields[8]);
    return Number.isFinite(ticks) ? ticks * 10 : null; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

function runAudit(inventory: string, trustDir: string, outDir: string, mode: Mode, exposeGc = false, v8Defaults = false): Promise<Omit<RunFigures, 'simCpuMs' | 'stealMs' | 'spanMs'>> {
  return new Promise((resolve, reject) => {
    const flags = exposeGc ? ['--expose-gc'] : [];
    // the thread pool the CLI's launcher (bin/vtpm-verify.js, CommonJS) asks for: this runner is an ES module,
    // whose loader starts the pool before its first line could size it
    const env = { ...process.env, VTPM_NO_V8_TUNING: v8Defaults ? '1' : '', UV_THREADPOOL_SIZE: process.env['UV_THREADPOOL_SIZE'] ?? String(4 + LOOKUP_THREADS) };
    const child = spawn(process.execPath, [...flags, runner, inventory, trustDir, outDir, mode], { stdio: ['ignore', 'pipe', 'ignore'], env });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out) as Omit<RunFigures, 'simCpuMs' | 'stealMs' | 'spanMs'>);
      } catch {
        reject(new Error(`audit-run exited ${code}: ${out}`));
      }
    });
  });
}

/** Steal as a share of the machine's CPU time during the run (every vCPU over the run's wall time). */
function stealText(x: RunFigures): string {
  return x.stealMs === null ? '–' : `${fmt((100 * x.stealMs) / (x.spanMs * availableParallelism()), 1)}%`;
}

function mb(n: number): string {
  return `${fmt(n, 0)} MB`;
}

export default async function (): Promise<void> {
  const everything: { mode: Mode; v8Defaults: boolean }[] = [
    { mode: 'plain', v8Defaults: false },
    { mode: 'plain', v8Defaults: true },
    { mode: 'full', v8Defaults: false },
    // the same audit in a process that has audited the other half of the fleet first
    { mode: 'warm', v8Defaults: false },
  ];
  const sizes = [
    { vms: 1_000, hosts: 50, runs: 5, configs: everything, memory: true },
    // (no warm-process row: 10,000 VMs amortize the warm-up already, and one round of it is noise)
    { vms: 10_000, hosts: 500, runs: 1, configs: everything.filter((c) => c.mode !== 'warm'), memory: true },
    // Dense hosts: every VMM's evidence carries its whole vPlatform table (an entry per VM it
    // hosts), and every VM's audit fetches and checks it again.
    { vms: 1_000, hosts: 5, runs: 1, configs: everything.filter((c) => !c.v8Defaults && c.mode !== 'warm'), memory: false },
    { vms: 1_000, hosts: 1, runs: 1, configs: everything.filter((c) => !c.v8Defaults && c.mode !== 'warm'), memory: false },
  ];
  const rows: (string | number)[][] = [['VMs', 'VMs per VMM', 'configuration', 'VMs/s', 'audit CPU ms/VM', 'JS thread CPU ms/VM', 'event loop busy ms/VM', 'simulator CPU ms/VM', 'peak RSS', 'peak heap', 'heap at start', 'concurrency', 'host steal', 'VMs/s, first tenth', 'VMs/s, second half']];
  const memory: (string | number)[][] = [['VMs', 'live heap peak (after GC)', 'peak RSS', 'baseline RSS']];
  const notes: string[] = [];
  for (const size of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'vtpm-audit-bench-'));
    const t0 = performance.now();
    const sim = await startSimProcess({ hosts: size.hosts, vmsPerVmm: size.vms / size.hosts, dir, inventory: 'fleet.json' });
    notes.push(`${size.vms} VMs: simulator built in ${fmt((performance.now() - t0) / 1000, 1)} s (${size.hosts} hosts, ${size.hosts} VMMs)`);
    try {
      // One untimed audit of the whole fleet first: the simulator stands in for remote machines,
      // whose own warm-up is not the audit's. Without it the first timed run paid for the
      // simulator's JIT warm-up and for encoding each VM's evidence parts the first time.
      const warmOut = mkdtempSync(join(dir, 'warm-'));
      await runAudit(sim.inventoryFile!, sim.trustDir, warmOut, 'plain');
      rmSync(warmOut, { recursive: true, force: true });
      const configs = size.configs;
      const runs = configs.map((): RunFigures[] => []);
      for (let r = 0; r < size.runs; r++) {
        for (const [c, { mode, v8Defaults }] of configs.entries()) {
          const out = mkdtempSync(join(dir, 'run-'));
          const sim0 = sim.cpuMs();
          const steal0 = stealMs();
          const spawned = performance.now();
          const f = await runAudit(sim.inventoryFile!, sim.trustDir, out, mode, false, v8Defaults);
          const spanMs = performance.now() - spawned;
          const steal1 = stealMs();
          runs[c]!.push({ ...f, simCpuMs: sim.cpuMs() - sim0, stealMs: steal0 === null || steal1 === null ? null : steal1 - steal0, spanMs });
          // warm: shard 1/2 timed (about half the fleet), after shard 0/2 in the same process
          if ((mode !== 'warm' && f.total !== size.vms) || (mode === 'warm' && f.total >= size.vms) || f.trusted !== f.total) {
            throw new Error(`audit of ${size.vms} VMs (${mode}): ${f.trusted}/${f.total} trusted`);
          }
          if (mode === 'full' && r === 0) {
            const bytes = ['audit.json', 'audit.xml', 'audit.html', 'state.db'].map((n) => `${n} ${fmt(statSync(join(out, n)).size / 2 ** 20, 0)} MB`);
            notes.push(`${size.vms} VMs (${size.vms / size.hosts} per VMM), files written: ${bytes.join(', ')}`);
          }
          rmSync(out, { recursive: true, force: true });
        }
      }
      const label = (mode: Mode, v8Defaults: boolean): string =>
        `${mode === 'full' ? 'state + reports' : mode === 'warm' ? 'audit alone, warm process' : 'audit alone'}${v8Defaults ? ' (V8 defaults)' : ''}`;
      for (const [c, { mode, v8Defaults }] of configs.entries()) {
        const these = runs[c]!;
        const rate = (x: RunFigures): number => (x.total * 1000) / x.wallMs;
        // the median run by rate
        const m = [...these].sort((a, b) => rate(a) - rate(b))[these.length >> 1]!;
        rows.push([
          fmt(size.vms),
          fmt(size.vms / size.hosts),
          label(mode, v8Defaults),
          fmt(rate(m)),
          fmt(m.cpuMs / m.total, 2),
          m.jsThreadCpuMs === null ? '–' : fmt(m.jsThreadCpuMs / m.total, 2),
          fmt(m.loopBusyMs / m.total, 2),
          // warm: the simulator also served the untimed half
          mode === 'warm' ? '–' : fmt(m.simCpuMs / m.total, 2),
          mb(m.maxRssMB),
          mb(m.heapPeakMB),
          mb(m.baselineHeapMB),
          m.concurrency,
          stealText(m),
          phaseText(m, 'firstTenth'),
          phaseText(m, 'secondHalf'),
        ]);
        if (size.runs > 1) notes.push(`${size.vms} VMs, ${label(mode, v8Defaults)}: VMs/s over ${size.runs} runs (host steal; first tenth / second half): ${these.map((x) => `${fmt(rate(x))} (${stealText(x)}; ${phaseText(x, 'firstTenth')} / ${phaseText(x, 'secondHalf')})`).join(', ')}`);
      }
      if (size.memory) {
        // memory alone: a run that collects garbage every 250 ms to see what is kept (too slow to time)
        const out = mkdtempSync(join(dir, 'gc-'));
        const g = await runAudit(sim.inventoryFile!, sim.trustDir, out, 'plain', true);
        rmSync(out, { recursive: true, force: true });
        memory.push([fmt(size.vms), mb(g.liveHeapPeakMB ?? NaN), mb(g.maxRssMB), mb(g.baselineRssMB)]);
      }
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`audit of a simulated fleet (3 layers per VM), simulator in another process, audit in a fresh process (${runner === bundledRunner ? 'bundled as the CLI is' : 'unbundled: esbuild missing'})`);
  table(rows);
  for (const n of notes) console.log(`  ${n}`);
  console.log('what the audit keeps (audit alone, garbage collected every 250 ms)');
  table(memory);
  inventoryParseFigures();
}

/** What loading a large inventory costs, YAML against JSON (the JSON fast path). */
function inventoryParseFigures(): void {
  const vms = Array.from({ length: 10_000 }, (_, i) => ({ name: `vm-${i}`, url: `http://127.0.0.1:8400/l/vm-${i}`, tags: ['sim', `host=host-${i % 500}`] }));
  const yaml = `vms:\n${vms.map((v) => `  - name: "${v.name}"\n    url: "${v.url}"\n    tags: [${v.tags.map((t) => `"${t}"`).join(', ')}]\n`).join('')}`;
  const json = JSON.stringify({ vms });
  const rows: (string | number)[][] = [['10,000-VM inventory', 'parse ms (median of 3)', 'heap growth while parsing']];
  for (const [name, text, file] of [
    ['YAML', yaml, 'fleet.yaml'],
    ['JSON', json, 'fleet.json'],
  ] as const) {
    const times: number[] = [];
    let growth = 0;
    for (let i = 0; i < 3; i++) {
      const before = getHeapStatistics().used_heap_size;
      const t = performance.now();
      const parsed = parseInventory(text, file);
      times.push(performance.now() - t);
      growth = Math.max(growth, getHeapStatistics().used_heap_size - before);
      if (parsed.inventory?.vms.length !== 10_000) throw new Error('inventory parse');
    }
    rows.push([name, fmt(median(times)), mb(growth / 2 ** 20)]);
  }
  table(rows);
}
