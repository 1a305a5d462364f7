// A front for the simulator in audit tests: forwards a request to the
// simulator's origin and streams the answer back (used behind flaky and TLS
// servers on 127.0.0.1, so that only the VMs' own endpoints change).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

export function forwarder(target: string): { forward(req: IncomingMessage, res: ServerResponse): void; close(): void } {
  const agent = new http.Agent({ keepAlive: true });
  return {
    forward: (req, res) => {
      const up = http.request(`${target}${req.url}`, { agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end();
    },
    close: () => agent.destroy(),
  };
}

/**
 * A front on 127.0.0.1 for the simulator at `target` that counts the requests of each layer path (`/l/NAME`,
 * without `/v1/evidence` or a query) and gives each to `handle` with its count: `handle` answers it, or returns
 * false to have it forwarded. Closed with the test.
 */
export async function countingFront(
  t: TestContext,
  target: string,
  handle: (path: string, n: number, req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<{ origin: string; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const upstream = forwarder(target);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!.replace(/\/v1\/evidence$/, '');
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    if (!handle(path, n, req, res)) upstream.forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    upstream.close();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}
