// vPlatform tables (PCR 23 logs) as a fleet audit meets them: every VM's
// audit checks its host's whole table again. Figures: verifying a table from
// scratch against a hit of the audit's cache (VplatformLogCache), the heap a
// cached entry takes, and how many lookups still hit when the tables of hosts
// visited in turn outgrow the cache (random eviction; least-recently-used
// would give none).
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { analyzeVplatformLog, verifyVplatformLog, type VplatformEntryInput } from '../src/verify/vplatform.js';
import { VplatformLogCache } from '../src/verify/vplatform-cache.js';
import { fmt, opsPerSecond, table } from './util.js';

interface Host {
  name: string;
  log: VplatformEntryInput[];
  quoted: Buffer;
}

function host(name: string, entries: number): Host {
  // as the transport hands them over: lowercase hex ids, a VM label each
  const log = Array.from({ length: entries }, (_, i): VplatformEntryInput => ({ pcr: 23, op: 'create', instance: randomBytes(32).toString('hex'), vm: `${name}-vm-${i}` }));
  return { name, log, quoted: analyzeVplatformLog(log).replayed };
}

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export default async function (): Promise<void> {
  const rows: (string | number)[][] = [['table entries', 'verified from scratch, ms', 'cache hit, ms', 'ratio']];
  for (const n of [200, 1_000, 5_000]) {
    const h = host('h', n);
    const scratch = 1000 / opsPerSecond(() => void verifyVplatformLog(h.log, h.quoted), 300, 3);
    const cache = new VplatformLogCache();
    cache.verify(h.name, h.log, h.quoted);
    // a new copy of the log each time, as each VM's evidence brings one
    const copies = Array.from({ length: 8 }, () => h.log.map((e) => ({ ...e })));
    let i = 0;
    const hit = 1000 / opsPerSecond(() => void cache.verify(h.name, copies[i++ % copies.length]!, h.quoted), 300, 3);
    rows.push([fmt(n), fmt(scratch, 3), fmt(hit, 3), `${fmt(scratch / hit, 0)}x`]);
  }
  console.log('one host table: verify from scratch against a hit of the audit cache');
  table(rows);

  const gc = collectGarbage();
  const hosts = Array.from({ length: 40 }, (_, k) => host(`host-${k}`, 1_000));
  gc();
  const before = process.memoryUsage().heapUsed;
  const full = new VplatformLogCache({ maxEntries: 1_000_000 });
  for (const h of hosts) full.verify(h.name, h.log, h.quoted);
  gc();
  const perEntry = (process.memoryUsage().heapUsed - before) / full.size.entries;
  console.log(`heap per cached entry: ${fmt(perEntry, 0)} bytes (40 tables of 1,000; the ids are shared with the evidence, which holds them anyway)`);

  // hosts visited in turn (an inventory not grouped by host), the cache holding a share of their tables
  const turns: (string | number)[][] = [['room for', 'lookups', 'hits', 'hit rate']];
  const ten = Array.from({ length: 10 }, (_, k) => host(`turn-${k}`, 100));
  for (const room of [0.3, 0.5, 0.8, 1]) {
    const cache = new VplatformLogCache({ maxEntries: Math.round(room * 1_000) });
    for (const h of ten) cache.verify(h.name, h.log, h.quoted);
    const hits0 = cache.stats.reused;
    const lookups = 50 * ten.length;
    for (let r = 0; r < 50; r++) for (const h of ten) cache.verify(h.name, h.log, h.quoted);
    const hits = cache.stats.reused - hits0;
    turns.push([`${fmt(room * 100, 0)}% of the tables`, lookups, hits, `${fmt((100 * hits) / lookups, 0)}%`]);
  }
  console.log('10 hosts of 100 entries visited in turn, 50 rounds (least-recently-used eviction: no hit below 100%)');
  table(turns);
}
