// The only HTTP client of vtpm-verify, on node:http / node:https.
//
// Every server it talks to is an attester that may be compromised, so every
// request is bounded: a connect timeout (TCP connect and TLS handshake), a
// total timeout (until the last body byte, so a slow drip cannot hold us), a
// response size cap enforced on Content-Length up front and on the bytes as
// they arrive (the socket is destroyed the moment the cap is passed), no
// redirects, http/https only. Connections are kept alive and reused: a fleet
// audit makes hundreds of requests a second to the same few services.

import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls, { type SecureContext } from 'node:tls';
import type { LookupFunction, Socket } from 'node:net';
import type { LookupOneOptions } from 'node:dns';
import { X509Certificate } from 'node:crypto';
import { UsageError, type VtpmError } from '../errors.js';
import { mapNetworkError, sanitizeServerText, tlsConfigError, transportError, type LayerLabel, type TransportContext } from './errors.js';
import { sharedLookup } from './lookup.js';
import { ResponseBudget, type BodyHold, type BudgetReader } from './response-budget.js';
import { MAX_REQUEST_URL_LENGTH, parseEndpointUrl } from './url.js';

export const HTTP_DEFAULTS = {
  /** TCP connect plus TLS handshake */
  connectTimeoutMs: 5_000,
  /** one whole request: connect, headers and the complete body */
  timeoutMs: 30_000,
  /** response body cap: evidence with a large IMA list fits */
  maxResponseBytes: 32 * 1024 * 1024,
  /** response bytes held at once by all requests that share a budget: 16 responses at the cap (an audit's concurrency on 2 CPUs) */
  maxBufferedBytes: 512 * 1024 * 1024,
  /** concurrent connections per host (per agent) */
  maxSockets: 256,
  /** an idle kept-alive connection is closed after this (below node's server default of 5 s) */
  freeSocketTimeoutMs: 4_000,
} as const;

/** Response headers (status line included) node's parser takes: its default, pinned against NODE_OPTIONS. */
export const MAX_RESPONSE_HEADER_BYTES = 16 * 1024;

/** How much of an error response's body is read for its message. */
const ERROR_BODY_CAP = 16 * 1024;

export interface TlsOptions {
  /** PEM CA certificate(s) that server certificates must chain to; replaces the system roots when given */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /** PEM client certificate (chain) for mutual TLS; needs `key` */
  cert?: string | Buffer | undefined;
  /** PEM private key of the client certificate */
  key?: string | Buffer | undefined;
  /** passphrase of an encrypted `key` */
  passphrase?: string | undefined;
}

export interface HttpClientOptions {
  connectTimeoutMs?: number | undefined;
  timeoutMs?: number | undefined;
  maxResponseBytes?: number | undefined;
  /**
   * Bounds the response bytes held at once by this client's requests (default:
   * a budget of HTTP_DEFAULTS.maxBufferedBytes of its own); clients given one
   * budget share it. Past it, the response holding the most is dropped.
   */
  budget?: ResponseBudget | undefined;
  tls?: TlsOptions | undefined;
  /** reuse connections (default true) */
  keepAlive?: boolean | undefined;
  maxSockets?: number | undefined;
  freeSocketTimeoutMs?: number | undefined;
}

/** Per-request options; unset timeouts and caps take the client's. */
export interface RequestOptions {
  /** names the layer in every error: an index, a URI */
  layer?: LayerLabel | undefined;
  signal?: AbortSignal | undefined;
  connectTimeoutMs?: number | undefined;
  timeoutMs?: number | undefined;
  maxResponseBytes?: number | undefined;
  headers?: Record<string, string> | undefined;
  /**
   * keep the body's bytes counted against the budget once it is read, until `held.release()` (HttpResponse.held):
   * past the budget a held body is dropped like a response being read, when it holds the most
   */
  holdBody?: boolean | undefined;
}

export interface HttpResponse {
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** with `holdBody`: the body's bytes, still counted against the budget until released */
  held?: BodyHold;
}

export interface StreamOptions extends Omit<RequestOptions, 'timeoutMs' | 'maxResponseBytes'> {
  /**
   * Time allowed from sending the request to 2xx response headers, or to the
   * complete body of an error response (default: the client's timeoutMs).
   * After 2xx headers the caller bounds the stream (an idle timeout).
   */
  responseTimeoutMs?: number | undefined;
}

