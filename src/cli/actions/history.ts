// Implementation of `vtpm-verify history`: reads results (and, for one
// instance, its hosting periods and last clock readings) from the state file;
// with --runs, the fleet audits recorded there, each with its counts and the
// VMs whose verdict changed since the run before.

import { resolve } from 'node:path';
import { EXIT_CODES, UsageError } from '../../errors.js';
import { changeMark, terminalSafe } from '../../report/format.js';
import { changeCountParts, changesByKind } from '../../state/run-changes.js';
import { MAX_HISTORY_LIMIT, openState, resolveStatePath, type AuditRunSummary, type HistoryEntry, type IdentitySummary, type StaySummary } from '../../state/index.js';
import { utcTime } from '../../util/utc-time.js';
import type { CommandOutcome, Style } from '../output.js';

export interface HistoryOptions {
  state?: string | undefined;
  instance?: string | undefined;
  since?: string | undefined;
  limit: string;
  /** list audit runs instead of results */
  runs?: boolean | undefined;
  /** only the results of this audit run (its id, as --runs lists it) */
  run?: string | undefined;
  /** with --runs: only the runs of this inventory file */
  inventory?: string | undefined;
  verbose: boolean;
  /** the stored results are shown (--json, and --verbose, whose finding messages are in them): when false they are not read */
  results?: boolean | undefined;
  /** ms since the epoch, for relative --since; default Date.now() */
  now?: number;
}

export interface HistoryResult {
  stateFile: string;
  filter: { instance: string | null; since: string | null; limit: number; run?: number };
  count: number;
  entries: HistoryEntry[];
  /** with --instance: where the matching instances were seen hosted */
  stays?: StaySummary[];
  /** with --instance: the last verified clock reading per instance and AK */
  readings?: IdentitySummary[];
}

/** `history --runs`: audit runs, newest first. */
export interface AuditRunsResult {
  stateFile: string;
  filter: { since: string | null; inventory: string | null; limit: number };
  count: number;
  runs: AuditRunSummary[];
}

/** Changed VMs listed under each run on a terminal (all of them, up to the stored list, with --verbose). */
const CHANGES_SHOWN = 10;

const AGE_UNITS_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** --since: an ISO 8601 date/time or an age such as 30m, 24h, 7d. */
export function parseSince(text: string, now: number): number {
  const age = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  // 999999999w is before any time a Date can hold: the epoch is as early as any record can be
  if (age) return Math.max(0, now - Number(age[1]) * AGE_UNITS_MS[age[2]!]!);
  const date = /^(\d{4})-(\d{2})-(\d{2})([T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(text.trim());
  // history prints times in UTC, so a time given without a zone is UTC too (Date.parse would read it as local time)
  const iso = date ? `${date[1]}-${date[2]}-${date[3]}${(date[4] ?? '').replace(' ', 'T')}${date[4] && !date[8] ? 'Z' : ''}` : '';
  let ms = date ? Date.parse(iso) : NaN;
  // Date.parse rolls 2026-02-30 over to March 2 and T24:00:00 to the next day: a day or time that does not exist is a typo
  if (date && Number.isNaN(utcTime(Number(date[1]), Number(date[2]), Number(date[3]), Number(date[5] ?? 0), Number(date[6] ?? 0), Number(date[7] ?? 0)))) ms = NaN;
  if (Number.isNaN(ms)) {
    throw new UsageError('USAGE', `--since: expected an ISO 8601 time (2026-11-26T12:00:00Z) or an age (90s, 30m, 24h, 7d, 2w), got "${text}"`, { option: 'since', value: text });
  }
  return ms;
}

function parseLimit(text: string): number {
  const n = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_HISTORY_LIMIT)) {
    throw new UsageError('USAGE', `--limit: expected a whole number from 1 to ${MAX_HISTORY_LIMIT}, got "${text}"`, { option: 'limit', value: text });
  }
  return n;
}

function parseInstance(text: string): string {
  const t = text.trim().toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(t)) {
    throw new UsageError('USAGE', `--instance: expected an instance id or a prefix of it (hex, up to 64 digits), got "${text}"`, { option: 'instance', value: text });
  }
  return t;
}

