// Every stable error code of vtpm-verify, gathered from the module that owns it.
// README.md documents each one; a test keeps the three (code, table, README) in step.

import { GENERAL_CODES, type CodeTable } from './errors.js';
import { TPM_PARSE_CODES } from './tpm/reader.js';
import { EVENTLOG_CODES, IMA_CODES } from './eventlog/codes.js';

export const ALL_CODES: CodeTable = {
  ...GENERAL_CODES,
  ...TPM_PARSE_CODES,
  ...EVENTLOG_CODES,
  ...IMA_CODES,
};
