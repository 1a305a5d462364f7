// Transport error codes and the mapping from what node:net / node:tls report
// to them. Every error names the layer being asked (a label the caller passes:
// an index, a URI) and the URL, so "could not complete" always says where.

import { TransportError, UsageError, VtpmError, type CodeTable, type ErrorDetails } from '../errors.js';

export const TRANSPORT_CODES = {
  TRANSPORT_BAD_URL: { kind: 'transport', summary: 'an endpoint URI is not a usable absolute URL (unparsable, credentials in it, a reserved query parameter)' },
  TRANSPORT_BAD_SCHEME: { kind: 'transport', summary: 'an endpoint URI has a scheme other than http or https; rejected before any I/O' },
  TRANSPORT_DNS: { kind: 'transport', summary: 'the host name of an endpoint did not resolve' },
  TRANSPORT_REFUSED: { kind: 'transport', summary: 'the endpoint refused the TCP connection' },
  TRANSPORT_UNREACHABLE: { kind: 'transport', summary: 'no route to the endpoint host or network' },
  TRANSPORT_CONNECT_TIMEOUT: { kind: 'transport', summary: 'the connection (TCP connect and TLS handshake) did not complete within the connect timeout' },
  TRANSPORT_TIMEOUT: { kind: 'transport', summary: 'the whole request (connect, headers, complete body) did not finish within the total timeout' },
  TRANSPORT_IDLE_TIMEOUT: { kind: 'transport', summary: 'a stream sent no bytes for longer than its idle timeout' },
  TRANSPORT_RESET: { kind: 'transport', summary: 'the connection was reset or closed before the response was complete' },
  TRANSPORT_NETWORK: { kind: 'transport', summary: 'another socket-level failure (details.cause names the system error)' },
  TRANSPORT_PROTOCOL: { kind: 'transport', summary: 'the response is not well-formed HTTP/1.1 (a parser error, headers over the size limit)' },
  TRANSPORT_TLS: { kind: 'transport', summary: 'the TLS handshake failed: unknown CA, wrong host name, expired certificate, a key in the server\'s chain under RSA 2048 or EC 224 bits, client certificate required or refused, no TLS version in common (1.2 or 1.3; 1.3 with a client certificate)' },
  TRANSPORT_TLS_CONFIG: { kind: 'input', summary: 'the TLS options are unusable: a CA bundle, certificate or key that does not parse, a key that does not match its certificate, or an encrypted key without its passphrase' },
  TRANSPORT_TOO_LARGE: { kind: 'transport', summary: 'the response exceeded the size cap (Content-Length up front, or bytes counted while reading); the connection was destroyed' },
  TRANSPORT_REDIRECT: { kind: 'transport', summary: 'the endpoint answered with a redirect; redirects are never followed (details.location)' },
  TRANSPORT_HTTP_STATUS: { kind: 'transport', summary: 'the endpoint answered with a non-success HTTP status (details.status, details.serverError; for 429 and 503, details.retryAfter: the Retry-After header\'s first 64 characters)' },
  TRANSPORT_ABORTED: { kind: 'transport', summary: 'the request was cancelled by its AbortSignal' },
  TRANSPORT_SSE_CONTENT_TYPE: { kind: 'transport', summary: 'a notification stream answered with a Content-Type other than text/event-stream' },
  TRANSPORT_SSE_LINE_TOO_LONG: { kind: 'transport', summary: 'a notification stream sent a line longer than the line cap; the connection was dropped' },
  TRANSPORT_SSE_EVENT_TOO_LARGE: { kind: 'transport', summary: 'a notification stream sent an event larger than the event cap; the connection was dropped' },
} as const satisfies CodeTable;

export type TransportCode = keyof typeof TRANSPORT_CODES;

