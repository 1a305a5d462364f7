// One layer of the simulated platform (a physical host, a VMM or a VM) and
// the evidence it serves (protocol section 2). Everything that does not
// change between requests is encoded once: the certificate PEMs, the base64
// event log (shared by every machine that booted the same way), the IMA
// text, and the vplatformLog JSON (re-encoded only when the table changes).
// Per request there is the quote (one signature) and a short head of text
// (quote and PCR values, the latter kept per PCR snapshot); the service sends
// head and tail without joining them.

import { createHash } from 'node:crypto';
import type { EvidenceRequest } from '../transport/evidence.js';
import { toHex } from '../util/bytes.js';
import type { VplatformInstanceOp } from '../verify/vplatform.js';
import { invalidArgument } from './codes.js';
import { FAULTS, type FaultName, type LayerFault } from './faults.js';
import { alteredImaText, alteredLogBytes, type FirmwareLog, type ImaListTemplate, type MachineRole } from './firmware.js';
import type { IssuedCertificate, SimCa } from './pki.js';
import type { PcrSnapshot } from './pcr-snapshot.js';
import type { QuoteFaults, SoftTpm } from './soft-tpm.js';
import { VplatformRecorder } from './vplatform-recorder.js';

export type LayerKind = 'physical' | 'virtual';

/** The genuine logs part of the evidence, shared by layers that booted the same way. */
const sharedLogParts = new WeakMap<FirmwareLog, Map<ImaListTemplate | null, Buffer>>();

function logsPart(eventLog: Buffer | string | null, imaText: string | null): Buffer {
  let s = '';
  if (eventLog !== null) s += `,"eventLog":"${typeof eventLog === 'string' ? eventLog : eventLog.toString('base64')}"`;
  if (imaText !== null) s += `,"imaLog":${JSON.stringify(imaText)}`;
  return Buffer.from(s, 'utf8');
}

const CLOSE = Buffer.from('}', 'latin1');

export interface SimLayerInit {
  name: string;
  role: MachineRole;
  tags: readonly string[];
  host: SimLayer | null;
  tpm: SoftTpm;
  firmware: FirmwareLog;
  ima: ImaListTemplate | null;
  url: string;
  /** the CA this layer issues its guests' AK certificates with (per-host vPlatform CA, or the provider's) */
  issuingCa: SimCa | null;
  /** false: a decoy platform built for relayed / foreign-issuer faults, not part of the topology asked for */
  listed: boolean;
}

export class SimLayer {
  readonly name: string;
  readonly role: MachineRole;
  readonly kind: LayerKind;
  readonly tags: readonly string[];
  readonly guests: SimLayer[] = [];
  readonly firmware: FirmwareLog;
  readonly ima: ImaListTemplate | null;
  /** the base URI of this layer's evidence endpoint (what the guests' certificates name as deepAttestation) */
  readonly url: string;
  readonly issuingCa: SimCa | null;
  readonly listed: boolean;
  /** the faults injected into this layer */
  readonly faults: LayerFault[] = [];
  /** where a relayed fault sends requests (another genuine platform) */
  relayTarget: SimLayer | null = null;

  private hostLayer: SimLayer | null;
  private runningTpm: SoftTpm;
  /** a copy of this VM's vTPM running elsewhere that answers every other request (simulator/migration.ts: clone) */
  private twinLayer: SimLayer | null = null;
  private twinAnswersNext = true;
  private recorder: VplatformRecorder | null;
  /** each vplatformLog entry as JSON, in order */
  private readonly vplatformJson: string[] = [];
  private vplatformPart: Buffer | null = null;
  private staleVplatformPart: Buffer | null = null;
  private certificatesPart: Buffer | null = null;
  /** certificates, logs, vplatformLog (current, or without its last entry) and the closing brace */
  private tailPart: Buffer | null = null;
  private staleTailPart: Buffer | null = null;
  private ownLogsPart: Buffer | null = null;
  private akCert: IssuedCertificate | null = null;
  private chain: readonly IssuedCertificate[] = [];
  private lastNonce: Buffer | null = null;

  constructor(init: SimLayerInit) {
    this.name = init.name;
    this.role = init.role;
    this.kind = init.role === 'physical' ? 'physical' : 'virtual';
    this.tags = init.tags;
    this.hostLayer = init.host;
    this.runningTpm = init.tpm;
    this.firmware = init.firmware;
    this.ima = init.ima;
    this.url = init.url;
    this.issuingCa = init.issuingCa;
    this.listed = init.listed;
    this.recorder = init.role === 'vm' ? null : new VplatformRecorder(init.tpm);
    if (init.host) init.host.guests.push(this);
  }

  /** the layer below (that hosts this one); null for a physical host */
  get host(): SimLayer | null {
    return this.hostLayer;
  }

  /** the TPM this layer quotes with (for a VM: its vTPM, wherever it runs now) */
  get tpm(): SoftTpm {
    return this.runningTpm;
  }

