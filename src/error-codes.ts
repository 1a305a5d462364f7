// Every stable error code of vtpm-verify, gathered from the module that owns it.
// README.md documents each one; a test keeps the three (code, table, README) in step.

import { GENERAL_CODES, type CodeTable } from './errors.js';
import { TPM_PARSE_CODES } from './tpm/reader.js';
import { X509_CODES } from './x509/codes.js';

export const ALL_CODES: CodeTable = {
  ...GENERAL_CODES,
  ...TPM_PARSE_CODES,
  ...X509_CODES,
};