// Malformed evidence is a verification failure, not "could not complete": the
// layer answered, and what it answered is not acceptable evidence. A
// compromised attester must not be able to turn "not trusted" (exit 1) into
// "inconclusive, try again" (exit 3) by sending garbage. See README.
export const EVIDENCE_CODES = {
  EVIDENCE_JSON: { kind: 'verification', summary: 'the evidence is not valid UTF-8 JSON, or its top level is not an object' },
  EVIDENCE_VERSION: { kind: 'verification', summary: 'the evidence version is missing or not 1' },
  EVIDENCE_MISSING_FIELD: { kind: 'verification', summary: 'a required evidence field is absent (details.field is its path)' },
  EVIDENCE_FIELD_TYPE: { kind: 'verification', summary: 'an evidence field has the wrong JSON type (details.field, expected, actual)' },
  EVIDENCE_BAD_VALUE: { kind: 'verification', summary: 'an evidence field has an invalid value: not strict base64 or hex, unknown PCR bank, index out of range, wrong digest length, bad PEM, unknown vplatformLog op' },
  EVIDENCE_LIMIT: { kind: 'verification', summary: 'an evidence field exceeds its size or count cap (details.max, actual)' },
  EVIDENCE_REQUEST_INVALID: { kind: 'input', summary: 'an evidence request is malformed: nonce not 32 bytes, unknown PCR bank, PCR index out of range, bad instance id' },
} as const satisfies CodeTable;

// Notifications are hints, never evidence: an invalid event is skipped and
// reported, and never ends a watch.
export const MIGRATION_STREAM_CODES = {
  MIGRATION_EVENT_INVALID: { kind: 'verification', summary: 'a migration notification is malformed (bad JSON, a missing or invalid field, id not equal to seq); it was skipped' },
  MIGRATION_EVENT_FOREIGN: { kind: 'verification', summary: 'a migration notification names another instance than the one subscribed to; it was skipped' },
} as const satisfies CodeTable;

/** Which layer is being asked: an index, a URI or any short label, as the caller names layers. */
export type LayerLabel = string | number;

/** The context every transport error carries in its details. */
export interface TransportContext {
  layer?: LayerLabel | undefined;
  url?: string | undefined;
}

function prefix(ctx: TransportContext): string {
  return ctx.layer === undefined ? '' : `layer ${ctx.layer}: `;
}

export function transportError(code: TransportCode, message: string, ctx: TransportContext, details: ErrorDetails = {}, cause?: unknown): TransportError {
  const all: ErrorDetails = { ...details };
  if (ctx.layer !== undefined) all['layer'] = ctx.layer;
  if (ctx.url !== undefined) all['url'] = ctx.url;
  return new TransportError(code, `${prefix(ctx)}${message}`, all, cause === undefined ? undefined : { cause });
}

export function tlsConfigError(message: string, cause: unknown): UsageError {
  const reason = (cause instanceof Error ? cause.message : String(cause)).trim();
  // OpenSSL's reason ("key values mismatch"), as for failures on the wire; details.reason keeps the whole text
  return new UsageError('TRANSPORT_TLS_CONFIG', `TLS options: ${message}: ${readableReason(reason)}`, { reason }, { cause });
}

/**
 * Text from a server, made safe to show: control characters (terminal escape
 * sequences included) replaced, and cut to `max` characters.
 */
export function sanitizeServerText(text: string, max = 300): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

// OpenSSL certificate-verification results as node reports them (err.code).
const X509_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/**
 * Whether a TRANSPORT_TLS failure's cause (details.cause) is the server's certificate refused: untrusted,
 * expired, for another name. Trying again in a second meets the same certificate, unlike a reset or a stall.
 */
export function isServerCertificateRefusal(cause: unknown): boolean {
  return typeof cause === 'string' && (X509_VERIFY_CODES.has(cause) || cause === 'ERR_TLS_CERT_ALTNAME_INVALID' || cause === 'ERR_TLS_WEAK_SERVER_KEY' || cause === 'ERR_TLS_CHAIN_TOO_LONG');
}

/**
 * Whether a transport failure is an answer that asking again cannot change: an HTTP status that says the request
 * itself is wrong or not allowed (4xx, except 408 Request Timeout and 429 Too Many Requests), a redirect (never
 * followed), or a URL or scheme refused before any I/O. A refused connection, a reset, a timeout, a 5xx, 408 or 429
 * may well be different the next time.
 */
