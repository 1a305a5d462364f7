// Builds a simulated virtualized platform from a topology: a soft TPM, a
// measured boot and (VMs) an IMA list per layer; the CA hierarchy (a
// physical AK CA, a provider-wide vPlatform root and, by default, a per-host
// vPlatform CA on every hosting layer, recorded as an issuer in its table);
// every hosting layer's vPlatform table with its guests' create entries
// (PCR 23); the AK certificates with the TrustedLayer extension pointing each
// layer at the one below; and the faults asked for.

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { HashName } from '../tpm/constants.js';
import { invalidArgument } from './codes.js';
import { checkLayerFault, expectedCode, FAULTS, faultError, type FaultName, type LayerFault, type UnreachableMode } from './faults.js';
import { UsageError } from '../errors.js';
import { FIRMWARE_PROFILES, firmwareLog, measureBoot, measureImaList, type ImaListTemplate, type MachineRole } from './firmware.js';
import { SimLayer } from './layer.js';
import { SimCa, simKey, type IssuedCertificate } from './pki.js';
import { SoftTpm, type AkSpec } from './soft-tpm.js';
import { normalizeTopology, walkTopology, type Topology, type TopologyNode } from './topology.js';
import { freshKeyPair } from '../util/fresh-key-pair.js';

/** Clock of every soft TPM counts from here, so it keeps growing across simulator restarts (no false rollback findings). */
export const SIM_CLOCK_EPOCH_MS = Date.parse('2024-01-01T00:00:00Z');

export const DEFAULT_SEED = 'vtpm-verify simulator';

/** A fault on a layer: by name, or (a single chain) by position, 0 = the top, negative from the bottom. */
export interface PlacedFault extends LayerFault {
  layer: string | number;
  /** where the fault was written (a fault plan's file, line and entry): a fault that cannot be placed is reported there */
  source?: { file: string; line?: number; field: string } | undefined;
}

/** Where a fault was written, for messages: `plan.yaml:12` (no line for a plan given as data). */
export function faultSourceAt(source: { file: string; line?: number }): string {
  return `${source.file}${source.line !== undefined ? `:${source.line}` : ''}`;
}

export interface PlatformOptions {
  topology: Topology;
  /** `http://127.0.0.1:PORT`: each layer serves at `{origin}/l/{name}` */
  origin: string;
  /** where layers that are unreachable (mode refused) point: an origin nothing listens on */
  deadOrigin?: string | undefined;
  /** keys, certificates and instance ids derive from this (default DEFAULT_SEED); null: random keys */
  seed?: string | null | undefined;
  /** per-host (default): each hosting layer has its own vPlatform CA; provider: one issuing CA for every vTPM */
  vplatformCa?: 'per-host' | 'provider' | undefined;
  /** AK type per role (default ECDSA P-256 everywhere); RSA keys are random even with a seed */
  ak?: Partial<Record<MachineRole, AkSpec>> | undefined;
  /** PCR banks of every TPM (default sha1, sha256, sha384) */
  banks?: readonly HashName[] | undefined;
  /** time source of every TPM's Clock, ms (default performance.now) */
  now?: (() => number) | undefined;
  /** Clock at start, ms (default: ms since 2024-01-01) */
  clock?: number | undefined;
  faults?: readonly PlacedFault[] | undefined;
}

export interface TrustAnchorFile {
  /** the trust-store folder label */
  label: 'ak-ca' | 'vplatform-ca';
  file: string;
  subject: string;
  pem: string;
  der: Buffer;
}

/** What the simulator exports for an audit: one entry per VM (top layer). */
export interface InventoryEntry {
  name: string;
  url: string;
  /** a virtual top's vTPM instance id (64 hex digits): the audit pins it to the URL */
  instanceId?: string;
  tags: string[];
}

/** A layer the walker should flag when attesting one top layer. */
export interface ExpectedFault {
  /** position in that top's walk: 0 = the top */
  position: number;
  layer: string;
  fault: FaultName;
  code: string;
  status: 'not-trusted' | 'unreachable';
}

