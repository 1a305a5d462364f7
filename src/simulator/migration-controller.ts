// The simulated Migration Controller (protocol section 6), served by the
// simulator's HTTP service under /m/{name}:
//
//   GET {url}/v1/migrations?instance={hex}   text/event-stream of the
//       instance's moves: past ones after Last-Event-ID (all without one),
//       then each new one as it completes; 400 without a valid instance; an
//       unknown instance gets an empty stream that stays open
//   GET {url}/v1/evidence?nonce=..&pcrs=..    the controller's own evidence
//       (section 2): it runs on a physical machine with its own TPM, so a
//       policy can require a trusted Migration System
//
// `url` is what VM AK certificates name as migrationService. Events are kept
// per instance for replay; seq increases per controller. A stream fault cuts a
// connection in the middle of an event, so clients must resume with
// Last-Event-ID and drop the half-received event.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatMigrationEvent, type MigrationEvent } from '../transport/migration-stream.js';
import { invalidArgument } from './codes.js';
import { FIRMWARE_PROFILES, firmwareLog, measureBoot } from './firmware.js';
import { SimLayer } from './layer.js';
import type { SimCa } from './pki.js';
import type { MountedService } from './service.js';
import { SoftTpm } from './soft-tpm.js';
import type { HashName } from '../tpm/constants.js';

/** The path segment the controllers are mounted at: {origin}/m/{name}. */
export const CONTROLLER_SEGMENT = 'm';

/** A comment line this often keeps idle streams (and the proxies between) open. */
export const KEEP_ALIVE_MS = 15_000;

export interface ControllerStats {
  /** event streams opened */
  streams: number;
  /** events written to streams (replayed or live) */
  eventsSent: number;
  /** connections cut by a stream fault */
  drops: number;
  /** 4xx answers */
  rejected: number;
}

export interface MigrationControllerOptions {
  name: string;
  /** the simulator's origin, http://127.0.0.1:PORT */
  origin: string;
  /** the CA that certifies the controller's AK (the physical AK CA) */
  akCa: SimCa;
  /** answers an evidence request with a layer's evidence (SimulatorService.serveEvidence) */
  serveEvidence: (layer: SimLayer, query: string, res: ServerResponse) => void;
  banks?: readonly HashName[] | undefined;
  /** derive the controller's keys from this seed (random keys without) */
  seed?: Uint8Array | undefined;
  now?: (() => number) | undefined;
  clock?: number | undefined;
}

interface OpenStream {
  instance: string;
  res: ServerResponse;
  sent: number;
  /** cut the connection in the middle of event number dropAfter + 1 (a stream fault), or null */
  dropAfter: number | null;
  keepAlive: NodeJS.Timeout;
}

const HEX64 = /^[0-9a-f]{64}$/;

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

export class MigrationController implements MountedService {
  readonly name: string;
  /** the migrationService URI: {origin}/m/{name} */
  readonly url: string;
  /** the controller's own attestable layer (a physical machine) */
  readonly layer: SimLayer;
  readonly stats: ControllerStats = { streams: 0, eventsSent: 0, drops: 0, rejected: 0 };
  private seq = 0;
  private readonly byInstance = new Map<string, MigrationEvent[]>();
  private readonly streams = new Set<OpenStream>();
  private readonly pendingDrops: number[] = [];
  private readonly serveEvidenceOf: MigrationControllerOptions['serveEvidence'];
  private closed = false;