/** A response whose body is read by the caller (an event stream). */
export interface StreamResponse {
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /**
   * What broke the body at the HTTP level, once reading it failed: node reports a parser error (a bad chunk
   * size, trailers over the limit) on the request only, and the body sees just the socket closing ("aborted",
   * ECONNRESET), which alone would read as TRANSPORT_RESET. undefined when nothing did.
   */
  failure(): VtpmError | undefined;
  /** destroys the connection; safe to call more than once */
  close(): void;
}

interface Resolved {
  ctx: TransportContext;
  signal: AbortSignal | undefined;
  connectTimeoutMs: number;
  /** whole-exchange deadline; 0 = none (streams) */
  timeoutMs: number;
  /** response-headers deadline; 0 = none */
  responseTimeoutMs: number;
  maxResponseBytes: number;
  budget: ResponseBudget;
  headers: Record<string, string>;
  holdBody: boolean;
}

/** What one attempt observed, to decide whether a retry on a fresh connection is safe. */
interface AttemptState {
  reusedSocket: boolean;
  gotResponse: boolean;
}

/** Callbacks a response handler uses to end the exchange. */
interface Exchange<T> {
  /** false when the exchange had settled already (the value is not handed to anyone) */
  resolve(value: T): boolean;
  fail(err: unknown): void;
  /** stops the whole-exchange timers (the caller takes over the stream) */
  detach(): void;
  /** the HTTP parser's error (mapped) that broke the response after the exchange settled, if any */
  lateFailure(): VtpmError | undefined;
}

/** The longest delay a timer holds: node fires a longer one after 1 ms (TimeoutOverflowWarning). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Timeouts must be positive (every request has one) and fit a timer; the size cap may be 0. */
function checkedOption(name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new UsageError('USAGE', `${name} must be a number from ${min} to ${max}, got ${String(v)}`, { option: name, actual: String(v), min, max });
  }
  return v;
}

export class HttpClient {
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly budget: ResponseBudget;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  /**
   * For the one retry after a kept-alive connection turned out dropped: agents that never reuse a connection.
   * The pooled agent would hand the retry another kept-alive connection (LIFO), which a server that dropped
   * one (a restart, a fail-over, a NAT forgetting idle flows) has most likely dropped too.
   */
  private readonly freshHttpAgent: http.Agent;
  private readonly freshHttpsAgent: https.Agent;
  private closed = false;

  constructor(options: HttpClientOptions = {}) {
    this.connectTimeoutMs = checkedOption('connectTimeoutMs', options.connectTimeoutMs, HTTP_DEFAULTS.connectTimeoutMs, 1, MAX_TIMEOUT_MS);
    this.timeoutMs = checkedOption('timeoutMs', options.timeoutMs, HTTP_DEFAULTS.timeoutMs, 1, MAX_TIMEOUT_MS);
    this.maxResponseBytes = checkedOption('maxResponseBytes', options.maxResponseBytes, HTTP_DEFAULTS.maxResponseBytes, 0);
    this.budget = options.budget ?? new ResponseBudget(HTTP_DEFAULTS.maxBufferedBytes);
    const keepAlive = options.keepAlive ?? true;
    const agentOptions = {
      keepAlive,
      maxSockets: options.maxSockets ?? HTTP_DEFAULTS.maxSockets,
      maxFreeSockets: options.maxSockets ?? HTTP_DEFAULTS.maxSockets,
      timeout: options.freeSocketTimeoutMs ?? HTTP_DEFAULTS.freeSocketTimeoutMs,
      scheduling: 'lifo' as const,
    };
    this.httpAgent = new http.Agent(agentOptions);
    // One secure context for all connections: parsing a CA bundle per
    // connection would cost more than the handshake.
    const secureContext = makeSecureContext(options.tls ?? {});
    this.httpsAgent = new https.Agent({ ...agentOptions, secureContext, rejectUnauthorized: true, checkServerIdentity });
    const freshOptions = { keepAlive: false, maxSockets: agentOptions.maxSockets };
    this.freshHttpAgent = new http.Agent(freshOptions);
    this.freshHttpsAgent = new https.Agent({ ...freshOptions, secureContext, rejectUnauthorized: true, checkServerIdentity });
  }