function parseRun(text: string): number {
  const n = /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(Number.isSafeInteger(n) && n >= 1)) {
    throw new UsageError('USAGE', `--run: expected an audit run id (a whole number, as history --runs lists them), got "${text}"`, { option: 'run', value: text });
  }
  return n;
}

export async function runHistory(opts: HistoryOptions): Promise<CommandOutcome> {
  const limit = parseLimit(opts.limit);
  const instance = opts.instance === undefined ? undefined : parseInstance(opts.instance);
  const since = opts.since === undefined ? undefined : parseSince(opts.since, opts.now ?? Date.now());
  const run = opts.run === undefined ? undefined : parseRun(opts.run);
  if (opts.runs && (instance !== undefined || run !== undefined)) {
    throw new UsageError('USAGE', '--runs lists audit runs: it does not combine with --instance or --run (use --run ID to see one run\'s results)', { option: 'runs' });
  }
  if (opts.inventory !== undefined && !opts.runs) throw new UsageError('USAGE', '--inventory selects audit runs: use it with --runs', { option: 'inventory' });
  // runs record their inventory by its absolute path, as the audit resolved it
  const inventory = opts.inventory === undefined ? undefined : resolve(opts.inventory);
  const stateFile = resolveStatePath(opts.state);

  const store = await openState(stateFile, { create: false, readOnly: true });
  if (opts.runs) {
    let runs: AuditRunsResult;
    try {
      const list = store.auditRuns({ ...(since !== undefined && { since }), ...(inventory !== undefined && { inventory }), limit });
      runs = { stateFile, filter: { since: since === undefined ? null : new Date(since).toISOString(), inventory: inventory ?? null, limit }, count: list.length, runs: list };
    } finally {
      store.close();
    }
    return { ok: true, exitCode: EXIT_CODES.OK, result: runs, human: (style) => renderRuns(runs, style, opts.verbose) };
  }
  let result: HistoryResult;
  try {
    if (run !== undefined && !store.auditRun(run)) {
      throw new UsageError('STATE_RUN_NOT_FOUND', `no audit run ${run} in ${stateFile}: history --runs lists the runs it holds (prune removes old ones)`, { path: stateFile, run });
    }
    const entries = store.history({ ...(instance && { instance }), ...(since !== undefined && { since }), ...(run !== undefined && { run }), limit }, { results: opts.results !== false });
    result = {
      stateFile,
      filter: { instance: instance ?? null, since: since === undefined ? null : new Date(since).toISOString(), limit, ...(run !== undefined && { run }) },
      count: entries.length,
      entries,
    };
    if (instance) {
      const readings = store.identities(instance);
      const ids = [...new Set([...readings.map((r) => r.instanceId), ...entries.flatMap((e) => (e.instanceId ? [e.instanceId] : []))])];
      result.readings = readings;
      result.stays = ids.flatMap((id) => store.stays(id));
    }
  } finally {
    store.close();
  }
  return { ok: true, exitCode: EXIT_CODES.OK, result, human: (style) => renderHistory(result, style, opts.verbose) };
}

/** An AK Name or instance id for a table cell: the TPM_ALG prefix of a Name dropped, 8 hex digits kept. */
function shortHex(hex: string): string {
  const body = /^(0004|000b|000c|000d|0012)[0-9a-f]{40,}$/.test(hex) ? hex.slice(4) : hex;
  return body.length > 8 ? `${body.slice(0, 8)}…` : body;
}

function shortPath(path: readonly string[] | null): string {
  if (!path || path.length === 0) return '-';
  return path.map(shortHex).join(' > ');
}

function humanTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d{3}Z$/, '');
}

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The message of a stored finding, looked up in the stored result it came from: a state finding
 * or source check among result.findings (same id and code), a failed check on its layer. The
 * result was read back from the file and may be anything JSON: whatever does not fit gives none.
 */
