// The end-of-audit summary: how many VMs were trusted, not trusted and
// unreachable, how often each failure code decided a verdict, and which hosts
// were slowest. Built incrementally (SummaryBuilder.add per result) so an
// audit of many VMs keeps only counters, durations and the top few hosts.

import type { Style } from '../cli/output.js';
import type { AttestationResult, Verdict } from '../verify/result.js';
import { VERDICT_LABELS, compareText, displayName, failureCodes, formatMs, resultDurationMs, terminalSafe } from './format.js';

export interface SlowHost {
  name: string;
  target: string;
  verdict: Verdict;
  ms: number;
}

export interface CodeCount {
  code: string;
  count: number;
}

export interface AuditSummary {
  total: number;
  trusted: number;
  notTrusted: number;
  unreachable: number;
  /**
   * The code that decided each not-trusted or unreachable VM's verdict, counted
   * once per VM (so the counts add up to notTrusted + unreachable); most frequent first.
   */
  failureCodes: CodeCount[];
  /** the slowest attestations, slowest first */
  slowest: SlowHost[];
  /** attestation times in ms over every VM with usable times */
  timing: { count: number; medianMs: number; p95Ms: number; maxMs: number } | null;
}

/** Stand-in code for a failed result that carries none (a bug upstream, but counted rather than lost). */
export const NO_CODE = '(no code)';

/** The code a not-trusted or unreachable result is counted under in AuditSummary.failureCodes. */
export function decidingCode(result: AttestationResult): string {
  return result.error?.code ?? failureCodes(result)[0] ?? NO_CODE;
}

/** Code counts as AuditSummary.failureCodes lists them: most frequent first, then by code. */
export function sortedCodeCounts(codes: ReadonlyMap<string, number>): CodeCount[] {
  return [...codes].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || compareText(a.code, b.code));
}

export class SummaryBuilder {
  private total = 0;
  private readonly byVerdict: Record<Verdict, number> = { trusted: 0, 'not-trusted': 0, incomplete: 0 };
  private readonly codes = new Map<string, number>();
  private readonly slow: SlowHost[] = [];
  private readonly durations: number[] = [];

  constructor(private readonly slowestCount = 5) {}

  add(result: AttestationResult): void {
    this.total++;
    this.byVerdict[result.verdict]++;
    if (result.verdict !== 'trusted') {
      const code = decidingCode(result);
      this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    }
    const ms = resultDurationMs(result);
    if (ms === undefined) return;
    this.durations.push(ms);
    const host: SlowHost = { name: displayName(result), target: result.target, verdict: result.verdict, ms };
    if (this.slow.length < this.slowestCount || slower(host, this.slow[this.slow.length - 1]!) < 0) {
      this.slow.push(host);
      this.slow.sort(slower);
      if (this.slow.length > this.slowestCount) this.slow.pop();
    }
  }

  summary(): AuditSummary {
    const failureCodes = sortedCodeCounts(this.codes);
    return {
      total: this.total,
      trusted: this.byVerdict.trusted,
      notTrusted: this.byVerdict['not-trusted'],
      unreachable: this.byVerdict.incomplete,
      failureCodes,
      slowest: this.slow.map((h) => ({ ...h })),
      timing: timing(this.durations),
    };
  }
}

export function summarize(results: Iterable<AttestationResult>, slowestCount = 5): AuditSummary {
  const b = new SummaryBuilder(slowestCount);
  for (const r of results) b.add(r);
  return b.summary();
}

/** Slowest first; equal times by name, so the order never depends on arrival. */
function slower(a: SlowHost, b: SlowHost): number {
  return b.ms - a.ms || compareText(a.name, b.name);
}


function timing(durations: readonly number[]): AuditSummary['timing'] {
  if (durations.length === 0) return null;
  const sorted = [...durations].sort((a, b) => a - b);
  // nearest-rank percentiles
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { count: sorted.length, medianMs: rank(0.5), p95Ms: rank(0.95), maxMs: sorted[sorted.length - 1]! };
}

/** Failure codes the terminal summary lists (most frequent first; the JSON has all). */
const CODES_SHOWN = 40;

/** The summary table for a terminal. */
export function renderSummary(s: AuditSummary, style: Style): string {
  const lines: string[] = [style.bold(`Audit summary: ${s.total} VM${s.total === 1 ? '' : 's'}`)];
  const countWidth = String(s.total).length;
  const pct = (n: number) => (s.total ? `${((100 * n) / s.total).toFixed(1)}%` : '-').padStart(6);
  const row = (glyph: string, label: string, n: number, paint: (t: string) => string) =>
    `  ${n ? paint(glyph) : style.dim(glyph)} ${label.padEnd(12)} ${String(n).padStart(countWidth)}  ${style.dim(pct(n))}`;
  lines.push(row('✓', 'trusted', s.trusted, style.ok));
  lines.push(row('✗', 'not trusted', s.notTrusted, style.bad));
  lines.push(row('?', VERDICT_LABELS.incomplete, s.unreachable, style.warn));

  if (s.failureCodes.length) {
    lines.push('', style.bold('Failures by code'));
    // an audit has a few dozen codes at most; results read back from a report may carry any number
    const shown = s.failureCodes.slice(0, CODES_SHOWN);
    const w = shown.reduce((m, c) => Math.max(m, terminalSafe(c.code).length), 0);
    const cw = shown.reduce((m, c) => Math.max(m, String(c.count).length), 0);
    for (const c of shown) lines.push(`  ${style.code(terminalSafe(c.code).padEnd(w))}  ${String(c.count).padStart(cw)}`);
    if (s.failureCodes.length > shown.length) lines.push(style.dim(`  ... and ${s.failureCodes.length - shown.length} more codes`));
  }
  if (s.slowest.length) {
    lines.push('', style.bold('Slowest hosts'));
    const times = s.slowest.map((h) => formatMs(h.ms));
    const tw = Math.max(...times.map((t) => t.length));
    const nw = Math.max(...s.slowest.map((h) => terminalSafe(h.name).length));
    const vw = Math.max(...s.slowest.map((h) => VERDICT_LABELS[h.verdict].length));
    s.slowest.forEach((h, i) => {
      const target = h.name !== h.target ? `  ${style.dim(terminalSafe(h.target))}` : '';
      lines.push(`  ${times[i]!.padStart(tw)}  ${terminalSafe(h.name).padEnd(nw)}  ${VERDICT_LABELS[h.verdict].padEnd(vw)}${target}`.trimEnd());
    });
  }
  if (s.timing) {
    lines.push('', style.dim(`Attestation time: median ${formatMs(s.timing.medianMs)}, p95 ${formatMs(s.timing.p95Ms)}, max ${formatMs(s.timing.maxMs)}`));
  }
  return lines.join('\n');
}
