// Rollback and clone detection from TPM clock readings (protocol section 7).
// PURE: takes the state kept for one (vTPM instance, AK) and the new reading,
// returns findings and the next state. No SQLite, no clock of its own.
//
// The state machine
// -----------------
// A genuine TPM's TPMS_CLOCK_INFO only moves forward in this order:
//   - resetCount never decreases; when it increases (TPM Reset: a reboot, or a
//     field upgrade) restartCount returns to 0, so restartCount is not
//     compared across a reset (Keylime compared restartCount across reboots
//     and rejected every rebooted machine);
//   - within one resetCount, restartCount never decreases;
//   - within one (resetCount, restartCount), clock never goes back (it is only
//     ever set forward, and TPM2_ClockSet refuses values above
//     0xFFFF000000000000, so the u64 clock cannot wrap: no wrap handling);
//   - across a TPM Restart/Resume (restartCount up within one resetCount) the
//     clock does not start over: a Restart needs an orderly TPM2_Shutdown(STATE),
//     which saves Clock (libtpms too; Startup(STATE) after an unorderly stop
//     fails), so a Restart reading with safe = 1 whose clock is lower than
//     the last one is a rollback;
//   - across a TPM Reset (resetCount up) the clock is NOT compared. The spec
//     says Clock survives in NV and an unorderly shutdown shows as safe = 0,
//     but libtpms (swtpm, every QEMU/libvirt vTPM) does not write its state
//     when only Clock changed (Time.c, TimeClockUpdate), so after a crash, a
//     VM killed or a guest reset without TPM2_Shutdown Clock falls back to the
//     last write, possibly hours, and safe is 1 again at once or once Clock
//     passes the next 2^22 ms boundary (libtpms 0.9.2, measured). That is
//     exactly what old state restored and rebooted past the last resetCount
//     looks like, so the clock cannot tell the two apart.
// "b follows a" is that order; a reading that does not follow the last one is
// a regression, reported with the most specific code (reset, restart, clock).
//
// The state is a short list of *lineages*: the last reading (head) of each
// history this identity has shown, the current lineage first. A reading that
// follows the current head extends the best-fitting lineage (the greatest head
// it follows, so a restored copy whose clock catches up with the old history
// is not mistaken for it). A regression that continues an OLDER lineage means
// two histories are alternating: two copies are running
// (A:100, B:50, A:110, B:60 -> CLONE_INTERLEAVED_CLOCKS at B:60). A regression
// that fits no lineage starts a new one; if the platform path changed at that
// step (a migration), it is a restore from an old backup.
//
// False positives avoided, on purpose:
//   - two quotes in the same millisecond: equal clocks follow each other;
//   - concurrent attests of one instance: quote A may be produced before quote
//     B yet recorded after it. A reading whose request started before the last
//     reading's evidence arrived (time <= last.receivedAt) may precede it, so a
//     regression against a concurrent reading is not reported;
//   - obfuscated counters: for AKs outside the endorsement and platform
//     hierarchies the TPM adds a per-AK constant to resetCount and
//     restartCount modulo 2^32 (GCE vTPMs show values like 1045281252).
//     Counters are therefore compared modulo 2^32 (RFC 1982 serial numbers),
//     which is exact for both plain and obfuscated counters, wrap included,
//     and readings are only ever compared within one AK;
//   - firmware upgrades: firmwareVersion is recorded, never compared; an
//     upgrade comes with a TPM Reset, which is accepted. A counter decrease
//     that coincides with a firmware change says so in its details (a
//     TPM2_Clear or a vendor upgrade can zero the counters), but is still
//     reported: a restored backup can carry other firmware too.
//   - safe = 0 is reported on every reading that has it; the policy decides.

import { InternalError } from '../errors.js';
import type { ReadingSummary, StateFinding } from './findings.js';

/** TPMS_CLOCK_INFO as the quote carries it. */
export interface ClockInfo {
  /** u64, milliseconds the TPM has been powered */
  clock: bigint;
  /** u32 (possibly obfuscated) */
  resetCount: number;
  /** u32 (possibly obfuscated) */
  restartCount: number;
  safe: boolean;
}

/** One verified clock reading of a (vTPM instance, AK). */
export interface ClockReading {
  clockInfo: ClockInfo;
  /** TPMS_ATTEST.firmwareVersion, u64 */
  firmwareVersion: bigint;
  /** AK Names (hex) of the layers below, from the hosting layer down to the physical platform */
  platformPath: readonly string[];
  /** ms since the epoch: when the evidence was requested (the nonce made); the quote is later */
  time: number;
  /** ms since the epoch: when the evidence arrived; the quote is earlier. >= time */
  receivedAt: number;
}

/** What is kept per (instance, AK): the heads of its lineages, the current one first. */
export interface ClockState {
  lineages: ClockReading[];
}

