// The simulated platform as a service: how long fleets take to build (and
// their memory), and how many evidence requests per second it serves from
// its own process (`vtpm-verify simulate --json` as a child, as the audit and
// attest benchmarks run it), with the client only fetching, and with the
// client also verifying every layer (the simulator tests' reference walk:
// certificate path, quote, log replays, vPlatform table; not the product
// walker). Server CPU per request comes from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrustStore } from '../src/cli/trust-files.js';
import { EvidenceClient } from '../src/transport/evidence-client.js';
import type { PcrSelection } from '../src/transport/evidence.js';
import { ValidationCache } from '../src/x509/cache.js';
import { attestChain, nextNonce, SELECTION } from '../test/simulator/attest-chain.js';
import { startSimulator } from '../src/simulator/start.js';
import { fmt, median, opsPerSecond, table } from './util.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'vtpm-verify.js');

interface Sim {
  child: ChildProcess;
  result: { origin: string; topUrl: string; urls: string[]; trustDir: string; buildMs: number; layers?: { name: string; url: string; instanceId: string }[] };
  startMs: number;
  stop(): Promise<void>;
}

async function startSim(args: string[]): Promise<Sim> {
  const t = performance.now();
  const child = spawn(process.execPath, [BIN, 'simulate', ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`simulate exited ${code}`)));
  });
  const startMs = performance.now() - t;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    result: (JSON.parse(line) as { result: Sim['result'] }).result,
    startMs,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** utime + stime of a process, ms (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Runs `concurrency` loops of `work` for about `ms`; returns completed works per second and the server's CPU per work. */
async function rate(sim: Sim, concurrency: number, ms: number, work: (worker: number, i: number) => Promise<void>): Promise<{ perSecond: number; serverCpuMs: number }> {
  let n = 0;
  const cpu0 = cpuMs(sim.child.pid!);
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await work(w, i);
        n++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: n / seconds, serverCpuMs: (cpuMs(sim.child.pid!) - cpu0) / n };
}

const LOWER: PcrSelection[] = [{ bank: 'sha256', pcrs: [...SELECTION[0]!.pcrs, 23] }, SELECTION[1]!];

async function fleetBuilds(): Promise<void> {
  console.log('\nfleet build: `simulate --hosts H --vmms-per-host V --vms-per-vmm N --json` in a child process (1,000 VMs: median of 3 runs; 10,000: one run)');
  const rows: (string | number)[][] = [['fleet', 'keys', 'build (buildMs)', 'until serving', 'RSS when serving']];
  const fleets: [string, string[]][] = [
    ['1,000 VMs (50 hosts x 1 VMM x 20)', ['--hosts', '50', '--vms-per-vmm', '20']],
    ['10,000 VMs (500 hosts x 1 VMM x 20)', ['--hosts', '500', '--vms-per-vmm', '20']],
    ['10,000 VMs (50 hosts x 1 VMM x 200)', ['--hosts', '50', '--vms-per-vmm', '200']],
  ];
  for (const [label, args] of fleets) {
    for (const seed of ['seeded', 'random']) {
      const build: number[] = [];
      const start: number[] = [];
      const rss: number[] = [];
      for (let i = 0; i < (label.startsWith('1,000') ? 3 : 1); i++) {
        const sim = await startSim([...args, ...(seed === 'random' ? ['--seed', 'random'] : [])]);
        build.push(sim.result.buildMs);
        start.push(sim.startMs);
        rss.push(rssMiB(sim.child.pid!));
        await sim.stop();
      }
      rows.push([label, seed, `${fmt(median(build) / 1000, 2)} s`, `${fmt(median(start) / 1000, 2)} s`, `${fmt(median(rss))} MiB`]);
    }
  }
  table(rows);
}

