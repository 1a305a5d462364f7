// Replays a PC Client log into PCR values, per bank, following the PFP:
// EV_NO_ACTION events are never extended (whatever their PCR index), and a
// StartupLocality event makes PCR 0 start at 0x00..0L instead of zero.
// tpm2_eventlog 5.4 gets both wrong; the values here are what the TPM holds.

import type { HashAlg } from '../tpm/constants.js';
import type { PcrBank, PcrValues } from '../tpm/pcrs.js';
import { EV } from './event-types.js';
import { extend, initialPcrValue } from './hash.js';
import type { LogEvent, UnverifiedEventLog } from './types.js';

/** Does this event change a PCR? */
export function isExtended(e: LogEvent): boolean {
  return e.eventType !== EV.NO_ACTION;
}

export function initialValue(log: UnverifiedEventLog, alg: HashAlg, pcr: number): Buffer {
  const locality = pcr === 0 && log.registers === 'pcr' ? (log.startupLocality ?? 0) : 0;
  return initialPcrValue(alg, locality);
}

function digestFor(e: LogEvent, alg: HashAlg): Uint8Array | undefined {
  for (const d of e.digests) if (d.algId === alg.id) return d.digest;
  return undefined;
}

/** Final values of every PCR the log touches, in every bank it carries. */
export function replayEventLog(log: UnverifiedEventLog): PcrValues {
  const out: PcrValues = new Map();
  for (const alg of log.banks) {
    const bank: PcrBank = new Map();
    if (log.startupLocality !== undefined && log.registers === 'pcr') bank.set(0, initialValue(log, alg, 0));
    const scratch = Buffer.allocUnsafe(alg.size * 2);
    for (const e of log.events) {
      if (!isExtended(e)) continue;
      const d = digestFor(e, alg);
      if (!d) continue;
      const old = bank.get(e.pcrIndex) ?? initialValue(log, alg, e.pcrIndex);
      bank.set(e.pcrIndex, extend(alg, old, d, scratch));
    }
    out.set(alg.name, bank);
  }
  return out;
}

export interface ReplayStep {
  eventIndex: number;
  /** the PCR value after this event */
  value: Buffer;
}

/** The running value of one PCR after each event that extends it (for locating a divergence). */
export function replayPcrSteps(log: UnverifiedEventLog, alg: HashAlg, pcr: number): { initial: Buffer; steps: ReplayStep[] } {
  const initial = initialValue(log, alg, pcr);
  const steps: ReplayStep[] = [];
  let value = initial;
  for (const e of log.events) {
    if (e.pcrIndex !== pcr || !isExtended(e)) continue;
    const d = digestFor(e, alg);
    if (!d) continue;
    value = extend(alg, value, d);
    steps.push({ eventIndex: e.index, value });
  }
  return { initial, steps };
}
