// Implementation of `vtpm-verify history`: reads results (and, for one
// instance, its hosting periods and last clock readings) from the state file.

import { EXIT_CODES, UsageError } from '../../errors.js';
import { MAX_HISTORY_LIMIT, openState, resolveStatePath, type HistoryEntry, type IdentitySummary, type StaySummary } from '../../state/index.js';
import type { CommandOutcome, Style } from '../output.js';

export interface HistoryOptions {
  state?: string | undefined;
  instance?: string | undefined;
  since?: string | undefined;
  limit: string;
  verbose: boolean;
  /** ms since the epoch, for relative --since; default Date.now() */
  now?: number;
}

export interface HistoryResult {
  stateFile: string;
  filter: { instance: string | null; since: string | null; limit: number };
  count: number;
  entries: HistoryEntry[];
  /** with --instance: where the matching instances were seen hosted */
  stays?: StaySummary[];
  /** with --instance: the last verified clock reading per instance and AK */
  readings?: IdentitySummary[];
}

const AGE_UNITS_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** --since: an ISO 8601 date/time or an age such as 30m, 24h, 7d. */
export function parseSince(text: string, now: number): number {
  const age = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (age) return now - Number(age[1]) * AGE_UNITS_MS[age[2]!]!;
  const ms = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(text.trim()) ? Date.parse(text.trim()) : NaN;
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

export async function runHistory(opts: HistoryOptions): Promise<CommandOutcome> {
  const limit = parseLimit(opts.limit);
  const instance = opts.instance === undefined ? undefined : parseInstance(opts.instance);
  const since = opts.since === undefined ? undefined : parseSince(opts.since, opts.now ?? Date.now());
  const stateFile = resolveStatePath(opts.state);

  const store = await openState(stateFile, { create: false });
  let result: HistoryResult;
  try {
    const entries = store.history({ ...(instance && { instance }), ...(since !== undefined && { since }), limit });
    result = {
      stateFile,
      filter: { instance: instance ?? null, since: since === undefined ? null : new Date(since).toISOString(), limit },
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

function findingCodes(findings: unknown[]): string[] {
  return findings.flatMap((f) => (f && typeof f === 'object' && typeof (f as { code?: unknown }).code === 'string' ? [(f as { code: string }).code] : []));
}

function table(rows: string[][], color: ((row: number, col: number, text: string) => string) | undefined): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
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
  const what = result.filter.instance ? ` for instance ${result.filter.instance}…` : '';
  out.push(style.dim(`State file ${result.stateFile}: ${result.count} result(s)${what}, newest first`));
  if (result.count === 0) {
    out.push('No attestation results recorded' + (result.filter.since ? ` since ${result.filter.since}` : '') + '.');
  } else {
    const rows = [['TIME (UTC)', 'VERDICT', 'INSTANCE', 'PLATFORM', 'TARGET', 'FINDINGS']];
    for (const e of result.entries) {
      const codes = findingCodes(e.findings);
      rows.push([humanTime(e.time), e.verdict, e.instanceId ? shortHex(e.instanceId) : '-', shortPath(e.platformPath), e.target, codes.length ? codes.join(', ') : '-']);
    }
    const lines = table(rows, (ri, ci, text) => {
      if (ri === 0) return style.bold(text);
      if (ci === 1) {
        const v = result.entries[ri - 1]!.verdict;
        return v === 'trusted' ? style.ok(text) : v === 'untrusted' ? style.bad(text) : style.warn(text);
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
        const message = (f as { message?: unknown }).message;
        if (code) out.push(`    ${style.code(code)}: ${typeof message === 'string' ? message : ''}`);
      }
    });
  }
  if (result.stays) {
    out.push('', style.bold('Hosting periods (first to last evidence of hosting):'));
    if (result.stays.length === 0) out.push('  none recorded');
    for (const s of result.stays) {
      const closed = s.closedAt ? `, left ${humanTime(s.closedAt)}` : '';
      out.push(`  ${shortHex(s.instanceId)}  ${shortPath(s.platformPath)}  ${humanTime(s.from)} to ${humanTime(s.to)}${closed}`);
    }
  }
  if (result.readings) {
    out.push('', style.bold('Last verified clock readings:'));
    if (result.readings.length === 0) out.push('  none recorded');
    for (const r of result.readings) {
      const l = r.last;
      const histories = r.histories > 1 ? style.warn(`, ${r.histories} clock histories`) : '';
      out.push(
        `  ${shortHex(r.instanceId)} AK ${shortHex(r.akName)}  clock ${l.clock} resetCount ${l.resetCount} restartCount ${l.restartCount} safe ${l.safe ? 'yes' : style.warn('no')}  ` +
          `seen ${humanTime(l.time)} on ${shortPath(l.platformPath)} (${r.readings} reading(s)${histories})`,
      );
    }
  }
  return out.join('\n');
}
