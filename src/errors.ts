// Typed errors with stable codes. The codes are public API: they appear in
// --json envelopes, in EAR results and in README's table, so never rename one.
//
// Each error has a kind, and the kind alone decides the process exit code
// (see EXIT_CODES): callers never pick exit codes ad hoc.

export type ErrorKind =
  /** bad usage, unreadable or malformed input: exit 2 */
  | 'input'
  /** the evidence was processed and a check failed: exit 1 */
  | 'verification'
  /** could not complete: network, I/O, timeouts: exit 3 */
  | 'transport'
  /** a bug in vtpm-verify: exit 3, with a request to report it */
  | 'internal';

export const EXIT_CODES = {
  /** every check passed: trusted / valid */
  OK: 0,
  /** verified, but not trusted or not valid */
  NOT_TRUSTED: 1,
  /** bad usage or input */
  BAD_INPUT: 2,
  /** could not complete (network, I/O) */
  INCOMPLETE: 3,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export function exitCodeForKind(kind: ErrorKind): ExitCode {
  switch (kind) {
    case 'input':
      return EXIT_CODES.BAD_INPUT;
    case 'verification':
      return EXIT_CODES.NOT_TRUSTED;
    case 'transport':
    case 'internal':
      return EXIT_CODES.INCOMPLETE;
  }
}

export type ErrorDetails = Record<string, unknown>;

export class VtpmError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details: ErrorDetails;

  constructor(kind: ErrorKind, code: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.code = code;
    this.details = details;
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** The `error` member of the --json envelope. */
  toJSON(): { code: string; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Malformed bytes or text: truncated, trailing data, bad values, over a cap. */
export class ParseError extends VtpmError {
  constructor(code: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super('input', code, message, details, options);
  }
}

/** Bad command-line usage or an unusable argument or file. */
export class UsageError extends VtpmError {
  constructor(code: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super('input', code, message, details, options);
  }
}

/** A check over well-formed evidence failed. */
export class VerificationError extends VtpmError {
  constructor(code: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super('verification', code, message, details, options);
  }
}

/** Network or I/O trouble: the verification could not complete. */
export class TransportError extends VtpmError {
  constructor(code: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super('transport', code, message, details, options);
  }
}

/** A bug: an invariant of our own code broke. */
export class InternalError extends VtpmError {
  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super('internal', 'INTERNAL_ERROR', message, details, options);
  }
}

/**
 * Turns anything thrown into a VtpmError. Raw exceptions from libraries
 * (RangeError, TypeError, ...) become INTERNAL_ERROR: every expected failure
 * must already be typed where it happens.
 */
export function asVtpmError(err: unknown): VtpmError {
  if (err instanceof VtpmError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(`unexpected error: ${message}`, {}, { cause: err });
}

/** One entry of a module's code table, used for README and --help. */
export interface CodeInfo {
  kind: ErrorKind;
  summary: string;
}

export type CodeTable = Record<string, CodeInfo>;

export const GENERAL_CODES = {
  INTERNAL_ERROR: { kind: 'internal', summary: 'a bug in vtpm-verify; please report it with the command and input (`details.uncaught: true`: one nothing caught, the launcher writing its envelope in place of the command envelope)' },
  USAGE: { kind: 'input', summary: 'bad command-line usage: unknown option, missing or malformed argument' },
  FILE_UNREADABLE: { kind: 'input', summary: 'an input file does not exist or cannot be read' },
  FILE_TOO_LARGE: { kind: 'input', summary: 'an input file is larger than the cap for its kind, or (verify, policy init --from, policy evaluate) an evidence bundle or facts file does not fit the memory node may use' },
  HEX_INVALID: { kind: 'input', summary: 'a hex argument or field is not valid hex' },
  JSON_INVALID: { kind: 'input', summary: 'a JSON input is not valid JSON or has the wrong shape' },
  BASE64_INVALID: { kind: 'input', summary: 'a base64 field is not valid base64' },
  IO_ERROR: { kind: 'transport', summary: 'an I/O operation failed (writing output, reading state)' },
  INTERRUPTED: { kind: 'transport', summary: 'SIGINT or SIGTERM stopped a command before it finished (watch, audit and simulate handle signals their own way)' },
} as const satisfies CodeTable;
