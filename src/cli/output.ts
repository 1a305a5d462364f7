// The only place that writes results for people or machines, and the only
// module that uses chalk. With --json, stdout gets exactly one envelope
// {ok, result, error}; human text goes to stdout otherwise; diagnostics
// always go to stderr.

import { EXIT_CODES, TransportError, type ExitCode, type VtpmError } from '../errors.js';
import { terminalSafe, terminalSafeJson } from '../util/terminal-safe.js';

/** What a command returns; the CLI entry point prints it and exits with exitCode. */
export interface CommandOutcome {
  ok: boolean;
  exitCode: ExitCode;
  /** JSON-serializable result (null when the command failed before producing one) */
  result: unknown;
  /** the failure that decided the outcome, if any */
  error?: VtpmError | undefined;
  /** renders the result for a terminal; omitted means a generic rendering */
  human?: ((style: Style) => string) | undefined;
}

/** Appends warnings to the `warnings` list of an envelope's result or error details (made if absent). */
export function appendWarnings(holder: Record<string, unknown>, warnings: readonly string[]): void {
  if (warnings.length === 0) return;
  const had = holder['warnings'];
  holder['warnings'] = [...(Array.isArray(had) ? (had as unknown[]) : []), ...warnings];
}

/** Styling for human output; plain when colors are off. */
export interface Style {
  ok(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
  code(text: string): string;
}

export const PLAIN: Style = {
  ok: (t) => t,
  bad: (t) => t,
  warn: (t) => t,
  dim: (t) => t,
  bold: (t) => t,
  code: (t) => t,
};

export async function makeStyle(color: boolean): Promise<Style> {
  if (!color) return PLAIN;
  const { Chalk } = await import('chalk');
  const c = new Chalk({ level: 1 });
  return {
    ok: (t) => c.green(t),
    bad: (t) => c.red(t),
    warn: (t) => c.yellow(t),
    dim: (t) => c.dim(t),
    bold: (t) => c.bold(t),
    code: (t) => c.cyan(t),
  };
}

/**
 * JSON.stringify that writes bigint as a decimal string and Uint8Array as hex.
 * A Buffer has a toJSON ({type: 'Buffer', data: [...]}) that JSON.stringify
 * calls before the replacer sees the value, so the replacer reads the
 * holder's own property (`this[key]`) to catch Buffers too. What goes to stdout
 * is passed through terminalSafeJson too: JSON leaves C1 controls and bidi characters from the
 * evidence raw, and `--json` is read at a terminal as well as by jq (the parsed value is the same).
 */
export function toJsonText(value: unknown, indent = 2): string {
  return JSON.stringify(
    value,
    function (this: Record<string, unknown>, key: string) {
      return jsonValue(this, key);
    },
    indent,
  );
}

/** Depth up to which jsonChunks writes arrays and objects member by member; deeper values are one toJsonText each. */
const STREAM_DEPTH = 4;

/**
 * toJsonText's exact text, in pieces: arrays and objects near the top are
 * written member by member, so a result whose whole text would be longer
 * than V8's longest string (about 512 MiB: e.g. `eventlog --ima --json` of a
 * 64 MiB list of two million tiny entries) is still printed instead of
 * failing with "Invalid string length".
 */
export function* jsonChunks(value: unknown, indent = 2): Generator<string> {
  yield* chunksOf({ '': value }, '', indent, 0);
}

/** What toJsonText and jsonChunks write for holder[key] (after a toJSON, as JSON.stringify does): the one place for these rules. */
function jsonValue(holder: Record<string, unknown>, key: string): unknown {
  let v = holder[key];
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(key: string): unknown }).toJSON(key);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  return v;
}

