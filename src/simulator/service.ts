// The simulated platform's deep attestation services over HTTP (protocol
// section 2): every layer answers at `{origin}/l/{name}/v1/evidence`, all on
// one node:http server on 127.0.0.1. Layer-level transport faults (a layer
// that closes the connection, answers slowly, or without end) happen here;
// everything about the evidence itself is the layer's (layer.ts).
//
// Built for throughput: kept-alive connections, no file I/O, and per request
// only the query parsing, the quote and a short head of text; the rest of
// the document is sent from buffers encoded once.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { VtpmError, TransportError } from '../errors.js';
import type { HugeMode, SlowMode, UnreachableMode } from './faults.js';
import type { EvidenceParts, SimLayer } from './layer.js';
import type { SimPlatform } from './platform.js';
import { EvidenceQueryCache } from './request-cache.js';

export const LAYER_PATH_PREFIX = '/l/';

/** Drip faults send one byte this often; slow (delay) faults wait this long by default. */
export const DRIP_INTERVAL_MS = 200;
export const DEFAULT_SLOW_DELAY_MS = 10 * 60_000;
/** What a declared-huge response claims to send. */
export const DECLARED_HUGE_BYTES = 64 * 1024 ** 3;
const HUGE_CHUNK = Buffer.alloc(64 * 1024, 0x20);

export interface ServiceStats {
  /** TCP connections accepted */
  connections: number;
  /** evidence documents served (200) */
  evidence: number;
  /** 4xx answers */
  rejected: number;
  /** requests met with a transport fault */
  faulted: number;
}

export interface ListenOptions {
  /** default 127.0.0.1 */
  host?: string | undefined;
  /** default 0: an ephemeral port */
  port?: number | undefined;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

/** An ephemeral port that nothing listens on once this returns (connections to it are refused). */
export async function reserveDeadPort(host = '127.0.0.1'): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, host, () => resolve());
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Something served under its own path segment of the simulator's origin (the Migration Controller at /m/). */
export interface MountedService {
  /** `path` is the part after `/{segment}`, `query` the part after `?` */
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): void;
  /** ends its long-lived responses and timers; called by close() */
  close(): void;
}

export class SimulatorService {
  readonly server: http.Server;
  readonly host: string;
  readonly port: number;
  readonly origin: string;
  readonly stats: ServiceStats = { connections: 0, evidence: 0, rejected: 0, faulted: 0 };
  private platform: SimPlatform | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sockets = new Set<Socket>();
  private index: Buffer | null = null;
  private readonly mounts = new Map<string, MountedService>();
  private readonly queries = new EvidenceQueryCache();
  private closed = false;

  private constructor(server: http.Server, host: string, port: number) {
    this.server = server;
    this.host = host;
    this.port = port;
    this.origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    server.on('connection', (s: Socket) => {
      this.stats.connections++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Listens first (so layer URLs, which go into certificates, are known), serves once a platform is attached. */
  static async listen(options: ListenOptions = {}): Promise<SimulatorService> {
    const host = options.host ?? '127.0.0.1';
    const server = http.createServer({ noDelay: true, keepAliveTimeout: 10_000 });
    // above the client's idle-socket timeout (4 s), so the client closes kept-alive sockets first
    server.keepAliveTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new TransportError('SIM_LISTEN_FAILED', `the simulator cannot listen on ${host}:${options.port ?? 0}: ${err.code ?? err.message}`, { host, port: options.port ?? 0, cause: err.code }, { cause: err })),
      );
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const service = new SimulatorService(server, host, (server.address() as AddressInfo).port);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => service.handle(req, res));
    return service;
  }

  attach(platform: SimPlatform): void {
    this.platform = platform;
    this.index = null;
  }

  /** Serves every request under `/{segment}/...` (any method) with `service`. */
  mount(segment: string, service: MountedService): void {
    if (!/^[a-z][a-z0-9-]*$/.test(segment) || segment === 'l' || segment === 'v1') throw new TypeError(`cannot mount at /${segment}`);
    this.mounts.set(segment, service);
  }

