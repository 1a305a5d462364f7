// Errors of the state store. Every failure to use the state file is a
// `transport` error (exit 3: could not complete), never a verdict: a verifier
// that cannot remember must not pretend the evidence was judged. The one
// exception is a missing file where a command only reads one (exit 2).

import { InternalError, TransportError, UsageError, VtpmError, type CodeTable } from '../errors.js';

export const STATE_ERROR_CODES = {
  STATE_NOT_FOUND: { kind: 'input', summary: 'no state file, or an empty one, at the given or default path (nothing recorded yet, or a wrong --state)' },
  STATE_UNWRITABLE: { kind: 'transport', summary: 'the state file or its folder cannot be created or written (permissions, read-only file system), or the state file is not a regular file (a folder, a FIFO, a device)' },
  STATE_CORRUPT: { kind: 'transport', summary: 'the state file is not an SQLite database or is damaged' },
  STATE_FOREIGN_FILE: { kind: 'transport', summary: 'the state file is an SQLite database of another application, not a vtpm-verify state file' },
  STATE_SCHEMA_TOO_NEW: { kind: 'transport', summary: 'the state file was written by a newer vtpm-verify (a later schema version): upgrade vtpm-verify' },
  STATE_BUSY: { kind: 'transport', summary: 'another process held the state file locked for longer than the busy timeout' },
  STATE_IO_ERROR: { kind: 'transport', summary: 'reading or writing the state file failed (I/O error, disk full)' },
  STATE_WRITE_REFUSED: { kind: 'transport', summary: 'a trigger in the state file refused a write, or the file holds one that could change or drop writes silently (vtpm-verify creates no triggers: someone added it)' },
  STATE_RUN_NOT_FOUND: { kind: 'input', summary: 'history --run names an audit run the state file does not hold (history --runs lists them; prune may have removed it)' },
  STATE_TOO_LARGE: { kind: 'input', summary: 'the history results asked for hold more result text than one command reads at once (256 MiB): ask for fewer (--limit, --since, --run)' },
} as const satisfies CodeTable;

interface SqliteLikeError {
  code: string;
  message: string;
}

function isSqliteError(err: unknown): err is SqliteLikeError {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

/** Turns anything SQLite throws into a typed STATE_* error naming the file. */
export function stateError(err: unknown, path: string, operation: string): VtpmError {
  if (err instanceof VtpmError) return err;
  if (!isSqliteError(err)) return new InternalError(`state: ${operation}: ${err instanceof Error ? err.message : String(err)}`, { path }, { cause: err });
  const details = { path, operation, sqlite: err.code };
  const code = err.code;
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new TransportError('STATE_CORRUPT', `state file ${path} is not a vtpm-verify state database or is damaged (${err.message}); move it aside to start afresh`, details, { cause: err });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new TransportError('STATE_BUSY', `state file ${path} stayed locked by another process beyond the busy timeout (${operation})`, details, { cause: err });
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return new TransportError('STATE_UNWRITABLE', `state file ${path} cannot be opened for writing: ${err.message}`, details, { cause: err });
  }
  if (code === 'SQLITE_CONSTRAINT_TRIGGER') {
    // RAISE() in a trigger: the schema vtpm-verify creates has none, so a trigger someone added refused the write
    return new TransportError('STATE_WRITE_REFUSED', `state file ${path}: ${operation} was refused by a trigger in the file (${err.message}); vtpm-verify creates no triggers`, details, { cause: err });
  }
  if (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISUSE' || code === 'SQLITE_ERROR' || code === 'SQLITE_RANGE') {
    // our own SQL or data broke an invariant
    return new InternalError(`state: ${operation}: ${err.message}`, details, { cause: err });
  }
  return new TransportError('STATE_IO_ERROR', `state file ${path}: ${operation} failed: ${err.message}`, details, { cause: err });
}

export function stateNotFound(path: string, why?: 'is empty'): UsageError {
  const what = why ? `state file ${path} ${why}` : `no state file at ${path}`;
  return new UsageError('STATE_NOT_FOUND', `${what}: nothing was recorded there yet (run attest, watch or audit with --state), or pass the right --state FILE`, { path, ...(why && { empty: true }) });
}