function* chunksOf(holder: Record<string, unknown>, key: string, indent: number, depth: number): Generator<string> {
  const v = jsonValue(holder, key);
  if (depth >= STREAM_DEPTH || v === null || typeof v !== 'object') {
    const text = toJsonText(v, indent) as string | undefined; // undefined for undefined, functions and symbols
    if (text === undefined) yield 'null';
    else yield indent > 0 && depth > 0 ? text.replace(/\n/g, `\n${' '.repeat(indent * depth)}`) : text;
    return;
  }
  const nl = indent > 0 ? `\n${' '.repeat(indent * (depth + 1))}` : '';
  const close = indent > 0 ? `\n${' '.repeat(indent * depth)}` : '';
  const obj = v as Record<string, unknown>;
  if (Array.isArray(v)) {
    if (v.length === 0) return yield '[]';
    yield '[';
    for (let i = 0; i < v.length; i++) {
      yield `${i > 0 ? ',' : ''}${nl}`;
      yield* chunksOf(obj, String(i), indent, depth + 1);
    }
    yield `${close}]`;
    return;
  }
  let first = true;
  for (const k of Object.keys(obj)) {
    const member = jsonValue(obj, k);
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    yield `${first ? '{' : ','}${nl}${JSON.stringify(k)}:${indent > 0 ? ' ' : ''}`;
    first = false;
    yield* chunksOf(obj, k, indent, depth + 1);
  }
  yield first ? '{}' : `${close}}`;
}

export function envelope(outcome: CommandOutcome): { ok: boolean; result: unknown; error: ReturnType<VtpmError['toJSON']> | null } {
  return { ok: outcome.ok, result: outcome.result ?? null, error: outcome.error ? outcome.error.toJSON() : null };
}

interface LocatedIssue {
  file: string;
  line: number;
  column: number;
  code: string;
  message: string;
}

function isLocatedIssueList(v: unknown): v is LocatedIssue[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((i: unknown) => {
      const o = i as Record<string, unknown> | null;
      return typeof o === 'object' && o !== null && typeof o['file'] === 'string' && typeof o['line'] === 'number' && typeof o['column'] === 'number' && typeof o['code'] === 'string' && typeof o['message'] === 'string';
    })
  );
}

export function renderError(err: VtpmError, style: Style): string {
  // messages and details quote input (names, file names, parser snippets): never raw to the terminal
  const lines = [`${style.bad('error')} ${style.code(terminalSafe(err.code))}: ${terminalSafe(err.message)}`];
  for (const [key, value] of Object.entries(err.details)) {
    if (value === undefined) continue;
    if (key === 'issues' && isLocatedIssueList(value)) {
      // a file with errors (POLICY_INVALID from attest --policy, ...): one line each, as policy check shows them
      lines.push(`  ${style.dim('issues:')}`);
      for (const i of value) lines.push(`    ${style.dim(terminalSafe(`${i.file}:${i.line}:${i.column}`))} ${style.code(terminalSafe(i.code))} ${terminalSafe(i.message)}`);
      continue;
    }
    const text = typeof value === 'string' ? value : toJsonText(value, 0);
    lines.push(`  ${style.dim(`${terminalSafe(key)}:`)} ${terminalSafe(text)}`);
  }
  if (err.kind === 'internal') lines.push('  This is a bug in vtpm-verify; please report it with the command line and input.');
  return lines.join('\n');
}

export interface PrintOptions {
  json: boolean;
  color: boolean;
  /** every envelope on one line: the command's --json output is JSON lines (watch, simulate), its errors included */
  jsonLine?: boolean;
}

/**
 * Tells the launcher (bin/vtpm-verify.js) whether stdout still owes a `--json` reader its envelope: a bug that
 * throws where nothing catches it then prints an INTERNAL_ERROR envelope there before the process exits 3, so
 * a script parsing stdout reads why instead of nothing. A global symbol: the launcher is CommonJS and loads
 * none of our modules.
 */
export const ENVELOPE_OWED = Symbol.for('vtpm-verify.json-envelope-owed');

export function setEnvelopeOwed(owed: boolean): void {
  (globalThis as Record<symbol, unknown>)[ENVELOPE_OWED] = owed;
}

