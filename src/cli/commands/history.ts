// vtpm-verify history: what was attested, when, through which platforms, with
// which verdict and findings, read from the state file.

import { globalsFrom, withCommonOptions, type CommandDefinition } from '../command.js';
import { withStateOption } from '../state-option.js';

export const historyCommand: CommandDefinition = (program, runner) => {
  const cmd = program
    .command('history')
    .description('show recorded attestation results: when, which instance, on which platform path, verdict and findings')
    .option('--instance <id>', 'only this vTPM instance (its 64-hex id, or a hex prefix of it); also shows its hosting periods and last clock readings')
    .option('--since <time>', 'only results from this time on: ISO 8601 (2026-11-26T12:00:00Z; without a zone, UTC) or an age (90s, 30m, 24h, 7d, 2w)')
    .option('--limit <n>', 'at most this many results (or runs), newest first', '50')
    .option('--runs', 'list fleet audits (audit --state) instead: counts, exit code, failure codes, and the VMs whose verdict changed since the run before')
    .option('--run <id>', 'only the results of this audit run (its id, as --runs lists it)')
    .option('--inventory <file>', 'with --runs: only the audits of this inventory file');
  withStateOption(cmd);
  withCommonOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Example:
  $ vtpm-verify history --instance 3f2a91c0 --since 24h
  TIME (UTC)           VERDICT      INSTANCE   PLATFORM               TARGET                 FINDINGS
  2026-11-26 12:03:10  not-trusted  3f2a91c0…  1c9e04aa… > 77d0e5f1…  https://web-1.example  CLOCK_WENT_BACK
  2026-11-26 12:00:02  trusted      3f2a91c0…  1c9e04aa… > 77d0e5f1…  https://web-1.example  -
  (then the instance's hosting periods and last verified clock readings)

  $ vtpm-verify history --runs --limit 2
  RUN  STARTED (UTC)        INVENTORY   SHARD  VMS   TRUSTED  NOT TRUSTED  UNREACHABLE  EXIT  FAILURE CODES                                SINCE THE RUN BEFORE
  14   2026-11-27 03:00:02  fleet.yaml  -      1000  997      2            1            3     QUOTE_NONCE_MISMATCH×2, TRANSPORT_TIMEOUT×1  2 worse, 1 better (since run 13)
      worse   https://web-7.example  trusted → not-trusted
      ...
  13   2026-11-27 02:00:01  fleet.yaml  -      1000  998      0            2            3     TRANSPORT_TIMEOUT×2                          no change (since run 12)
  (then \`history --run 14\` lists that run's results)

Results accumulate; \`vtpm-verify prune --older-than 30d\` (or audit --keep-history 30d) keeps the file bounded.

Exit codes: 0 listed (whatever the verdicts), 2 bad option or no state file, 3 state file unusable.`,
  );
  cmd.action((opts: Record<string, unknown>) =>
    runner(globalsFrom(opts), async () => {
      const m = await import('../actions/history.js');
      return m.runHistory({
        state: opts['state'] as string | undefined,
        instance: opts['instance'] as string | undefined,
        since: opts['since'] as string | undefined,
        limit: opts['limit'] as string,
        runs: opts['runs'] === true,
        run: opts['run'] as string | undefined,
        inventory: opts['inventory'] as string | undefined,
        verbose: opts['verbose'] === true,
        // the terminal listing shows the columns stored beside each result: only --json and --verbose read the results
        results: opts['json'] === true || opts['verbose'] === true,
      });
    }),
  );
};