function messageInResult(result: unknown, finding: unknown): string | undefined {
  if (!isObject(result) || !isObject(finding)) return undefined;
  const { code, id, layer } = finding;
  const same = (c: unknown): c is Loose => isObject(c) && c['code'] === code && c['id'] === id && typeof c['message'] === 'string';
  let found: Loose | undefined;
  if (typeof layer === 'number') {
    const layers = Array.isArray(result['layers']) ? result['layers'] : [];
    const l = layers.find((x): x is Loose => isObject(x) && x['position'] === layer);
    const checks = l && Array.isArray(l['checks']) ? l['checks'] : [];
    found = checks.find(same);
  } else {
    found = (Array.isArray(result['findings']) ? result['findings'] : []).find(same);
  }
  return found ? (found['message'] as string) : undefined;
}

function findingCodes(findings: unknown[]): string[] {
  return findings.flatMap((f) => (f && typeof f === 'object' && typeof (f as { code?: unknown }).code === 'string' ? [(f as { code: string }).code] : []));
}

function table(cells: string[][], color: ((row: number, col: number, text: string) => string) | undefined): string[] {
  // every cell comes from the state file, which another program may have written: escaped, whatever it is
  const rows = cells.map((r) => r.map((c) => terminalSafe(c)));
  // a loop, not Math.max(...): --limit allows 100,000 rows, near the engine's limit on arguments
  const widths = rows[0]!.map((_, i) => rows.reduce((w, r) => Math.max(w, [...(r[i] ?? '')].length), 0));
  return rows.map((r, ri) =>
    r
      .map((cell, ci) => {
        const padded = ci === r.length - 1 ? cell : cell + ' '.repeat(widths[ci]! - [...cell].length);
        return color ? color(ri, ci, padded) : padded;
      })
      .join('  ')
      .trimEnd(),
  );
}

export function renderHistory(result: HistoryResult, style: Style, verbose: boolean): string {
  const out: string[] = [];
  const what = (result.filter.instance ? ` for instance ${result.filter.instance}…` : '') + (result.filter.run !== undefined ? ` of audit run ${result.filter.run}` : '');
  out.push(style.dim(`State file ${result.stateFile}: ${result.count} result(s)${what}, newest first`));
  if (result.count === 0) {
    out.push('No attestation results recorded' + (result.filter.since ? ` since ${result.filter.since}` : '') + '.');
  } else {
    const rows = [['TIME (UTC)', 'VERDICT', 'INSTANCE', 'PLATFORM', 'TARGET', 'FINDINGS']];
    for (const e of result.entries) {
      const codes = findingCodes(e.findings);
      rows.push([humanTime(e.time), e.verdict, e.instanceId ? shortHex(e.instanceId) : '-', shortPath(e.platformPath), terminalSafe(e.target), codes.length ? terminalSafe(codes.join(', ')) : '-']);
    }
    const lines = table(rows, (ri, ci, text) => {
      if (ri === 0) return style.bold(text);
      if (ci === 1) {
        const v = result.entries[ri - 1]!.verdict;
        return v === 'trusted' ? style.ok(text) : v === 'not-trusted' ? style.bad(text) : style.warn(text);
      }
      if (ci === 5 && text.trim() !== '-') return style.code(text);
      return text;
    });
    out.push(lines[0]!);
    result.entries.forEach((e, i) => {
      out.push(lines[i + 1]!);
      if (!verbose) return;
      for (const f of e.findings) {
        const code = findingCodes([f])[0];
        // a finding read back from the file may be anything JSON (null, a number); attest, watch
        // and audit store {code, id, status} or {layer, code, id}: the message is in the stored result
        const own = typeof f === 'object' && f !== null ? (f as { message?: unknown }).message : undefined;
        const message = typeof own === 'string' ? own : messageInResult(e.result, f);
        if (code) out.push(`    ${style.code(terminalSafe(code))}: ${typeof message === 'string' ? terminalSafe(message) : ''}`);
      }
    });
  }
  if (result.stays) {
    out.push('', style.bold('Hosting periods (first to last evidence of hosting):'));
    if (result.stays.length === 0) out.push('  none recorded');
    for (const s of result.stays) {
      const closed = s.closedAt ? `, left ${humanTime(s.closedAt)}` : '';
      out.push(terminalSafe(`  ${shortHex(s.instanceId)}  ${shortPath(s.platformPath)}  ${humanTime(s.from)} to ${humanTime(s.to)}`) + closed);
    }
  }
  if (result.readings) {
    out.push('', style.bold('Last verified clock readings:'));
    if (result.readings.length === 0) out.push('  none recorded');
    for (const r of result.readings) {
      const l = r.last;
      const histories = r.histories > 1 ? style.warn(`, ${r.histories} clock histories`) : '';
      out.push(
        `  ${terminalSafe(shortHex(r.instanceId))} AK ${terminalSafe(shortHex(r.akName))}  clock ${l.clock} resetCount ${l.resetCount} restartCount ${l.restartCount} safe ${l.safe ? 'yes' : style.warn('no')}  ` +
          `seen ${humanTime(l.time)} on ${shortPath(l.platformPath)} (${r.readings} reading(s)${histories})`,
      );
    }
  }
  return out.join('\n');
}

