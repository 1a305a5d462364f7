// The VMM side of the vPlatform table (protocol section 5): every change to
// the set of hosted vTPM instances, and every issuing CA (section 5.1), is
// appended to the vplatformLog and extended into PCR 23 of the SHA-256 bank
// of the VMM's own TPM, so its quotes cover the table.

import {
  analyzeVplatformLog,
  certificateHash,
  lifecycleStep,
  vplatformEntryDigest,
  VPLATFORM_PCR,
  type InstanceState,
  type VplatformInstanceOp,
  type VplatformTable,
} from '../verify/vplatform.js';
import { toHex } from '../util/bytes.js';
import { invalidArgument } from './codes.js';
import type { SoftTpm } from './soft-tpm.js';

/** An entry as the evidence endpoint serves it (protocol section 2). */
export interface VplatformLogEntryJson {
  pcr: number;
  op: VplatformInstanceOp | 'issuer';
  instance?: string;
  certificate?: string;
  vm?: string;
}

export class VplatformRecorder {
  private readonly tpm: SoftTpm;
  private log: VplatformLogEntryJson[] = [];
  /** each instance's state, kept as entries are recorded (hosts with many VMs record often) */
  private states = new Map<string, InstanceState>();

  constructor(tpm: SoftTpm) {
    this.tpm = tpm;
  }

  /** The log as served in evidence (a copy). */
  get entries(): VplatformLogEntryJson[] {
    return this.log.map((e) => ({ ...e }));
  }

  /** Instances hosted now (hex ids), in no particular order. */
  hostedNow(): string[] {
    return [...this.states].filter(([, s]) => s === 'hosted').map(([id]) => id);
  }

  /** The table as the log reads now (the simulator's own view; no trust implied). */
  table(): VplatformTable {
    return analyzeVplatformLog(this.log);
  }

  /**
   * Records a lifecycle change of an instance. A change the lifecycle forbids
   * (e.g. create of an instance already hosted) is refused unless
   * `allowViolation` builds that fault on purpose.
   */
  record(op: VplatformInstanceOp, instanceId: Uint8Array, opts: { vm?: string; allowViolation?: boolean } = {}): VplatformLogEntryJson {
    const instance = toHex(instanceId);
    const step = lifecycleStep(this.states.get(instance) ?? 'absent', op);
    if (step.violation !== null && !opts.allowViolation) throw invalidArgument(`vPlatform table: ${step.violation}`, { op, instance });
    const digest = vplatformEntryDigest(op, instanceId);
    this.states.set(instance, step.after);
    return this.append({ pcr: VPLATFORM_PCR, op, instance, ...(opts.vm !== undefined ? { vm: opts.vm } : {}) }, digest);
  }

  /** Records the CA certificate (DER) this host issues vTPM AK certificates with. */
  recordIssuer(caCertificateDer: Uint8Array): VplatformLogEntryJson {
    const certificate = certificateHash(caCertificateDer);
    return this.append({ pcr: VPLATFORM_PCR, op: 'issuer', certificate }, vplatformEntryDigest('issuer', Buffer.from(certificate, 'hex')));
  }

  /**
   * After the host's TPM was reset (reboot), PCR 23 is zero again and the old
   * log no longer replays: start a new log that records the issuers and
   * creates every instance still hosted, in their original order.
   */
  restartAfterTpmReset(): void {
    const old = this.log;
    const hosted = new Set(this.hostedNow());
    this.log = [];
    this.states = new Map();
    const vmLabel = new Map<string, string>();
    for (const e of old) if (e.instance !== undefined && e.vm !== undefined) vmLabel.set(e.instance, e.vm);
    const issuers = new Set(old.filter((e) => e.op === 'issuer').map((e) => e.certificate!));
    for (const certificate of issuers) this.append({ pcr: VPLATFORM_PCR, op: 'issuer', certificate }, vplatformEntryDigest('issuer', Buffer.from(certificate, 'hex')));
    const order = [...new Set(old.filter((e) => e.instance !== undefined && hosted.has(e.instance)).map((e) => e.instance!))];
    for (const id of order) {
      const vm = vmLabel.get(id);
      this.record('create', Buffer.from(id, 'hex'), vm !== undefined ? { vm } : {});
    }
  }

  private append(entry: VplatformLogEntryJson, digest: Buffer): VplatformLogEntryJson {
    this.tpm.extend('sha256', VPLATFORM_PCR, digest);
    this.log.push(entry);
    return { ...entry };
  }
}