export interface ExpectedOutcome {
  top: string;
  /** trusted, or which faults lie on its walk (top-down; the walk stops at an unreachable layer, an invalid certificate or a quote that does not verify) */
  verdict: 'trusted' | 'not-trusted' | 'incomplete';
  faults: ExpectedFault[];
  /** the layer names the walk visits, top-down (a relayed layer shows as the platform that answered) */
  path: string[];
}

/**
 * Faults after which the walk cannot continue below the layer: nothing verified to follow. A quote
 * that fails verification (signature, nonce, PCR digest) stops it too: the next layer's nonce is
 * chained from the verified quote (protocol section 3), so the walker goes no further.
 */
/**
 * Where each fault's check comes in the walker's checks of one layer: the certificate path, the quote
 * (signature, nonce, PCR digest), the logs' replay, the vPlatform log and bindings, the instance the
 * inventory pins, the policy's rules. Faults that leave nothing else to see (no answer) come first.
 */
const CHECK_ORDER: Readonly<Record<FaultName, number>> = {
  unreachable: 0,
  slow: 0,
  huge: 0,
  certificate: 1,
  signature: 2,
  nonce: 3,
  pcr: 4,
  'log-event': 5,
  'ima-tamper': 5,
  relayed: 6,
  'not-hosted': 6,
  'stale-binding': 6,
  'foreign-issuer': 6,
  'relayed-top': 7,
  'eventlog-missing': 8,
};

const STOPS_WALK: ReadonlySet<FaultName> = new Set(['unreachable', 'slow', 'huge', 'certificate', 'signature', 'nonce', 'pcr']);

interface NodeInfo {
  node: TopologyNode;
  parent: TopologyNode | null;
  listed: boolean;
}

export class SimPlatform {
  readonly layers = new Map<string, SimLayer>();
  /** physical hosts, topology order (decoys last) */
  readonly roots: SimLayer[] = [];
  readonly physicalAkCa: SimCa;
  readonly vplatformRoot: SimCa;
  /** the provider-wide issuing CA when vplatformCa is 'provider' */
  readonly providerCa: SimCa | null;
  readonly origin: string;
  /** ms spent building */
  buildMs = 0;

  constructor(physicalAkCa: SimCa, vplatformRoot: SimCa, providerCa: SimCa | null, origin: string) {
    this.physicalAkCa = physicalAkCa;
    this.vplatformRoot = vplatformRoot;
    this.providerCa = providerCa;
    this.origin = origin;
  }

  layer(name: string): SimLayer {
    const l = this.layers.get(name);
    if (!l) throw invalidArgument(`the platform has no layer named ${name}`, { layer: name });
    return l;
  }

  /** The layers that are attested from the top: every VM of the topology (decoys excluded); a lone host when there is no VM. */
  tops(): SimLayer[] {
    const listed = [...this.layers.values()].filter((l) => l.listed);
    const vms = listed.filter((l) => l.role === 'vm');
    return vms.length ? vms : listed.filter((l) => l.guests.length === 0);
  }

  /** The chain from a top layer down to its physical host, as the topology built it. */
  pathOf(top: SimLayer): SimLayer[] {
    const out: SimLayer[] = [];
    for (let l: SimLayer | null = top; l; l = l.host) out.push(l);
    return out;
  }

  trustAnchors(): TrustAnchorFile[] {
    return [
      { label: 'ak-ca', file: 'sim-physical-ak-ca.pem', subject: this.physicalAkCa.subject, pem: this.physicalAkCa.certificate.pem, der: this.physicalAkCa.certificate.der },
      { label: 'vplatform-ca', file: 'sim-vplatform-root-ca.pem', subject: this.vplatformRoot.subject, pem: this.vplatformRoot.certificate.pem, der: this.vplatformRoot.certificate.der },
    ];
  }

  inventory(): InventoryEntry[] {
    return this.tops().map((l) => ({ name: l.name, url: l.url, ...(l.kind === 'virtual' ? { instanceId: l.instanceIdHex } : {}), tags: [...l.tags] }));
  }

