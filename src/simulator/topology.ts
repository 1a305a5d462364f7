// The shape of a simulated platform: physical hosts, the VMMs they run
// (nested to any depth), and the VMs on top. Given as a depth (one chain:
// VM → VMM → ... → physical), as counts (a fleet), or as an explicit tree
// (a fleet file), and normalized here into one tree of named nodes.

import { UsageError } from '../errors.js';
import type { MachineRole } from './firmware.js';

/** Layer names appear in URLs (/l/<name>) and inventories. */
export const LAYER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Deepest chain accepted: the walker's own limit is lower. */
export const MAX_DEPTH = 16;
/** Most layers one simulator builds. */
export const MAX_LAYERS = 250_000;

export interface VmSpec {
  name: string;
  tags?: string[];
}

export interface VmmSpec {
  name: string;
  tags?: string[];
  vmms?: VmmSpec[];
  vms?: (VmSpec | string)[];
}

export interface HostSpec {
  name: string;
  tags?: string[];
  vmms?: VmmSpec[];
  vms?: (VmSpec | string)[];
}

/**
 * `{layers: N}`: one chain of N layers (1 = a physical machine alone, 2 = VM
 * → physical, 3 = VM → VMM → physical, ...). `{hosts: N, vmmsPerHost, vmsPerVmm}`:
 * a fleet (vmmsPerHost 0 puts the VMs on the hosts). `{hosts: [...]}`: an
 * explicit tree.
 */
export type Topology = { layers: number } | { hosts: number; vmmsPerHost?: number; vmsPerVmm: number } | { hosts: HostSpec[] };

export interface TopologyNode {
  name: string;
  role: MachineRole;
  tags: string[];
  guests: TopologyNode[];
}

export function topologyError(message: string, details: Record<string, unknown> = {}): UsageError {
  return new UsageError('SIM_TOPOLOGY_INVALID', message, details);
}

function count(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw topologyError(`${field} must be a whole number ${min}..${max}`, { field, value: v });
  return v;
}

/** A chain of `depth` layers: host at the bottom, then vmm (or vmm-1, vmm-2, ... when nested), vm on top. */
function chain(depth: number): TopologyNode[] {
  const host: TopologyNode = { name: 'host', role: 'physical', tags: [], guests: [] };
  let below = host;
  const vmms = depth - 2;
  for (let i = 1; i <= vmms; i++) {
    const vmm: TopologyNode = { name: vmms === 1 ? 'vmm' : `vmm-${i}`, role: 'vmm', tags: [], guests: [] };
    below.guests.push(vmm);
    below = vmm;
  }
  if (depth >= 2) below.guests.push({ name: 'vm', role: 'vm', tags: [], guests: [] });
  return [host];
}

function pad(n: number, total: number): string {
  return String(n).padStart(String(total).length, '0');
}

function counted(hosts: number, vmmsPerHost: number, vmsPerVmm: number): TopologyNode[] {
  const out: TopologyNode[] = [];
  const totalVmms = hosts * vmmsPerHost;
  const totalVms = (vmmsPerHost === 0 ? hosts : totalVmms) * vmsPerVmm;
  let vmmNo = 0;
  let vmNo = 0;
  const vms = (tags: string[]): TopologyNode[] =>
    Array.from({ length: vmsPerVmm }, () => ({ name: `vm-${pad(++vmNo, Math.max(totalVms, 1000))}`, role: 'vm' as const, tags: [...tags], guests: [] }));
  for (let h = 1; h <= hosts; h++) {
    const hostName = `host-${pad(h, Math.max(hosts, 100))}`;
    const host: TopologyNode = { name: hostName, role: 'physical', tags: [], guests: [] };
    if (vmmsPerHost === 0) host.guests = vms(['sim', `host=${hostName}`]);
    for (let v = 1; v <= vmmsPerHost; v++) {
      const vmmName = `vmm-${pad(++vmmNo, Math.max(totalVmms, 100))}`;
      host.guests.push({ name: vmmName, role: 'vmm', tags: [], guests: vms(['sim', `host=${hostName}`, `vmm=${vmmName}`]) });
    }
    out.push(host);
  }
  return out;
}

