// State store figures: what durability costs per attestation (synchronous FULL
// vs NORMAL), history queries, pruning, opening, and the history command's start-up
// next to bare node.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openState, type StateStore } from '../src/state/index.js';
import { commandWallMs, fmt, opsPerSecond, table } from './util.js';

const INSTANCE = 'e'.repeat(64);
const AK = '000b' + 'aa'.repeat(32);
const PATH = ['000b' + '11'.repeat(32), '000b' + '22'.repeat(32)];

function attestOnce(store: StateStore, i: number, resultBytes = 2000): void {
  const time = 1_800_000_000_000 + i * 1000;
  const seen = store.observe({
    instanceId: INSTANCE,
    akName: AK,
    clockInfo: { clock: BigInt(i) * 1000n, resetCount: 1, restartCount: 0, safe: true },
    firmwareVersion: 1n,
    platformPath: PATH,
    time,
    target: 'https://vm.example/',
    hostingEpoch: 'e1',
  });
  store.appendResult({ time, target: 'https://vm.example/', instanceId: INSTANCE, verdict: 'trusted', findings: seen.findings, platformPath: PATH, result: { checks: 'x'.repeat(resultBytes) } });
}

export default async function (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-bench-state-'));
  try {
    const rows: (string | number)[][] = [['operation', 'per second', 'ms each']];
    for (const sync of ['FULL', 'NORMAL'] as const) {
      const store = await openState(join(dir, `${sync}.db`), { synchronous: sync });
      let i = 0;
      const rate = opsPerSecond(() => attestOnce(store, i++), 400, 5);
      rows.push([`observe + appendResult, synchronous=${sync}`, fmt(rate), fmt(1000 / rate, 2)]);
      store.close();
    }

    const big = await openState(join(dir, 'NORMAL.db'));
    let n = big.history({ limit: 100_000 }).length;
    for (; n < 10_000; n++) attestOnce(big, 1_000_000 + n);
    rows.push([`history, 50 newest of ${fmt(n)}`, fmt(opsPerSecond(() => void big.history({ limit: 50 }), 300, 5)), '']);
    rows.push([`history --instance prefix, 50 of ${fmt(n)}`, fmt(opsPerSecond(() => void big.history({ instance: 'eeee', limit: 50 }), 300, 5)), '']);
    big.close();

    // Retention: 20,000 results (~4 KB each) and readings, the oldest 15,000 of each pruned, then vacuumed
    const pruneFile = join(dir, 'prune.db');
    const p = await openState(pruneFile, { synchronous: 'NORMAL' });
    p.beginBatch();
    for (let k = 0; k < 20_000; k++) attestOnce(p, k, 4000);
    p.commitBatch();
    p.close();
    const kept = await openState(pruneFile); // synchronous FULL, as prune runs
    const sizeBefore = statSync(pruneFile).size;
    let t0 = performance.now();
    const pruned = kept.prune(1_800_000_000_000 + 15_000 * 1000);
    const pruneMs = performance.now() - t0;
    t0 = performance.now();
    kept.vacuum();
    const vacuumMs = performance.now() - t0;
    kept.close();
    rows.push([`prune ${fmt(pruned.results)} results + ${fmt(pruned.readings)} readings of 20,000 each (chunks of 5,000)`, `${fmt(((pruned.results + pruned.readings) * 1000) / pruneMs)} rows`, fmt(pruneMs, 0)]);
    rows.push([`vacuum after it: ${fmt(sizeBefore / 2 ** 20, 1)} MB -> ${fmt(statSync(pruneFile).size / 2 ** 20, 1)} MB`, '', fmt(vacuumMs, 0)]);

    const opens: number[] = [];
    for (let r = 0; r < 20; r++) {
      const start = process.hrtime.bigint();
      (await openState(join(dir, 'FULL.db'))).close();
      opens.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    opens.sort((a, b) => a - b);
    rows.push(['openState (existing file, better-sqlite3 loaded)', '', fmt(opens[10]!, 2)]);
    table(rows);

    console.log('\nstart-up (median wall time of 15 runs):');
    const bin = join(process.cwd(), 'bin', 'vtpm-verify.js');
    const bare = commandWallMs(process.execPath, ['-e', '0']);
    const version = commandWallMs(process.execPath, [bin, '--version']);
    const history = commandWallMs(process.execPath, [bin, 'history', '--state', join(dir, 'FULL.db'), '--limit', '20', '--no-color']);
    table([
      ['command', 'ms', 'x node -e 0'],
      ['node -e 0', fmt(bare), '1.00'],
      ['vtpm-verify --version', fmt(version), fmt(version / bare, 2)],
      ['vtpm-verify history --limit 20', fmt(history), fmt(history / bare, 2)],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
