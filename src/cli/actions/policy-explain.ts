// `policy explain FILE`: what the policy demands, layer by layer.

import { EXIT_CODES, UsageError, VtpmError } from '../../errors.js';
import { baselinePolicy } from '../../policy/baseline.js';
import type { Policy } from '../../policy/compile.js';
import { explainPolicy, type PolicyExplanation } from '../../policy/explain.js';
import type { CommandOutcome, Style } from '../output.js';
import { terminalSafe } from '../../util/terminal-safe.js';
import { invalidPolicyOutcome, loadPolicyFile } from '../policy-file.js';

export function renderExplanation(e: PolicyExplanation, s: Style): string {
  const out: string[] = [];
  // names and descriptions come from the policy file: escaped for the terminal
  const bullets = (items: string[]) => items.map((t) => `  - ${terminalSafe(t)}`);
  out.push(`${s.bold(`Policy ${terminalSafe(e.name)}`)}${e.file ? s.dim(` (${terminalSafe(e.file)})`) : ''}`);
  if (e.description) out.push(`  ${terminalSafe(e.description)}`);
  out.push('', s.bold('Whole chain'), ...bullets(e.chain));
  out.push('', s.bold('Layers') + s.dim(' (every rule set that selects a layer applies to it)'));
  if (!e.ruleSets.length) out.push('  (no rule sets: only the chain rules apply)');
  for (const rs of e.ruleSets) {
    out.push(`  ${s.code(terminalSafe(rs.name))}: ${terminalSafe(rs.selects)} ${s.dim(`[${terminalSafe(rs.at)}]`)}`);
    if (rs.description) out.push(`    ${s.dim(terminalSafe(rs.description))}`);
    out.push(...rs.demands.map((d) => `    - ${terminalSafe(d)}`));
  }
  if (e.freshness.length) out.push('', s.bold('Offline evidence'), ...bullets(e.freshness));
  out.push('', s.bold('Migration and state'), ...bullets(e.migration));
  if (e.includes.length) out.push('', s.bold('Included reference files'), ...bullets(e.includes));
  return out.join('\n');
}

export async function policyExplain(opts: { file: string | undefined; baseline: boolean }): Promise<CommandOutcome> {
  if (opts.baseline === (opts.file !== undefined)) throw new UsageError('USAGE', 'policy explain: give a policy FILE or --baseline (one of them)');
  let policy: Policy;
  try {
    policy = opts.file === undefined ? baselinePolicy() : loadPolicyFile(opts.file);
  } catch (err) {
    const outcome = err instanceof VtpmError ? invalidPolicyOutcome(err) : undefined;
    if (outcome) return outcome;
    throw err;
  }
  const e = explainPolicy(policy);
  return { ok: true, exitCode: EXIT_CODES.OK, result: e, human: (s) => renderExplanation(e, s) };
}
