// Findings of the state checks (rollback and clone detection). A finding is
// not a verdict: the policy decides whether each code fails the attestation
// or only warns, and turns it into a CheckResult with toCheckResult().
//
// The codes are public API (policies name them, --json carries them): never
// rename one. They are `verification` kind: when a policy fails on one, the
// exit code is 1 (verified, but not trusted).

import type { CodeTable } from '../errors.js';
import type { CheckResult, CheckStatus } from '../verify/checks.js';

export const STATE_FINDING_CODES = {
  CLOCK_RESET_COUNT_DECREASED: {
    kind: 'verification',
    summary: 'the vTPM resetCount is lower than last seen for this instance and AK: old vTPM state was restored',
  },
  CLOCK_RESTART_COUNT_DECREASED: {
    kind: 'verification',
    summary: 'within one resetCount, the restartCount is lower than last seen: vTPM state was rolled back',
  },
  CLOCK_WENT_BACK: {
    kind: 'verification',
    summary: 'the TPM clock is lower than last seen, within one (resetCount, restartCount) or, with safe = 1, across a TPM Restart (Clock is saved by the TPM2_Shutdown(STATE) it needs): vTPM state was rolled back',
  },
  CLOCK_NOT_SAFE: {
    kind: 'verification',
    summary: 'the quote says clockInfo.safe = 0: the TPM clock may have gone back (power loss or a restore)',
  },
  CLONE_INTERLEAVED_CLOCKS: {
    kind: 'verification',
    summary: 'clock readings of one instance and AK alternate between two histories: two copies of the vTPM are running',
  },
  CLONE_HOSTED_TWICE: {
    kind: 'verification',
    summary: 'the instance was seen hosted by two different platforms at overlapping times: a possible clone',
  },
  CLONE_AK_CONFLICT: {
    kind: 'verification',
    summary: 'the layer quotes with an AK that is not the instance\'s own, on another platform than where the instance runs now: another vTPM claims the instance (a per-host vPlatform CA can certify any instance id)',
  },
  RESTORE_FROM_BACKUP: {
    kind: 'verification',
    summary: 'the vTPM clock or counters went back right after the platform path changed: restored from an old backup',
  },
} as const satisfies CodeTable;

export type StateFindingCode = keyof typeof STATE_FINDING_CODES;

/**
 * What a policy that says nothing about a code should do with it. Only
 * CLOCK_NOT_SAFE defaults to a warning: some vTPMs report safe = 0 after
 * every unclean host shutdown, and the other signals catch a real rollback.
 */
export const DEFAULT_FINDING_STATUS: Record<StateFindingCode, 'fail' | 'warn'> = {
  CLOCK_RESET_COUNT_DECREASED: 'fail',
  CLOCK_RESTART_COUNT_DECREASED: 'fail',
  CLOCK_WENT_BACK: 'fail',
  CLOCK_NOT_SAFE: 'warn',
  CLONE_INTERLEAVED_CLOCKS: 'fail',
  CLONE_HOSTED_TWICE: 'fail',
  CLONE_AK_CONFLICT: 'fail',
  RESTORE_FROM_BACKUP: 'fail',
};

/** One clock reading as findings and history show it (JSON-safe: u64 values as decimal/hex strings). */
export interface ReadingSummary {
  /** TPMS_CLOCK_INFO.clock, u64 milliseconds, decimal */
  clock: string;
  resetCount: number;
  restartCount: number;
  safe: boolean;
  /** TPMS_ATTEST.firmwareVersion, u64, 16 lowercase hex digits */
  firmwareVersion: string;
  /** AK Names of the layers below, from the hosting layer down to the physical platform */
  platformPath: string[];
  /** when the evidence was requested (ISO 8601) */
  time: string;
}

export interface StateFinding {
  code: StateFindingCode;
  /** one line for people */
  message: string;
  instanceId: string;
  /** the AK whose readings were compared (clock findings only) */
  akName?: string;
  /** previous vs current reading, platforms and times: JSON-safe */
  details: Record<string, unknown>;
}

/** Turns a finding into a check of the attestation result, with the status the policy chose. */
export function toCheckResult(finding: StateFinding, status: CheckStatus = DEFAULT_FINDING_STATUS[finding.code]): CheckResult {
  const { previous, current, ...rest } = finding.details as { previous?: unknown; current?: unknown };
  const check: CheckResult = {
    id: `state.${finding.code.toLowerCase()}`,
    status,
    code: finding.code,
    message: finding.message,
  };
  if (previous !== undefined) check.expected = { notBefore: previous, ...rest };
  if (current !== undefined) check.actual = current;
  return check;
}