function runExit(r: AuditRunSummary): string {
  if (r.finishedAt === null) return 'unfinished';
  return r.interrupted ? `${r.exitCode} (${r.interrupted})` : String(r.exitCode);
}

function sinceText(r: AuditRunSummary): string {
  const d = r.since;
  if (!d) return 'first run';
  const parts = changeCountParts(d, true);
  return `${parts.length ? parts.join(', ') : 'no change'} (since run ${d.runId})`;
}

export function renderRuns(result: AuditRunsResult, style: Style, verbose: boolean): string {
  const out: string[] = [style.dim(`State file ${result.stateFile}: ${result.count} audit run(s), newest first`)];
  if (result.count === 0) {
    out.push('No audit runs recorded' + (result.filter.inventory ? ` of ${terminalSafe(result.filter.inventory)}` : '') + (result.filter.since ? ` since ${result.filter.since}` : '') + ' (audit --state records them).');
    return out.join('\n');
  }
  // a LABEL column only when some run has a label (most fleets never set one)
  const labelled = result.runs.some((r) => r.label !== null);
  const at = labelled ? 1 : 0;
  const rows = [['RUN', 'STARTED (UTC)', 'INVENTORY', 'SHARD', ...(labelled ? ['LABEL'] : []), 'VMS', 'TRUSTED', 'NOT TRUSTED', 'UNREACHABLE', 'EXIT', 'FAILURE CODES', 'SINCE THE RUN BEFORE']];
  for (const r of result.runs) {
    const codes = r.failureCodes ? r.failureCodes.slice(0, 3).map((c) => `${c.code}×${c.count}`).join(', ') + (r.failureCodes.length > 3 ? ', …' : '') : '';
    rows.push([
      String(r.id),
      humanTime(r.startedAt),
      terminalSafe(r.inventory),
      r.shard ?? '-',
      ...(labelled ? [r.label === null ? '-' : terminalSafe(r.label)] : []),
      r.recorded === r.planned ? String(r.recorded) : `${r.recorded}/${r.planned}`,
      String(r.trusted),
      String(r.notTrusted),
      String(r.unreachable),
      runExit(r),
      codes || '-',
      sinceText(r),
    ]);
  }
  const lines = table(rows, (ri, ci, text) => {
    if (ri === 0) return style.bold(text);
    const r = result.runs[ri - 1]!;
    if (ci === 6 + at && r.notTrusted > 0) return style.bad(text);
    if (ci === 7 + at && r.unreachable > 0) return style.warn(text);
    if (ci === 8 + at) return r.finishedAt === null || r.interrupted ? style.warn(text) : text;
    if (ci === 10 + at && (r.since?.worse ?? 0) > 0) return style.bad(text);
    return text;
  });
  out.push(lines[0]!);
  result.runs.forEach((r, i) => {
    out.push(lines[i + 1]!);
    const changes = changesByKind(r.since?.changes ?? []);
    const shown = verbose ? changes : changes.slice(0, CHANGES_SHOWN);
    for (const c of shown) {
      out.push(`    ${changeMark(c, style)}  ${terminalSafe(c.target)}  ${terminalSafe(c.before)} → ${terminalSafe(c.now)}`);
    }
    const more = (r.since ? r.since.worse + r.since.better + r.since.other : 0) - shown.length;
    if (more > 0) out.push(style.dim(`    … ${more} more (history --run ${r.id} lists the run's results${verbose ? '' : '; --verbose lists up to 100 changes'})`));
  });
  return out.join('\n');
}
