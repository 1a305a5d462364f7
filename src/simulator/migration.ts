// Migration operations on the simulated platform (protocol section 6), and
// the ways they go wrong that a verifier must notice:
//
//   migrate   live migration of a VM to another VMM or host: the source
//             records migrate-out, the vTPM state moves (exported, and run
//             from that state on the destination: its Clock continues), the
//             destination records migrate-in, the destination's vPlatform CA
//             issues the VM a new AK certificate (same instanceId,
//             deepAttestation = the destination), then the controller
//             publishes the event. Options make it leave a duplicate behind
//             (no migrate-out) or run an old backup instead (a restore).
//   clone     a copy of the VM's vTPM runs on another platform, which records
//             it as hosted; the VM's endpoint answers in turn from the copy
//             and the original (two machines claiming one address)
//   reboot    a TPM Reset of the VM's vTPM (resetCount + 1, restartCount 0),
//             the VM booting the same way again; restart: a TPM Restart
//             (restartCount + 1)
//   backup    the vTPM state now, to restore later

import { invalidArgument } from './codes.js';
import { SimLayer } from './layer.js';
import { CONTROLLER_SEGMENT, MigrationController } from './migration-controller.js';
import { DEFAULT_SEED, type PlatformOptions, type SimPlatform } from './platform.js';
import type { SimulatorService } from './service.js';
import { SoftTpm, type SoftTpmState } from './soft-tpm.js';
import type { MigrationEvent } from '../transport/migration-stream.js';

export interface MigrateOptions {
  /** the source records migrate-out (default true); false leaves a duplicate behind */
  sourceRecordsMigrateOut?: boolean | undefined;
  /** run this saved state on the destination instead of the current one: a restore from a backup */
  state?: SoftTpmState | undefined;
  /** the event's time (default now) */
  time?: Date | undefined;
}

export interface CloneOptions {
  /** the copy's Clock runs this far ahead of the original's (default 60 s): its readings interleave with the original's */
  clockAheadMs?: number | undefined;
}

export interface SimMigrationsOptions {
  /** the time source of the TPMs that migrated vTPMs run on (default performance.now; the platform's `now`) */
  now?: (() => number) | undefined;
}

/** Migrations, clones, reboots and restores of the VMs of one simulated platform, announced by one controller. */
export class SimMigrations {
  readonly platform: SimPlatform;
  readonly controller: MigrationController;
  private readonly now: (() => number) | undefined;
  /** AK certificates issued per VM, so each new one has its own serial */
  private readonly issued = new Map<string, number>();

  constructor(platform: SimPlatform, controller: MigrationController, options: SimMigrationsOptions = {}) {
    this.platform = platform;
    this.controller = controller;
    this.now = options.now;
  }

  /** Re-issues every VM's AK certificate naming the controller as its migrationService. */
  manageAll(): void {
    for (const layer of this.platform.layers.values()) {
      if (layer.role !== 'vm' || !layer.host?.issuingCa || layer.hasFault('certificate')) continue;
      // a foreign-issuer fault chose another host's CA on purpose: leave that certificate alone
      if (layer.host.faults.some((f) => f.fault === 'foreign-issuer' && f.upper === layer.name)) continue;
      this.certify(layer);
    }
  }

  private vm(vm: SimLayer | string): SimLayer {
    const layer = typeof vm === 'string' ? this.platform.layer(vm) : vm;
    if (layer.role !== 'vm' || !layer.host) throw invalidArgument(`${layer.name} is not a VM`, { layer: layer.name });
    return layer;
  }

  private hostLayer(host: SimLayer | string): SimLayer {
    const layer = typeof host === 'string' ? this.platform.layer(host) : host;
    if (!layer.isHosting || !layer.issuingCa) throw invalidArgument(`${layer.name} cannot host a VM (no vPlatform table or CA)`, { layer: layer.name });
    return layer;
  }

  /** A new AK certificate for `vm` from its current host's vPlatform CA: deepAttestation = that host, migrationService = the controller. */
  certify(vm: SimLayer): void {
    const host = this.hostLayer(vm.host!);
    const n = (this.issued.get(vm.name) ?? 0) + 1;
    this.issued.set(vm.name, n);
    const cert = host.issuingCa!.issueAk({
      commonName: `${vm.name} AK`,
      publicKey: vm.tpm.akPublicKey,
      layer: { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: host.url, migrationService: this.controller.url },
      serialLabel: `${vm.name}#${n}`,
    });
    vm.setCertificates(cert, host.issuingCa!.intermediates());
  }