  /** GET with the body read completely under the caps; any status but 200 is an error. */
  async get(target: string | URL, options: RequestOptions = {}): Promise<HttpResponse> {
    const url = parseEndpointUrl(target, options.layer, MAX_REQUEST_URL_LENGTH);
    const first = this.resolve(url, options, false);
    const deadline = performance.now() + first.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const state: AttemptState = { reusedSocket: false, gotResponse: false };
      // a retry gets what is left of the total timeout, not a new one
      const resolved = attempt === 0 ? first : { ...first, timeoutMs: Math.max(1, deadline - performance.now()) };
      try {
        return await this.exchange<HttpResponse>(url, resolved, state, (res, ex) => readBody(url, res, resolved, ex), attempt > 0);
      } catch (err) {
        // A kept-alive connection the server closed while it sat idle fails
        // on first use; a GET is safe to send again once, on a new connection.
        const stale = state.reusedSocket && !state.gotResponse && (err as VtpmError).code === 'TRANSPORT_RESET';
        if (!stale || attempt > 0) throw err;
      }
    }
  }

  /** GET whose 2xx response body the caller reads (event streams). 3xx and 4xx/5xx are errors. */
  async open(target: string | URL, options: StreamOptions = {}): Promise<StreamResponse> {
    const url = parseEndpointUrl(target, options.layer, MAX_REQUEST_URL_LENGTH);
    const resolved = this.resolve(url, options, true);
    const state: AttemptState = { reusedSocket: false, gotResponse: false };
    return this.exchange<StreamResponse>(url, resolved, state, (res, ex) => {
      if (res.statusCode! >= 200 && res.statusCode! < 300) {
        ex.detach();
        const abort = (): void => {
          res.destroy(transportError('TRANSPORT_ABORTED', 'request aborted', resolved.ctx));
        };
        resolved.signal?.addEventListener('abort', abort, { once: true });
        ex.resolve({
          url: url.href,
          status: res.statusCode!,
          headers: res.headers,
          body: res,
          failure: () => ex.lateFailure(),
          close: () => {
            resolved.signal?.removeEventListener('abort', abort);
            res.destroy();
          },
        });
        return;
      }
      rejectNonSuccess(url, res, resolved, ex);
    });
  }

  /** Closes every kept-alive connection; later requests fail. */
  close(): void {
    this.closed = true;
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.freshHttpAgent.destroy();
    this.freshHttpsAgent.destroy();
  }

  private resolve(url: URL, o: RequestOptions & StreamOptions, stream: boolean): Resolved {
    return {
      ctx: { layer: o.layer, url: url.href },
      signal: o.signal,
      connectTimeoutMs: checkedOption('connectTimeoutMs', o.connectTimeoutMs, this.connectTimeoutMs, 1, MAX_TIMEOUT_MS),
      // a stream has no total deadline; it is bounded by its response and idle timeouts
      timeoutMs: stream ? 0 : checkedOption('timeoutMs', o.timeoutMs, this.timeoutMs, 1, MAX_TIMEOUT_MS),
      responseTimeoutMs: stream ? checkedOption('responseTimeoutMs', o.responseTimeoutMs, this.timeoutMs, 1, MAX_TIMEOUT_MS) : 0,
      maxResponseBytes: checkedOption('maxResponseBytes', o.maxResponseBytes, this.maxResponseBytes, 0),
      budget: this.budget,
      headers: { 'user-agent': 'vtpm-verify', ...o.headers },
      holdBody: !stream && o.holdBody === true,
    };
  }

  /**
   * One request/response exchange: starts the timers, maps every error, and
   * hands the response to `onResponse`. Settles exactly once; on failure the
   * request and its socket are destroyed. `fresh`: on a new connection, never a kept-alive one.
   */
  private exchange<T>(url: URL, o: Resolved, state: AttemptState, onResponse: (res: IncomingMessage, ex: Exchange<T>) => void, fresh = false): Promise<T> {
    return new Promise<T>((resolvePromise, rejectPromise) => {
      const { ctx, signal } = o;
      if (this.closed) {
        rejectPromise(transportError('TRANSPORT_ABORTED', 'the HTTP client was closed', ctx));
        return;
      }
      if (signal?.aborted) {
        rejectPromise(transportError('TRANSPORT_ABORTED', 'request aborted before it started', ctx));
        return;
      }
      const isTls = url.protocol === 'https:';
      let handshakeDone = false;
      // In TLS 1.3 the client's handshake ends before the server has judged
      // the client certificate; a refusal then arrives as an alert or a reset
      // before any response. Until a response (or a reused connection) shows
      // the server accepted us, a reset is reported as the TLS failure it
      // most likely is.
      let tlsConfirmed = false;
      // an object, not a variable, for the lookup to read (see lookupUntilSettled)
      const exchangeState = { settled: false };
      let req: ClientRequest | undefined;
      let socketRef: Socket | undefined;
      let response: IncomingMessage | undefined;
      const timers: NodeJS.Timeout[] = [];
      const clearTimers = (): void => {
        for (const t of timers) clearTimeout(t);
        timers.length = 0;
      };
      const onAbort = (): void => fail(transportError('TRANSPORT_ABORTED', 'request aborted', ctx));
      const detach = (): void => {
        clearTimers();
        signal?.removeEventListener('abort', onAbort);
      };
      const resolve = (value: T): boolean => {
        if (exchangeState.settled) return false;
        exchangeState.settled = true;
        detach();
        resolvePromise(value);
        return true;
      };
      let late: VtpmError | undefined;
      function fail(err: unknown): void {
        if (exchangeState.settled) {
          // a stream's body that breaks HTTP later: the parser's error, kept for its reader (StreamResponse.failure),
          // whose read fails anyway (the socket is closed), but as a reset
          const code = (err as { code?: unknown } | null)?.code;
          if (response !== undefined && !response.complete && typeof code === 'string' && code.startsWith('HPE_')) late ??= mapNetworkError(err, ctx, { inTlsHandshake: false });
          return;
        }
        exchangeState.settled = true;
        detach();
        const mapped = mapNetworkError(err, ctx, { inTlsHandshake: isTls && !handshakeDone, tlsUnconfirmed: isTls && !tlsConfirmed });
        // Destroy everything now: no more bytes are read from a failed exchange.
        response?.destroy();
        req?.destroy();
        socketRef?.destroy();
        rejectPromise(mapped);
      }

      signal?.addEventListener('abort', onAbort, { once: true });
      if (o.timeoutMs > 0) {
        timers.push(setTimeout(() => fail(transportError('TRANSPORT_TIMEOUT', `no complete response within ${o.timeoutMs} ms`, ctx, { timeoutMs: o.timeoutMs })), o.timeoutMs));
      }
      if (o.responseTimeoutMs > 0) {
        const t = setTimeout(
          () => fail(transportError('TRANSPORT_TIMEOUT', `no response within ${o.responseTimeoutMs} ms`, ctx, { timeoutMs: o.responseTimeoutMs })),
          o.responseTimeoutMs,
        );
        timers.push(t);
      }

      try {
        req = (isTls ? https : http).request(url, {
          method: 'GET',
          agent: fresh ? (isTls ? this.freshHttpsAgent : this.freshHttpAgent) : isTls ? this.httpsAgent : this.httpAgent,
          headers: o.headers,
          // pinned, whatever NODE_OPTIONS say (--max-http-header-size, --insecure-http-parser): a server's headers
          // stay within the documented 16 KiB, and a response both chunked and with a Content-Length is refused
          maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
          insecureHTTPParser: false,
          // host names are looked up a bounded number at a time (src/transport/lookup.ts): a resolver that never
          // answers holds a thread-pool thread whatever this request's timeout
          lookup: lookupUntilSettled(exchangeState),
        });
      } catch (err) {
        fail(err);
        return;
      }
      req.on('error', fail);
      req.on('socket', (socket: Socket) => {
        socketRef = socket;
        state.reusedSocket = req!.reusedSocket;
        if (req!.reusedSocket) {
          handshakeDone = true;
          tlsConfirmed = true;
          return;
        }
        const connectTimer = setTimeout(
          () => fail(transportError('TRANSPORT_CONNECT_TIMEOUT', `not connected within ${o.connectTimeoutMs} ms`, ctx, { timeoutMs: o.connectTimeoutMs })),
          o.connectTimeoutMs,
        );
        timers.push(connectTimer);
        socket.once(isTls ? 'secureConnect' : 'connect', () => {
          handshakeDone = true;
          clearTimeout(connectTimer);
        });
      });
      // We never ask to switch protocols: a 101 naming one (Upgrade) is handed to this event instead of
      // 'response', and with nobody listening the request waited for its timeout (exit 3 after the full
      // timeout, for an endpoint that had answered at once). It is the status error it is.
      req.on('upgrade', (res: IncomingMessage, socket: Socket) => {
        state.gotResponse = true;
        socket.destroy();
        fail(transportError('TRANSPORT_HTTP_STATUS', `endpoint answered HTTP ${res.statusCode ?? 101} (switching protocols, never asked for)`, ctx, { status: res.statusCode ?? 101 }));
      });
      req.on('response', (res: IncomingMessage) => {
        state.gotResponse = true;
        tlsConfirmed = true;
        response = res;
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(transportError('TRANSPORT_RESET', 'connection closed before the response was complete', ctx));
        });
        onResponse(res, { resolve, fail, detach, lateFailure: () => late });
      });
      req.end();
    });
  }
}

