// One layer served by a real HTTP server on 127.0.0.1, attested by the walker
// under a policy: for tests of attesters that quote or log what they like.
import { createServer, type Server } from 'node:http';
import { parseEvidenceQuery, type EvidenceRequest } from '../../src/transport/evidence-request.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { liveSource } from '../../src/transport/layer-source.js';
import { walk, type EvidenceSource } from '../../src/verify/walker.js';
import { drawTopNonce } from '../../src/verify/nonce-chain.js';
import { loadPolicy } from '../../src/policy/index.js';
import type { TrustStore } from '../../src/x509/trust-store.js';
import type { AttestationResult } from '../../src/verify/result.js';

/** Attests `/vm` on a server answering each evidence request with `evidenceFor(request)` (the JSON body). */
export async function attestServedLayer(trust: TrustStore, policyText: string, evidenceFor: (request: EvidenceRequest) => unknown): Promise<AttestationResult> {
  const server: Server = createServer((req, res) => {
    const body = evidenceFor(parseEvidenceQuery(new URL(req.url ?? '/', 'http://127.0.0.1').searchParams));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = new EvidenceClient({ timeoutMs: 3_000 });
  try {
    const target = `http://127.0.0.1:${(server.address() as { port: number }).port}/vm`;
    const now = new Date();
    return (await walk({ target, topNonce: drawTopNonce(now, target), trust, policy: loadPolicy(policyText), policySource: { source: 'test', builtin: false }, at: now }, liveSource(client) as EvidenceSource)).result;
  } finally {
    client.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
