// vtpm-verify eventlog FILE [--ima FILE]: decodes and replays a TCG PC Client
// event log (and an IMA list) without a quote. Options only; the work is in
// ../actions/eventlog.ts, imported when the command runs.

import type { Command } from 'commander';
import { globalsFrom, withCommonOptions, type CommandDefinition } from '../command.js';

export const eventlogCommand: CommandDefinition = (program: Command, runner) => {
  const cmd = program
    .command('eventlog')
    .description('decode a TCG PC Client event log (binary_bios_measurements) and replay it to PCR values per bank; with --ima also an IMA measurement list (ASCII or binary). Nothing is verified against a quote here.')
    .argument('<file>', 'the event log: /sys/kernel/security/tpm0/binary_bios_measurements or a copy')
    .option('--ima <file>', 'an IMA list: ascii_runtime_measurements or binary_runtime_measurements');
  withCommonOptions(cmd)
    .addHelpText(
      'after',
      `
Prints every event with its decoded data, then the final PCR values of every bank
(EV_NO_ACTION is never extended; a StartupLocality event sets PCR 0's start). With --ima,
checks each entry's template hash and replays PCR 10 in the sha1 and sha256 banks.
Exit 0 when the files parse (and every IMA template hash verifies), 1 when an IMA
template hash does not, 2 when a file is malformed.

Example:
  $ vtpm-verify eventlog /sys/kernel/security/tpm0/binary_bios_measurements \\
      --ima /sys/kernel/security/ima/ascii_runtime_measurements --json`,
    )
    .action(async (file: string, opts: Record<string, unknown>) => {
      const globals = globalsFrom(opts);
      await runner(globals, async () => {
        const m = await import('../actions/eventlog.js');
        return m.runEventlog({ file, ima: typeof opts['ima'] === 'string' ? opts['ima'] : undefined, verbose: opts['verbose'] === true, json: globals.json });
      });
    });
};
