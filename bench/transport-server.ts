// A stand-alone evidence server for bench/transport.bench.ts, in its own
// process so that serving does not compete with the client's event loop.
// Prints its port on stdout; serves a fixed evidence document of the size
// asked for; exits when stdin closes.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { certificatePem, serializeEvidence, type LayerEvidence } from '../src/transport/evidence.js';

const size = process.argv[2] ?? 'small';
const certificate = (bytes: number) => {
  const der = Buffer.concat([Buffer.from([0x30]), randomBytes(bytes)]);
  return { pem: certificatePem(der), der };
};
const evidence: LayerEvidence = {
  version: 1,
  quote: { message: randomBytes(145), signature: randomBytes(72) },
  unverifiedPcrs: new Map([['sha256', new Map(Array.from({ length: 24 }, (_, i) => [i, randomBytes(32)] as [number, Buffer]))]]),
  certificates: [certificate(700), certificate(600)],
  vplatformLog: Array.from({ length: 8 }, () => ({ pcr: 23 as const, op: 'create' as const, instance: randomBytes(32).toString('hex') })),
};
if (size === 'typical') {
  evidence.eventLog = randomBytes(40 * 1024);
  evidence.imaLog = Array.from({ length: 150 }, (_, i) => `10 ${'a'.repeat(40)} ima-ng sha256:${'b'.repeat(64)} /usr/lib/file-${i}\n`).join('');
}
const body = Buffer.from(JSON.stringify(serializeEvidence(evidence)));
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`${address.port} ${body.length}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