  /** What attesting `top` should find, from the faults injected (tests and audits compare results with it). */
  expectedOutcome(top: SimLayer): ExpectedOutcome {
    const faults: ExpectedFault[] = [];
    const path: string[] = [];
    let layer: SimLayer | null = top;
    let upper: SimLayer | null = null;
    let position = 0;
    let stopped = false;
    while (layer && !stopped) {
      // a relay answers for this layer with another platform's evidence; the walk then follows that platform down
      // (at the top, relayed-top: another VM answers at the VM's URL)
      const relay = upper ? layer.faults.find((f) => f.fault === 'relayed' && (f.upper === undefined || f.upper === upper!.name)) : layer.faults.find((f) => f.fault === 'relayed-top');
      const answering: SimLayer = relay && layer.relayTarget ? layer.relayTarget : layer;
      path.push(answering.name);
      const applicable = (relay ? [relay] : []).concat(
        answering.faults.filter((f) => f.fault !== 'relayed' && f.fault !== 'relayed-top' && (FAULTS[f.fault].scope === 'layer' || f.upper === undefined || f.upper === upper?.name)),
      );
      // in the order the walker checks a layer, so that the first expected fault is the one it reports
      applicable.sort((a, b) => CHECK_ORDER[a.fault] - CHECK_ORDER[b.fault]);
      for (const f of applicable) {
        faults.push({ position, layer: layer.name, fault: f.fault, code: expectedCode(f), status: FAULTS[f.fault].status });
        if (STOPS_WALK.has(f.fault)) stopped = true;
      }
      upper = answering;
      layer = answering.host;
      position++;
    }
    const verdict = faults.length === 0 ? 'trusted' : faults.some((f) => f.status === 'not-trusted') ? 'not-trusted' : 'incomplete';
    return { top: top.name, verdict, faults, path };
  }
}

function layerUrl(origin: string, name: string): string {
  return `${origin}/l/${encodeURIComponent(name)}`;
}

/** Resolves where each fault goes, and checks that it can apply there. */
function placeFaults(faults: readonly PlacedFault[], infos: Map<string, NodeInfo>, roots: TopologyNode[]): Map<string, LayerFault[]> {
  const placed = new Map<string, LayerFault[]>();
  const tops = [...infos.values()].filter((i) => i.node.guests.length === 0);
  for (const pf of faults) {
    const { source, ...placedFault } = pf;
    try {
      placeFault(placedFault, placed, infos, roots, tops);
    } catch (err) {
      if (!source || !(err instanceof UsageError)) throw err;
      // a fault plan's entry: name the file, its line and the entry, as a problem found reading it does
      throw new UsageError(err.code, `${faultSourceAt(source)}: ${source.field}: ${err.message}`, { ...err.details, file: source.file, ...(source.line !== undefined ? { line: source.line } : {}), field: source.field }, { cause: err });
    }
  }
  return placed;
}