  /** Stops listening, ends every connection (dripping and endless ones included) and every pending timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.mounts.values()) m.close();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await done;
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const segment = /^\/([a-z][a-z0-9-]*)(?=[/?]|$)/.exec(url)?.[1];
    const mounted = segment === undefined ? undefined : this.mounts.get(segment);
    if (mounted) {
      const q = url.indexOf('?');
      mounted.handle(req, res, (q < 0 ? url : url.slice(0, q)).slice(segment!.length + 1), q < 0 ? '' : url.slice(q + 1));
      return;
    }
    if (req.method !== 'GET') {
      this.stats.rejected++;
      res.setHeader('allow', 'GET');
      sendJson(res, 405, { error: `method ${req.method} not allowed` });
      return;
    }
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/' || path === '/v1/layers') {
      this.sendIndex(res, path === '/v1/layers');
      return;
    }
    if (!path.startsWith(LAYER_PATH_PREFIX)) return this.notFound(res, `no such resource ${path.slice(0, 100)}`);
    const rest = path.slice(LAYER_PATH_PREFIX.length);
    const slash = rest.indexOf('/');
    let name: string;
    try {
      name = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
    } catch {
      return this.notFound(res, 'malformed layer name');
    }
    const layer = this.platform?.layers.get(name);
    if (!layer) return this.notFound(res, `no layer named ${name.slice(0, 64)}`);
    if (slash < 0 || rest.slice(slash) !== '/v1/evidence') return this.notFound(res, `layer ${name} serves /v1/evidence only`);
    if (this.transportFault(layer, req, res)) return;
    this.serveEvidence(layer, q < 0 ? '' : url.slice(q + 1), res);
  }

  private notFound(res: ServerResponse, message: string): void {
    this.stats.rejected++;
    sendJson(res, 404, { error: message });
  }

  /** Answers an evidence request (protocol section 2) with `layer`'s evidence; mounted services use it too. */
  serveEvidence(layer: SimLayer, query: string, res: ServerResponse): void {
    let body: EvidenceParts;
    try {
      const request = this.queries.parse(query);
      // a relay answers with another platform's genuine evidence for the same request; a cloned VM, in turn with its copy
      const relayed = layer.faultFor('relayed', request) ?? layer.faultFor('relayed-top');
      const answering = layer.relayTarget && relayed ? layer.relayTarget : layer.respondent();
      body = answering.evidenceParts(request);
    } catch (err) {
      if (err instanceof VtpmError && err.kind === 'input') {
        this.stats.rejected++;
        sendJson(res, 400, { error: err.message });
      } else {
        // a bug of the simulator: say so, and keep serving the other layers
        process.stderr.write(`vtpm-verify simulator: layer ${layer.name}: ${(err as Error).stack ?? String(err)}\n`);
        sendJson(res, 500, { error: 'internal error of the simulator' });
      }
      return;
    }
    this.stats.evidence++;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    // one writev: node corks the socket from the first write until end()
    res.write(body.head, 'latin1');
    res.end(body.tail);
  }

  /** Applies unreachable (reset), slow and huge; true when the request was taken care of. */
  private transportFault(layer: SimLayer, req: IncomingMessage, res: ServerResponse): boolean {
    const unreachable = layer.faultFor('unreachable');
    if (unreachable && ((unreachable.mode as UnreachableMode | undefined) ?? 'refused') === 'reset') {
      // refused layers point at a dead port and never get here; reset ones close without an answer
      this.stats.faulted++;
      req.socket.destroy();
      return true;
    }
    const slow = layer.faultFor('slow');
    if (slow) {
      this.stats.faulted++;
      if (((slow.mode as SlowMode | undefined) ?? 'drip') === 'delay') {
        const t = this.later(slow.delayMs ?? DEFAULT_SLOW_DELAY_MS, () => {
          if (!res.destroyed) sendJson(res, 503, { error: 'too late' });
        });
        res.on('close', () => {
          clearTimeout(t);
          this.timers.delete(t);
        });
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{');
        const drip = (): void => {
          if (res.destroyed || this.closed) return;
          res.write(' ');
          this.later(DRIP_INTERVAL_MS, drip);
        };
        this.later(DRIP_INTERVAL_MS, drip);
      }
      return true;
    }
    const huge = layer.faultFor('huge');
    if (huge) {
      this.stats.faulted++;
      const declared = ((huge.mode as HugeMode | undefined) ?? 'endless') === 'declared';
      res.writeHead(200, declared ? { 'content-type': 'application/json', 'content-length': DECLARED_HUGE_BYTES } : { 'content-type': 'application/json' });
      const pump = (): void => {
        while (!res.destroyed && !this.closed) {
          if (!res.write(HUGE_CHUNK)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      res.write('{"version":1,"padding":"');
      pump();
      return true;
    }
    return false;
  }

  private sendIndex(res: ServerResponse, full: boolean): void {
    const platform = this.platform;
    if (!platform) {
      sendJson(res, 503, { error: 'the platform is still being built' });
      return;
    }
    if (!full) {
      sendJson(res, 200, { service: 'vtpm-verify simulator', protocol: 1, layers: platform.layers.size, tops: platform.tops().length, index: '/v1/layers' });
      return;
    }
    this.index ??= Buffer.from(
      JSON.stringify({
        layers: [...platform.layers.values()].map((l) => ({ name: l.name, url: l.url, role: l.role, kind: l.kind, host: l.host?.name ?? null, instance: l.instanceIdHex, listed: l.listed })),
      }),
    );
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': this.index.length });
    res.end(this.index);
  }
}
