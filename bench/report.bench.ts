// Report rendering figures: what each renderer costs per VM (tree, EAR claims,
// ES256 JWT signing and verifying) and what whole-audit reports cost for
// 1,000 and 10,000 VMs (time, size, heap growth) — next to the audit target
// of 300 VMs/s, so rendering is never the bottleneck. Then `vtpm-verify
// report` merging four shard reports of 1,000 and 10,000 VMs in a fresh
// process (bench/report-run.ts): its time and its peak memory, which must not
// grow with the fleet.

import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLAIN } from '../src/cli/output.js';
import { signEar, toEar, verifyEar } from '../src/report/ear.js';
import { htmlReportChunks, renderHtmlReport } from '../src/report/html.js';
import { auditReportJsonChunks, renderAuditReportJson } from '../src/report/json-report.js';
import { junitChunks, renderJunit } from '../src/report/junit.js';
import { SummaryBuilder } from '../src/report/summary.js';
import { renderTree } from '../src/report/tree.js';
import { fleet } from '../test/report/fleet.js';
import { shardOf } from '../src/audit/shard.js';
import { summarize } from '../src/report/summary.js';
import { fmt, median, opsPerSecond, opsPerSecondAsync, table } from './util.js';
import { freshKeyPair } from '../src/util/fresh-key-pair.js';

const here = dirname(fileURLToPath(import.meta.url));

function timeMs(fn: () => unknown, rounds = 3): number {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

export default async function (): Promise<void> {
  const sample = fleet(24).results;
  const one = sample[1]!; // not trusted at the VMM: the tree with the most to show
  const { privateKey, publicKey } = freshKeyPair('ec', { namedCurve: 'P-256' });
  const claims = toEar(one);
  const token = await signEar(claims, privateKey);

  const perVm: (string | number)[][] = [['per VM (3 layers)', 'per second', 'µs each']];
  const add = (name: string, rate: number) => perVm.push([name, fmt(rate), fmt(1e6 / rate, 1)]);
  let i = 0;
  add('renderTree (plain)', opsPerSecond(() => renderTree(sample[i++ % sample.length]!, PLAIN)));
  add('renderTree --verbose', opsPerSecond(() => renderTree(sample[i++ % sample.length]!, PLAIN, { verbose: true })));
  add('toEar (claims)', opsPerSecond(() => toEar(sample[i++ % sample.length]!)));
  add('signEar (ES256 JWT)', await opsPerSecondAsync(() => signEar(claims, privateKey).then(() => undefined)));
  add('verifyEar (jose)', await opsPerSecondAsync(() => verifyEar(token, publicKey).then(() => undefined)));
  table(perVm);

  console.log('');
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-bench-report-'));
  const whole: (string | number)[][] = [['audit reports', 'VMs', 'ms', 'VMs/s', 'MB', 'heap +MB']];
  for (const n of [1_000, 10_000]) {
    const f = fleet(n);
    const b = new SummaryBuilder();
    const summaryMs = timeMs(() => {
      const s = new SummaryBuilder();
      for (const r of f.results) s.add(r);
      return s.summary();
    });
    for (const r of f.results) b.add(r);
    const summary = b.summary();
    whole.push(['summary (incremental)', fmt(n), fmt(summaryMs, 1), fmt((n / summaryMs) * 1000), '-', '-']);
    for (const [name, render] of [
      ['JSON report', () => renderAuditReportJson(f.run, summary, f.results)],
      ['JUnit XML', () => renderJunit(f.run, summary, f.results)],
      ['HTML report', () => renderHtmlReport(f.run, summary, f.results)],
    ] as const) {
      globalThis.gc?.();
      const before = process.memoryUsage().heapUsed;
      let text = '';
      const ms = timeMs(() => (text = render()));
      const grown = (process.memoryUsage().heapUsed - before) / 1e6;
      whole.push([name, fmt(n), fmt(ms, 1), fmt((n / ms) * 1000), fmt(Buffer.byteLength(text) / 1e6, 1), fmt(grown, 0)]);
      text = '';
    }
    // what `audit` does: stream the chunks to a file, never holding the whole text
    for (const [name, chunks] of [
      ['JSON report, streamed', () => auditReportJsonChunks(f.run, summary, f.results)],
      ['JUnit XML, streamed', () => junitChunks(f.run, summary, f.results)],
      ['HTML report, streamed', () => htmlReportChunks(f.run, summary, f.results)],
    ] as const) {
      globalThis.gc?.();
      const before = process.memoryUsage().heapUsed;
      let peak = 0;
      let bytes = 0;
      const ms = timeMs(() => {
        const fd = openSync(join(dir, 'out'), 'w');
        bytes = 0;
        let k = 0;
        for (const chunk of chunks()) {
          bytes += writeSync(fd, chunk);
          if (++k % 500 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed - before);
        }
        closeSync(fd);
      }, 1);
      whole.push([name, fmt(n), fmt(ms, 1), fmt((n / ms) * 1000), fmt(bytes / 1e6, 1), fmt(peak / 1e6, 0)]);
    }
  }
  table(whole);
  console.log('(heap +MB: heap growth while rendering, including the report text itself; run node --expose-gc for steadier figures)');

  // vtpm-verify report: four shard reports written as `audit --shard I/4 --json FILE` would, merged in a fresh process
  console.log('');
  const merge: (string | number)[][] = [['report (merge 4 shards)', 'VMs', 'input MB', 'ms', 'VMs/s', 'max RSS MB', 'in 32 MB heap']];
  for (const n of [1_000, 10_000]) {
    const f = fleet(n);
    const files = [0, 1, 2, 3].map((index) => {
      const mine = f.results.filter((r) => shardOf(r.name ?? r.target, 4) === index);
      const file = join(dir, `shard-${index}.json`);
      const fd = openSync(file, 'w');
      for (const chunk of auditReportJsonChunks({ ...f.run, shard: { index, count: 4 } }, summarize(mine), mine)) writeSync(fd, chunk);
      closeSync(fd);
      return file;
    });
    const inputMb = files.reduce((s, file) => s + statSync(file).size, 0) / 1e6;
    const runs = [0, 1, 2].map(() => JSON.parse(execFileSync(process.execPath, [join(here, 'report-run.js'), dir, ...files], { encoding: 'utf8', maxBuffer: 1 << 20 })) as { total: number; wallMs: number; maxRssMB: number });
    const ms = median(runs.map((r) => r.wallMs));
    // what must stay live is small: the same merge with V8's old generation capped at 32 MB
    let capped = 'yes';
    try {
      execFileSync(process.execPath, ['--max-old-space-size=32', join(here, 'report-run.js'), dir, ...files], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      capped = 'no';
    }
    merge.push(['JSON + JUnit + HTML', fmt(runs[0]!.total), fmt(inputMb, 1), fmt(ms, 0), fmt((runs[0]!.total / ms) * 1000), fmt(median(runs.map((r) => r.maxRssMB)), 0), capped]);
  }
  rmSync(dir, { recursive: true, force: true });
  table(merge);
  console.log('(median of 3 fresh processes; each reads the shards a result at a time, checks each against the schema, and spools it.');
  console.log(' "in 32 MB heap": the merge also completes with --max-old-space-size=32, so a larger max RSS is garbage not yet collected, not memory kept)');
}
