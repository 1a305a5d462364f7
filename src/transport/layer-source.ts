// The live evidence source of the deep-attestation walker: each layer's
// evidence fetched over HTTP(S) from its evidence endpoint.

import type { EvidenceClient } from './evidence-client.js';
import type { LayerEvidence } from './evidence.js';
import type { BodyHold } from './response-budget.js';

export interface LiveSourceRequest {
  position: number;
  uri: string;
  nonce: Uint8Array;
  pcrs: readonly { bank: import('../tpm/constants.js').HashName; pcrs: readonly number[] }[];
  instance?: Uint8Array;
  /** asks that the body stay counted against the response budget, handed over here, until its logs are parsed */
  holdUntilParsed?: (held: BodyHold) => void;
}

export interface LiveSourceOptions {
  timeoutMs?: number;
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

export function liveSource(client: EvidenceClient, options: LiveSourceOptions = {}): (request: LiveSourceRequest) => Promise<LayerEvidence> {
  return async (request) => {
    const fetched = await client.fetch(
      request.uri,
      { nonce: request.nonce, pcrs: request.pcrs.map((p) => ({ bank: p.bank, pcrs: [...p.pcrs] })), ...(request.instance ? { instance: request.instance } : {}) },
      {
        // transport errors say "layer <label>: ..." themselves
        layer: `${request.position} (${request.uri})`,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(request.holdUntilParsed ? { holdBody: true } : {}),
      },
    );
    if (fetched.held) request.holdUntilParsed!(fetched.held);
    return fetched.evidence;
  };
}