/**
 * The `lookup` of one request: looks host names up a bounded number at a time (src/transport/lookup.ts), and drops
 * the lookup once the exchange has settled. Made here, not inside `exchange`: a kept-alive socket keeps the options
 * it was connected with, this function among them, for as long as it lives, and a closure made inside `exchange`
 * kept that exchange's whole scope (the response, its chunks and the body it was resolved with) alive with it: an
 * audit's sockets, reused from VM to VM, held about twice the first answer each had read, outside the response
 * budget (32 sockets that had read 24 MiB answers: 1.5 GB of ArrayBuffers).
 */
function lookupUntilSettled(exchange: { readonly settled: boolean }): LookupFunction {
  return ((hostname: string, options: LookupOneOptions, callback: (...args: unknown[]) => void) =>
    sharedLookup.lookup(hostname, options, callback as never, () => exchange.settled)) as unknown as LookupFunction;
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/** A BEGIN line: OpenSSL takes one only at the start of a line (a mention inside a comment is text between blocks). */
const PEM_BEGIN_RE = /^-----BEGIN ([^\r\n-]*)-----/gm;

/**
 * A PEM block whose END line is missing (a file cut short, a block pasted in
 * part): OpenSSL reads a CA bundle block by block and stops, without a word,
 * at the first one it cannot read, so every certificate after it would be
 * left out and every connection would fail verification (exit 3, "try
 * again") instead of the bundle being refused up front. Returns its label.
 * BEGIN and END lines count, as for OpenSSL, only at the start of a line.
 */
function truncatedPemBlock(text: string): string | undefined {
  for (const m of text.matchAll(PEM_BEGIN_RE)) {
    const label = m[1]!;
    const start = m.index! + m[0].length;
    const end = text.indexOf(`\n-----END ${label}-----`, start);
    const next = text.indexOf('\n-----BEGIN ', start);
    if (end < 0 || (next >= 0 && next < end)) return label;
  }
  return undefined;
}

/** A line that starts (after blanks) like a BEGIN or END line; OpenSSL takes only `-----BEGIN LABEL-----` (or END), trailing blanks allowed. */
const PEM_MARKER_START_RE = /^[ \t]*-----(?:BEGIN|END) /;
const PEM_MARKER_LINE_RE = /^-----(?:BEGIN|END) [^\r\n-]*-----[ \t\r]*$/;

/**
 * A BEGIN or END line with something more on it (`cat a.pem b.pem` with a.pem
 * lacking its final newline gives `-----END CERTIFICATE----------BEGIN
 * CERTIFICATE-----`) or indented: OpenSSL does not take it for one, and leaves
 * out, without a word, the certificates it opens or closes (for a run-on END
 * line, the certificates on both sides). Returns the line, shortened.
 */
function malformedPemMarkerLine(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (PEM_MARKER_START_RE.test(line) && !PEM_MARKER_LINE_RE.test(line)) return sanitizeServerText(line.trim(), 80);
  }
  return undefined;
}

