// The event-log module's public API. Parsing yields *unverified* logs; only
// replayAgainstQuote / replayImaAgainstQuote yield verified views, and only
// the fact extractors turn those into what policies consume.

export { EVENTLOG_CODES, IMA_CODES } from './codes.js';
export { EVENTLOG_CAPS, IMA_CAPS } from './caps.js';
export { EV, eventTypeName } from './event-types.js';

export { parseEventLog } from './parse.js';
export type { ParseEventLogOptions, EventLogCaps } from './parse.js';
export type { UnverifiedEventLog, LogEvent, EventDigest, DigestBinding, SpecIdInfo, SpecIdAlgorithm, LogFormat, RegisterKind, LogPadding } from './types.js';
export type * from './decode/content.js';

export { replayEventLog, replayPcrSteps } from './replay.js';
export { replayAgainstQuote } from './quote-replay.js';
export type { EventLogQuoteResult, PcrReplayOutcome, Divergence, ReplayAgainstQuoteOptions } from './quote-replay.js';
export type { VerifiedEventLog, VerifiedEvent } from './verified.js';
export { FIRMWARE_QUIRKS } from './workarounds.js';
export type { FirmwareQuirk } from './workarounds.js';

export { verifyLogsAgainstQuote } from './verify-logs.js';
export type { LogsToVerify, LogsVerification } from './verify-logs.js';

export { extractBootFacts, extractImaFacts, certificateFact } from './facts.js';
export type { BootFacts, BootApplicationFact, SignatureDatabaseFact, CertificateFact, FactSource, ImaFacts, ImaMeasurementFact } from './facts.js';

export { EventLogWriter, encodeVariableData, encodeFilePathDevicePath } from './writer.js';
export type { WriterEvent, WriterOptions, PcrExtend } from './writer.js';

export { parseImaList, parseImaAscii, parseImaBinary } from './ima/parse.js';
export type { ParseImaOptions } from './ima/parse.js';
export type { UnverifiedImaList, ImaEntry, ImaFields } from './ima/types.js';
export { replayIma, checkTemplateHashes, initialImaState } from './ima/replay.js';
export type { ImaReplayState, TemplateHashCheck } from './ima/replay.js';
export { replayImaAgainstQuote } from './ima/quote-replay.js';
export type { ImaQuoteResult, ImaPcrOutcome, ReplayImaAgainstQuoteOptions } from './ima/quote-replay.js';
export type { VerifiedImaList } from './ima/verified.js';
export { formatImaEntry } from './ima/format.js';
export { checkBootAggregate } from './ima/boot-aggregate.js';
export type { BootAggregateCheck } from './ima/boot-aggregate.js';
