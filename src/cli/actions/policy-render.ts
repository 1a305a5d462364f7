// Human rendering of a policy evaluation: verdict, then per layer the rules
// that failed or warned (all of them with --verbose), then the chain rules.

import type { PolicyEvaluation, RuleResult } from '../../policy/result.js';
import { toJsonText, type Style } from '../output.js';
import { terminalSafe } from '../../util/terminal-safe.js';

function ruleLine(r: RuleResult, s: Style, verbose: boolean): string[] {
  const mark = r.status === 'pass' ? s.ok('pass') : r.status === 'fail' ? s.bad('FAIL') : r.status === 'warn' ? s.warn('warn') : s.dim('n/a ');
  // messages and values quote the facts (URIs, command lines, paths): escaped for the terminal
  const lines = [`    ${mark} ${terminalSafe(r.id)}${r.ruleSet ? s.dim(` (${terminalSafe(r.ruleSet)})`) : ''}: ${terminalSafe(r.message)}${r.code && r.status !== 'pass' ? ` ${s.code(`[${terminalSafe(r.code)}]`)}` : ''}`];
  if (verbose || r.status === 'fail') {
    if (r.expected !== undefined) lines.push(`         ${s.dim('expected:')} ${terminalSafe(truncate(toJsonText(r.expected, 0)))}`);
    if (r.actual !== undefined) lines.push(`         ${s.dim('actual:')}   ${terminalSafe(truncate(toJsonText(r.actual, 0)))}`);
  }
  return lines;
}

const truncate = (t: string): string => (t.length > 300 ? `${t.slice(0, 297)}...` : t);

export function renderEvaluation(e: PolicyEvaluation, s: Style, verbose: boolean): string {
  const shown = (r: RuleResult) => verbose || r.status === 'fail' || r.status === 'warn';
  const out = [`${e.verdict === 'trusted' ? s.ok('TRUSTED') : s.bad('NOT TRUSTED')} under policy ${s.bold(e.policy)}: ${e.counts.pass} passed, ${e.counts.fail} failed, ${e.counts.warn} warned, ${e.counts.notApplicable} not applicable`];
  for (const l of e.layers) {
    out.push(`  layer ${l.position} (${l.kind}, ${terminalSafe(l.uri)}): ${l.verdict === 'trusted' ? s.ok('trusted') : s.bad('not trusted')}${s.dim(l.ruleSets.length ? ` (rule sets: ${l.ruleSets.join(', ')})` : ' (no rule set)')}`);
    for (const r of l.rules.filter(shown)) out.push(...ruleLine(r, s, verbose));
  }
  const chain = e.chain.filter(shown);
  if (chain.length) {
    out.push('  chain:');
    for (const r of chain) out.push(...ruleLine(r, s, verbose));
  }
  if (!verbose && e.counts.pass) out.push(s.dim('  (--verbose lists the rules that passed)'));
  return out.join('\n');
}
