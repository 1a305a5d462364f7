// Run by dns-stall.test.ts inside a private network and mount namespace whose resolver (127.0.0.1:53) takes
// queries and never answers: a fleet where some VMs are named by host names that never resolve and the others
// by HEALTHY_HOST (`localhost`, from /etc/hosts, or an IP literal). Prints the audit's report results as one JSON line.
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditReport } from '../../src/report/json-report.js';
import { startSimulator } from '../../src/simulator/start.js';
import { inventoryYaml } from '../../src/simulator/fleet.js';
import { runCli } from '../helpers/cli.js';

const [dir, hungArg, healthyHost = 'localhost'] = process.argv.slice(2) as [string, string, string?];
const hung = Number(hungArg);
const resolver = dgram.createSocket('udp4');
let queries = 0;
resolver.on('message', () => void queries++);
await new Promise<void>((resolve) => resolver.bind(53, '127.0.0.1', () => resolve()));
const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: hung + 4 } });
try {
  const port = new URL(sim.origin).port;
  const vms = sim.inventory().map((e, i) => ({ ...e, url: e.url.replace(`127.0.0.1:${port}`, `${i < hung ? `never-${i}.example` : healthyHost}:${port}`) }));
  writeFileSync(join(dir, 'fleet.yaml'), inventoryYaml(vms));
  const run = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', sim.trustDir, '--timeout', '1000', '--retries', '0', '--json', join(dir, 'report.json')], { timeoutMs: 60_000 });
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as AuditReport;
  process.stdout.write(`${JSON.stringify({ code: run.code, queries, results: report.results.map((r) => ({ host: new URL(r.target).hostname, verdict: r.verdict, code: r.error?.code })) })}\n`);
} finally {
  resolver.close();
  await sim.close();
}
