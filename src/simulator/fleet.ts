// Fleets for audits (issue #8): the fleet file (a topology), the fault plan
// (which layers are tampered how, which are down), a seeded generator of
// random plans, and the inventory an audit reads. Pure: files are read and
// written by the callers (cli/actions/simulate.ts, tests, benchmarks).

import { createHash } from 'node:crypto';
import { isSeq, LineCounter, type Document } from 'yaml';
import { duplicateYamlKeys } from '../policy/yaml-keys.js';
import { yamlTooDense } from '../util/yaml-size.js';
import { parseDocumentCapped } from '../util/yaml-depth.js';
import { UsageError } from '../errors.js';
import { checkLayerFault, FAULT_NAMES, FAULTS, type FaultName, type LayerFault } from './faults.js';
import { faultSourceAt, type InventoryEntry, type PlacedFault } from './platform.js';
import { normalizeTopology, topologyError, walkTopology, type Topology, type TopologyNode } from './topology.js';

export interface FaultPlanEntry extends LayerFault {
  /** the layer's name */
  layer: string;
}

export interface FaultPlan {
  version: 1;
  /** the generator's seed, when generated (informational) */
  seed?: string | undefined;
  faults: FaultPlanEntry[];
}

function planError(message: string, details: Record<string, unknown> = {}): UsageError {
  return new UsageError('SIM_FAULT_PLAN_INVALID', message, details);
}

function parseDocumentText(text: string, what: string, error: (m: string, d?: Record<string, unknown>) => UsageError): unknown {
  return parseYamlDocument(text, what, error).value;
}

function parseYamlDocument(text: string, what: string, error: (m: string, d?: Record<string, unknown>) => UsageError): { value: unknown; doc: Document } {
  const dense = yamlTooDense(text, what);
  if (dense !== undefined) throw error(dense, { file: what });
  // YAML is a superset of JSON. Keys are compared as the text they become (7 and "7" are one key), as policies' are.
  // As policies and inventories: collections nested some hundreds deep made V8 abort the process in the parser.
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    const parsed = parseDocumentCapped(text, { uniqueKeys: false, prettyErrors: false, lineCounter });
    if ('tooDeepAt' in parsed) {
      const line = text.slice(0, parsed.tooDeepAt).split('\n').length;
      throw error(`${what}: not well-formed YAML or JSON: ${parsed.message} at line ${line}`, { file: what, line });
    }
    doc = parsed;
  } catch (err) {
    // a last resort: block mappings nested on one line (a: b: c: ...) ran the parser out of stack before the depth cap
    if (!(err instanceof RangeError)) throw err;
    throw error(`${what}: not well-formed YAML or JSON: nested too deeply to read (mappings inside one another, as in a: b: c: ..., past what the YAML parser can take)`, { file: what });
  }
  const problem = doc.errors[0];
  if (problem) {
    // as parseDocument's own messages read (its helper that adds the place is not exported)
    const place = problem.pos[0] >= 0 ? lineCounter.linePos(problem.pos[0]) : undefined;
    throw error(`${what}: not well-formed YAML or JSON: ${problem.message.split('\n')[0]}${place ? ` at line ${place.line}, column ${place.col}:` : ''}`, { file: what });
  }
  const duplicate = duplicateYamlKeys(doc)[0];
  if (duplicate) {
    const line = text.slice(0, duplicate.offset).split('\n').length;
    throw error(`${what}: line ${line}: a key repeats one of the same mapping (line ${text.slice(0, duplicate.firstOffset).split('\n').length})`, { file: what, line });
  }
  try {
    return { value: doc.toJS({ maxAliasCount: 0 }) as unknown, doc };
  } catch (err) {
    throw error(`${what}: not well-formed YAML or JSON: ${(err as Error).message.split('\n')[0]}`, { file: what });
  }
}

function mapping(v: unknown, field: string, error: (m: string, d?: Record<string, unknown>) => UsageError): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw error(`${field}: expected a mapping`, { field });
  return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, keys: readonly string[], field: string, error: (m: string, d?: Record<string, unknown>) => UsageError): void {
  const unknown = Object.keys(o).find((k) => !keys.includes(k));
  if (unknown !== undefined) throw error(`${field}: unknown key "${unknown.slice(0, 40)}" (expected ${keys.join(', ')})`, { field, key: unknown.slice(0, 40) });
}

/**
 * A fleet file (YAML or JSON): `{hosts: N, vmmsPerHost: N, vmsPerVmm: N}`,
 * `{layers: N}`, or `{hosts: [{name, tags, vmms: [{name, vms: [...]}], vms: [...]}]}`.
 */
export function parseFleetFile(text: string, file = 'fleet file'): Topology {
  const doc = mapping(parseDocumentText(text, file, topologyError), file, topologyError);
  onlyKeys(doc, ['hosts', 'vmmsPerHost', 'vmsPerVmm', 'layers'], file, topologyError);
  const t = doc as unknown as Topology;
  normalizeTopology(t); // every check, with the file's field names
  return t;
}

