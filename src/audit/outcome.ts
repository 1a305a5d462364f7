// How an audit ends: its exit code from the verdict counts, and the default
// concurrency. Pure.
//
// Exit codes, most severe first: 1 when any VM is not trusted (whatever else
// happened: a failed verification is a finding someone must act on, and an
// unreachable VM elsewhere must not hide it); else 3 when any VM could not be
// attested after its retries (unless --unreachable-ok); else 0.

import { availableParallelism } from 'node:os';
import { EXIT_CODES, TransportError, VerificationError, type ExitCode, type VtpmError } from '../errors.js';
import type { AuditSummary } from '../report/summary.js';

export function auditExitCode(summary: Pick<AuditSummary, 'notTrusted' | 'unreachable'>, opts: { unreachableOk: boolean }): ExitCode {
  if (summary.notTrusted > 0) return EXIT_CODES.NOT_TRUSTED;
  if (summary.unreachable > 0 && !opts.unreachableOk) return EXIT_CODES.INCOMPLETE;
  return EXIT_CODES.OK;
}

/** The error that goes with a non-zero exit code (the --json envelope's `error`). */
export function auditError(summary: AuditSummary, exitCode: ExitCode): VtpmError | undefined {
  const details = { total: summary.total, trusted: summary.trusted, notTrusted: summary.notTrusted, unreachable: summary.unreachable, failureCodes: summary.failureCodes };
  if (exitCode === EXIT_CODES.NOT_TRUSTED) return new VerificationError('AUDIT_NOT_TRUSTED', `${summary.notTrusted} of ${summary.total} VM(s) not trusted`, details);
  if (exitCode === EXIT_CODES.INCOMPLETE) return new TransportError('AUDIT_UNREACHABLE', `${summary.unreachable} of ${summary.total} VM(s) could not be attested`, details);
  return undefined;
}

/**
 * Attestations wait on the network most of the time and verify on one core:
 * 8 per CPU keeps the CPU busy while requests are out, 64 at most keeps the
 * number of open connections per host moderate.
 */
export function defaultConcurrency(cpus = availableParallelism()): number {
  return Math.min(64, Math.max(8, 8 * cpus));
}