  /** 0 for a physical host, +1 per layer above it */
  get depth(): number {
    return this.hostLayer ? this.hostLayer.depth + 1 : 0;
  }

  /**
   * A live migration (simulator/migration.ts): the VM now runs on `host`, its
   * vTPM as `tpm` (the state moved there). The caller records the moves in
   * the hosts' tables and issues the new AK certificate.
   */
  moveTo(host: SimLayer, tpm: SoftTpm = this.runningTpm): void {
    if (this.role !== 'vm') throw invalidArgument(`only a VM migrates; ${this.name} is a ${this.role}`, { layer: this.name });
    if (!host.isHosting) throw invalidArgument(`${host.name} is a VM: it hosts nothing`, { layer: host.name });
    const old = this.hostLayer;
    if (old) old.guests.splice(old.guests.indexOf(this), 1);
    host.guests.push(this);
    this.hostLayer = host;
    this.runningTpm = tpm;
  }

  /** The copy of this VM that answers every other request (a clone), or null. */
  get twin(): SimLayer | null {
    return this.twinLayer;
  }

  set twin(copy: SimLayer | null) {
    this.twinLayer = copy;
    this.twinAnswersNext = true;
  }

  /** Who answers the next request for this layer: itself, or in turn its twin (the copy first). */
  respondent(): SimLayer {
    if (!this.twinLayer) return this;
    const twin = this.twinAnswersNext;
    this.twinAnswersNext = !twin;
    return twin ? this.twinLayer : this;
  }

  get instanceId(): Buffer {
    return this.tpm.instanceId;
  }

  get instanceIdHex(): string {
    return this.tpm.instanceIdHex;
  }

  /** The AK certificate (DER, PEM, SHA-256). */
  get akCertificate(): IssuedCertificate {
    if (!this.akCert) throw invalidArgument(`layer ${this.name} has no AK certificate yet`, { layer: this.name });
    return this.akCert;
  }

  /** AK certificate first, then intermediates: what the evidence's `certificates` lists. */
  get certificateChain(): readonly IssuedCertificate[] {
    return this.chain;
  }

  setCertificates(ak: IssuedCertificate, intermediates: readonly IssuedCertificate[]): void {
    this.akCert = ak;
    this.chain = [ak, ...intermediates];
    this.certificatesPart = Buffer.from(`,"certificates":${JSON.stringify(this.chain.map((c) => c.pem))}`, 'utf8');
    this.tailPart = this.staleTailPart = null;
  }

  hasFault(name: FaultName): boolean {
    return this.faults.some((f) => f.fault === name);
  }

  /** A fault of this kind that applies to a request (binding faults may be limited to one upper instance). */
  faultFor(name: FaultName, request?: EvidenceRequest): LayerFault | undefined {
    return this.faults.find((f) => {
      if (f.fault !== name) return false;
      if (f.upper === undefined || request === undefined || FAULTS[name].scope !== 'binding') return true;
      const upper = this.guests.find((g) => g.name === f.upper);
      return upper !== undefined && request.instance !== undefined && Buffer.compare(upper.instanceId, Buffer.from(request.instance)) === 0;
    });
  }

  // -------------------------------------------------------------------------
  // The vPlatform table (hosting layers only)

  private table(): VplatformRecorder {
    if (!this.recorder) throw invalidArgument(`layer ${this.name} is a VM: it hosts nothing`, { layer: this.name });
    return this.recorder;
  }

  /** Records a lifecycle change of an instance in this layer's table (PCR 23). */
  record(op: VplatformInstanceOp, instanceId: Uint8Array, vm?: string): void {
    this.appendJson(this.table().record(op, instanceId, vm !== undefined ? { vm } : {}));
  }

  /** Records the CA this layer issues vTPM AK certificates with (protocol 5.1). */
  recordIssuer(caCertificateDer: Uint8Array): void {
    this.appendJson(this.table().recordIssuer(caCertificateDer));
  }

  private appendJson(entry: object): void {
    this.vplatformJson.push(JSON.stringify(entry));
    this.vplatformPart = this.staleVplatformPart = null;
    this.tailPart = this.staleTailPart = null;
  }

  /** a physical host or VMM: it keeps a vPlatform table */
  get isHosting(): boolean {
    return this.recorder !== null;
  }

  /** Instances hosted now (hex), per this layer's own table. */
  hostedNow(): string[] {
    return this.recorder ? this.recorder.hostedNow() : [];
  }

  /** The vplatformLog as served (parsed back from the JSON kept for serving). */
  vplatformLog(): object[] {
    return this.vplatformJson.map((e) => JSON.parse(e) as object);
  }

  private vplatformLogPart(stale: boolean): Buffer {
    if (!this.recorder) return Buffer.alloc(0);
    if (stale) {
      this.staleVplatformPart ??= Buffer.from(`,"vplatformLog":[${this.vplatformJson.slice(0, -1).join(',')}]`, 'utf8');
      return this.staleVplatformPart;
    }
    this.vplatformPart ??= Buffer.from(`,"vplatformLog":[${this.vplatformJson.join(',')}]`, 'utf8');
    return this.vplatformPart;
  }

