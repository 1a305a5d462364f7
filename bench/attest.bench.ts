// Deep attestation throughput (issue #6): complete 3-layer attestations per
// second of simulated VMs over loopback (the simulator in ANOTHER process,
// `vtpm-verify simulate --json`), at concurrency 1, 4, 16 and 64, and the
// latency of one; against the in-process limit: the same walks with the
// evidence taken from an in-process simulator without HTTP, with the
// simulator's own share (making the quotes) taken out, i.e. verification
// alone. Caches as an audit uses them (certificate links, vPlatform logs,
// replayed logs); every attestation draws its own nonce and verifies three
// fresh quotes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupVerifier, type VerifierSetup } from '../src/cli/verifier-setup.js';
import { startSimulator } from '../src/simulator/start.js';
import { EvidenceClient } from '../src/transport/evidence-client.js';
import { parseEvidenceBytes } from '../src/transport/evidence.js';
import { liveSource } from '../src/transport/layer-source.js';
import { LogVerificationCache } from '../src/verify/log-cache.js';
import { drawTopNonce } from '../src/verify/nonce-chain.js';
import { VplatformLogCache } from '../src/verify/vplatform-cache.js';
import { walk, type EvidenceSource } from '../src/verify/walker.js';
import { PathValidationMemo } from '../src/x509/path-memo.js';
import { startSimProcess } from './sim-process.js';
import { fmt, median, table } from './util.js';

const TOPOLOGY = { hosts: 5, vmsPerVmm: 20 };

interface Verifier {
  setup: VerifierSetup;
  vplatform: VplatformLogCache;
  logs: LogVerificationCache;
  paths: PathValidationMemo;
}

async function verifier(trustDir: string): Promise<Verifier> {
  return { setup: await setupVerifier({ trust: [trustDir] }), vplatform: new VplatformLogCache(), logs: new LogVerificationCache(), paths: new PathValidationMemo() };
}

// Concurrent walks verify signatures on libuv's thread pool, as a fleet audit does; one walk at a time inline (WalkOptions.signatures).
async function attestOnce(v: Verifier, url: string, source: EvidenceSource, signatures: 'inline' | 'thread-pool' = 'inline'): Promise<void> {
  const now = new Date();
  const { result } = await walk(
    { target: url, topNonce: drawTopNonce(now, url), trust: v.setup.trust, cache: v.setup.cache, policy: v.setup.policy, policySource: v.setup.policySource, at: now, vplatformCache: v.vplatform, logCache: v.logs, pathMemo: v.paths, signatures },
    source,
  );
  if (result.verdict !== 'trusted' || result.layers.length !== 3) throw new Error(`${url}: ${result.reason}`);
}

/** Attestations per second with `concurrency` loops over the VMs for about `ms`; latencies of each. */
async function rate(v: Verifier, urls: readonly string[], source: EvidenceSource, concurrency: number, ms: number): Promise<{ perSecond: number; latencies: number[] }> {
  let next = 0;
  let n = 0;
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const url = urls[next++ % urls.length]!;
        const t = performance.now();
        await attestOnce(v, url, source, concurrency > 1 ? 'thread-pool' : 'inline');
        latencies.push(performance.now() - t);
        n++;
      }
    }),
  );
  return { perSecond: n / ((performance.now() - start) / 1000), latencies };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
}

export default async function (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-attest-bench-'));
  const sim = await startSimProcess({ hosts: TOPOLOGY.hosts, vmsPerVmm: TOPOLOGY.vmsPerVmm, dir });
  const rows: (string | number)[][] = [['3-layer attestations', 'concurrency', 'per second (median of 3)', 'latency median', 'latency p95', 'CPU ms each (verifier)']];
  try {
    const v = await verifier(sim.trustDir);
    const client = new EvidenceClient();
    const source = liveSource(client) as EvidenceSource;
    await rate(v, sim.urls, source, 8, 1500); // warm-up: JIT, caches, connections
    for (const concurrency of [1, 4, 16, 64]) {
      const rounds: { perSecond: number; latencies: number[]; cpuMs: number }[] = [];
      for (let r = 0; r < 3; r++) {
        const cpu0 = process.cpuUsage();
        const out = await rate(v, sim.urls, source, concurrency, 1500);
        const cpu = process.cpuUsage(cpu0);
        rounds.push({ ...out, cpuMs: (cpu.user + cpu.system) / 1000 / out.latencies.length });
      }
      const m = [...rounds].sort((a, b) => a.perSecond - b.perSecond)[1]!;
      rows.push(['over loopback (HTTP)', concurrency, fmt(m.perSecond), `${fmt(median(m.latencies), 1)} ms`, `${fmt(percentile(m.latencies, 0.95), 1)} ms`, fmt(m.cpuMs, 2)]);
    }
    client.close();
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  // The in-process limit: no HTTP; the simulator's time spent making quotes is measured and taken out.
  const local = await startSimulator({ topology: { hosts: TOPOLOGY.hosts, vmmsPerHost: 1, vmsPerVmm: TOPOLOGY.vmsPerVmm } });
  try {
    const v = await verifier(local.trustDir);
    let simMs = 0;
    const direct: EvidenceSource = async (req) => {
      const name = decodeURIComponent(new URL(req.uri).pathname.slice('/l/'.length));
      const t = performance.now();
      const body = local.platform.layer(name).evidence({ nonce: req.nonce, pcrs: req.pcrs, ...(req.instance ? { instance: req.instance } : {}) });
      simMs += performance.now() - t;
      return parseEvidenceBytes(body);
    };
    await rate(v, local.urls, direct, 1, 1500);
    const rounds: { total: number; alone: number; latencies: number[] }[] = [];
    for (let r = 0; r < 3; r++) {
      simMs = 0;
      const start = performance.now();
      const out = await rate(v, local.urls, direct, 1, 1500);
      const elapsed = performance.now() - start;
      rounds.push({ total: out.perSecond, alone: (out.latencies.length * 1000) / (elapsed - simMs), latencies: out.latencies });
    }
    const m = [...rounds].sort((a, b) => a.alone - b.alone)[1]!;
    rows.push(['in process, quotes made too', 1, fmt(m.total), `${fmt(median(m.latencies), 2)} ms`, `${fmt(percentile(m.latencies, 0.95), 2)} ms`, '']);
    rows.push(['in process, verification alone', 1, fmt(m.alone), `${fmt(1000 / m.alone, 2)} ms`, '', fmt(1000 / m.alone, 2)]);
  } finally {
    await local.close();
  }
  console.log(`complete 3-layer deep attestations (VM → VMM → physical) of ${TOPOLOGY.hosts * TOPOLOGY.vmsPerVmm} simulated VMs, round robin`);
  table(rows);
}