function placeFault(pf: PlacedFault, placed: Map<string, LayerFault[]>, infos: Map<string, NodeInfo>, roots: TopologyNode[], tops: NodeInfo[]): void {
  const { layer: where, ...rest } = pf;
  const fault = checkLayerFault(rest);
  let info: NodeInfo | undefined;
  if (typeof where === 'number') {
    if (tops.length !== 1 || roots.length !== 1) throw faultError(`fault ${fault.fault}@${where}: positions name layers of a single chain; name the layer in a fleet`, { fault: fault.fault });
    const chain: TopologyNode[] = [];
    for (let i: NodeInfo | undefined = tops[0]; i; i = i.parent ? infos.get(i.parent.name) : undefined) chain.push(i.node);
    const index = where < 0 ? chain.length + where : where;
    if (index < 0 || index >= chain.length) throw faultError(`fault ${fault.fault}@${where}: the chain has layers 0..${chain.length - 1}`, { fault: fault.fault, layer: where });
    info = infos.get(chain[index]!.name);
  } else {
    info = infos.get(where);
    if (!info) throw faultError(`fault ${fault.fault}: no layer named ${where}`, { fault: fault.fault, layer: where });
  }
  const node = info!.node;
  const spec = FAULTS[fault.fault];
  if (spec.layers === 'vm' && node.role !== 'vm') throw faultError(`fault ${fault.fault} applies to a VM (it needs an IMA list); ${node.name} is a ${node.role}`, { fault: fault.fault, layer: node.name });
  if (spec.layers === 'top' && (node.guests.length > 0 || node.role !== 'vm')) {
    // a VM the inventory lists (a guest-less VMM is no audit target when the fleet has VMs), with an instance id to expect
    throw faultError(`fault ${fault.fault} applies to a VM at the top (one that hosts nothing); ${node.name} ${node.role !== 'vm' ? `is a ${node.role}` : `hosts ${node.guests.length}`}`, { fault: fault.fault, layer: node.name });
  }
  if (spec.scope === 'binding') {
    if (node.guests.length === 0) throw faultError(`fault ${fault.fault} breaks the binding to the layer above; ${node.name} hosts nothing`, { fault: fault.fault, layer: node.name });
    if (fault.upper !== undefined && !node.guests.some((g) => g.name === fault.upper)) {
      throw faultError(`fault ${fault.fault}@${node.name}: ${fault.upper} is not a guest of ${node.name}`, { fault: fault.fault, layer: node.name, upper: fault.upper });
    }
    if (fault.upper === undefined && (fault.fault === 'not-hosted' || fault.fault === 'foreign-issuer')) {
      if (node.guests.length > 1) throw faultError(`fault ${fault.fault}@${node.name}: name the guest (upper) it applies to`, { fault: fault.fault, layer: node.name });
      fault.upper = node.guests[0]!.name;
    }
  }
  const list = placed.get(node.name) ?? [];
  if (list.some((f) => f.fault === fault.fault && f.upper === fault.upper)) throw faultError(`fault ${fault.fault} is given twice for ${node.name}`, { fault: fault.fault, layer: node.name });
  // A layer that does not answer (unreachable, slow, huge) shows nothing else: with another fault
  // beside it, what the plan expects could never be what an audit finds.
  // Nor does a top layer whose URL a relay serves: another VM answers for it.
  const silent = (name: FaultName) => FAULTS[name].status === 'unreachable' || name === 'relayed-top';
  if (list.length > 0 && (silent(fault.fault) || list.some((f) => silent(f.fault)))) {
    throw faultError(`fault ${fault.fault}@${node.name}: ${node.name} already has ${list.map((f) => f.fault).join(', ')}; a layer that does not answer (unreachable, slow, huge) or whose URL a relay serves (relayed-top) can have no other fault`, { fault: fault.fault, layer: node.name });
  }
  list.push(fault);
  placed.set(node.name, list);
}

/** Mirrors the path through `node` (from its host down to the root, and up through first guests to a top) as a decoy platform. */
function mirrorPath(node: TopologyNode, infos: Map<string, NodeInfo>): { root: TopologyNode; twin: TopologyNode } {
  const up: TopologyNode[] = [];
  for (let n: TopologyNode | undefined = node.guests[0]; n; n = n.guests[0]) up.push(n);
  const down: TopologyNode[] = [];
  for (let i: NodeInfo | undefined = infos.get(node.name); i; i = i.parent ? infos.get(i.parent.name) : undefined) down.push(i.node);
  const path = [...down.reverse(), ...up];
  let root: TopologyNode | null = null;
  let below: TopologyNode | null = null;
  let twin: TopologyNode | null = null;
  for (const n of path) {
    let name = `other-${n.name}`;
    while (infos.has(name)) name = `other-${name}`;
    const copy: TopologyNode = { name, role: n.role, tags: [], guests: [] };
    infos.set(name, { node: copy, parent: below, listed: false });
    if (below) below.guests.push(copy);
    else root = copy;
    if (n === node) twin = copy;
    below = copy;
  }
  return { root: root!, twin: twin! };
}

/** Picks another platform of the same kind and depth to stand in for `node` (relay target, foreign CA). */
function findDecoy(node: TopologyNode, infos: Map<string, NodeInfo>, depthOf: Map<string, number>, rootOf: Map<string, string>, faulty: ReadonlySet<string>): TopologyNode | undefined {
  const d = depthOf.get(node.name);
  // a healthy stand-in, so that what it answers is genuine evidence (its host may still have faults of its own)
  const candidates = [...infos.values()].filter((i) => i.listed && i.node !== node && i.node.role === node.role && depthOf.get(i.node.name) === d && !faulty.has(i.node.name));
  // best one whose platforms below are healthy too: what the relay shows is then the stand-in's clean walk
  const cleanBelow = (i: NodeInfo): boolean => {
    for (let p = i.parent; p; p = infos.get(p.name)?.parent ?? null) if (faulty.has(p.name)) return false;
    return true;
  };
  const pick = (list: NodeInfo[]): NodeInfo | undefined => list.find((i) => rootOf.get(i.node.name) !== rootOf.get(node.name)) ?? list[0];
  return (pick(candidates.filter(cleanBelow)) ?? pick(candidates))?.node;
}