export async function printOutcome(outcome: CommandOutcome, opts: PrintOptions): Promise<void> {
  // decided before a byte is written: an output that fails meanwhile leaves a failed outcome its code
  decided = outcome.exitCode;
  if (opts.json) {
    // in pieces of about a megabyte: one string of a huge result would exceed V8's string length limit
    // (each piece is whole tokens, so terminalSafeJson sees whole characters)
    let piece = '';
    for (const chunk of jsonChunks(envelope(outcome), opts.jsonLine ? 0 : 2)) {
      piece += chunk;
      if (piece.length >= 1 << 20) {
        await writeOut(terminalSafeJson(piece));
        piece = '';
      }
    }
    await writeOut(`${terminalSafeJson(piece)}\n`);
    return;
  }
  const style = await makeStyle(opts.color);
  if (outcome.human) {
    const text = outcome.human(style);
    if (text) await writeOut(text.endsWith('\n') ? text : `${text}\n`);
  } else if (outcome.result !== null && outcome.result !== undefined) {
    await writeOut(`${terminalSafeJson(toJsonText(outcome.result))}\n`);
  }
  // A failure the human renderer did not explain goes to stderr.
  if (outcome.error && !outcome.human) writeErr(`${renderError(outcome.error, style)}\n`);
}

/** stdout met EPIPE and a command (watch) goes on to its exit code: nothing more can be written. */
let stdoutGone = false;

/** The exit code of the outcome being printed, once printOutcome started. */
let decided: ExitCode | undefined;

/** A write to stdout that failed (a full disk, an I/O error), not a reader that went away. */
let stdoutError: NodeJS.ErrnoException | undefined;

/** Says that stdout's reader went away: later output is dropped instead of waiting for a 'drain' that never comes. */
export function stdoutWentAway(): void {
  stdoutGone = true;
}

/** Whether a command took stdout's going away as its own error (main's EPIPE handler then leaves the exit code to it). */
export function stdoutIsGone(): boolean {
  return stdoutGone;
}

/**
 * The exit code when stdout or stderr failed with `err` (not a reader that went
 * away: main lets the command finish then): IO_ERROR, exit 3, unless the
 * outcome already failed (its code stands), said on stderr.
 */
export function exitCodeAfterOutputError(stream: 'stdout' | 'stderr', err: NodeJS.ErrnoException): ExitCode {
  if (stream === 'stdout') {
    writeErr(`${renderError(outputError(err), PLAIN)}\n`);
  }
  return decided !== undefined && decided !== EXIT_CODES.OK ? decided : EXIT_CODES.INCOMPLETE;
}

/** A write to stderr that failed (not EPIPE): later diagnostics are lost, the command goes on. */
let stderrError: NodeJS.ErrnoException | undefined;

/** Says that stderr cannot be written (a full disk): the command finishes, and exits 3 unless it failed. */
export function stderrFailed(err: NodeJS.ErrnoException): void {
  stderrError ??= err;
}

/** The exit code main returns: `code`, or the one exitCodeAfterOutputError gives when a write to stdout or stderr failed. */
export function exitCodeAfterOutput(code: ExitCode): ExitCode {
  if (!stdoutError && !stderrError) return code;
  decided = code;
  return stdoutError ? exitCodeAfterOutputError('stdout', stdoutError) : exitCodeAfterOutputError('stderr', stderrError!);
}

/** Writes a diagnostic to stderr; stderr to a full disk (a synchronous throw) leaves the exit code to say it. */
function writeErr(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // nothing left to tell it on
  }
}

function outputError(err: NodeJS.ErrnoException): VtpmError {
  return new TransportError('IO_ERROR', `cannot write the output to stdout: ${err.code ?? err.message}`, { stream: 'stdout', cause: err.code ?? err.message }, { cause: err });
}

function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (stdoutGone) return resolve();
    let flushed: boolean;
    try {
      // stdout to a file writes synchronously: a full disk throws here instead of emitting 'error'
      flushed = process.stdout.write(text);
    } catch (err) {
      stdoutError ??= err as NodeJS.ErrnoException;
      stdoutGone = true;
      return resolve();
    }
    if (flushed) return resolve();
    void stdoutDrained().then(resolve);
  });
}

/**
 * Resolves once stdout drained its buffer, or can no longer be written (a
 * reader that goes away meanwhile sends 'error' (EPIPE) or 'close', never
 * 'drain'): then nothing waits for it.
 */
export function stdoutDrained(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.stdout.off('drain', done);
      process.stdout.off('error', done);
      process.stdout.off('close', done);
      resolve();
    };
    process.stdout.on('drain', done);
    process.stdout.on('error', done);
    process.stdout.on('close', done);
  });
}