  constructor(options: MigrationControllerOptions) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(options.name)) throw invalidArgument(`controller name ${JSON.stringify(options.name)}: 1..64 letters, digits, ".", "_" or "-"`, {});
    this.name = options.name;
    this.url = `${options.origin}/${CONTROLLER_SEGMENT}/${options.name}`;
    this.serveEvidenceOf = options.serveEvidence;
    const banks = options.banks ?? ['sha1', 'sha256', 'sha384'];
    const tpm = SoftTpm.create({
      banks,
      ...(options.seed ? { seed: Buffer.concat([options.seed, Buffer.from(`/controller/${options.name}`)]) } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
    });
    const firmware = firmwareLog(FIRMWARE_PROFILES.physical, banks);
    measureBoot(tpm, firmware);
    this.layer = new SimLayer({ name: `controller-${options.name}`, role: 'physical', tags: [], host: null, tpm, firmware, ima: null, url: this.url, issuingCa: null, listed: false });
    const cert = options.akCa.issueAk({ commonName: `${options.name} migration controller AK`, publicKey: tpm.akPublicKey, layer: { kind: 'physical' }, serialLabel: `controller/${options.name}` });
    this.layer.setCertificates(cert, options.akCa.intermediates());
  }

  /** Every event recorded so far, by seq. */
  get lastSeq(): number {
    return this.seq;
  }

  /** The instance's moves so far (hex id), oldest first. */
  eventsOf(instance: string): readonly MigrationEvent[] {
    return this.byInstance.get(instance.toLowerCase()) ?? [];
  }

  /** Open event streams right now. */
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Publishes a completed move: it gets the next seq, is kept for replay and
   * is written at once to every open stream of the instance.
   */
  record(move: { instance: string; from: string; to: string; time?: Date }): MigrationEvent {
    const instance = move.instance.toLowerCase();
    if (!HEX64.test(instance)) throw invalidArgument('migration event: instance must be 64 hex digits', { instance });
    const time = new Date(Math.floor((move.time ?? new Date()).getTime() / 1000) * 1000);
    const event: MigrationEvent = { instance, seq: ++this.seq, from: move.from, to: move.to, time };
    const list = this.byInstance.get(instance);
    if (list) list.push(event);
    else this.byInstance.set(instance, [event]);
    for (const s of this.streams) if (s.instance === instance) this.send(s, event);
    return event;
  }

  /** Fault: the next stream opened sends `afterEvents` events, then half of the next one, then drops the connection. */
  dropNextStream(afterEvents: number): void {
    if (!Number.isInteger(afterEvents) || afterEvents < 0) throw invalidArgument('dropNextStream: a whole number of events', { afterEvents });
    this.pendingDrops.push(afterEvents);
  }

  /** Fault: cuts every open stream now (as a restarting controller or a broken proxy would). */
  dropOpenStreams(): number {
    const n = this.streams.size;
    for (const s of [...this.streams]) {
      this.stats.drops++;
      this.end(s);
      s.res.destroy();
    }
    return n;
  }

  handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
    const prefix = `/${this.name}`;
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return this.reject(res, 404, `no migration controller at ${path.slice(0, 100)}`);
    const rest = path.slice(prefix.length);
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return this.reject(res, 405, `method ${req.method} not allowed`);
    }
    if (rest === '/v1/evidence') return this.serveEvidenceOf(this.layer, query, res);
    if (rest === '/v1/migrations') return this.openStream(req, res, query);
    return this.reject(res, 404, `the migration controller serves /v1/migrations and /v1/evidence`);
  }

  close(): void {
    this.closed = true;
    for (const s of [...this.streams]) {
      this.end(s);
      s.res.destroy();
    }
  }

  private reject(res: ServerResponse, status: number, message: string): void {
    this.stats.rejected++;
    sendJson(res, status, { error: message });
  }

  private openStream(req: IncomingMessage, res: ServerResponse, query: string): void {
    const params = new URLSearchParams(query);
    const instance = params.get('instance');
    if (instance === null) return this.reject(res, 400, 'the instance parameter is required');
    if (!HEX64.test(instance.toLowerCase()) || params.getAll('instance').length > 1) return this.reject(res, 400, 'instance must be one 64-hex-digit instance id');
    // Last-Event-ID is the seq the client saw last; anything else replays everything (clients drop what they have)
    const header = req.headers['last-event-id'];
    const lastId = typeof header === 'string' && /^\d{1,15}$/.test(header.trim()) ? Number(header.trim()) : -1;

    this.stats.streams++;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    const stream: OpenStream = {
      instance: instance.toLowerCase(),
      res,
      sent: 0,
      dropAfter: this.pendingDrops.shift() ?? null,
      keepAlive: setInterval(() => {
        if (!res.destroyed) res.write(': keep-alive\n\n');
      }, KEEP_ALIVE_MS),
    };
    stream.keepAlive.unref();
    this.streams.add(stream);
    res.on('close', () => this.end(stream));
    if (this.closed) {
      res.destroy();
      return;
    }
    for (const event of this.eventsOf(stream.instance)) {
      if (event.seq <= lastId) continue;
      if (!this.send(stream, event)) return;
    }
  }

  /** Writes one event; false when a stream fault cut the connection instead. */
  private send(stream: OpenStream, event: MigrationEvent): boolean {
    if (!this.streams.has(stream) || stream.res.destroyed) return false;
    const text = formatMigrationEvent(event);
    if (stream.dropAfter !== null && stream.sent >= stream.dropAfter) {
      this.stats.drops++;
      this.end(stream);
      // half an event reaches the client before the connection goes: it must be discarded, and replayed on resume
      stream.res.write(text.slice(0, Math.floor(text.length / 2)), () => stream.res.destroy());
      return false;
    }
    stream.res.write(text);
    stream.sent++;
    this.stats.eventsSent++;
    return true;
  }

  private end(stream: OpenStream): void {
    clearInterval(stream.keepAlive);
    this.streams.delete(stream);
  }
}