export function buildPlatform(options: PlatformOptions): SimPlatform {
  const started = performance.now();
  const roots = normalizeTopology(options.topology);
  const infos = new Map<string, NodeInfo>();
  for (const r of roots) {
    infos.set(r.name, { node: r, parent: null, listed: true });
    for (const n of walkTopology([r])) for (const g of n.guests) infos.set(g.name, { node: g, parent: n, listed: true });
  }
  const placed = placeFaults(options.faults ?? [], infos, roots);

  const perHost = (options.vplatformCa ?? 'per-host') === 'per-host';
  for (const [name, list] of placed) {
    if (list.some((f) => f.fault === 'foreign-issuer') && !perHost) throw faultError(`fault foreign-issuer@${name} needs per-host vPlatform CAs (vplatformCa: per-host)`, { layer: name });
  }

  // Decoys: another genuine platform for relays and foreign CAs.
  const depthOf = new Map<string, number>();
  const rootOf = new Map<string, string>();
  for (const r of roots) for (const n of walkTopology([r])) {
    const p = infos.get(n.name)!.parent;
    depthOf.set(n.name, p ? depthOf.get(p.name)! + 1 : 0);
    rootOf.set(n.name, r.name);
  }
  const decoyOf = new Map<string, string>();
  const decoyRoots: TopologyNode[] = [];
  for (const [name, list] of placed) {
    if (!list.some((f) => f.fault === 'relayed' || f.fault === 'relayed-top' || f.fault === 'foreign-issuer')) continue;
    const node = infos.get(name)!.node;
    let decoy = findDecoy(node, infos, depthOf, rootOf, new Set(placed.keys()));
    if (!decoy) {
      const mirror = mirrorPath(node, infos);
      decoyRoots.push(mirror.root);
      decoy = mirror.twin;
    }
    decoyOf.set(name, decoy.name);
  }

  const seed = options.seed === null ? undefined : Buffer.from(options.seed ?? DEFAULT_SEED, 'utf8');
  const keyFor = (label: string) => simKey(seed, label);
  const physicalAkCa = SimCa.root('Sim Physical TPM AK CA', keyFor('ca/physical-ak'));
  const vplatformRoot = SimCa.root('Sim vPlatform Root CA', keyFor('ca/vplatform-root'));
  const providerCa = perHost ? null : vplatformRoot.issueCa('Sim vPlatform Issuing CA', keyFor('ca/vplatform-issuing'));
  const platform = new SimPlatform(physicalAkCa, vplatformRoot, providerCa, options.origin);

  const banks = options.banks ?? ['sha1', 'sha256', 'sha384'];
  const clock = options.clock ?? Date.now() - SIM_CLOCK_EPOCH_MS;
  // Every machine of a role boots the same way: one TPM per role measures the boot (and, VMs, the IMA list), the others adopt its PCRs.
  const booted = new Map<MachineRole, { tpm: SoftTpm; ima: ImaListTemplate | null }>();
  const bootOf = (role: MachineRole) => {
    let b = booted.get(role);
    if (!b) {
      const tpm = SoftTpm.create({ banks, seed: `boot template/${role}` });
      measureBoot(tpm, firmwareLog(FIRMWARE_PROFILES[role], banks));
      booted.set(role, (b = { tpm, ima: role === 'vm' ? measureImaList(tpm) : null }));
    }
    return b;
  };

  const makeTpm = (name: string, role: MachineRole): SoftTpm => {
    const ak = options.ak?.[role] ?? { type: 'ecc' as const };
    const common = { ak, banks, clock, ...(options.now ? { now: options.now } : {}) };
    if (ak.type === 'rsa') {
      // not the generation job's KeyObject: see util/fresh-key-pair.ts
      return SoftTpm.create({ ...common, akPrivateKey: freshKeyPair('rsa', { modulusLength: ak.bits ?? 2048 }).privateKey, ekPrivateKey: keyFor(`ek/${name}`) });
    }
    // random identities from random seeds: see simKey for why not generateKeyPairSync
    return SoftTpm.create({ ...common, seed: seed ? Buffer.concat([seed, Buffer.from(`/tpm/${name}`)]) : randomBytes(32) });
  };

  // Layers, top-down from each host; decoys after the topology.
  const build = (node: TopologyNode, host: SimLayer | null, listed: boolean): void => {
    const tpm = makeTpm(node.name, node.role);
    const firmware = firmwareLog(FIRMWARE_PROFILES[node.role], banks);
    const boot = bootOf(node.role);
    tpm.adoptPcrs(boot.tpm);
    const unreachable = placed.get(node.name)?.find((f) => f.fault === 'unreachable');
    const refused = unreachable && ((unreachable.mode as UnreachableMode | undefined) ?? 'refused') === 'refused';
    if (refused && !options.deadOrigin) throw faultError(`fault unreachable@${node.name} (mode refused) needs an origin where nothing listens`, { layer: node.name });
    const issuingCa = node.role === 'vm' ? null : perHost ? vplatformRoot.issueCa(`${node.name} vPlatform CA`, keyFor(`ca/host/${node.name}`)) : providerCa;
    const layer = new SimLayer({
      name: node.name,
      role: node.role,
      tags: node.tags,
      host,
      tpm,
      firmware,
      ima: boot.ima,
      url: layerUrl(refused ? options.deadOrigin! : options.origin, node.name),
      issuingCa,
      listed,
    });
    layer.faults.push(...(placed.get(node.name) ?? []));
    if (perHost && layer.isHosting) layer.recordIssuer(issuingCa!.certificate.der);
    platform.layers.set(node.name, layer);
    if (!host) platform.roots.push(layer);
    for (const g of node.guests) build(g, layer, listed);
  };
  for (const r of roots) build(r, null, true);
  for (const r of decoyRoots) build(r, null, false);

  // vPlatform tables: every hosting layer creates its guests, in order.
  for (const layer of platform.layers.values()) for (const g of layer.guests) layer.record('create', g.instanceId, g.name);

  // Certificates: hosts by the physical AK CA; guests by their host's CA (or, foreign-issuer, another host's).
  for (const layer of platform.layers.values()) {
    const forge = layer.hasFault('certificate') ? simKey(undefined, 'forger') : undefined;
    let issuer: SimCa;
    let cert: IssuedCertificate;
    if (!layer.host) {
      issuer = physicalAkCa;
      cert = issuer.issueAk({ commonName: `${layer.name} AK`, publicKey: layer.tpm.akPublicKey, layer: { kind: 'physical' }, serialLabel: layer.name, ...(forge ? { forgeWith: forge } : {}) });
    } else {
      const foreign = layer.host.faults.find((f) => f.fault === 'foreign-issuer' && f.upper === layer.name);
      issuer = foreign ? platform.layer(decoyOf.get(layer.host.name)!).issuingCa! : layer.host.issuingCa!;
      cert = issuer.issueAk({
        commonName: `${layer.name} AK`,
        publicKey: layer.tpm.akPublicKey,
        layer: { kind: 'virtual', instanceId: layer.instanceId, deepAttestation: layer.host.url },
        serialLabel: layer.name,
        ...(forge ? { forgeWith: forge } : {}),
      });
    }
    layer.setCertificates(cert, issuer.intermediates());
  }

  // Faults that change a table after the fact, and relays.
  for (const layer of platform.layers.values()) {
    for (const f of layer.faults) {
      if (f.fault === 'not-hosted') layer.record('migrate-out', platform.layer(f.upper!).instanceId, f.upper);
      if (f.fault === 'relayed' || f.fault === 'relayed-top') layer.relayTarget = platform.layer(decoyOf.get(layer.name)!);
    }
    // stale-binding: a late entry the stale log lacks (the upper instance stays listed in it)
    if (layer.hasFault('stale-binding')) layer.record('create', randomBytes(32), 'late-guest');
    try {
      layer.prepare();
    } catch (err) {
      throw faultError(`layer ${layer.name}: ${(err as Error).message}`, { layer: layer.name });
    }
  }
  platform.buildMs = performance.now() - started;
  return platform;
}
