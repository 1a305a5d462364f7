// Which PCRs a policy needs quoted, so the walker can ask for them
// (protocol §2 `pcrs=` parameter). Which rule sets apply to a layer is only
// known once its certificate verified, so this is the union over every rule
// set that could select the layer by position.

import type { HashName } from '../tpm/constants.js';
import type { Policy } from './compile.js';

/** PCRs the rules read from the log, not named in `pcrs:` (TCG PC Client PFP). */
const LOG_PCRS = {
  bootApplications: 4,
  secureBootAndDbx: 7,
  ima: 10,
} as const;

/**
 * The PCR selection (bank → indexes) the policy's rules read for the layer at
 * `position` of a chain of unknown depth (rule sets selecting by a negative
 * position may apply to any layer). Rules on event log contents add the PCRs
 * those contents are measured into, in the sha256 bank.
 */
export function pcrSelectionFor(policy: Policy, position: number): Map<HashName, Set<number>> {
  const out = new Map<HashName, Set<number>>();
  const add = (bank: HashName, i: number) => {
    const s = out.get(bank) ?? new Set<number>();
    s.add(i);
    out.set(bank, s);
  };
  for (const rs of policy.ruleSets) {
    const p = rs.select?.position;
    if (p !== undefined && p >= 0 && p !== position) continue;
    const spec = rs.spec;
    for (const [bank, rules] of spec.pcrs ?? []) for (const index of rules.keys()) add(bank, Number(index));
    const log = spec.eventLog;
    if (log?.bootApplications) {
      add('sha256', LOG_PCRS.bootApplications);
      // digests count only in banks the quote verified: PCR 4 in every bank the lists name
      for (const lists of [log.bootApplications.allowed, log.bootApplications.forbidden]) for (const bank of lists?.keys() ?? []) add(bank, LOG_PCRS.bootApplications);
    }
    if (log?.requireSecureBoot || log?.dbx) add('sha256', LOG_PCRS.secureBootAndDbx);
    if (spec.ima?.allowList || spec.ima?.denied || spec.ima?.required || spec.ima?.mustReplay) add('sha256', LOG_PCRS.ima);
  }
  return out;
}
