// Every stable error code of vtpm-verify, gathered from the module that owns it.
// README.md documents each one; a test keeps the three (code, table, README) in step.

import { GENERAL_CODES, type CodeTable } from './errors.js';
import { TPM_PARSE_CODES } from './tpm/reader.js';
import { STATE_ERROR_CODES } from './state/state-errors.js';
import { STATE_FINDING_CODES } from './state/findings.js';
import { EAR_CODES } from './report/ear.js';
import { EVIDENCE_CODES, MIGRATION_STREAM_CODES, TRANSPORT_CODES } from './transport/errors.js';
import { AK_CODES } from './verify/ak.js';
import { ATTEST_CODES } from './verify/attest-signature.js';
import { QUOTE_CODES } from './verify/quote.js';
import { INSPECT_CODES } from './cli/actions/inspect-codes.js';
import { POLICY_LOAD_CODES, POLICY_RULE_CODES } from './policy/codes.js';
import { SIMULATOR_CODES } from './simulator/codes.js';
import { VPLATFORM_CODES } from './verify/vplatform.js';
import { X509_CODES } from './x509/codes.js';
import { EVENTLOG_CODES, IMA_CODES } from './eventlog/codes.js';

import { WALK_CODES } from './verify/walker.js';
import { WATCH_CODES } from './watch/watcher.js';
import { BUNDLE_CODES } from './verify/bundle.js';
import { AUDIT_CODES, INVENTORY_CODES } from './audit/codes.js';

export const ALL_CODES: CodeTable = {
  ...GENERAL_CODES,
  ...TPM_PARSE_CODES,
  ...STATE_ERROR_CODES,
  ...STATE_FINDING_CODES,
  ...TRANSPORT_CODES,
  ...EVIDENCE_CODES,
  ...MIGRATION_STREAM_CODES,
  ...WATCH_CODES,
  ...AK_CODES,
  ...QUOTE_CODES,
  ...ATTEST_CODES,
  ...INSPECT_CODES,
  ...POLICY_LOAD_CODES,
  ...POLICY_RULE_CODES,
  ...VPLATFORM_CODES,
  ...SIMULATOR_CODES,
  ...X509_CODES,
  ...EVENTLOG_CODES,
  ...IMA_CODES,
  ...EAR_CODES,
  ...WALK_CODES,
  ...BUNDLE_CODES,
  ...INVENTORY_CODES,
  ...AUDIT_CODES,
};
