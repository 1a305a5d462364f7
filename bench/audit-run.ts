// One audit in a fresh process, for bench/audit.bench.ts: runs the audit
// command's implementation on an inventory and prints one JSON line with its
// wall and CPU time and its peak memory (the kernel's maximum RSS, and the V8
// heap sampled every 10 ms). A process of its own so that every run starts
// from the same memory and the benchmark process's own objects do not count.
// Usage: node audit-run.js INVENTORY TRUST_DIR OUT_DIR [plain|state|reports|full|warm]
// warm: the process first audits shard 0/2 of the inventory untimed, then times
// shard 1/2 (other VMs, so no VM's key or chain is cached yet): the audit's
// rate once V8 has compiled its hot code, against the fresh process's rate.
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { join } from 'node:path';
import { runAuditCommand } from '../src/cli/actions/audit.js';

const [inventory, trustDir, outDir, mode] = process.argv.slice(2) as [string, string, string, string | undefined];
const reports = mode === 'full' || mode === 'reports';
const state = mode === 'full' || mode === 'state';
const warm = mode === 'warm';
const common = { inventory, trust: [trustDir], intermediates: [], crls: [], retries: 0, unreachableOk: false, json: true, verbose: false } as const;
if (warm) await runAuditCommand({ ...common, reports: {}, shard: '0/2' });

let heapPeak = 0;
let liveHeapPeak = 0;
const sample = (): void => {
  heapPeak = Math.max(heapPeak, getHeapStatistics().used_heap_size);
};
const sampler = setInterval(sample, 10);
// With --expose-gc: what is really kept alive, garbage collected first (every 250 ms; slows the run down)
const gc = (globalThis as { gc?: () => void }).gc;
const liveSampler = gc
  ? setInterval(() => {
      gc();
      liveHeapPeak = Math.max(liveHeapPeak, getHeapStatistics().used_heap_size);
    }, 250)
  : undefined;
const baseline = { rss: process.memoryUsage().rss, heap: getHeapStatistics().used_heap_size };
// When the audit's progress lines ("audit: N/T VMs done", every tenth of the
// VMs, on stderr with --json) came, in ms since t0: the warm-up inside this
// fresh process shows as its first tenth taking longer than the others.
const progress: [number, number][] = [];
const writeStderr = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
  const m = typeof chunk === 'string' ? /^audit: (\d+)\/\d+ VMs done/.exec(chunk) : null;
  if (m) progress.push([Number(m[1]), performance.now() - t0]);
  return (writeStderr as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stderr.write;
/**
 * CPU time of the calling thread (the JS thread here), ms, from /proc/thread-self/stat (utime + stime, in
 * USER_HZ ticks of 10 ms); null where there is no /proc. The process's CPU minus this is what its other threads
 * took: signatures on libuv's pool, V8's collector and compiler, the audit's state thread.
 */
function thisThreadCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}
const cpu0 = process.cpuUsage();
const thread0 = thisThreadCpuMs();
const elu0 = performance.eventLoopUtilization();
const t0 = performance.now();
const outcome = await runAuditCommand({
  ...common, // json: no progress bar; lines go to stderr
  reports: reports ? { json: join(outDir, 'audit.json'), junit: join(outDir, 'audit.xml'), html: join(outDir, 'audit.html') } : {},
  ...(state ? { state: join(outDir, 'state.db') } : {}),
  ...(warm ? { shard: '1/2' } : {}),
});
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const thread1 = thisThreadCpuMs();
// the event loop's busy time: the single JS thread, against the process's CPU time on all threads
const elu = performance.eventLoopUtilization(elu0);
sample();
clearInterval(sampler);
if (liveSampler) clearInterval(liveSampler);
const result = outcome.result as { summary: { total: number; trusted: number }; run: { concurrency: number } };
process.stdout.write(
  `${JSON.stringify({
    exitCode: outcome.exitCode,
    total: result.summary.total,
    trusted: result.summary.trusted,
    concurrency: result.run.concurrency,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loopBusyMs: elu.active,
    jsThreadCpuMs: thread0 === null || thread1 === null ? null : thread1 - thread0,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    baselineRssMB: baseline.rss / 2 ** 20,
    heapPeakMB: heapPeak / 2 ** 20,
    ...(gc ? { liveHeapPeakMB: liveHeapPeak / 2 ** 20 } : {}),
    baselineHeapMB: baseline.heap / 2 ** 20,
    progress,
  })}\n`,
);
