// One `vtpm-verify report` in a fresh process, for bench/report.bench.ts:
// merges the given shard reports into JSON, JUnit and HTML files in OUT_DIR
// and prints one JSON line with its wall time, exit code and the kernel's
// maximum RSS, so the merge's memory is measured on its own.
// Usage: node report-run.js OUT_DIR REPORT.json...
import { join } from 'node:path';
import { runReportCommand } from '../src/cli/actions/report.js';

const [outDir, ...reports] = process.argv.slice(2) as [string, ...string[]];
const t0 = performance.now();
const outcome = await runReportCommand({
  reports,
  out: { json: join(outDir, 'fleet.json'), junit: join(outDir, 'fleet.xml'), html: join(outDir, 'fleet.html') },
  unreachableOk: false,
  allowPartial: false,
  json: true,
  verbose: false,
});
const wallMs = performance.now() - t0;
const result = outcome.result as { summary: { total: number } };
process.stdout.write(`${JSON.stringify({ exitCode: outcome.exitCode, total: result.summary.total, wallMs, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
