// A front for the simulator in audit tests: forwards a request to the
// simulator's origin and streams the answer back (used behind flaky and TLS
// servers on 127.0.0.1, so that only the VMs' own endpoints change).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';

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