/** Where a fault plan entry was written: `file:line: faults[i]` (no line for a plan given as data). */
export type FaultPlanSource = NonNullable<PlacedFault['source']>;

// Kept beside the entries rather than in them, so a plan written back (faultPlanText) is the plan read.
const entrySources = new WeakMap<FaultPlanEntry, FaultPlanSource>();

/**
 * A fault plan file (YAML or JSON), checked on its own; where each fault goes is checked when the fleet is built.
 * A problem with an entry names the file, the entry's line and its index, here and when its fault is placed.
 */
export function parseFaultPlan(input: string | unknown, file = 'fault plan'): FaultPlan {
  let value = input;
  let lineOf: (i: number) => number | undefined = () => undefined;
  if (typeof input === 'string') {
    const parsed = parseYamlDocument(input, file, planError);
    value = parsed.value;
    const seq = parsed.doc.contents && 'get' in parsed.doc.contents ? (parsed.doc.contents as { get(k: string, keepScalar: true): unknown }).get('faults', true) : undefined;
    // where each line starts, found once: counting the lines before every entry anew took 3 s for 16,000 entries
    const lineStarts = [0];
    for (let at = input.indexOf('\n'); at >= 0; at = input.indexOf('\n', at + 1)) lineStarts.push(at + 1);
    lineOf = (i) => {
      const offset = isSeq(seq) ? (seq.items[i] as { range?: [number, number, number] } | undefined)?.range?.[0] : undefined;
      if (offset === undefined) return undefined;
      let [lo, hi] = [0, lineStarts.length - 1];
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (lineStarts[mid]! <= offset) lo = mid;
        else hi = mid - 1;
      }
      return lo + 1;
    };
  }
  const doc = mapping(value, file, planError);
  onlyKeys(doc, ['version', 'seed', 'faults'], file, planError);
  if (doc['version'] !== undefined && doc['version'] !== 1) throw planError(`${file}: version must be 1`, { field: 'version' });
  if (doc['seed'] !== undefined && typeof doc['seed'] !== 'string' && typeof doc['seed'] !== 'number') throw planError(`${file}: seed must be a string`, { field: 'seed' });
  const list = doc['faults'] ?? [];
  if (!Array.isArray(list)) throw planError(`${file}: faults must be a list`, { field: 'faults' });
  const faults = list.map((item, i) => {
    const line = lineOf(i);
    const source: FaultPlanSource = { file, ...(line !== undefined ? { line } : {}), field: `faults[${i}]` };
    const where = { file, ...(line !== undefined ? { line } : {}) };
    try {
      const e = mapping(item, source.field, planError);
      onlyKeys(e, ['layer', 'fault', 'mode', 'pcr', 'delayMs', 'upper'], source.field, planError);
      if (typeof e['layer'] !== 'string' || e['layer'].length === 0) throw planError(`${source.field}.layer: the name of a layer`, { field: `${source.field}.layer` });
      if (e['upper'] !== undefined && typeof e['upper'] !== 'string') throw planError(`${source.field}.upper: the name of a layer`, { field: `${source.field}.upper` });
      const entry = { ...checkLayerFault(e as unknown as LayerFault), layer: e['layer'] } as FaultPlanEntry;
      entrySources.set(entry, source);
      return entry;
    } catch (err) {
      const message = (err as Error).message;
      const details = err instanceof UsageError ? err.details : {};
      // the messages of mapping/onlyKeys/the layer checks start with the field already
      throw planError(`${faultSourceAt(source)}: ${message.startsWith(source.field) ? message : `${source.field}: ${message}`}`, { ...details, field: details['field'] ?? source.field, ...where });
    }
  });
  return { version: 1, ...(doc['seed'] !== undefined ? { seed: String(doc['seed']) } : {}), faults };
}

