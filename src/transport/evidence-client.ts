// Fetches one layer's evidence: GET {base}/v1/evidence?... (protocol section 2)
// under the HTTP client's bounds, then validates the body into a LayerEvidence.
//
// Failure kinds: could-not-complete (DNS, refused, timeouts, caps, redirects,
// HTTP status) are TransportErrors (exit 3); a body that is not acceptable
// evidence (bad JSON, wrong shape) is a VerificationError EVIDENCE_* (exit 1),
// because the layer answered and its answer is what failed.

import { sanitizeServerText, type LayerLabel } from './errors.js';
import { evidenceUrl, parseEvidenceBytes, type EvidenceLimits, type EvidenceRequest, type LayerEvidence } from './evidence.js';
import { HttpClient, type HttpClientOptions } from './http-client.js';
import type { BodyHold } from './response-budget.js';

export interface EvidenceClientOptions extends HttpClientOptions {
  /** caps on evidence fields (defaults: EVIDENCE_LIMITS) */
  limits?: Partial<EvidenceLimits> | undefined;
  /** share one HttpClient (and its kept-alive connections) between clients; then its options above are ignored */
  http?: HttpClient | undefined;
}

export interface FetchEvidenceOptions {
  /** names the layer in every error; defaults to the base URI */
  layer?: LayerLabel | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  connectTimeoutMs?: number | undefined;
  maxResponseBytes?: number | undefined;
  /** keep the body's bytes counted against the response budget until `held.release()` (FetchedEvidence.held) */
  holdBody?: boolean | undefined;
}

export interface FetchedEvidence {
  /** the exact URL requested */
  url: string;
  evidence: LayerEvidence;
  /** size of the response body */
  bytes: number;
  /** with `holdBody`: the body's bytes, still counted against the response budget until released */
  held?: BodyHold;
}

/** What a layer walker needs to fetch evidence; `client.fetch.bind(client)` is one. */
export type EvidenceFetcher = (base: string, request: EvidenceRequest, options: FetchEvidenceOptions) => Promise<FetchedEvidence>;

export class EvidenceClient {
  readonly http: HttpClient;
  private readonly ownsHttp: boolean;
  private readonly limits: Partial<EvidenceLimits> | undefined;

  constructor(options: EvidenceClientOptions = {}) {
    this.ownsHttp = options.http === undefined;
    this.http = options.http ?? new HttpClient(options);
    this.limits = options.limits;
  }

  async fetch(base: string | URL, request: EvidenceRequest, options: FetchEvidenceOptions = {}): Promise<FetchedEvidence> {
    const layer = options.layer ?? sanitizeServerText(String(base), 200);
    const url = evidenceUrl(base, request, layer);
    const res = await this.http.get(url, {
      layer,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
      maxResponseBytes: options.maxResponseBytes,
      headers: { accept: 'application/json' },
      ...(options.holdBody ? { holdBody: true } : {}),
    });
    let evidence: LayerEvidence;
    try {
      evidence = parseEvidenceBytes(res.body, { layer, limits: this.limits });
    } catch (err) {
      res.held?.release();
      throw err;
    }
    return { url: res.url, evidence, bytes: res.body.length, ...(res.held ? { held: res.held } : {}) };
  }

  /** Closes the connections, if this client created its HttpClient. */
  close(): void {
    if (this.ownsHttp) this.http.close();
  }
}
