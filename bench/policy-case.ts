// The policy benchmark case, shared by bench/policy.bench.ts and the fresh
// process it spawns (a CLI run is a cold process: its figure is the one that
// counts). Run directly: node dist/bench/policy-case.js DIR → prints JSON timings.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EvaluationInput, ImaEntryFacts } from '../src/policy/evidence.js';

export const PATHS = 50_000;
export const ENTRIES = 100_000;

const digest = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Writes policy.yaml and its 50,000-path allow-list ima.json into dir; returns the 100,000-entry evaluation input. */
export function makeCase(dir: string): { policyFile: string; input: EvaluationInput; allowListBytes: number; list: Record<string, string[]> } {
  const paths = Array.from({ length: PATHS }, (_, i) => `/usr/lib/x86_64-linux-gnu/pkg${i % 997}/lib${i}.so.${i % 7}`);
  const digests = paths.map((p) => digest(p));
  const list: Record<string, string[]> = {};
  // every tenth file has a second allowed digest (an older version)
  paths.forEach((p, i) => (list[p] = i % 10 === 0 ? [digests[i]!, digest(`${p} old`)] : [digests[i]!]));
  const json = `{\n${Object.entries(list).map(([p, d]) => `  ${JSON.stringify(p)}: ${JSON.stringify(d)}`).join(',\n')}\n}\n`;
  writeFileSync(join(dir, 'ima.json'), json);
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(
    policyFile,
    'apiVersion: vtpm-verify/v1\nname: bench\nchain: { endAt: any }\nlayers:\n  - name: vm\n    ima:\n      required: true\n      allowList: { include: ima.json }\n      excludes: ["/tmp/.*", "/var/cache/.*"]\n      excludeTemplates: [ima-buf]\n',
  );
  // every path measured twice, as after long-running services restarted
  const entries: ImaEntryFacts[] = Array.from({ length: ENTRIES }, (_, i) => ({ path: paths[i % PATHS]!, digest: digests[i % PATHS]!, algo: 'sha256', template: 'ima-ng' }));
  const input: EvaluationInput = {
    layers: [
      {
        position: 0,
        uri: 'bench',
        kind: 'unspecified',
        certificate: { subject: 'CN=bench', issuer: 'CN=bench', anchor: { label: 'bench', subject: 'CN=bench', vouchesFor: 'ak-ca' }, ekus: [] },
        quote: { clock: 0n, resetCount: 0, restartCount: 0, safe: true, firmwareVersion: 0n, pcrs: new Map() },
        ima: { replayMatched: true, entries },
        binding: { nonceChain: 'not-applicable', hostedInstance: 'not-applicable', issuer: 'not-applicable' },
      },
    ],
    now: new Date(),
  };
  return { policyFile, input, allowListBytes: json.length, list };
}

/** Wall time, and this process's CPU time (steadier when other work shares the machine). */
export function time<T>(fn: () => T): { ms: number; cpuMs: number; value: T } {
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  const value = fn();
  const cpu = process.cpuUsage(c);
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000, value };
}

// Child mode: one cold load + evaluate in a fresh process.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2]!;
  const { input, policyFile } = makeCase(dir);
  const { loadPolicyFile } = await import('../src/cli/policy-file.js');
  const { evaluatePolicy } = await import('../src/policy/evaluate.js');
  const load = time(() => loadPolicyFile(policyFile));
  const evaluation = time(() => evaluatePolicy(load.value, input));
  process.stdout.write(JSON.stringify({ verdict: evaluation.value.verdict, load: load.ms, evaluate: evaluation.ms, cpu: load.cpuMs + evaluation.cpuMs }));
}