async function servedRates(): Promise<void> {
  const sim = await startSim(['--layers', '3']);
  const layers = sim.result.layers!;
  const [vm, vmm, host] = ['vm', 'vmm', 'host'].map((n) => layers.find((l) => l.name === n)!);
  const client = new EvidenceClient({ timeoutMs: 30_000 });
  const { store } = loadTrustStore([sim.result.trustDir]);
  const cache = new ValidationCache();
  /** the three requests of one attestation, fetched and parsed (no verification) */
  const fetchChain = async (): Promise<void> => {
    let nonce: Buffer = randomBytes(32);
    const a = await client.fetch(vm!.url, { nonce, pcrs: SELECTION });
    nonce = nextNonce(nonce, a.evidence.quote.message);
    const b = await client.fetch(vmm!.url, { nonce, pcrs: LOWER, instance: Buffer.from(vm!.instanceId, 'hex') });
    nonce = nextNonce(nonce, b.evidence.quote.message);
    await client.fetch(host!.url, { nonce, pcrs: LOWER, instance: Buffer.from(vmm!.instanceId, 'hex') });
  };
  const verifyChain = async (): Promise<void> => {
    const walk = await attestChain(client, sim.result.topUrl, store, { cache });
    if (walk.some((l) => l.codes.length)) throw new Error(`the clean platform failed: ${JSON.stringify(walk.map((l) => l.codes))}`);
  };
  try {
    for (let i = 0; i < 50; i++) await verifyChain(); // warm-up: connections, JIT, caches
    console.log('\nevidence served by `simulate --layers 3` (its own process) to this process over loopback, kept-alive');
    console.log('a chain = the 3 requests of one attestation (VM, VMM, host; chained nonces); median of 3 rounds of 2 s');
    const rows: (string | number)[][] = [['client does', 'concurrency', 'chains/s', 'evidence requests/s', 'server CPU per request']];
    for (const [what, work] of [
      ['fetch + parse', fetchChain],
      ['fetch + verify every layer', verifyChain],
    ] as const) {
      for (const c of [1, 8, 32, 64]) {
        const rounds = [];
        for (let r = 0; r < 3; r++) rounds.push(await rate(sim, c, 2_000, work));
        const perSecond = median(rounds.map((x) => x.perSecond));
        rows.push([what, c, fmt(perSecond), fmt(perSecond * 3), `${fmt((median(rounds.map((x) => x.serverCpuMs)) / 3) * 1000)} µs`]);
      }
    }
    table(rows);
    const latency: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await fetchChain();
      latency.push(performance.now() - t);
    }
    console.log(`latency of one chain (3 fetches, concurrency 1): median ${fmt(median(latency), 2)} ms`);
  } finally {
    client.close();
    await sim.stop();
  }
}

async function fleetServing(): Promise<void> {
  const sim = await startSim(['--hosts', '50', '--vms-per-vmm', '20']);
  const client = new EvidenceClient({ timeoutMs: 30_000 });
  const { store } = loadTrustStore([sim.result.trustDir]);
  const cache = new ValidationCache();
  try {
    const urls = sim.result.urls;
    let next = 0;
    const work = async () => {
      await attestChain(client, urls[next++ % urls.length]!, store, { cache });
    };
    await rate(sim, 16, 1_000, work);
    const rounds = [];
    for (let r = 0; r < 3; r++) rounds.push(await rate(sim, 32, 2_000, work));
    const perSecond = median(rounds.map((x) => x.perSecond));
    console.log(
      `\nfleet of 1,000 VMs, each attestation a different VM (round robin), client verifying, concurrency 32: ${fmt(perSecond)} chains/s, ${fmt(perSecond * 3)} evidence requests/s, server CPU ${fmt((median(rounds.map((x) => x.serverCpuMs)) / 3) * 1000)} µs per request`,
    );
  } finally {
    client.close();
    await sim.stop();
  }
}

/** The per-request work without HTTP: quote + evidence JSON assembly, in this process. */
async function assembly(): Promise<void> {
  const sim = await startSimulator({ topology: { layers: 3 } });
  try {
    const rows: (string | number)[][] = [['layer.evidence(request), no HTTP (one core)', 'documents/s', 'µs each', 'bytes']];
    for (const name of ['vm', 'vmm', 'host']) {
      const layer = sim.platform.layer(name);
      const request = { nonce: randomBytes(32), pcrs: name === 'vm' ? SELECTION : LOWER };
      const perSecond = opsPerSecond(() => layer.evidence(request), 400, 5);
      rows.push([name, fmt(perSecond), fmt(1e6 / perSecond), fmt(layer.evidence(request).length)]);
    }
    console.log();
    table(rows);
  } finally {
    await sim.close();
  }
}

export default async function (): Promise<void> {
  await assembly();
  await servedRates();
  await fleetServing();
  await fleetBuilds();
}
