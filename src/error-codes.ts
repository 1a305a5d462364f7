// Every stable error code of vtpm-verify, gathered from the module that owns it.
// README.md documents each one; a test keeps the three (code, table, README) in step.

import { GENERAL_CODES, type CodeTable } from './errors.js';
import { TPM_PARSE_CODES } from './tpm/reader.js';
import { SIMULATOR_CODES } from './simulator/codes.js';
import { VPLATFORM_CODES } from './verify/vplatform.js';

export const ALL_CODES: CodeTable = {
  ...GENERAL_CODES,
  ...TPM_PARSE_CODES,
  ...VPLATFORM_CODES,
  ...SIMULATOR_CODES,
};
