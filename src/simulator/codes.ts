// Error codes of the simulated platform: misuse of the soft TPM's API, saved
// soft-TPM state that cannot be restored, topologies, faults and fault plans
// that cannot be built, and a service that cannot listen.

import { UsageError, type CodeTable, type ErrorDetails } from '../errors.js';

export const SIMULATOR_CODES = {
  SIM_INVALID_ARGUMENT: { kind: 'input', summary: 'the simulator was asked for something a TPM would refuse (unknown bank, PCR out of range, wrong digest size...)' },
  SIM_STATE_INVALID: { kind: 'input', summary: 'a saved soft-TPM state is malformed or from an unknown version' },
  SIM_TOPOLOGY_INVALID: { kind: 'input', summary: 'a simulated platform or fleet topology is malformed (counts, names, nesting)' },
  SIM_FAULT_INVALID: { kind: 'input', summary: 'a fault to inject is unknown, has bad options, names a layer the platform does not have, or cannot apply there (--tamper WHAT[:MODE][@LAYER])' },
  SIM_FAULT_PLAN_INVALID: { kind: 'input', summary: 'a fault plan is malformed (not YAML or JSON, unknown keys, a bad fault entry)' },
  SIM_LISTEN_FAILED: { kind: 'transport', summary: 'the simulator could not listen on the address and port asked for (in use, not permitted)' },
} as const satisfies CodeTable;

export function invalidArgument(message: string, details: ErrorDetails = {}): UsageError {
  return new UsageError('SIM_INVALID_ARGUMENT', message, details);
}