  /** Live migration of `vm` to `to` (a VMM or host); returns the event the controller published. */
  migrate(vmRef: SimLayer | string, toRef: SimLayer | string, options: MigrateOptions = {}): MigrationEvent {
    const vm = this.vm(vmRef);
    const to = this.hostLayer(toRef);
    const from = vm.host!;
    if (from === to) throw invalidArgument(`${vm.name} already runs on ${to.name}`, { vm: vm.name, to: to.name });
    const state = options.state ?? vm.tpm.exportState();
    const tpm = SoftTpm.fromState(state, this.now ? { now: this.now } : {});
    if (!tpm.instanceId.equals(vm.instanceId)) throw invalidArgument(`the state given is of another vTPM than ${vm.name}'s`, { vm: vm.name });
    if (options.sourceRecordsMigrateOut !== false) from.record('migrate-out', vm.instanceId, vm.name);
    to.record('migrate-in', vm.instanceId, vm.name);
    vm.moveTo(to, tpm);
    this.certify(vm);
    return this.controller.record({ instance: vm.instanceIdHex, from: from.url, to: to.url, ...(options.time ? { time: options.time } : {}) });
  }

  /**
   * Starts a copy of `vm`'s vTPM on `on` (recorded there as migrated in, no
   * event published). From now on the VM's endpoint answers in turn from the
   * copy (first) and from the original.
   */
  clone(vmRef: SimLayer | string, onRef: SimLayer | string, options: CloneOptions = {}): SimLayer {
    const vm = this.vm(vmRef);
    const on = this.hostLayer(onRef);
    if (on === vm.host) throw invalidArgument(`the copy must run on another platform than ${vm.host!.name}`, { on: on.name });
    const tpm = SoftTpm.fromState(vm.tpm.exportState(), this.now ? { now: this.now } : {});
    tpm.advanceClock(options.clockAheadMs ?? 60_000);
    const copy = new SimLayer({ name: `${vm.name}~copy`, role: 'vm', tags: [], host: on, tpm, firmware: vm.firmware, ima: vm.ima, url: vm.url, issuingCa: null, listed: false });
    on.record('migrate-in', vm.instanceId, copy.name);
    const cert = on.issuingCa!.issueAk({
      commonName: `${vm.name} AK`,
      publicKey: tpm.akPublicKey,
      layer: { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: on.url, migrationService: this.controller.url },
      serialLabel: `${copy.name}#1`,
    });
    copy.setCertificates(cert, on.issuingCa!.intermediates());
    vm.twin = copy;
    return copy;
  }

  /** The vTPM state of `vm` now (keys, PCRs, Clock, counters): a backup to restore with migrate(..., {state}). */
  backup(vmRef: SimLayer | string): SoftTpmState {
    return this.vm(vmRef).tpm.exportState();
  }

  /**
   * Reboots `vm`: a TPM Reset of its vTPM (resetCount + 1, restartCount 0;
   * unorderly: Clock back to its last NV save and safe = 0), after which the
   * VM boots the same way, so its PCRs measure the same again.
   */
  reboot(vmRef: SimLayer | string, options: { orderly?: boolean } = {}): void {
    this.boot(vmRef, (tpm) => tpm.reboot(options.orderly === false ? { orderly: false } : {}));
  }

  /** A TPM Restart of `vm`'s vTPM (hibernation: restartCount + 1, Clock continues), the VM resuming with the same measurements. */
  restart(vmRef: SimLayer | string): void {
    this.boot(vmRef, (tpm) => tpm.restart());
  }

  private boot(vmRef: SimLayer | string, startup: (tpm: SoftTpm) => void): void {
    const vm = this.vm(vmRef);
    const measured = SoftTpm.fromState(vm.tpm.exportState());
    startup(vm.tpm);
    vm.tpm.adoptPcrs(measured);
  }
}

export interface AttachMigrationsOptions extends Pick<PlatformOptions, 'seed' | 'banks' | 'now' | 'clock'> {
  /** the controller's name: it serves at {origin}/m/{name} (default "migrations") */
  name?: string | undefined;
}

/**
 * Gives a served platform a Migration Controller: mounts it on the service,
 * names it in every VM's AK certificate (migrationService), and returns the
 * operations that move VMs and announce it.
 */
export function attachMigrations(service: SimulatorService, platform: SimPlatform, options: AttachMigrationsOptions = {}): SimMigrations {
  const seed = options.seed === null ? undefined : Buffer.from(options.seed ?? DEFAULT_SEED, 'utf8');
  const controller = new MigrationController({
    name: options.name ?? 'migrations',
    origin: service.origin,
    akCa: platform.physicalAkCa,
    serveEvidence: (layer, query, res) => service.serveEvidence(layer, query, res),
    banks: options.banks,
    seed,
    now: options.now,
    clock: options.clock,
  });
  service.mount(CONTROLLER_SEGMENT, controller);
  const migrations = new SimMigrations(platform, controller, { now: options.now });
  migrations.manageAll();
  return migrations;
}