/** OpenSSL skips what it cannot parse in a CA bundle; we want to know. */
function checkCaBundle(ca: NonNullable<TlsOptions['ca']>): void {
  const items = Array.isArray(ca) ? ca : [ca];
  for (const item of items) {
    const text = item.toString();
    const malformed = malformedPemMarkerLine(text);
    if (malformed !== undefined) {
      throw tlsConfigError(`a BEGIN or END line in the CA bundle has more on it than its marker ("${malformed}"; a file joined to the next without its final newline?): OpenSSL would silently leave out the certificates around it`, `malformed PEM line`);
    }
    const truncated = truncatedPemBlock(text);
    if (truncated !== undefined) {
      throw tlsConfigError(
        `a PEM block in the CA bundle has no END line ("-----BEGIN ${truncated.slice(0, 40)}-----" is cut short); OpenSSL would ignore every certificate after it`,
        `BEGIN ${truncated.slice(0, 40)} without END`,
      );
    }
    const blocks = text.match(PEM_CERT_RE) ?? [];
    if (blocks.length === 0) throw tlsConfigError('the CA bundle holds no PEM certificate', 'no BEGIN CERTIFICATE block');
    for (const block of blocks) {
      try {
        new X509Certificate(block);
      } catch (err) {
        throw tlsConfigError('a certificate in the CA bundle does not parse', err);
      }
    }
  }
}

