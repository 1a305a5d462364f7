// Every stable error code of vtpm-verify, gathered from the module that owns it.
// README.md documents each one; a test keeps the three (code, table, README) in step.

import { GENERAL_CODES, type CodeTable } from './errors.js';
import { TPM_PARSE_CODES } from './tpm/reader.js';
import { STATE_ERROR_CODES } from './state/state-errors.js';
import { STATE_FINDING_CODES } from './state/findings.js';
import { EAR_CODES } from './report/ear.js';
import { EVIDENCE_CODES, MIGRATION_STREAM_CODES, TRANSPORT_CODES } from './transport/errors.js';

export const ALL_CODES: CodeTable = {
  ...GENERAL_CODES,
  ...TPM_PARSE_CODES,
  ...STATE_ERROR_CODES,
  ...STATE_FINDING_CODES,
  ...TRANSPORT_CODES,
  ...EVIDENCE_CODES,
  ...MIGRATION_STREAM_CODES,
  ...EAR_CODES,
};