export function faultPlanText(plan: FaultPlan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

/** The plan's faults as the platform builder takes them. */
export function planFaults(plan: FaultPlan): PlacedFault[] {
  return plan.faults.map((f) => {
    const source = entrySources.get(f);
    return { ...f, ...(source ? { source } : {}) };
  });
}

// ---------------------------------------------------------------------------
// Random plans

export interface FaultPlanOptions {
  seed: string;
  /** share of the VMs with a verification fault (default 0.04) */
  faultyFraction?: number;
  /** share of the VMs that do not answer (default 0.01) */
  unreachableFraction?: number;
  /** VMMs down (default 1 when the fleet has 10 or more, else 0) */
  downVmms?: number;
  /** hosts down (default 0) */
  downHosts?: number;
  /** VMs that answer too slowly / without end (default 0 each: an audit waits its timeout for each) */
  slowVms?: number;
  hugeVms?: number;
  /** the verification faults to draw from (default: every fault that needs no policy) */
  kinds?: readonly FaultName[];
}

/**
 * Faults whose code does not depend on the policy, drawn by default (relayed-top shows only to an
 * audit that knows each VM's instance id, as the simulator's inventory gives it).
 */
export const PLAN_KINDS: readonly FaultName[] = ['pcr', 'log-event', 'signature', 'certificate', 'nonce', 'ima-tamper', 'not-hosted', 'relayed', 'relayed-top', 'stale-binding', 'foreign-issuer'];

/** mulberry32 over a 32-bit seed from SHA-256 of the text: small, fast, and the same everywhere. */
function prng(seed: string): () => number {
  let a = createHash('sha256').update(seed).digest().readUInt32BE(0);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * A plan with a few percent of faulty VMs in varied ways (each VM at most
 * one fault, spread over the kinds), some VMs that do not answer, and
 * VMMs/hosts down; faulty VMs are chosen among those whose VMM and host are
 * up, so each VM's expected outcome has one cause. The same seed and
 * topology give the same plan.
 */
export function generateFaultPlan(topology: Topology, options: FaultPlanOptions): FaultPlan {
  const random = prng(options.seed);
  const roots = normalizeTopology(topology);
  const parent = new Map<string, TopologyNode>();
  for (const n of walkTopology(roots)) for (const g of n.guests) parent.set(g.name, n);
  const all = walkTopology(roots);
  const vms = all.filter((n) => n.role === 'vm');
  const vmms = all.filter((n) => n.role === 'vmm');
  const kinds = options.kinds ?? PLAN_KINDS;
  for (const k of kinds) if (!FAULT_NAMES.includes(k)) throw planError(`unknown fault kind ${k}`, { kind: k });
  const fraction = (v: number | undefined, d: number, field: string) => {
    const x = v ?? d;
    if (!(x >= 0 && x <= 1)) throw planError(`${field} must be 0..1`, { field });
    return x;
  };
  const faults: FaultPlanEntry[] = [];
  const down = new Set<string>();
  for (const h of shuffle([...roots], random).slice(0, options.downHosts ?? 0)) {
    faults.push({ layer: h.name, fault: 'unreachable' });
    down.add(h.name);
  }
  for (const v of shuffle(vmms.filter((m) => !down.has(parent.get(m.name)!.name)), random).slice(0, options.downVmms ?? (vmms.length >= 10 ? 1 : 0))) {
    faults.push({ layer: v.name, fault: 'unreachable' });
    down.add(v.name);
  }
  const pathDown = (n: TopologyNode): boolean => {
    for (let p = parent.get(n.name); p; p = parent.get(p.name)) if (down.has(p.name)) return true;
    return false;
  };
  const eligible = shuffle(vms.filter((v) => !pathDown(v)), random);
  const nFaulty = Math.round(fraction(options.faultyFraction, 0.04, 'faultyFraction') * vms.length);
  const nUnreachable = Math.round(fraction(options.unreachableFraction, 0.01, 'unreachableFraction') * vms.length);
  const order = shuffle([...kinds], random);
  let next = 0;
  const take = (): TopologyNode | undefined => eligible[next++];
  for (let i = 0; i < nFaulty; i++) {
    const vm = take();
    if (!vm) break;
    const kind = order[i % order.length]!;
    if (FAULTS[kind].scope === 'binding') faults.push({ layer: parent.get(vm.name)!.name, fault: kind, upper: vm.name });
    else faults.push({ layer: vm.name, fault: kind });
  }
  for (let i = 0; i < nUnreachable; i++) {
    const vm = take();
    if (!vm) break;
    faults.push({ layer: vm.name, fault: 'unreachable', mode: i % 2 === 0 ? 'refused' : 'reset' });
  }
  for (let i = 0; i < (options.slowVms ?? 0); i++) {
    const vm = take();
    if (vm) faults.push({ layer: vm.name, fault: 'slow' });
  }
  for (let i = 0; i < (options.hugeVms ?? 0); i++) {
    const vm = take();
    if (vm) faults.push({ layer: vm.name, fault: 'huge' });
  }
  return { version: 1, seed: options.seed, faults };
}

// ---------------------------------------------------------------------------
// Inventory

/**
 * The inventory as YAML: `vms: [{name, url, tags}]`. Values are written as
 * JSON strings, which YAML reads as double-quoted scalars.
 */
export function inventoryYaml(entries: readonly InventoryEntry[]): string {
  let out = '# vtpm-verify simulator inventory: one entry per VM\nvms:\n';
  for (const e of entries) out += `  - name: ${JSON.stringify(e.name)}\n    url: ${JSON.stringify(e.url)}${e.instanceId !== undefined ? `\n    instanceId: ${JSON.stringify(e.instanceId)}` : ''}\n    tags: [${e.tags.map((t) => JSON.stringify(t)).join(', ')}]\n`;
  return out;
}

/** The same inventory as JSON, one VM per line: `vtpm-verify audit` reads *.json inventories with the (much faster) JSON parser. */
export function inventoryJson(entries: readonly InventoryEntry[]): string {
  return `{"vms": [\n${entries.map((e) => JSON.stringify({ name: e.name, url: e.url, instanceId: e.instanceId, tags: e.tags })).join(',\n')}\n]}\n`;
}
