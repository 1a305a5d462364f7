// Entry point of the vtpm-verify command. It only parses arguments: every
// command lives in commands/<name>.ts, whose implementation is imported lazily
// so start-up stays lean. Exit codes are decided here and nowhere else.

import { Command, CommanderError, Option } from 'commander';
import { EXIT_CODES, TransportError, UsageError, asVtpmError, exitCodeForKind, type ExitCode, type VtpmError } from '../errors.js';
import { printOutcome, setEnvelopeOwed, type CommandOutcome } from './output.js';
import { COMMANDS } from './commands/index.js';
import type { GlobalOptions, Runner } from './command.js';
import { VERSION } from './version.js';

export { VERSION };

/**
 * Commands whose --json output is JSON lines (watch: a line per event, then the envelope; simulate: its
 * envelope once it listens, read as a line by the process that started it): their envelope is one line whatever ends them, a usage error or a failure
 * before they start included, so a reader taking stdout line by line never meets a pretty-printed one.
 */
const JSON_LINE_COMMANDS: ReadonlySet<string> = new Set(['watch', 'simulate']);

/** Whether argv (from the command's name on) runs a command whose --json output is JSON lines. */
export function jsonLineCommand(argv: readonly string[]): boolean {
  return argv[0] !== undefined && JSON_LINE_COMMANDS.has(argv[0]);
}

