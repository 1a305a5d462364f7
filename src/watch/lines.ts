// What `watch` prints: one line per event, as text or (--json) as one JSON
// object per line. The types are the JSON form; render() is the text form.
// Times are ISO 8601 (UTC); hex is lowercase.

import type { Verdict } from '../verify/result.js';
import type { Style } from '../cli/output.js';
import type { SourceStatus } from './source-check.js';
import { terminalSafe } from '../util/terminal-safe.js';

export type Trigger = 'initial' | 'interval' | 'migration';

export interface ErrorLine {
  code: string;
  message: string;
}

export type WatchLine =
  /** an attestation of the VM finished */
  | {
      type: 'attested';
      time: string;
      target: string;
      trigger: Trigger;
      /** the notifications it answers (coalesced) */
      events?: { count: number; firstSeq: number; lastSeq: number };
      verdict: Verdict;
      instance: string | null;
      /** AK key ids of the layers below the VM, hosting layer first */
      platformPath: string[];
      reason: string;
      error?: ErrorLine;
      /** codes of state and source findings that failed or warned */
      findings: string[];
    }
  /** the VM's platform path changed since the last attestation */
  | { type: 'migrated'; time: string; target: string; instance: string | null; fromPath: string[]; toPath: string[]; fromHost: string | null; toHost: string | null; announced: boolean }
  /** a source (or previous) platform was checked */
  | { type: 'source'; time: string; instance: string; source: string; status: SourceStatus; code?: string; message: string; sourceVerdict: Verdict | null; unannounced: boolean }
  /** a rollback or clone finding (or a failed source check) on the VM's result */
  | { type: 'finding'; time: string; instance: string | null; code: string; status: 'fail' | 'warn'; message: string }
  /** a migration notification arrived; what was done with it */
  | { type: 'notification'; time: string; seq: number; instance: string; from: string; to: string; eventTime: string; action: 'attest' | 'queued' | 'coalesced' | 'ignored' | 'noted' }
  /** the notification stream */
  | {
      type: 'stream';
      time: string;
      service: string;
      status: 'subscribing' | 'connected' | 'disconnected' | 'retrying' | 'skipped' | 'ignored' | 'ended' | 'failed';
      resumeAfter?: number | null;
      attempt?: number;
      delayMs?: number;
      seq?: number;
      reason?: string;
      error?: ErrorLine;
    }
  /** the Migration Controller was attested (the policy requires a trusted Migration System) */
  | { type: 'controller'; time: string; service: string; verdict: Verdict; trusted: boolean; reason: string; error?: ErrorLine };

function short(hex: string): string {
  return hex.length > 12 ? `${hex.slice(0, 12)}…` : hex;
}

function path(p: readonly string[]): string {
  return p.length === 0 ? '(none)' : p.map(short).join(' > ');
}

function verdictText(v: Verdict, s: Style): string {
  return v === 'trusted' ? s.ok('trusted') : v === 'not-trusted' ? s.bad('NOT TRUSTED') : s.warn('incomplete');
}

/** Every text of a line made safe for a terminal: targets, URIs, reasons and messages come from servers and notifications. */
function safeLine(line: WatchLine): WatchLine {
  const safe = (v: unknown): unknown =>
    typeof v === 'string' ? terminalSafe(v) : Array.isArray(v) ? v.map(safe) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, safe(x)])) : v;
  return safe(line) as WatchLine;
}

/** The text form of one line (no trailing newline). */
export function renderLine(raw: WatchLine, s: Style): string {
  const line = safeLine(raw);
  const t = s.dim(line.time);
  switch (line.type) {
    case 'attested': {
      const why = line.trigger === 'migration' && line.events
        ? `after ${line.events.count} notification${line.events.count === 1 ? '' : 's'} (seq ${line.events.firstSeq === line.events.lastSeq ? line.events.firstSeq : `${line.events.firstSeq}-${line.events.lastSeq}`})`
        : line.trigger;
      const tail = line.error ? `: ${s.code(line.error.code)}: ${line.error.message}` : '';
      const findings = line.findings.length ? ` findings ${line.findings.map((c) => s.code(c)).join(',')}` : '';
      return `${t} attested ${verdictText(line.verdict, s)} ${line.target} (${why}) platform ${path(line.platformPath)}${findings}${tail}`;
    }
    case 'migrated':
      return `${t} migrated ${line.target} platform ${path(line.fromPath)} → ${path(line.toPath)}${line.fromHost && line.toHost ? ` (${line.fromHost} → ${line.toHost})` : ''}${line.announced ? '' : s.warn(' without a notification')}`;
    case 'source': {
      const status = line.status === 'migrated-out' || line.status === 'moved' ? s.ok(line.status) : line.status === 'not-checked' ? s.warn(line.status) : s.bad(line.status);
      return `${t} source ${line.source} ${status}${line.code ? ` ${s.code(line.code)}` : ''}: ${line.message}`;
    }
    case 'finding':
      return `${t} finding ${line.status === 'fail' ? s.bad('fail') : s.warn('warn')} ${s.code(line.code)}: ${line.message}`;
    case 'notification':
      return `${t} notification seq ${line.seq} ${line.from} → ${line.to} (${line.eventTime}): ${line.action}`;
    case 'stream': {
      const extra =
        line.status === 'connected' || line.status === 'subscribing'
          ? line.resumeAfter != null
            ? ` (resume after seq ${line.resumeAfter})`
            : ' (from the first event)'
          : line.status === 'retrying'
            ? ` in ${line.delayMs} ms (attempt ${line.attempt})`
            : line.status === 'skipped'
              ? ` ${line.reason}${line.seq !== undefined ? ` seq ${line.seq}` : ''}`
              : line.reason
                ? ` ${line.reason}`
                : '';
      const err = line.error ? `: ${s.code(line.error.code)}: ${line.error.message}` : '';
      return `${t} stream ${line.status} ${line.service}${extra}${err}`;
    }
    case 'controller':
      return `${t} controller ${verdictText(line.verdict, s)} ${line.service}${line.trusted ? '' : `: notifications are not acted on${line.error ? ` (${s.code(line.error.code)}: ${line.error.message})` : ''}`}`;
  }
}