  // -------------------------------------------------------------------------
  // Evidence

  private logs(): Buffer {
    if (this.ownLogsPart) return this.ownLogsPart;
    const altered = this.hasFault('log-event') || this.hasFault('ima-tamper') || this.hasFault('eventlog-missing');
    if (!altered) {
      let byIma = sharedLogParts.get(this.firmware);
      if (!byIma) sharedLogParts.set(this.firmware, (byIma = new Map()));
      let part = byIma.get(this.ima);
      if (!part) byIma.set(this.ima, (part = logsPart(this.firmware.bytes, this.ima?.text ?? null)));
      return (this.ownLogsPart = part);
    }
    const logEvent = this.faultFor('log-event');
    const eventLog = this.hasFault('eventlog-missing') ? null : logEvent ? alteredLogBytes(this.firmware, logEvent.pcr ?? 7) : this.firmware.bytes;
    const ima = this.ima === null ? null : this.hasFault('ima-tamper') ? alteredImaText(this.ima) : this.ima.text;
    return (this.ownLogsPart = logsPart(eventLog, ima));
  }

  /** Builds what the layer's own faults need before it serves (throws for a fault that cannot apply). */
  prepare(): void {
    this.logs();
  }

  /**
   * The evidence JSON for a request: a fresh quote over exactly the nonce and
   * PCR selection asked for, with this layer's faults applied. Throws
   * SIM_INVALID_ARGUMENT for a selection the TPM cannot quote (a bank it
   * does not have).
   */
  evidence(request: EvidenceRequest): Buffer {
    const parts = this.evidenceParts(request);
    return Buffer.concat([Buffer.from(parts.head, 'latin1'), parts.tail], parts.length);
  }

  /**
   * The same document in two parts, for the service to send without joining
   * them: what is new for this request (quote and PCR values) and what is
   * not (certificates, logs, vplatformLog, kept encoded).
   */
  evidenceParts(request: EvidenceRequest): EvidenceParts {
    const faults: QuoteFaults = {};
    if (this.faultFor('signature')) faults.corruptSignature = true;
    if (this.faultFor('nonce')) {
      // the previous request's nonce (a replayed quote); the first time, a nonce nobody asked for
      faults.extraData = this.lastNonce ?? createHash('sha256').update('replayed').update(request.nonce).digest();
    }
    this.lastNonce = Buffer.from(request.nonce);
    const q = this.tpm.quote(request.nonce, request.pcrs, faults);
    const pcrs = this.faultFor('pcr') ? pcrsJson(q.snapshot, true) : cachedPcrsJson(q.snapshot);
    const head = `{"version":1,"quote":{"message":"${q.message.toString('base64')}","signature":"${q.signature.toString('base64')}"},"pcrs":{${pcrs}}`;
    const tail = this.tail(this.faultFor('stale-binding', request) !== undefined);
    // head is ASCII (base64, hex, digits, bank names): one byte per character
    return { head, tail, length: head.length + tail.length };
  }

  /** Everything after the PCR values, up to the closing brace: encoded once (per vplatformLog version). */
  private tail(stale: boolean): Buffer {
    const kept = stale ? this.staleTailPart : this.tailPart;
    if (kept) return kept;
    const tail = Buffer.concat([this.certificatesPart ?? Buffer.alloc(0), this.logs(), this.vplatformLogPart(stale), CLOSE]);
    if (stale) this.staleTailPart = tail;
    else this.tailPart = tail;
    return tail;
  }
}

/** One evidence document as the service sends it: `head` (ASCII text) then `tail`. */
export interface EvidenceParts {
  head: string;
  tail: Buffer;
  /** bytes in all */
  length: number;
}

/** The members of the `pcrs` object, e.g. `"sha256":{"0":"<hex>",...}`; `corruptFirst` changes the first value's last hex digit (the pcr fault). */
function pcrsJson(snapshot: PcrSnapshot, corruptFirst: boolean): string {
  const parts: string[] = [];
  let first = true;
  for (const b of snapshot.banks) {
    parts.push(`${parts.length ? ',' : ''}"${b.bank}":{`);
    for (let k = 0; k < b.indices.length; k++) {
      let hex = toHex(b.values[k]!);
      if (first && corruptFirst) hex = `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;
      first = false;
      parts.push(`${k ? ',' : ''}"${b.indices[k]}":"${hex}"`);
    }
    parts.push('}');
  }
  // join() of many parts makes a flat string; one built with += is a deep rope that V8 walks again on every write
  return parts.join('');
}

/** pcrsJson of genuine values, kept with the snapshot (shared by every quote over unchanged PCRs). */
const pcrsJsonOf = new WeakMap<PcrSnapshot, string>();

function cachedPcrsJson(snapshot: PcrSnapshot): string {
  let json = pcrsJsonOf.get(snapshot);
  if (json === undefined) pcrsJsonOf.set(snapshot, (json = pcrsJson(snapshot, false)));
  return json;
}