export function buildProgram(onExit: (code: ExitCode) => void, argv: readonly string[] = []): Command {
  const program = new Command();
  program
    .name('vtpm-verify')
    .description('Remote Challenger for virtualized trusted platforms: verifies TPM 2.0 quotes, event logs, certificate chains and deep attestation down to the physical TPM.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Exit codes:
  0  trusted / valid
  1  verified, but not trusted or not valid
  2  bad usage or input
  3  could not complete (network, I/O)

Example:
  $ vtpm-verify demo
  $ vtpm-verify quote --ak ak.pub --message quote.msg --signature quote.sig --nonce 9f86d081884c7d65 --pcrs quote.pcrs`,
    );

  const jsonLine = jsonLineCommand(argv);
  const runner: Runner = async (globals, run) => {
    const stopInterrupted = onInterrupt({ ...globals, jsonLine });
    setEnvelopeOwed(globals.json === true);
    let outcome: CommandOutcome;
    try {
      outcome = await run();
    } catch (err) {
      const e = asVtpmError(err);
      outcome = { ok: false, exitCode: exitCodeForKind(e.kind), result: null, error: e };
    } finally {
      stopInterrupted();
    }
    // `--timeout --json`: commander took --json as the timeout's value, which is then bad usage (the error
    // quotes it as the value); the user asked for JSON all the same. Not any --json in argv: `audit --json FILE`
    // names a report, and its usage errors stay on stderr.
    const json = globals.json || (outcome.error?.code === 'USAGE' && outcome.error.details['value'] === '--json');
    // from here the envelope printed is the command's own (a bug while it is written must not add a second)
    setEnvelopeOwed(false);
    await printOutcome(outcome, json ? { ...globals, json, color: false, jsonLine } : globals);
    onExit(outcome.exitCode);
  };

  // Running one command defines only that one: defining all twelve (options,
  // help texts) is a measurable share of start-up. Root help, `help CMD`, an
  // unknown command or options before the command still see every command.
  const only = COMMANDS.find(([name]) => name === argv[0]);
  for (const [, define] of only ? [only] : COMMANDS) define(program, runner);
  const given = countOptionsGiven(program);
  preferUnknownOptionErrors(program);
  program.hook('preAction', (_program, command) => {
    for (const warning of repeatedOptionWarnings(command, given.get(command) ?? new Map())) process.stderr.write(`warning: ${warning}\n`);
  });
  return program;
}

/**
 * `quote --ak a --mesage m ...`: Commander checks required options before it
 * looks at unknown ones, so a typo in a required option's name was reported
 * as that option missing, with no word of the typo. An unknown option among
 * the command's arguments is reported first, with Commander's own
 * did-you-mean.
 */
function preferUnknownOptionErrors(root: Command): void {
  const visit = (cmd: Command): void => {
    const patched = cmd as unknown as {
      missingMandatoryOptionValue(option: Option): void;
      unknownOption(flag: string): void;
      parseOptions(args: string[]): { operands: string[]; unknown: string[] };
    };
    // what Commander's own unknown-option check looks at (its parse's `unknown`, which starts at the first unknown
    // option), not cmd.args: those also hold the operands, which may start with '-' (a file name after `--`, -1)
    let unparsed: readonly string[] = [];
    const parseOptions = patched.parseOptions.bind(cmd);
    patched.parseOptions = (args: string[]) => {
      const parsed = parseOptions(args);
      unparsed = parsed.unknown;
      return parsed;
    };
    const missing = patched.missingMandatoryOptionValue.bind(cmd);
    patched.missingMandatoryOptionValue = (option: Option): void => {
      const first = unparsed[0];
      // without its =value, so that Commander can suggest the option meant
      const unknown = first?.split('=', 1)[0];
      if (unknown !== undefined && unknown.startsWith('-') && unknown !== '-' && unknown !== '--' && !isOptionOf(cmd, unknown)) patched.unknownOption(unknown);
      missing(option);
    };
    for (const sub of cmd.commands) visit(sub);
  };
  visit(root);
}

function isOptionOf(cmd: Command, flag: string): boolean {
  for (let c: Command | null = cmd; c; c = c.parent) {
    if (c.options.some((o) => o.long === flag || o.short === flag)) return true;
  }
  return flag === '-h' || flag === '--help';
}

/**
 * How many times each option that takes a value was given, per command, as
 * Commander parses them (its `option:NAME` event): `--opt=value`, `-o value`
 * and `-ovalue` count, a value that looks like an option (`--name --name`)
 * does not, nor does anything after `--`.
 */
function countOptionsGiven(root: Command): Map<Command, Map<string, number>> {
  const counts = new Map<Command, Map<string, number>>();
  const visit = (cmd: Command): void => {
    const mine = new Map<string, number>();
    counts.set(cmd, mine);
    for (const option of cmd.options) {
      if (!(option.required || option.optional) || option.variadic) continue;
      const name = option.name();
      cmd.on(`option:${name}`, () => mine.set(name, (mine.get(name) ?? 0) + 1));
    }
    for (const sub of cmd.commands) visit(sub);
  };
  visit(root);
  return counts;
}

/**
 * An option that takes one value, given more than once: the last one counts,
 * as in most tools, but silently a script's extra arguments (`--policy
 * lab.yaml` appended to a gate's `--policy prod.yaml`) would replace what the
 * command line seemed to say, so it is said on stderr. Options that collect
 * every value (--trust, --ca, ...) and flags are not concerned. `given`: how
 * many times each option (by Commander name) was parsed for `command`.
 */
export function repeatedOptionWarnings(command: Command, given: ReadonlyMap<string, number>): string[] {
  const values = command.opts();
  const warnings: string[] = [];
  for (const option of command.options) {
    if (!(option.required || option.optional) || option.variadic || !option.long) continue;
    const value: unknown = values[option.attributeName()];
    if (Array.isArray(value)) continue;
    const times = given.get(option.name()) ?? 0;
    if (times < 2) continue;
    // an optional value left out (`--json` alone, `--state` alone) is not a value to quote
    const last = typeof value === 'string' && value !== '' ? JSON.stringify(value) : `${option.long} without a value`;
    warnings.push(`${option.long} was given ${times} times: only the last (${last}) is used`);
  }
  return warnings;
}


/**
 * While a command runs, SIGINT and SIGTERM end it with INTERRUPTED (exit 3)
 * and, with --json, its one envelope, instead of node's silent death by the
 * signal. A command that listens for the signal itself (watch, audit,
 * simulate) decides what it means; a second signal ends the process at once.
 * Returns the function that stops listening.
 */
function onInterrupt(globals: GlobalOptions & { jsonLine: boolean }): () => void {
  let interrupted = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(EXIT_CODES.INCOMPLETE);
    // the command's own listeners were added after this one
    if (process.listenerCount(signal) > 1) return;
    interrupted = true;
    const error = new TransportError('INTERRUPTED', `${signal}: stopped before the command finished`, { signal });
    void printOutcome({ ok: false, exitCode: EXIT_CODES.INCOMPLETE, result: null, error }, globals).finally(() => process.exit(EXIT_CODES.INCOMPLETE));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Runs the CLI; resolves to the exit code (the caller sets process.exitCode). */
export async function main(argv: string[]): Promise<ExitCode> {
  let code: ExitCode = EXIT_CODES.OK;
  const program = buildProgram((c) => {
    code = c;
  }, argv);
  const wantsJson = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with exitCode 0 and already printed.
      if (err.exitCode === 0) return EXIT_CODES.OK;
      const misplaced = err.code === 'commander.unknownOption' ? optionBeforeCommand(program, argv) : undefined;
      const hint = misplaced ? `; options go after the command: vtpm-verify ${misplaced.command} ... ${misplaced.option}` : '';
      if (hint) process.stderr.write(`hint: ${hint.slice(2)}\n`);
      const e: VtpmError = new UsageError('USAGE', `${err.message.replace(/^error: /, '')}${hint}`, { commanderCode: err.code, ...(misplaced ? { option: misplaced.option, command: misplaced.command } : {}) });
      if (wantsJson) {
        await printOutcome({ ok: false, exitCode: EXIT_CODES.BAD_INPUT, result: null, error: e }, { json: true, color: false, jsonLine: jsonLineCommand(argv) });
      }
      return EXIT_CODES.BAD_INPUT;
    }
    const e = asVtpmError(err);
    await printOutcome({ ok: false, exitCode: exitCodeForKind(e.kind), result: null, error: e }, { json: wantsJson, color: false, jsonLine: jsonLineCommand(argv) });
    return exitCodeForKind(e.kind);
  }
  return code;
}

/**
 * `vtpm-verify --json attest URL`: Commander reads options before the command as the root's, which has
 * none but --help and --version, so it says only "unknown option". The command it belongs after, when
 * that command has it.
 */
function optionBeforeCommand(program: Command, argv: readonly string[]): { option: string; command: string } | undefined {
  const at = argv.findIndex((a) => !a.startsWith('-'));
  if (at <= 0) return undefined;
  const command = program.commands.find((c) => c.name() === argv[at]);
  const option = argv[0]!.split('=')[0]!;
  if (!command?.options.some((o) => o.long === option || o.short === option)) return undefined;
  return { option, command: command.name() };
}

export { Option };