function tagsOf(v: unknown, field: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 128)) throw topologyError(`${field}.tags must be a list of strings (1..128 characters)`, { field });
  return [...(v as string[])];
}

function explicit(hosts: HostSpec[]): TopologyNode[] {
  const node = (spec: unknown, role: MachineRole, field: string, depth: number): TopologyNode => {
    if (depth > MAX_DEPTH) throw topologyError(`${field}: nesting deeper than ${MAX_DEPTH} layers`, { field });
    const s = (typeof spec === 'string' && role === 'vm' ? { name: spec } : spec) as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw topologyError(`${field}: expected a mapping with a name`, { field });
    const known = role === 'vm' ? ['name', 'tags'] : ['name', 'tags', 'vmms', 'vms'];
    const unknown = Object.keys(s).filter((k) => !known.includes(k));
    if (unknown.length) throw topologyError(`${field}: unknown key ${unknown[0]} (expected ${known.join(', ')})`, { field, key: unknown[0] });
    if (typeof s['name'] !== 'string' || !LAYER_NAME_RE.test(s['name'])) throw topologyError(`${field}.name must be 1..64 letters, digits, ".", "_" or "-"`, { field, name: s['name'] });
    const n: TopologyNode = { name: s['name'], role, tags: tagsOf(s['tags'], field), guests: [] };
    for (const [key, guestRole] of [['vmms', 'vmm'], ['vms', 'vm']] as const) {
      const list = s[key];
      if (list === undefined) continue;
      if (!Array.isArray(list)) throw topologyError(`${field}.${key} must be a list`, { field: `${field}.${key}` });
      list.forEach((g, i) => n.guests.push(node(g, guestRole, `${field}.${key}[${i}]`, depth + 1)));
    }
    return n;
  };
  return hosts.map((h, i) => node(h, 'physical', `hosts[${i}]`, 1));
}

/** Every node, top-down from each root (hosts first, guests after their host). */
export function walkTopology(roots: readonly TopologyNode[]): TopologyNode[] {
  const out: TopologyNode[] = [];
  const stack = [...roots].reverse();
  while (stack.length) {
    const n = stack.pop()!;
    out.push(n);
    for (let i = n.guests.length - 1; i >= 0; i--) stack.push(n.guests[i]!);
  }
  return out;
}

/** Checks a topology and returns its tree (roots are the physical hosts). */
export function normalizeTopology(t: Topology): TopologyNode[] {
  if (typeof t !== 'object' || t === null) throw topologyError('a topology is {layers}, {hosts, vmmsPerHost, vmsPerVmm} or {hosts: [...]}');
  let roots: TopologyNode[];
  if ('layers' in t) {
    roots = chain(count(t.layers, 'layers', 1, MAX_DEPTH));
  } else if (Array.isArray(t.hosts)) {
    if (t.hosts.length === 0) throw topologyError('hosts: at least one host', { field: 'hosts' });
    roots = explicit(t.hosts);
  } else {
    const c = t as { hosts: number; vmmsPerHost?: number; vmsPerVmm: number };
    const hosts = count(c.hosts, 'hosts', 1, 10_000);
    const vmmsPerHost = count(c.vmmsPerHost ?? 1, 'vmmsPerHost', 0, 1_000);
    const vmsPerVmm = count(c.vmsPerVmm, 'vmsPerVmm', 0, 10_000);
    const total = hosts * (1 + vmmsPerHost + Math.max(vmmsPerHost, 1) * vmsPerVmm);
    if (total > MAX_LAYERS) throw topologyError(`the fleet would have ${total} layers, more than ${MAX_LAYERS}`, { total, max: MAX_LAYERS });
    roots = counted(hosts, vmmsPerHost, vmsPerVmm);
  }
  const all = walkTopology(roots);
  if (all.length > MAX_LAYERS) throw topologyError(`${all.length} layers, more than ${MAX_LAYERS}`, { total: all.length, max: MAX_LAYERS });
  const seen = new Set<string>();
  for (const n of all) {
    if (seen.has(n.name)) throw topologyError(`layer name ${n.name} is used twice`, { name: n.name });
    seen.add(n.name);
  }
  return roots;
}