export function isFinalAnswer(code: string, details: ErrorDetails | undefined): boolean {
  switch (code) {
    case 'TRANSPORT_REDIRECT':
    case 'TRANSPORT_BAD_URL':
    case 'TRANSPORT_BAD_SCHEME':
      return true;
    case 'TRANSPORT_HTTP_STATUS': {
      const status = details?.['status'];
      return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
    }
    default:
      return false;
  }
}

function isTlsErrorCode(code: string): boolean {
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO' || X509_VERIFY_CODES.has(code);
}

/** Where a request was when a socket error struck; decides how the error reads. */
export interface FailurePhase {
  /** the TLS handshake had not completed on a TLS connection */
  inTlsHandshake: boolean;
  /** a fresh TLS connection on which the server has not answered yet */
  tlsUnconfirmed?: boolean;
}

/**
 * What OpenSSL says in node's message for one of its errors, without the
 * thread id, error number, function and source path around it:
 * "write EPROTO 80DC..:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/..:350:\n"
 * reads "wrong version number". Other messages are only trimmed (node ends
 * OpenSSL's with a newline, which would break the line it is shown on).
 */
function readableReason(message: string): string {
  const openssl = /error:[0-9A-Fa-f]{8}:[^:\n]*:[^:\n]*:([^:\n]+)/.exec(message);
  return (openssl === null ? message : openssl[1]!).trim();
}

/**
 * Turns a socket/HTTP error from node into a TransportError. Errors that are
 * already VtpmErrors (our own timeouts and caps) pass through unchanged.
 */
export function mapNetworkError(err: unknown, ctx: TransportContext, phase: FailurePhase): VtpmError {
  if (err instanceof VtpmError) return err;
  const e = err as NodeJS.ErrnoException & { hostname?: string; reason?: string };
  const code = typeof e?.code === 'string' ? e.code : '';
  const sys = code || (e instanceof Error ? e.name : 'unknown');
  const reason = (e instanceof Error ? e.message : String(err)).trim();
  const details = { cause: sys, reason };
  const shown = readableReason(reason);
  if (isTlsErrorCode(code)) {
    // OpenSSL's words for it ("alert protocol version", "unsupported protocol") do not say what we require
    const versions = /protocol version|unsupported protocol|no protocols available/i.test(reason)
      ? ' (no TLS version in common: vtpm-verify speaks TLS 1.2 and 1.3, and only TLS 1.3 where it presents a client certificate, which TLS 1.2 sends before the server\'s certificate is judged)'
      : '';
    return transportError('TRANSPORT_TLS', `TLS failed: ${shown}${versions}`, ctx, details, err);
  }
  if (code.startsWith('HPE_')) return transportError('TRANSPORT_PROTOCOL', `malformed HTTP response: ${shown}`, ctx, details, err);
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return transportError('TRANSPORT_DNS', `cannot resolve host${e.hostname === undefined ? '' : ` ${e.hostname}`} (${code})`, ctx, details, err);
    case 'ECONNREFUSED':
      return transportError('TRANSPORT_REFUSED', 'connection refused', ctx, details, err);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return transportError('TRANSPORT_UNREACHABLE', `host unreachable (${code})`, ctx, details, err);
  }
  // A reset during the handshake is how many servers refuse a client
  // certificate (or its absence): report it as the TLS failure it is.
  if (phase.inTlsHandshake) return transportError('TRANSPORT_TLS', `TLS handshake failed: ${shown}`, ctx, details, err);
  const reset = code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED' || code === 'ERR_STREAM_PREMATURE_CLOSE' || reason === 'aborted';
  if (reset && phase.tlsUnconfirmed === true) {
    return transportError('TRANSPORT_TLS', `connection reset right after the TLS handshake, before any response: the server most likely refused our client certificate (or its absence) (${sys})`, ctx, details, err);
  }
  if (reset) {
    return transportError('TRANSPORT_RESET', `connection closed before the response was complete (${sys})`, ctx, details, err);
  }
  return transportError('TRANSPORT_NETWORK', `network error: ${shown}`, ctx, details, err);
}
