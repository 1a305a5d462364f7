// Transport figures: evidence fetches per second over loopback (the server in
// its own process) with kept-alive connections and without, at several
// concurrency levels; evidence validation alone; the SSE parser.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EvidenceClient } from '../src/transport/evidence-client.js';
import { parseEvidenceBytes, type EvidenceRequest } from '../src/transport/evidence.js';
import { SseParser } from '../src/transport/sse-parser.js';
import { fmt, median, opsPerSecond, table } from './util.js';

const here = dirname(fileURLToPath(import.meta.url));
const REQUEST: EvidenceRequest = { nonce: Buffer.alloc(32, 9), pcrs: [{ bank: 'sha256', pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 23] }], instance: Buffer.alloc(32, 3) };

async function startServer(size: string): Promise<{ child: ChildProcess; url: string; bytes: number }> {
  const child = spawn(process.execPath, [join(here, 'transport-server.js'), size], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const [port, bytes] = line.split(' ').map(Number);
  return { child, url: `http://127.0.0.1:${port}`, bytes: bytes! };
}

/** Fetches per second with `concurrency` loops running for about `ms`; median of rounds. */
async function fetchRate(client: EvidenceClient, url: string, concurrency: number, ms = 1500, rounds = 3): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = performance.now();
    const deadline = start + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          await client.fetch(url, REQUEST);
          n++;
        }
      }),
    );
    rates.push(n / ((performance.now() - start) / 1000));
  }
  return median(rates);
}

async function latencyMs(client: EvidenceClient, url: string, n = 300): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await client.fetch(url, REQUEST);
    times.push(performance.now() - t);
  }
  return median(times);
}

export default async function (): Promise<void> {
  console.log('evidence fetches over loopback, server in its own process; kept-alive and new-connection clients');
  console.log('measured in alternating rounds so that load from other processes hits both alike (median of 5 rounds)');
  const rows: (string | number)[][] = [['evidence size', 'concurrency', 'kept alive /s', 'new per request /s', 'latency c=1 kept / new']];
  for (const size of ['small', 'typical']) {
    const server = await startServer(size);
    const kept = new EvidenceClient({ keepAlive: true });
    const fresh = new EvidenceClient({ keepAlive: false });
    try {
      await fetchRate(kept, server.url, 4, 300, 1); // warm-up
      await fetchRate(fresh, server.url, 4, 300, 1);
      const latency = [await latencyMs(kept, server.url), await latencyMs(fresh, server.url)];
      for (const c of [1, 8, 32]) {
        const a: number[] = [];
        const b: number[] = [];
        for (let round = 0; round < 5; round++) {
          a.push(await fetchRate(kept, server.url, c, 500, 1));
          b.push(await fetchRate(fresh, server.url, c, 500, 1));
        }
        rows.push([`${size} (${fmt(server.bytes / 1024, 1)} KiB)`, c, fmt(median(a)), fmt(median(b)), c === 1 ? `${fmt(latency[0]!, 2)} / ${fmt(latency[1]!, 2)} ms` : '']);
      }
    } finally {
      kept.close();
      fresh.close();
      server.child.stdin!.end();
    }
  }
  table(rows);

  // Validation alone (no I/O), per evidence document.
  const small = await startServer('small');
  const typical = await startServer('typical');
  try {
    const client = new EvidenceClient();
    const bodies = await Promise.all([small, typical].map(async (s) => (await client.http.get(`${s.url}/v1/evidence`)).body));
    client.close();
    console.log('');
    table([
      ['parseEvidenceBytes (validation only)', 'docs/s'],
      ...bodies.map((b, i) => [`${i === 0 ? 'small' : 'typical'} (${fmt(b.length / 1024, 1)} KiB)`, fmt(opsPerSecond(() => void parseEvidenceBytes(b)))]),
    ]);
  } finally {
    small.child.stdin!.end();
    typical.child.stdin!.end();
  }

  // The SSE parser on a burst of migration events.
  const event = (seq: number): string =>
    `id: ${seq}\nevent: migration\ndata: {"instance":"${'ab'.repeat(32)}","seq":${seq},"from":"https://a.example/da","to":"https://b.example/da","time":"2026-11-26T12:00:00Z"}\n\n`;
  const burst = Buffer.from(Array.from({ length: 1000 }, (_, i) => event(i + 1)).join(''));
  const rate = opsPerSecond(() => void new SseParser().push(burst), 400, 5);
  console.log(`\nSSE parser: ${fmt(rate * 1000)} events/s (1,000-event bursts of ${fmt(burst.length / 1024, 1)} KiB)`);
}
