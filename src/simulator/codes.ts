// Error codes of the simulated platform: misuse of the soft TPM's API, and
// saved soft-TPM state that cannot be restored.

import { UsageError, type CodeTable, type ErrorDetails } from '../errors.js';

export const SIMULATOR_CODES = {
  SIM_INVALID_ARGUMENT: { kind: 'input', summary: 'the simulator was asked for something a TPM would refuse (unknown bank, PCR out of range, wrong digest size...)' },
  SIM_STATE_INVALID: { kind: 'input', summary: 'a saved soft-TPM state is malformed or from an unknown version' },
} as const satisfies CodeTable;

export function invalidArgument(message: string, details: ErrorDetails = {}): UsageError {
  return new UsageError('SIM_INVALID_ARGUMENT', message, details);
}
