// One check's outcome, the unit every result is made of (quote checks, replay,
// certificate path, binding, policy rules). Reports list them so a user sees
// exactly which checks ran, which passed and why one failed.

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  /** stable identifier, dotted: "quote.signature", "eventlog.replay.sha256.0" */
  id: string;
  status: CheckStatus;
  /** the error code when status is fail (or warn) */
  code?: string;
  /** one line for people */
  message: string;
  expected?: unknown;
  actual?: unknown;
}

export function pass(id: string, message: string, extra: Partial<CheckResult> = {}): CheckResult {
  return { id, status: 'pass', message, ...extra };
}

export function fail(id: string, code: string, message: string, extra: Partial<CheckResult> = {}): CheckResult {
  return { id, status: 'fail', code, message, ...extra };
}
