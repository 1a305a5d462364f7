// startSimulator: listen, build the platform for that origin, write the trust
// anchors, serve. What tests, the demo, benchmarks and `vtpm-verify simulate`
// call.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { makeDirs } from '../util/make-dirs.js';
import { TransportError } from '../errors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planFaults, type FaultPlan } from './fleet.js';
import { buildPlatform, type ExpectedOutcome, type InventoryEntry, type PlacedFault, type PlatformOptions, type SimPlatform, type TrustAnchorFile } from './platform.js';
import { reserveDeadPort, SimulatorService, type MountedService, type ServiceStats } from './service.js';
import { attachMigrations, type SimMigrations } from './migration.js';
import type { MachineRole } from './firmware.js';
import type { LayerKind } from './layer.js';

export interface StartSimulatorOptions extends Omit<PlatformOptions, 'origin' | 'deadOrigin' | 'topology'> {
  /** default: one chain of 3 layers (VM → VMM → physical) */
  topology?: PlatformOptions['topology'] | undefined;
  /** default 127.0.0.1 */
  host?: string | undefined;
  /** default 0: ephemeral */
  port?: number | undefined;
  /** a fleet fault plan, applied with `faults` */
  faultPlan?: FaultPlan | undefined;
  /** write the trust anchors here (created if needed); default: a new temporary folder, removed by close() */
  trustDir?: string | undefined;
  /** serve a Migration Controller at {origin}/m/{name} and name it in every VM's AK certificate (true: named "migrations") */
  migrationController?: boolean | string | undefined;
}

export interface SimLayerInfo {
  name: string;
  url: string;
  role: MachineRole;
  kind: LayerKind;
  /** the layer below, by name; null for a physical host */
  host: string | null;
  /** hex */
  instanceId: string;
}

export interface RunningSimulator {
  origin: string;
  port: number;
  /** the top layers' URLs (the VMs), topology order */
  urls: string[];
  /** the first top's URL: what `attest` starts from */
  topUrl: string;
  /** every layer of the topology asked for (decoy platforms excluded), top-down per host */
  layers: SimLayerInfo[];
  /** the folder holding ak-ca/ and vplatform-ca/: pass it as `--trust DIR` */
  trustDir: string;
  trustAnchors: TrustAnchorFile[];
  platform: SimPlatform;
  /** with migrationController: the controller and the operations that move VMs (migrate, clone, reboot, backup) */
  migrations?: SimMigrations | undefined;
  stats: ServiceStats;
  /** ms to build the platform */
  buildMs: number;
  inventory(): InventoryEntry[];
  /** what attesting a top layer (by name; default the first) should find */
  expected(top?: string): ExpectedOutcome;
  /** serves `service` under {origin}/{segment}/ (e.g. a scenario's admin endpoint) */
  mount(segment: string, service: MountedService): void;
  close(): Promise<void>;
}

/** Writes ak-ca/<file> and vplatform-ca/<file> under `dir` (the labelled-folder layout of the trust store). */
export async function writeTrustAnchors(dir: string, anchors: readonly TrustAnchorFile[]): Promise<void> {
  for (const a of anchors) {
    makeDirs(join(dir, a.label));
    await writeFile(join(dir, a.label, a.file), a.pem);
  }
}

export async function startSimulator(options: StartSimulatorOptions = {}): Promise<RunningSimulator> {
  const service = await SimulatorService.listen({ host: options.host, port: options.port });
  let ownTrustDir: string | null = null;
  try {
    const faults: PlacedFault[] = [...(options.faults ?? []), ...(options.faultPlan ? planFaults(options.faultPlan) : [])];
    const needsDeadPort = faults.some((f) => f.fault === 'unreachable' && (f.mode ?? 'refused') === 'refused');
    const deadOrigin = needsDeadPort ? `http://${service.host}:${await reserveDeadPort(service.host)}` : undefined;
    const platform = buildPlatform({ ...options, topology: options.topology ?? { layers: 3 }, origin: service.origin, deadOrigin, faults });
    service.attach(platform);
    const controllerName = options.migrationController === true ? undefined : options.migrationController || null;
    const migrations = controllerName === null ? undefined : attachMigrations(service, platform, { ...options, name: controllerName });

    const trustAnchors = platform.trustAnchors();
    let trustDir = options.trustDir ?? join(tmpdir(), 'vtpm-sim-trust-*');
    try {
      trustDir = options.trustDir ?? (ownTrustDir = await mkdtemp(join(tmpdir(), 'vtpm-sim-trust-')));
      await writeTrustAnchors(trustDir, trustAnchors);
    } catch (err) {
      // a full disk, a $TMPDIR that is not there: the I/O failure it is (exit 3), not a bug of the simulator
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new TransportError('IO_ERROR', `simulator: cannot write the trust anchors in ${trustDir}${options.trustDir === undefined ? ' ($TMPDIR)' : ''}: ${code}`, { dir: trustDir, cause: code }, { cause: err });
    }

    const tops = platform.tops();
    const layers: SimLayerInfo[] = [...platform.layers.values()]
      .filter((l) => l.listed)
      .map((l) => ({ name: l.name, url: l.url, role: l.role, kind: l.kind, host: l.host?.name ?? null, instanceId: l.instanceIdHex }));
    return {
      origin: service.origin,
      port: service.port,
      urls: tops.map((l) => l.url),
      topUrl: tops[0]!.url,
      layers,
      trustDir,
      trustAnchors,
      platform,
      ...(migrations ? { migrations } : {}),
      stats: service.stats,
      buildMs: platform.buildMs,
      inventory: () => platform.inventory(),
      expected: (top?: string) => platform.expectedOutcome(top === undefined ? tops[0]! : platform.layer(top)),
      mount: (segment, mounted) => service.mount(segment, mounted),
      close: async () => {
        await service.close();
        if (ownTrustDir) await rm(ownTrustDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await service.close();
    if (ownTrustDir) await rm(ownTrustDir, { recursive: true, force: true });
    throw err;
  }
}
