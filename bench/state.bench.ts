// State store figures: what durability costs per attestation (synchronous FULL
// vs NORMAL), history queries, opening, and the history command's start-up
// next to bare node.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openState, type StateStore } from '../src/state/index.js';
import { commandWallMs, fmt, opsPerSecond, table } from './util.js';

const INSTANCE = 'e'.repeat(64);
const AK = '000b' + 'aa'.repeat(32);
const PATH = ['000b' + '11'.repeat(32), '000b' + '22'.repeat(32)];

function attestOnce(store: StateStore, i: number): void {
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
  store.appendResult({ time, target: 'https://vm.example/', instanceId: INSTANCE, verdict: 'trusted', findings: seen.findings, platformPath: PATH, result: { checks: 'x'.repeat(2000) } });
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