// PKCS#8 "ENCRYPTED PRIVATE KEY" blocks and traditional PEM keys with "Proc-Type: 4,ENCRYPTED".
const ENCRYPTED_KEY_RE = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type:\s*4,\s*ENCRYPTED/m;

/**
 * TLS 1.2 at least (whatever NODE_OPTIONS say); TLS 1.3 with a client
 * certificate. node verifies the server's certificate only once the handshake
 * is over, and in TLS 1.2 the client sends its certificate (in clear) before
 * that: any server the walk is pointed at (a host a hostile layer's
 * certificate names, or whoever intercepts a connection) would receive it
 * whatever its own certificate. In TLS 1.3 the client's certificate comes
 * after the server's, encrypted, and is not sent to a server that fails
 * verification.
 */
function minTlsVersion(o: TlsOptions): 'TLSv1.2' | 'TLSv1.3' {
  return o.cert !== undefined ? 'TLSv1.3' : 'TLSv1.2';
}

/** The least key size a server's certificate chain may use: 112-bit security, as OpenSSL's level 2 (RSA, RSA-PSS and DSA 2048, EC P-224; EdDSA always). */
export const MIN_SERVER_KEY_BITS = { rsa: 2048, ec: 224 } as const;

/** Certificates of a server's verified chain that are judged (web PKI chains have 3 or 4). */
export const MAX_SERVER_CHAIN = 16;

/**
 * node's host-name check, then the strength of every key in the verified
 * chain, anchor included. node's OpenSSL runs at security level 1, which
 * lets a server prove its identity with RSA-1024 (factorable by a
 * well-funded attacker), whatever cipher list we give it.
 */
function checkServerIdentity(host: string, cert: tls.PeerCertificate): Error | undefined {
  const nameError = tls.checkServerIdentity(host, cert);
  if (nameError) return nameError;
  const seen = new Set<tls.PeerCertificate>();
  let c: tls.DetailedPeerCertificate | undefined = cert as tls.DetailedPeerCertificate;
  for (; c && !seen.has(c); c = c.issuerCertificate) {
    // a chain too long to judge in full is refused, not judged by its first certificates only
    if (seen.size === MAX_SERVER_CHAIN) {
      const err = new Error(`the server's certificate chain is longer than ${MAX_SERVER_CHAIN} certificates`) as NodeJS.ErrnoException;
      err.code = 'ERR_TLS_CHAIN_TOO_LONG';
      return err;
    }
    seen.add(c);
    const weak = weakKey(c);
    if (weak) {
      const err = new Error(`the server's certificate chain uses ${weak} (${c.subject?.CN ? `CN=${c.subject.CN}` : 'a certificate'}): under the ${MIN_SERVER_KEY_BITS.rsa}-bit RSA or ${MIN_SERVER_KEY_BITS.ec}-bit EC accepted`) as NodeJS.ErrnoException;
      err.code = 'ERR_TLS_WEAK_SERVER_KEY';
      return err;
    }
  }
  return undefined;
}

