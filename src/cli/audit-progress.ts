// Progress of an audit. On a terminal (stdout and stderr both TTYs, no
// --json envelope): a cli-progress bar on stderr, with the counts so far and
// the rate. Otherwise (cron, CI logs): a plain line on stderr every tenth of
// the fleet, so a log shows that the audit is alive and how far it got, and
// how many results the state file holds durably by then.

import type { AttestationResult } from '../verify/result.js';

export interface AuditProgress {
  /** one VM done */
  done(result: AttestationResult): void;
  /** results durably in the state file so far */
  stored(count: number): void;
  stop(): void;
}

export type ProgressMode = 'bar' | 'lines' | 'none';

export function progressMode(opts: { json: boolean; stdoutTty: boolean; stderrTty: boolean }): ProgressMode {
  if (opts.stdoutTty && opts.stderrTty && !opts.json) return 'bar';
  return 'lines';
}

interface Counts {
  trusted: number;
  notTrusted: number;
  unreachable: number;
  stored: number | null;
}

function countsOf(c: Counts): string {
  return `${c.trusted} trusted, ${c.notTrusted} not trusted, ${c.unreachable} unreachable${c.stored !== null ? `; ${c.stored} stored in the state file` : ''}`;
}

export async function startProgress(total: number, mode: ProgressMode, opts: { state: boolean; write?: (line: string) => void }): Promise<AuditProgress> {
  const counts: Counts = { trusted: 0, notTrusted: 0, unreachable: 0, stored: opts.state ? 0 : null };
  const count = (r: AttestationResult): void => {
    if (r.verdict === 'trusted') counts.trusted++;
    else if (r.verdict === 'not-trusted') counts.notTrusted++;
    else counts.unreachable++;
  };
  if (mode === 'none' || total === 0) {
    return { done: count, stored: (n) => void (counts.stored = n), stop: () => undefined };
  }
  if (mode === 'lines') {
    const write = opts.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
    const step = Math.max(1, Math.ceil(total / 10));
    let n = 0;
    return {
      done: (r) => {
        count(r);
        n++;
        if (n % step === 0 || n === total) write(`audit: ${n}/${total} VMs done: ${countsOf(counts)}`);
      },
      stored: (s) => void (counts.stored = s),
      // the last line after the final commit: what the state file holds for good
      stop: () => {
        if (counts.stored !== null) write(`audit: finished ${n}/${total} VMs; ${counts.stored} stored in the state file`);
      },
    };
  }
  const { default: progress } = await import('cli-progress');
  const bar = new progress.SingleBar(
    {
      format: 'audit {bar} {value}/{total} VMs | ✓ {trusted} ✗ {notTrusted} ? {unreachable} | {rate} VMs/s | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      barsize: 30,
      fps: 8,
    },
    progress.Presets.shades_classic,
  );
  const started = performance.now();
  const payload = () => ({ trusted: counts.trusted, notTrusted: counts.notTrusted, unreachable: counts.unreachable });
  bar.start(total, 0, { ...payload(), rate: '0' });
  let n = 0;
  return {
    done: (r) => {
      count(r);
      n++;
      const seconds = (performance.now() - started) / 1000;
      bar.update(n, { ...payload(), rate: seconds > 0 ? (n / seconds).toFixed(0) : '0' });
    },
    stored: (s) => void (counts.stored = s),
    stop: () => bar.stop(),
  };
}
