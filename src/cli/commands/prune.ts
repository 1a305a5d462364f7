// vtpm-verify prune: bounds the state file of cron-driven audits by deleting
// history results and clock readings older than an age.

import { globalsFrom, withCommonOptions, type CommandDefinition } from '../command.js';
import { withStateOption } from '../state-option.js';

export const pruneCommand: CommandDefinition = (program, runner) => {
  const cmd = program
    .command('prune')
    .description('delete history results and clock readings older than an age from the state file; the last reading of every TPM and the hosting periods, which rollback and clone detection need, are kept')
    .requiredOption('--older-than <age>', 'delete what was recorded before this: an age (90s, 30m, 24h, 7d, 2w) or an ISO 8601 time (2026-11-01T00:00:00Z)')
    .option('--dry-run', 'only count what would be deleted')
    .option('--vacuum', 'then rewrite the file without the freed pages, so it shrinks (needs a moment without other writers; otherwise later writes reuse the pages)');
  withStateOption(cmd);
  withCommonOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Example:
  $ vtpm-verify prune --older-than 30d --state /var/lib/vtpm-verify/audit.db
  Pruned /var/lib/vtpm-verify/audit.db: 412000 result(s) and 1236000 clock reading(s) recorded before 2026-10-27T12:00:00.000Z
  Kept: the last verified reading of 10400 TPM identities and 10450 hosting period(s) (rollback and clone detection need them)

A cron audit can prune as it goes: vtpm-verify audit fleet.yaml --trust ./trust --state audit.db --keep-history 30d

Exit codes: 0 pruned (or counted, with --dry-run), 2 bad option or no state file, 3 state file unusable or busy.`,
  );
  cmd.action((opts: Record<string, unknown>) =>
    runner(globalsFrom(opts), async () => {
      const m = await import('../actions/prune.js');
      return m.runPrune({
        state: opts['state'] as string | undefined,
        olderThan: opts['olderThan'] as string,
        dryRun: opts['dryRun'] === true,
        vacuum: opts['vacuum'] === true,
      });
    }),
  );
};