function weakKey(c: tls.PeerCertificate): string | null {
  const bits = typeof c.bits === 'number' ? c.bits : undefined;
  // node gives modulus and exponent for RSA, a named curve for EC: the common case, judged without parsing
  if (bits !== undefined && typeof c.modulus === 'string') return bits < MIN_SERVER_KEY_BITS.rsa ? `an RSA-${bits} key` : null;
  if (bits !== undefined && typeof (c as { asn1Curve?: string }).asn1Curve === 'string') return bits < MIN_SERVER_KEY_BITS.ec ? `a ${bits}-bit EC key` : null;
  // other keys (RSA-PSS, DSA, EdDSA, EC on explicit parameters) have no size in node's summary: read the key itself
  let type: string | undefined;
  let size: number | undefined;
  try {
    const key = new X509Certificate(c.raw).publicKey;
    type = key.asymmetricKeyType;
    size = key.asymmetricKeyDetails?.modulusLength;
  } catch {
    return 'a key that cannot be read';
  }
  switch (type) {
    case 'rsa':
    case 'rsa-pss':
    case 'dsa':
      return size === undefined || size < MIN_SERVER_KEY_BITS.rsa ? `${type === 'dsa' ? 'a' : 'an'} ${type.toUpperCase()}-${size ?? '?'} key` : null;
    case 'ec':
      return bits === undefined || bits < MIN_SERVER_KEY_BITS.ec ? `a ${bits ?? '?'}-bit EC key` : null;
    case 'ed25519':
    case 'ed448':
      return null;
    default:
      // a key whose strength cannot be judged is not taken on trust
      return `a ${type ?? 'unknown'} key`;
  }
}

function makeSecureContext(o: TlsOptions): SecureContext {
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw tlsConfigError('a client certificate needs both cert and key', o.cert === undefined ? 'cert missing' : 'key missing');
  }
  if (o.ca !== undefined) checkCaBundle(o.ca);
  // OpenSSL only says "bad decrypt": say what is wrong and what to do
  if (o.key !== undefined && ENCRYPTED_KEY_RE.test(o.key.toString())) {
    if (o.passphrase === undefined) {
      throw tlsConfigError('the client key is encrypted and no passphrase was given (--key and the inventory take an unencrypted PEM key; keep it readable by the auditor only)', 'encrypted key');
    }
    try {
      return tls.createSecureContext({ ca: o.ca, cert: o.cert, key: o.key, passphrase: o.passphrase, minVersion: minTlsVersion(o) });
    } catch (err) {
      throw tlsConfigError('cannot load the client key with the passphrase given, or the certificate or CA bundle', err);
    }
  }
  try {
    return tls.createSecureContext({ ca: o.ca, cert: o.cert, key: o.key, passphrase: o.passphrase, minVersion: minTlsVersion(o) });
  } catch (err) {
    throw tlsConfigError('cannot load the CA bundle, client certificate or key', err);
  }
}

/**
 * The declared body size. node's parser takes any run of digits up to 2^64 (leading zeros too), so any
 * is read: one of 16 digits or more is far past every cap (a cap is at most 2^53 - 1, and Number() of a
 * longer one only rounds it), and must be refused on the header as a shorter one is, not read up to the cap.
 */
function contentLength(res: IncomingMessage): number | undefined {
  const h = res.headers['content-length'];
  if (h === undefined || !/^\d+$/.test(h)) return undefined;
  return Number(h);
}

/** Reads a 200 response body under the cap; everything else becomes an error. */
function readBody(url: URL, res: IncomingMessage, o: Resolved, ex: Exchange<HttpResponse>): void {
  if (res.statusCode !== 200) {
    rejectNonSuccess(url, res, o, ex);
    return;
  }
  const cap = o.maxResponseBytes;
  const declared = contentLength(res);
  if (declared !== undefined && declared > cap) {
    ex.fail(transportError('TRANSPORT_TOO_LARGE', `response declares ${declared} bytes, more than the ${cap}-byte cap`, o.ctx, { declared, max: cap }));
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  const budget = o.budget;
  const state: ReadState = { ex, handedOver: undefined };
  const held = budget.reader(dropBody(state, budget.maxBytes, o.ctx));
  // a failed exchange destroys the response: its bytes are released then (a held body's, by its holder)
  res.once('close', () => {
    if (!state.handedOver) held.close();
  });
  res.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > cap) {
      ex.fail(transportError('TRANSPORT_TOO_LARGE', `response exceeds the ${cap}-byte cap (stopped after ${received} bytes)`, o.ctx, { received, max: cap }));
      return;
    }
    if (!held.add(chunk.length)) return;
    chunks.push(chunk);
  });
  res.on('end', () => {
    const body = Buffer.concat(chunks, received);
    // the chunks are a second copy: whatever outlives this response (its listeners) must not keep them
    chunks.length = 0;
    if (!o.holdBody) {
      held.close();
      ex.resolve({ url: url.href, status: 200, headers: res.headers, body });
      return;
    }
    const hold = holdOf(held, received, state);
    if (!ex.resolve({ url: url.href, status: 200, headers: res.headers, body, held: hold })) held.close();
  });
}

