// The VMs of an audit that are not trusted or could not be attested, as the
// --json envelope and the terminal list them: shared by `audit` and by
// `report`, which lists the same VMs from saved reports.

import type { Style } from '../cli/output.js';
import type { AttestationResult, Verdict } from '../verify/result.js';
import { terminalSafe } from './format.js';

/** One VM that is not trusted or could not be attested. */
export interface AuditFailure {
  name: string;
  target: string;
  group?: string;
  verdict: Exclude<Verdict, 'trusted'>;
  code: string;
  /** the failing (or unreachable) layer, 0 = the VM */
  layer: number | null;
  /** the deciding error's message */
  message: string;
  /** the verdict's reason in one line (layer, URI, code, message) */
  reason: string;
  attempts: number;
}

/** How many failures the terminal lists without --verbose. */
export const FAILURES_SHOWN = 20;

export function failureOf(result: AttestationResult): AuditFailure {
  const layer = result.layers.find((l) => l.status === 'not-trusted' || l.status === 'unreachable') ?? null;
  return {
    name: result.name ?? result.target,
    target: result.target,
    ...(result.group !== undefined ? { group: result.group } : {}),
    verdict: result.verdict as AuditFailure['verdict'],
    code: result.error?.code ?? '(no code)',
    layer: layer ? layer.position : null,
    message: result.error?.message ?? result.reason,
    reason: result.reason,
    attempts: result.attempts ?? 1,
  };
}

/** The "Not trusted or unreachable" list (empty: no lines). */
export function renderFailures(failures: readonly AuditFailure[], style: Style, verbose: boolean): string[] {
  if (!failures.length) return [];
  const lines = ['', style.bold('Not trusted or unreachable')];
  const shown = verbose ? failures : failures.slice(0, FAILURES_SHOWN);
  for (const f of shown) {
    const mark = f.verdict === 'not-trusted' ? style.bad('✗') : style.warn('?');
    const where = f.layer !== null ? ` at layer ${f.layer}` : '';
    lines.push(`  ${mark} ${terminalSafe(f.name)}  ${style.code(terminalSafe(f.code))}${where}: ${style.dim(terminalSafe(f.message))}`);
  }
  if (shown.length < failures.length) lines.push(style.dim(`  ... and ${failures.length - shown.length} more (--verbose lists all; the reports have every result)`));
  return lines;
}
