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
  /** the deciding error's message (cut at FAILURE_TEXT_MAX characters) */
  message: string;
  /** the verdict's reason in one line (layer, URI, code, message; cut at FAILURE_TEXT_MAX characters) */
  reason: string;
  attempts: number;
}

/** How many failures the terminal lists without --verbose. */
export const FAILURES_SHOWN = 20;

/**
 * A failure's message and reason are cut to this many characters (the reports
 * keep them whole). The list of every failing VM stays in memory until the end
 * and goes whole into the --json envelope: `report` builds it from reports
 * written elsewhere, whose reason and error message the schema does not bound,
 * and a result line may be 32 MiB, so a report of failing VMs carrying
 * megabytes each was held whole (3.4 GB for a 1.9 GB report) and then failed
 * as INTERNAL_ERROR (a string too long for the envelope). A real one is a line.
 */
export const FAILURE_TEXT_MAX = 1000;

/** `text`, or its first FAILURE_TEXT_MAX - 1 characters and an ellipsis, as a string of its own (not a view into the long one). */
export function cutFailureText(text: string): string {
  if (text.length <= FAILURE_TEXT_MAX) return text;
  let end = FAILURE_TEXT_MAX - 1;
  // never half of a surrogate pair
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  // V8 keeps a long string's slice as a view holding the whole string alive: copy it out
  return Buffer.from(`${text.slice(0, end)}…`, 'utf8').toString('utf8');
}

export function failureOf(result: AttestationResult): AuditFailure {
  const layer = result.layers.find((l) => l.status === 'not-trusted' || l.status === 'unreachable') ?? null;
  return {
    name: result.name ?? result.target,
    target: result.target,
    ...(result.group !== undefined ? { group: result.group } : {}),
    verdict: result.verdict as AuditFailure['verdict'],
    code: result.error?.code ?? '(no code)',
    layer: layer ? layer.position : null,
    message: cutFailureText(result.error?.message ?? result.reason),
    reason: cutFailureText(result.reason),
    attempts: result.attempts ?? 1,
  };
}

/** The "Not trusted or unreachable" list (empty: no lines). */
export function renderFailures(failures: readonly AuditFailure[], style: Style, verbose: boolean): string[] {
  if (!failures.length) return [];
  const lines = ['', style.bold('Not trusted or unreachable')];
  // the not trusted first (each group in inventory order): with a VMM down early in the inventory, its
  // unreachable VMs filled the list and the VM behind exit 1 was only "... and N more" (in a cron job's mail)
  const ordered = [...failures.filter((f) => f.verdict === 'not-trusted'), ...failures.filter((f) => f.verdict !== 'not-trusted')];
  const shown = verbose ? ordered : ordered.slice(0, FAILURES_SHOWN);
  for (const f of shown) {
    const mark = f.verdict === 'not-trusted' ? style.bad('✗') : style.warn('?');
    const where = f.layer !== null ? ` at layer ${f.layer}` : '';
    lines.push(`  ${mark} ${terminalSafe(f.name)}  ${style.code(terminalSafe(f.code))}${where}: ${style.dim(terminalSafe(f.message))}`);
  }
  if (shown.length < ordered.length) {
    const hidden = ordered.slice(shown.length);
    const notTrusted = hidden.filter((f) => f.verdict === 'not-trusted').length;
    const kinds = notTrusted > 0 ? `${notTrusted} not trusted, ${hidden.length - notTrusted} unreachable or incomplete` : 'unreachable or incomplete';
    lines.push(style.dim(`  ... and ${hidden.length} more, ${kinds} (--verbose lists all; the reports have every result)`));
  }
  return lines;
}