export interface ClockAssessment {
  findings: StateFinding[];
  /** the state to keep (the same object when nothing changed) */
  state: ClockState;
  /** the reading this one was compared with (the current lineage's head), if any */
  previous?: ClockReading;
}

export interface ClockIdentity {
  instanceId: string;
  akName: string;
}

/** How many lineages are remembered; the least recently used one is dropped beyond this. */
export const MAX_LINEAGES = 8;

const U32 = 2 ** 32;
const HALF_U32 = 2 ** 31;
const U64_MAX = (1n << 64n) - 1n;

/**
 * How b stands to a, as u32 serial numbers (RFC 1982): 1 after, 0 equal,
 * -1 before. Exact for counters that started anywhere (obfuscated) as long as
 * they moved less than 2^31 between two readings.
 */
export function serialCompare(a: number, b: number): -1 | 0 | 1 {
  const d = (b - a + U32) % U32;
  if (d === 0) return 0;
  return d < HALF_U32 ? 1 : -1;
}

export type Step = 'forward' | 'reset-decreased' | 'restart-decreased' | 'clock-back' | 'clock-back-safe';

/** Whether `cur` can follow `prev` on one genuine TPM, or how it regresses. */
export function step(prev: ClockInfo, cur: ClockInfo): Step {
  const reset = serialCompare(prev.resetCount, cur.resetCount);
  if (reset > 0) return 'forward'; // TPM Reset: libtpms may fall back to its last state write with safe = 1 (see above)
  if (reset < 0) return 'reset-decreased';
  const restart = serialCompare(prev.restartCount, cur.restartCount);
  if (restart < 0) return 'restart-decreased';
  if (restart === 0) return cur.clock >= prev.clock ? 'forward' : 'clock-back';
  // TPM Restart/Resume: Clock was saved by the TPM2_Shutdown(STATE) it needs. Only an unorderly shutdown takes it
  // back, and a Restart cannot follow one.
  return cur.clock >= prev.clock || !cur.safe ? 'forward' : 'clock-back-safe';
}

function follows(prev: ClockInfo, cur: ClockInfo): boolean {
  return step(prev, cur) === 'forward';
}

function sameInstant(a: ClockInfo, b: ClockInfo): boolean {
  return a.resetCount === b.resetCount && a.restartCount === b.restartCount && a.clock === b.clock;
}

/** Rejects readings no verified quote can produce: a bug in the caller, not bad evidence. */
export function assertValidReading(r: ClockReading): void {
  const c = r.clockInfo;
  const bad = (field: string, value: unknown): never => {
    throw new InternalError(`state: invalid clock reading: ${field}`, { field, value: String(value) });
  };
  if (typeof c.clock !== 'bigint' || c.clock < 0n || c.clock > U64_MAX) bad('clockInfo.clock', c.clock);
  if (!Number.isInteger(c.resetCount) || c.resetCount < 0 || c.resetCount >= U32) bad('clockInfo.resetCount', c.resetCount);
  if (!Number.isInteger(c.restartCount) || c.restartCount < 0 || c.restartCount >= U32) bad('clockInfo.restartCount', c.restartCount);
  if (typeof c.safe !== 'boolean') bad('clockInfo.safe', c.safe);
  if (typeof r.firmwareVersion !== 'bigint' || r.firmwareVersion < 0n || r.firmwareVersion > U64_MAX) bad('firmwareVersion', r.firmwareVersion);
  if (!isTime(r.time)) bad('time', r.time);
  if (!isTime(r.receivedAt) || r.receivedAt < r.time) bad('receivedAt', r.receivedAt);
  if (!Array.isArray(r.platformPath) || !r.platformPath.every((n) => typeof n === 'string' && /^[0-9a-f]+$/.test(n))) bad('platformPath', r.platformPath);
}

function isTime(ms: number): boolean {
  // Date's own range: toISOString() throws a RangeError beyond it
  return Number.isSafeInteger(ms) && ms >= 0 && ms <= 8.64e15;
}

export function platformKey(path: readonly string[]): string {
  return path.join('>');
}

export function summarizeReading(r: ClockReading): ReadingSummary {
  return {
    clock: r.clockInfo.clock.toString(),
    resetCount: r.clockInfo.resetCount,
    restartCount: r.clockInfo.restartCount,
    safe: r.clockInfo.safe,
    firmwareVersion: r.firmwareVersion.toString(16).padStart(16, '0'),
    platformPath: [...r.platformPath],
    time: new Date(r.time).toISOString(),
  };
}

/** The lineage whose head `r` follows most tightly (greatest head), preferring the more recent on ties. */
function bestFit(lineages: readonly ClockReading[], r: ClockReading, skipFirst: boolean): number {
  let best = -1;
  for (let i = skipFirst ? 1 : 0; i < lineages.length; i++) {
    const head = lineages[i]!;
    if (!follows(head.clockInfo, r.clockInfo)) continue;
    if (best < 0) {
      best = i;
      continue;
    }
    const current = lineages[best]!.clockInfo;
    if (follows(current, head.clockInfo) && !sameInstant(current, head.clockInfo)) best = i;
  }
  return best;
}

