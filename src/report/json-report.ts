// The audit's JSON report (`audit --json FILE`): run metadata, the summary,
// and every VM's result. Its contract is docs/audit-report.schema.json (JSON
// Schema 2020-12); a test validates what this module writes against it.
//
// Written as chunks, one result per line, so a large fleet's report can be
// streamed to a file without building one giant string.

import { toJsonText } from '../cli/output.js';
import { UsageError } from '../errors.js';
import type { RunChanges } from '../state/run-changes.js';
import type { MergedFrom } from './merge.js';
import type { AttestationResult } from '../verify/result.js';
import type { AuditSummary } from './summary.js';

export const AUDIT_REPORT_FORMAT = 'vtpm-verify/audit-report';
export const AUDIT_REPORT_VERSION = 2;
/** Where the schema lives in the repository and the npm package. */
export const AUDIT_REPORT_SCHEMA_PATH = 'docs/audit-report.schema.json';

/**
 * A run label (`audit --run-label`, `report --run-label`): printable ASCII, at
 * most 128 characters, e.g. a Kubernetes Job's name or a CI pipeline id. It
 * ties the shards of one audit together: a shard report left from an earlier
 * run carries another label, and `report` refuses to merge it.
 */
export const RUN_LABEL_RE = /^[\x20-\x7e]{1,128}$/;

/** A --run-label is printable ASCII, 1 to 128 characters (it goes into every report and is compared by `report`). */
export function checkRunLabel(label: string | undefined): void {
  if (label !== undefined && !RUN_LABEL_RE.test(label)) {
    throw new UsageError('USAGE', `--run-label: expected 1 to 128 printable ASCII characters, got ${JSON.stringify(label.slice(0, 140))}${label.length > 140 ? '…' : ''}`, { option: 'run-label' });
  }
}


/** How the audit ran. */
export interface AuditRun {
  tool: { name: string; version: string };
  startedAt: string;
  finishedAt: string;
  /** the inventory file audited */
  inventory?: string;
  /** the --shard I/N this run audited, as given */
  shard?: { index: number; count: number };
  /** the --run-label the run was given: the shards of one audit share it (see RUN_LABEL_RE) */
  label?: string;
  /**
   * SHA-256 of what decides the verdicts: the tool's version, the inventory's text, --max-depth, and each VM's
   * policy files and trust store's anchors (with labels) and intermediates, by content, not by the paths they
   * were named by (not CRLs, refreshed between shards). The shards of one audit share it; `report` refuses shards that differ.
   */
  config?: { sha256: string };
  concurrency?: number;
  /** the machine that ran the audit */
  hostname?: string;
  exitCode?: 0 | 1 | 2 | 3;
  /** set when SIGINT/SIGTERM stopped the audit early */
  interrupted?: { signal: string; notStarted: number };
  /** with --state: this run's id in the state file, and what changed since the previous run of the same inventory and shard (null: none) */
  state?: { runId: number; since: RunChanges | null };
  /** set by `vtpm-verify report`: the reports this one merges, and what of the fleet they do not cover */
  merged?: MergedFrom;
  /**
   * What the run warned about beyond any one VM's result (a trust file skipped, two VMs answering
   * with one key, shards started hours apart), at most MAX_RUN_WARNINGS: kept with the results, so a
   * report read later says what the terminal said.
   */
  warnings?: string[];
}

/** The most warnings a report's run keeps; the last says how many more there were. */
export const MAX_RUN_WARNINGS = 100;
/** The longest warning a report keeps (longer ones are cut, marked with an ellipsis). */
export const MAX_RUN_WARNING_LENGTH = 2000;

/** `warnings` capped for a report's run: undefined when there are none. */
export function runWarnings(warnings: readonly string[]): string[] | undefined {
  if (warnings.length === 0) return undefined;
  const cut = (w: string) => (w.length > MAX_RUN_WARNING_LENGTH ? `${w.slice(0, MAX_RUN_WARNING_LENGTH - 1)}…` : w);
  if (warnings.length <= MAX_RUN_WARNINGS) return warnings.map(cut);
  return [...warnings.slice(0, MAX_RUN_WARNINGS - 1).map(cut), `... and ${warnings.length - (MAX_RUN_WARNINGS - 1)} more warnings`];
}


export interface AuditReport {
  format: typeof AUDIT_REPORT_FORMAT;
  version: typeof AUDIT_REPORT_VERSION;
  run: AuditRun;
  summary: AuditSummary;
  results: AttestationResult[];
}

/** The report as text chunks (concatenated, they are one JSON document). */
export function* auditReportJsonChunks(run: AuditRun, summary: AuditSummary, results: Iterable<AttestationResult>): Generator<string> {
  yield* auditReportJsonChunksFromLines(run, summary, resultLines(results));
}

function* resultLines(results: Iterable<AttestationResult>): Generator<string> {
  for (const r of results) yield toJsonText(r, 0);
}

/**
 * The same report from results already serialized, one toJsonText(result, 0)
 * each: a fleet audit spools its results to disk as it goes and writes the
 * report from there without parsing them again (as UTF-8 bytes, without
 * decoding them either).
 */
export function* auditReportJsonChunksFromLines<Line extends string | Uint8Array>(run: AuditRun, summary: AuditSummary, resultJson: Iterable<Line>): Generator<string | Line> {
  yield `{"format":${JSON.stringify(AUDIT_REPORT_FORMAT)},"version":${AUDIT_REPORT_VERSION},\n`;
  yield `"run":${toJsonText(run, 0)},\n`;
  yield `"summary":${toJsonText(summary, 0)},\n`;
  yield '"results":[';
  let first = true;
  for (const line of resultJson) {
    yield first ? '\n' : ',\n';
    yield line;
    first = false;
  }
  yield '\n]}\n';
}

export function renderAuditReportJson(run: AuditRun, summary: AuditSummary, results: Iterable<AttestationResult>): string {
  return [...auditReportJsonChunks(run, summary, results)].join('');
}
