// Real servers on 127.0.0.1 for the transport tests: HTTP, HTTPS (with
// certificates made by openssl in a temp folder), and raw TCP for servers
// that misbehave below HTTP.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificatePem, type EvidenceJson } from '../../src/transport/evidence.js';

export interface TestServer {
  url: string;
  port: number;
  /** TCP connections accepted so far */
  connections: number;
  /** requests received so far */
  requests: IncomingMessage[];
  close(): Promise<void>;
}

function track(server: net.Server, scheme: string, requests: IncomingMessage[]): Promise<TestServer> {
  const sockets = new Set<Socket>();
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      const handle: TestServer = {
        url: `${scheme}://127.0.0.1:${port}`,
        port,
        connections: 0,
        requests,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      };
      server.on(scheme === 'https' ? 'secureConnection' : 'connection', () => handle.connections++);
      server.on('connection', (s: Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      resolve(handle);
    });
  });
}

export function startHttp(handler: RequestListener): Promise<TestServer> {
  const requests: IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  return track(server, 'http', requests);
}

export function startHttps(options: https.ServerOptions, handler: RequestListener): Promise<TestServer> {
  const requests: IncomingMessage[] = [];
  const server = https.createServer(options, (req, res) => {
    requests.push(req);
    handler(req, res);
  });
  return track(server, 'https', requests);
}

/** A TCP server that runs `onSocket` for each connection (no HTTP at all). */
export function startTcp(onSocket: (s: Socket) => void): Promise<TestServer> {
  const server = net.createServer(onSocket);
  return track(server, 'http', []);
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = await startTcp(() => {});
  await s.close();
  return s.port;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** What a flooding or dripping server has done so far. */
export interface Outflow {
  written: number;
  closed: boolean;
}

/**
 * Writes `chunk` again and again, honouring backpressure, until 1 GiB or the
 * client hangs up: `written` then tells how much the client let through.
 */
export function flood(res: ServerResponse, chunk: Buffer): Outflow {
  const out: Outflow = { written: 0, closed: false };
  const pump = (): void => {
    while (!out.closed && out.written < 1024 ** 3) {
      out.written += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
  };
  res.on('close', () => (out.closed = true));
  pump();
  return out;
}

/** Writes `text` every few milliseconds, forever, until the client hangs up. */
export function drip(res: ServerResponse, text: string): Outflow {
  const out: Outflow = { written: 0, closed: false };
  const timer = setInterval(() => {
    res.write(text);
    out.written += text.length;
  }, 5);
  res.on('close', () => {
    clearInterval(timer);
    out.closed = true;
  });
  return out;
}

/**
 * Resolves when `predicate` holds, checked on every event-loop turn (no fixed
 * sleeps). The 20 s bound only turns a hang into a failure; nothing asserts speed.
 */
export async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

// A small but complete evidence document, with a syntactically valid PEM.
export const SAMPLE_INSTANCE = 'ab'.repeat(32);
export const SAMPLE_ISSUER = 'cd'.repeat(32);

export function sampleEvidenceJson(): EvidenceJson & Record<string, unknown> {
  return {
    version: 1,
    quote: { message: Buffer.from('ff544347801800', 'hex').toString('base64'), signature: Buffer.from('0018000b0020', 'hex').toString('base64') },
    pcrs: { sha256: { '0': '11'.repeat(32), '7': '22'.repeat(32), '23': '33'.repeat(32) }, sha1: { '0': '44'.repeat(20) } },
    certificates: [certificatePem(Buffer.from('3003020101', 'hex')), certificatePem(Buffer.from('3003020102', 'hex'))],
    eventLog: Buffer.from('event log bytes').toString('base64'),
    imaLog: '10 aaaa ima-ng sha256:bbbb /init\n',
    vplatformLog: [
      { pcr: 23, op: 'issuer', certificate: SAMPLE_ISSUER },
      { pcr: 23, op: 'create', instance: SAMPLE_INSTANCE, vm: 'web-1' },
      { pcr: 23, op: 'migrate-out', instance: SAMPLE_INSTANCE },
    ],
  };
}

export interface TlsFixture {
  dir: string;
  caPem: Buffer;
  otherCaPem: Buffer;
  serverKey: Buffer;
  serverCert: Buffer;
  clientKey: Buffer;
  clientCert: Buffer;
  remove(): void;
}

/** A CA, a server certificate for IP 127.0.0.1, a client certificate, and an unrelated CA. */
export function makeTlsFixture(): TlsFixture {
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-tls-'));
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=vtpm-verify test CA');
  ossl('req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=unrelated CA');
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'],
    ['client', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  return {
    dir,
    caPem: read('ca.pem'),
    otherCaPem: read('other.pem'),
    serverKey: read('server.key'),
    serverCert: read('server.pem'),
    clientKey: read('client.key'),
    clientCert: read('client.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
