// Messages between the audit's main thread and its state thread (batch-thread.ts, state-worker.ts).

import { InternalError, ParseError, TransportError, UsageError, VerificationError, VtpmError, type ErrorDetails, type ErrorKind } from '../errors.js';
import type { AssessInput, AssessTimes } from './assess.js';
import type { StateBatcherOptions } from './batch.js';
import type { ResultRecord } from './store.js';

/** What the state thread is started with. */
export interface StateThreadData {
  /** the state file, as the main thread opened it (resolved) */
  path: string;
  /** the file the main thread opened: the thread refuses another one found at the path */
  identity: { dev: bigint; ino: bigint };
  runId: number;
  busyTimeoutMs?: number;
  batch: Pick<StateBatcherOptions, 'maxResults' | 'maxDelayMs' | 'holdMs' | 'yieldMs'>;
}

export type ToStateThread =
  | { type: 'assess'; id: number; at: AssessTimes; input: AssessInput }
  | { type: 'record'; row: ResultRecord; code: string | undefined }
  | { type: 'flush'; id: number }
  | { type: 'close'; id: number };

export type FromStateThread =
  | { type: 'reply'; id: number; value: unknown; error?: undefined }
  | { type: 'reply'; id: number; error: ErrorMessage; value?: undefined }
  /** a record failed (no call waits for it) */
  | { type: 'failed'; error: ErrorMessage }
  /** results whose batch committed, in all */
  | { type: 'stored'; stored: number };

/** A thrown error as it crosses between the threads. */
export interface ErrorMessage {
  /** the VtpmError class, or 'Error' for anything else */
  name: string;
  /** the VtpmError's kind (what decides the exit code) */
  kind: ErrorKind | null;
  code: string;
  message: string;
  details: ErrorDetails;
}

export function errorMessage(err: unknown): ErrorMessage {
  if (err instanceof VtpmError) return { name: err.name, kind: err.kind, code: err.code, message: err.message, details: cloneable(err.details) };
  return { name: 'Error', kind: null, code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err), details: {} };
}

/** Details as plain JSON values (anything else, such as an Error kept as a cause, would not cross the thread boundary). */
function cloneable(details: ErrorDetails): ErrorDetails {
  try {
    return JSON.parse(JSON.stringify(details)) as ErrorDetails;
  } catch {
    return {};
  }
}

/**
 * The same typed error on this side (its kind, and so its exit code; its code, message and details), of the same
 * class where the name is one of errors.ts's (a bundler may rename a class: the kind still decides).
 */
export function errorFrom(m: ErrorMessage): VtpmError {
  if (m.name === 'ParseError' && m.kind === 'input') return new ParseError(m.code, m.message, m.details);
  switch (m.kind) {
    case 'transport':
      return new TransportError(m.code, m.message, m.details);
    case 'input':
      return new UsageError(m.code, m.message, m.details);
    case 'verification':
      return new VerificationError(m.code, m.message, m.details);
    case 'internal':
      return new InternalError(m.message, m.details);
    default:
      return new InternalError(`state thread: unexpected error: ${m.message}`, m.details);
  }
}
