// Firmware quirks, as data. A quirk describes a known way a real firmware's
// log disagrees with what it extended into a PCR. replayAgainstQuote tries
// them only after a PCR failed to match, each on a clone of the log, and
// names any quirk it needed in its result. Events a quirk adds are marked
// syntheticQuirk so nobody mistakes them for logged ones.

import { EV } from './event-types.js';
import { digest } from './hash.js';
import type { LogEvent, UnverifiedEventLog } from './types.js';

export interface FirmwareQuirk {
  id: string;
  /** the only PCR the quirk changes */
  affectedPcr: number;
  /** why real logs need it */
  description: string;
  /** returns a modified copy; the log passed in is never changed */
  apply(log: UnverifiedEventLog): UnverifiedEventLog;
}

/** A copy of the log with EV_EFI_ACTION events appended, hashed into every bank the log has. */
export function withInjectedActions(log: UnverifiedEventLog, quirkId: string, pcr: number, actions: readonly string[]): UnverifiedEventLog {
  const added: LogEvent[] = actions.map((text, i) => {
    const data = Buffer.from(text, 'latin1');
    const digests = log.banks.map((alg) => ({ algId: alg.id, alg, digest: digest(alg, data) }));
    return {
      index: log.events.length + i,
      offset: -1,
      pcrIndex: pcr,
      eventType: EV.EFI_ACTION,
      digests,
      data,
      raw: new Uint8Array(0),
      content: { kind: 'text', text, encoding: 'utf-8' },
      binding: { measured: 'event data', banks: Object.fromEntries(log.banks.map((a) => [a.name, true])), measuredIn: Object.fromEntries(log.banks.map((a) => [a.name, 'event data'])) },
      syntheticQuirk: quirkId,
    };
  });
  return { ...log, events: [...log.events, ...added], notes: [...log.notes, `quirk ${quirkId} added ${added.length} event(s) to PCR ${pcr}`] };
}

const EBS_INVOCATION = 'Exit Boot Services Invocation';
const EBS_SUCCESS = 'Exit Boot Services Returned with Success';
const EBS_FAILURE = 'Exit Boot Services Returned with Failure';

const EBS_WHY =
  'some firmware extends the ExitBootServices() EV_EFI_ACTION events into PCR 5 after the OS copied the log, so the log lacks them (go-attestation ships the same workaround)';

export const FIRMWARE_QUIRKS: readonly FirmwareQuirk[] = [
  {
    id: 'ebs-missing:invocation+success',
    affectedPcr: 5,
    description: EBS_WHY,
    apply: (log) => withInjectedActions(log, 'ebs-missing:invocation+success', 5, [EBS_INVOCATION, EBS_SUCCESS]),
  },
  {
    id: 'ebs-missing:invocation+failure',
    affectedPcr: 5,
    description: EBS_WHY,
    apply: (log) => withInjectedActions(log, 'ebs-missing:invocation+failure', 5, [EBS_INVOCATION, EBS_FAILURE]),
  },
  {
    id: 'ebs-missing:invocation+failure+success',
    affectedPcr: 5,
    description: EBS_WHY,
    apply: (log) => withInjectedActions(log, 'ebs-missing:invocation+failure+success', 5, [EBS_INVOCATION, EBS_FAILURE, EBS_SUCCESS]),
  },
];
