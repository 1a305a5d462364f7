// Public API of the state store: persistent clock baselines, hosting periods
// and attestation history, with rollback and clone findings.

export { openState, StateStore, DEFAULT_BUSY_TIMEOUT_MS, MAX_HISTORY_LIMIT } from './store.js';
export { MAX_LISTED_CHANGES, changeKind, changesByKind, changeCountParts } from './run-changes.js';
export type { RunChanges, VerdictChange, ChangeKind } from './run-changes.js';
export type { OpenStateOptions, Observation, ObserveOutcome, PruneOutcome, ResultRecord, HistoryFilter, HistoryEntry, StaySummary, IdentitySummary, AuditRunStart, AuditRunEnd, AuditRunSummary } from './store.js';
export { defaultStatePath, resolveStatePath } from './paths.js';
export { STATE_FINDING_CODES, DEFAULT_FINDING_STATUS, toCheckResult } from './findings.js';
export type { StateFinding, StateFindingCode, ReadingSummary } from './findings.js';
export { STATE_ERROR_CODES } from './state-errors.js';
export { assessClock, step, serialCompare, platformKey, MAX_LINEAGES } from './clock-findings.js';
export type { ClockInfo, ClockReading, ClockState, ClockAssessment } from './clock-findings.js';
export { assessHosting } from './hosting-findings.js';
export type { Stay, HostingEvidence } from './hosting-findings.js';
export { SCHEMA_VERSION } from './schema.js';
