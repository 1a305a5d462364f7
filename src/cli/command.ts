// What every command definition shares: common options, global flags, and the
// runner through which a command's implementation is called.

import type { Command } from 'commander';
import type { CommandOutcome } from './output.js';

export interface GlobalOptions {
  json: boolean;
  color: boolean;
  verbose: boolean;
}

/** What every command definition gets: a way to run its implementation. */
export type Runner = (globals: GlobalOptions, run: () => Promise<CommandOutcome>) => Promise<void>;

export interface CommandDefinition {
  (program: Command, runner: Runner): void;
}

/** The longest a Node timer waits (2^31 - 1 ms, 24.8 days): a longer --timeout would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Adds the options every command shares. */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'print one JSON envelope {ok, result, error} on stdout')
    .option('--no-color', 'plain text output (also when NO_COLOR is set or stdout is not a terminal)')
    .option('-v, --verbose', 'show every check, including those that passed');
}

export function globalsFrom(opts: Record<string, unknown>): GlobalOptions {
  const json = opts['json'] === true;
  const colorWanted = opts['color'] !== false && !process.env['NO_COLOR'] && process.stdout.isTTY === true;
  return { json, color: colorWanted && !json, verbose: opts['verbose'] === true };
}

