// The network edge, as other parts use it: the evidence endpoint (protocol
// section 2) and the migration notification stream (section 6).

export { TRANSPORT_CODES, EVIDENCE_CODES, MIGRATION_STREAM_CODES, sanitizeServerText } from './errors.js';
export type { LayerLabel, TransportCode, TransportContext } from './errors.js';
export { HttpClient, HTTP_DEFAULTS } from './http-client.js';
export type { HttpClientOptions, RequestOptions, HttpResponse, StreamOptions, StreamResponse, TlsOptions } from './http-client.js';
export { EvidenceClient } from './evidence-client.js';
export type { EvidenceClientOptions, EvidenceFetcher, FetchEvidenceOptions, FetchedEvidence } from './evidence-client.js';
export {
  EVIDENCE_LIMITS,
  EVIDENCE_VERSION,
  VPLATFORM_PCR,
  INSTANCE_OPS,
  parseEvidence,
  parseEvidenceBytes,
  serializeEvidence,
  certificatePem,
  EVIDENCE_PATH,
  NONCE_BYTES,
  INSTANCE_ID_BYTES,
  PCR_INDEX_MAX,
  evidenceQuery,
  evidenceUrl,
  formatPcrSelection,
  parsePcrSelection,
  parseEvidenceQuery,
} from './evidence.js';
export type {
  LayerEvidence,
  EvidenceJson,
  EvidenceLimits,
  EvidenceCertificate,
  VplatformLogEntry,
  VplatformLogEntryJson,
  InstanceLogEntry,
  IssuerLogEntry,
  InstanceOp,
  VplatformOp,
  ParseEvidenceOptions,
  EvidenceRequest,
  PcrSelection,
} from './evidence.js';
export { readTlsFiles } from './tls-files.js';
export type { TlsFiles } from './tls-files.js';
export { SseParser, SSE_DEFAULTS } from './sse-parser.js';
export type { SseEvent, SseLimits } from './sse-parser.js';
export { migrationEvents, migrationsUrl, parseMigrationEvent, formatMigrationEvent, backoffDelay, MIGRATIONS_PATH, MIGRATION_STREAM_DEFAULTS } from './migration-stream.js';
export type { MigrationEvent, MigrationStreamOptions, MigrationStreamStatus, BackoffOptions } from './migration-stream.js';
export { parseEndpointUrl, joinEndpoint, MAX_URL_LENGTH } from './url.js';
export type { QueryParam } from './url.js';
