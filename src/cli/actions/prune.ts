// Implementation of `vtpm-verify prune` and of audit's --keep-history: the
// cut-off time from an age, then StateStore.prune.

import { EXIT_CODES, UsageError } from '../../errors.js';
import { openState, resolveStatePath, type PruneOutcome } from '../../state/index.js';
import type { CommandOutcome, Style } from '../output.js';
import { parseSince } from './history.js';

export interface PruneOptions {
  state?: string | undefined;
  olderThan: string;
  dryRun: boolean;
  vacuum: boolean;
  /** ms since the epoch, for a relative --older-than; default Date.now() */
  now?: number;
}

export interface PruneResult extends PruneOutcome {
  stateFile: string;
  /** what stays: identities with their last reading, hosting periods */
  kept: { identities: number; stays: number };
  vacuumed: boolean;
}

/** The cut-off of --older-than / --keep-history: rows recorded before it go. Never in the future. */
export function pruneCutoff(text: string, option: string, now: number): number {
  let cutoff: number;
  try {
    cutoff = parseSince(text, now);
  } catch {
    throw new UsageError('USAGE', `--${option}: expected an age (90s, 30m, 24h, 7d, 2w) or an ISO 8601 time (2026-11-01T00:00:00Z), got "${text}"`, { option, value: text });
  }
  if (cutoff > now) {
    throw new UsageError('USAGE', `--${option}: ${new Date(cutoff).toISOString()} is in the future; it would delete every result, including those still being written`, { option, value: text });
  }
  return cutoff;
}

export async function runPrune(opts: PruneOptions): Promise<CommandOutcome> {
  const cutoff = pruneCutoff(opts.olderThan, 'older-than', opts.now ?? Date.now());
  const stateFile = resolveStatePath(opts.state);
  const store = await openState(stateFile, { create: false });
  let result: PruneResult;
  try {
    // a cron job's maintenance step is where damage should surface, before deleting in a file SQLite may misread
    store.checkStructure();
    const pruned = store.prune(cutoff, { dryRun: opts.dryRun });
    // a reader elsewhere can keep the rewritten pages in the WAL: then the file shrinks only later, and we say so
    const vacuumed = opts.vacuum && !opts.dryRun ? store.vacuum() : false;
    if (opts.vacuum && !opts.dryRun && !vacuumed) process.stderr.write('warning: --vacuum: another process was reading the state file, so it has not shrunk yet (it will at a later checkpoint)\n');
    result = { stateFile, ...pruned, kept: store.keptCounts(), vacuumed };
  } finally {
    store.close();
  }
  return { ok: true, exitCode: EXIT_CODES.OK, result, human: (style) => renderPrune(result, style) };
}

export function renderPrune(r: PruneResult, style: Style): string {
  const runs = r.runs > 0 ? `, and ${r.runs} audit run(s) left without results` : '';
  const what = `${r.results} result(s) and ${r.readings} clock reading(s) recorded before ${r.before}${runs}`;
  return [
    r.dryRun ? `Dry run, ${r.stateFile}: would delete ${what}` : `Pruned ${r.stateFile}: ${what}${r.vacuumed ? '; file vacuumed' : ''}`,
    style.dim(`Kept: the last verified reading of ${r.kept.identities} TPM identities and ${r.kept.stays} hosting period(s) (rollback and clone detection need them)`),
  ].join('\n');
}