/**
 * What a body's budget reader keeps, made outside readBody: a held body's reader and its release outlive the
 * exchange, and must keep neither the exchange (its promise holds the body: twice the bytes counted) nor the
 * response's scope (its chunks).
 */
interface ReadState {
  /** the exchange, until the body is handed over */
  ex: Exchange<HttpResponse> | undefined;
  /** once the body is read whole and held (holdBody): a drop aborts it */
  handedOver: AbortController | undefined;
}

function dropBody(state: ReadState, budgetBytes: number, ctx: TransportContext): (bytes: number) => void {
  return (bytes) => {
    if (state.handedOver) {
      state.handedOver.abort(
        transportError(
          'TRANSPORT_TOO_LARGE',
          `response dropped after ${bytes} bytes, read whole but not yet parsed: the responses read and not yet parsed passed their ${budgetBytes}-byte budget, and this one held the most`,
          ctx,
          { received: bytes, budget: budgetBytes, waitedFor: 'parse-gate' },
        ),
      );
      return;
    }
    state.ex?.fail(
      transportError(
        'TRANSPORT_TOO_LARGE',
        `response dropped after ${bytes} bytes: the responses being read at once passed their ${budgetBytes}-byte budget, and this one held the most`,
        ctx,
        { received: bytes, budget: budgetBytes },
      ),
    );
  };
}

/** Hands a body read whole over with its bytes still counted (see ReadState). */
function holdOf(held: BudgetReader, bytes: number, state: ReadState): BodyHold {
  const handedOver = new AbortController();
  state.handedOver = handedOver;
  state.ex = undefined;
  return { bytes, dropped: handedOver.signal, release: () => held.close() };
}

/**
 * A redirect fails at once (never followed); an error status fails with the
 * server's {"error": "..."} text, read from at most ERROR_BODY_CAP bytes.
 */
function rejectNonSuccess(url: URL, res: IncomingMessage, o: Resolved, ex: Exchange<unknown>): void {
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400) {
    const location = typeof res.headers.location === 'string' ? sanitizeServerText(res.headers.location, 500) : undefined;
    ex.fail(transportError('TRANSPORT_REDIRECT', `endpoint redirects (HTTP ${status}) to ${location ?? '(no Location)'}; redirects are not followed`, o.ctx, { status, location }));
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  const done = (): void => {
    const body = Buffer.concat(chunks).subarray(0, ERROR_BODY_CAP).toString('utf8');
    const serverError = serverErrorText(body);
    const shown = serverError === undefined ? '' : `: ${serverError}`;
    const retryAfter = retryAfterHeader(status, res);
    ex.fail(transportError('TRANSPORT_HTTP_STATUS', `endpoint answered HTTP ${status}${shown}`, o.ctx, { status, serverError, ...(retryAfter === undefined ? {} : { retryAfter }) }));
  };
  res.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    received += chunk.length;
    if (received >= ERROR_BODY_CAP) done();
  });
  res.on('end', done);
}

/** Of a Retry-After, the characters kept: a delta-seconds or an HTTP-date is far shorter. */
export const RETRY_AFTER_MAX_CHARS = 64;

/**
 * The Retry-After of a 429 (Too Many Requests) or a 503 (Service Unavailable), the statuses that say when to come
 * back: its first RETRY_AFTER_MAX_CHARS characters, control characters replaced (node keeps one such header of a
 * response, the first). Parsed by whoever retries.
 */
function retryAfterHeader(status: number, res: IncomingMessage): string | undefined {
  if (status !== 429 && status !== 503) return undefined;
  const value = res.headers['retry-after'];
  if (typeof value !== 'string') return undefined;
  return sanitizeServerText(value.slice(0, RETRY_AFTER_MAX_CHARS), RETRY_AFTER_MAX_CHARS);
}

/** The protocol's {"error": "..."} message, else the start of the body; sanitized and truncated. */
function serverErrorText(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { error?: unknown }).error === 'string') {
      return sanitizeServerText((parsed as { error: string }).error);
    }
  } catch {
    // not JSON: show the start of the text
  }
  const text = body.trim();
  return text === '' ? undefined : sanitizeServerText(text, 200);
}
