// What changed between two audit runs of one inventory: the one definition of
// worse, better and other that the state's counts, the audit's summary, the
// HTML report and `history --runs` all use, with how each count is worded.

/** A verdict that changed between two runs of the same inventory and shard. */
export interface VerdictChange {
  target: string;
  before: string;
  now: string;
}

/** The changes since the previous finished run of the same inventory and shard. */
export interface RunChanges {
  /** the run compared with */
  runId: number;
  /** trusted before, not trusted or unreachable now */
  worse: number;
  /** not trusted or unreachable before, trusted now */
  better: number;
  /** between not trusted and unreachable */
  other: number;
  /** VMs with a result now and none in that run, and the reverse */
  added: number;
  gone: number;
  /** the changed VMs, by target, at most MAX_LISTED_CHANGES */
  changes: VerdictChange[];
}

/** Verdict changes listed per run; the counts cover them all. */
export const MAX_LISTED_CHANGES = 100;

export type ChangeKind = 'worse' | 'better' | 'other';

const KIND_ORDER: Record<ChangeKind, number> = { worse: 0, better: 1, other: 2 };

export function changeKind(c: Pick<VerdictChange, 'before' | 'now'>): ChangeKind {
  if (c.before === 'trusted') return 'worse';
  return c.now === 'trusted' ? 'better' : 'other';
}

/** Worse first (what needs looking at), then better, then the rest; by target within each, as stored. */
export function changesByKind(changes: readonly VerdictChange[]): VerdictChange[] {
  return [...changes].sort((a, b) => KIND_ORDER[changeKind(a)] - KIND_ORDER[changeKind(b)]);
}

/** "1 worse", "2 no longer audited", ... for the counts that are not zero; `short` for a table cell. */
export function changeCountParts(d: RunChanges, short = false): string[] {
  const words: [number, string, string][] = [
    [d.worse, 'worse', 'worse'],
    [d.better, 'better', 'better'],
    [d.other, 'changed between not trusted and unreachable', 'changed'],
    [d.added, 'audited for the first time', 'new'],
    [d.gone, 'no longer audited', 'not audited'],
  ];
  return words.flatMap(([n, long, brief]) => (n ? [`${n} ${short ? brief : long}`] : []));
}