/** The lineage list with lineage `index` (or a new one when -1) moved to the front, its head now `r`. */
function advance(lineages: readonly ClockReading[], index: number, r: ClockReading): ClockState {
  const rest = lineages.filter((_, i) => i !== index);
  return { lineages: [r, ...rest].slice(0, MAX_LINEAGES) };
}

/**
 * Compares a new verified reading of one (instance, AK) with what was seen
 * before. Findings name the identity and carry previous vs current readings.
 */
export function assessClock(id: ClockIdentity, state: ClockState | undefined, r: ClockReading): ClockAssessment {
  assertValidReading(r);
  const findings: StateFinding[] = [];
  const finding = (code: StateFinding['code'], message: string, details: Record<string, unknown>): void => {
    findings.push({ code, message, instanceId: id.instanceId, akName: id.akName, details });
  };
  if (!r.clockInfo.safe) {
    finding('CLOCK_NOT_SAFE', `the quote says clockInfo.safe = 0 (clock ${r.clockInfo.clock}): the TPM clock may have gone back`, {
      current: summarizeReading(r),
    });
  }

  const lineages = state?.lineages ?? [];
  const last = lineages[0];
  if (!last) return { findings, state: { lineages: [r] } };

  const move = step(last.clockInfo, r.clockInfo);
  if (move === 'forward') {
    return { findings, state: advance(lineages, bestFit(lineages, r, false), r), previous: last };
  }

  // A regression. If the two requests overlapped in time, the TPM may well have
  // produced this quote first: order them by their clocks, keep the state.
  if (r.time <= last.receivedAt) return { findings, state: state!, previous: last };

  const previous = summarizeReading(last);
  const current = summarizeReading(r);
  const platformChanged = platformKey(last.platformPath) !== platformKey(r.platformPath);
  const firmwareChanged = last.firmwareVersion !== r.firmwareVersion;
  const context = { previous, current, platformChanged, firmwareChanged };
  const firmwareNote = firmwareChanged ? ' (the firmware version changed too: a field upgrade or TPM2_Clear can also zero the counters)' : '';
  const p = last.clockInfo;
  const c = r.clockInfo;
  switch (move) {
    case 'reset-decreased':
      finding('CLOCK_RESET_COUNT_DECREASED', `resetCount went back from ${p.resetCount} to ${c.resetCount}: old vTPM state was restored${firmwareNote}`, context);
      break;
    case 'restart-decreased':
      finding(
        'CLOCK_RESTART_COUNT_DECREASED',
        `restartCount went back from ${p.restartCount} to ${c.restartCount} within resetCount ${c.resetCount}: vTPM state was rolled back${firmwareNote}`,
        context,
      );
      break;
    case 'clock-back':
      finding(
        'CLOCK_WENT_BACK',
        `clock went back from ${p.clock} to ${c.clock} ms within resetCount ${c.resetCount}, restartCount ${c.restartCount}: vTPM state was rolled back`,
        context,
      );
      break;
    case 'clock-back-safe':
      finding(
        'CLOCK_WENT_BACK',
        `clock went back from ${p.clock} to ${c.clock} ms across a TPM Restart (restartCount ${p.restartCount} to ${c.restartCount} within resetCount ${c.resetCount}) while the quote says safe = 1: the TPM2_Shutdown(STATE) a Restart needs saves Clock, so old vTPM state was restored and restarted${firmwareNote}`,
        context,
      );
      break;
  }

  const resumed = bestFit(lineages, r, true);
  if (resumed > 0) {
    const other = lineages[resumed]!;
    finding(
      'CLONE_INTERLEAVED_CLOCKS',
      `this reading continues an earlier history (last at clock ${other.clockInfo.clock}, ${new Date(other.time).toISOString()}) while another history reached clock ${p.clock}: two copies of this vTPM are running`,
      { previous, current, resumedHistory: summarizeReading(other), histories: lineages.length },
    );
    return { findings, state: advance(lineages, resumed, r), previous: last };
  }
  if (platformChanged) {
    finding(
      'RESTORE_FROM_BACKUP',
      `the vTPM went back (${move}) right after moving from platform ${shortPath(last.platformPath)} to ${shortPath(r.platformPath)}: restored from an old backup`,
      { previous, current, fromPlatform: [...last.platformPath], toPlatform: [...r.platformPath], regression: move },
    );
  }
  return { findings, state: advance(lineages, -1, r), previous: last };
}

/** A platform path for one-line messages: each AK Name shortened. */
export function shortPath(path: readonly string[]): string {
  if (path.length === 0) return '(none)';
  return path.map((n) => (n.length > 12 ? `${n.slice(0, 12)}…` : n)).join(' > ');
}
