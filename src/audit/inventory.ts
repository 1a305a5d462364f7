// Loading an audit inventory: YAML (or JSON) text → the VMs to audit with
// their effective settings, or EVERY problem at once, each with
// file:line:column, in the policy loader's style (same parser, same schema
// DSL, same located issues). Pure: the files an inventory names (policies,
// trust anchors, TLS material) are read by the caller, which locates its
// problems through `locate` (their line is the key that named the file).
//
// Paths in the inventory resolve relative to the inventory file's folder.

import { dirname, isAbsolute, resolve } from 'node:path';
import { ParseError } from '../errors.js';
import type { PolicyLoadCode } from '../policy/codes.js';
import { yamlTooDense } from '../util/yaml-size.js';
import { capped, locateYaml, MAX_ISSUES, parseJsonData, parseYaml, sortIssues, type ParsedYaml, type PolicyIssue } from '../policy/load.js';
import { positioner, yamlPosition, type TextPosition } from '../policy/locate.js';
import { pathKey, scanJson } from '../util/json-scan.js';
import { formatPath, INVALID, validate, type Path, type Schema } from '../policy/schema-dsl.js';
import { LABEL_PATTERN } from '../x509/trust-store.js';
import { terminalSafe } from '../util/terminal-safe.js';
import type { InventoryCode } from './codes.js';
import { inventorySchema, type InventorySpec, type SettingsSpec, type VmSpec } from './inventory-schema.js';

/** One problem in an inventory (or in a policy file it names), located. */
export interface InventoryIssue {
  file: string;
  line: number;
  column: number;
  code: InventoryCode | PolicyLoadCode;
  /** where in the inventory, e.g. "vms[3].url" */
  path: string;
  message: string;
  expected?: string;
  actual?: string;
}

/** A problem found after validation (a file that cannot be read), to be located in the inventory text. */
export interface PendingIssue {
  code: InventoryCode;
  path: Path;
  at?: 'key' | 'value';
  message: string;
  expected?: string;
  actual?: string;
}

/** A setting's value and where it was set: an inventory path, or the command line. */
export interface Setting<T> {
  value: T;
  from: Path | 'command line';
}

export interface TlsFilesSetting {
  ca?: string[];
  cert?: string;
  key?: string;
}

/** One VM to audit, with every setting resolved (VM over group over defaults; absent: the command line decides). */
export interface InventoryVm {
  /** position in the inventory's vms list */
  index: number;
  /** the name the inventory gives, if any */
  name?: string;
  /** what identifies the VM in reports and for --shard: its name, else its url */
  key: string;
  url: string;
  /** the vTPM instance expected at url (64 lowercase hex digits) */
  instanceId?: string;
  group?: string;
  /** defaults' tags, then the group's, then the VM's own (each once) */
  tags: string[];
  /** absolute path */
  policy?: Setting<string>;
  /** [LABEL=]PATH with absolute paths */
  trust?: Setting<string[]>;
  intermediates?: Setting<string[]>;
  crls?: Setting<string[]>;
  tls?: Setting<TlsFilesSetting>;
  timeoutMs?: number;
  connectTimeoutMs?: number;
  maxDepth?: number;
}

/** The file settings one level (defaults, or a group) gives, resolved as for the VMs that inherit them. */
export interface LevelFiles {
  policy?: Setting<string>;
  trust?: Setting<string[]>;
  intermediates?: Setting<string[]>;
  crls?: Setting<string[]>;
  tls?: Setting<TlsFilesSetting>;
}

export interface Inventory {
  /** the file as named */
  file: string;
  vms: InventoryVm[];
  /** group names defined, in file order */
  groups: string[];
  /**
   * The files defaults and each group name, whether or not a VM inherits them (the same Setting objects the VMs
   * hold): a missing policy in a group no VM names yet, or in defaults every VM overrides, is still a problem
   * of the inventory, found now rather than when a VM is added.
   */
  levels: LevelFiles[];
}

export interface InventoryParse {
  inventory?: Inventory;
  issues: InventoryIssue[];
  /**
   * Locates later problems in the inventory text. Holds the parsed document:
   * drop it once the files the inventory names are loaded (a large
   * inventory's YAML tree is far bigger than its VMs).
   */
  locate(found: readonly PendingIssue[]): InventoryIssue[];
}

/** Inventories list every VM of a fleet: 64 MiB holds several hundred thousand. */
export const MAX_INVENTORY_TEXT = 64 * 1024 * 1024;
/**
 * YAML is parsed into a document tree first: ~100 bytes of heap per byte of
 * text (a 6.6 MB inventory took 0.9 GB; 30 MB ran out of memory). 8 MiB is
 * about 100,000 VMs; larger fleets are listed in JSON.
 */
export const MAX_YAML_INVENTORY_TEXT = 8 * 1024 * 1024;

/** The schema DSL speaks the policy loader's codes; inventory issues carry their own. */
const CODE_MAP: Partial<Record<PolicyLoadCode, InventoryCode>> = {
  POLICY_INVALID: 'INVENTORY_INVALID',
  POLICY_YAML_SYNTAX: 'INVENTORY_YAML_SYNTAX',
  POLICY_DUPLICATE_KEY: 'INVENTORY_DUPLICATE_KEY',
  POLICY_UNKNOWN_KEY: 'INVENTORY_UNKNOWN_KEY',
  POLICY_MISSING_KEY: 'INVENTORY_MISSING_KEY',
  POLICY_TYPE: 'INVENTORY_TYPE',
  POLICY_VALUE: 'INVENTORY_VALUE',
  POLICY_VERSION: 'INVENTORY_VERSION',
  POLICY_DUPLICATE: 'INVENTORY_DUPLICATE',
};

function asInventoryIssue(i: PolicyIssue): InventoryIssue {
  return { ...i, code: CODE_MAP[i.code as PolicyLoadCode] ?? 'INVENTORY_VALUE' };
}

export function parseInventory(text: string, file: string): InventoryParse {
  const issues: PolicyIssue[] = [];
  const json = /\.json$/i.test(file);
  let locatePaths: (found: readonly PendingIssue[]) => InventoryIssue[];
  let spec: InventorySpec | undefined;

  if (text.length > MAX_INVENTORY_TEXT) {
    issues.push({ file, line: 1, column: 1, code: 'POLICY_VALUE', path: '', message: `the inventory is larger than ${MAX_INVENTORY_TEXT} characters` });
    return { issues: issues.map(asInventoryIssue), locate: () => [] };
  }
  if (!json && text.length > MAX_YAML_INVENTORY_TEXT) {
    issues.push({ file, line: 1, column: 1, code: 'POLICY_VALUE', path: '', message: `a YAML inventory is limited to ${MAX_YAML_INVENTORY_TEXT} characters (this one has ${text.length}): parsing YAML takes about a hundred times its size in memory; write a large fleet's inventory as JSON (a .json file, up to ${MAX_INVENTORY_TEXT})` });
    return { issues: issues.map(asInventoryIssue), locate: () => [] };
  }
  const dense = json ? undefined : yamlTooDense(text, 'the YAML inventory');
  if (dense !== undefined) {
    issues.push({ file, line: 1, column: 1, code: 'POLICY_VALUE', path: '', message: dense });
    return { issues: issues.map(asInventoryIssue), locate: () => [] };
  }
  // a byte order mark (editors on some systems write one) is not part of the document: JSON.parse
  // refuses it, the YAML parser skips it; a space keeps every position the same
  if (json && text.charCodeAt(0) === 0xfeff) text = ` ${text.slice(1)}`;
  if (json) {
    // JSON.parse is two orders of magnitude faster than a YAML parser on a large fleet.
    const parsed = parseJsonData(text, file, inventorySchema as Schema<unknown>, issues);
    if (parsed !== INVALID) spec = parsed as InventorySpec;
    locatePaths = (found) => {
      const pos = positioner(text);
      const scan = scanJson(text, new Set(found.map((f) => pathKey(f.path))));
      return found.map((f) => {
        const at = scan.found.get(pathKey(f.path));
        return pending(file, pos(at ? (f.at === 'key' ? (at.key ?? at.value) : at.value) : 0), f);
      });
    };
  } else {
    const doc: ParsedYaml = parseYaml(text, file, issues);
    if ('value' in doc) {
      const { value, issues: found } = validate(inventorySchema, doc.value);
      locateYaml(doc, file, found, issues);
      if (value !== INVALID) spec = value;
    }
    locatePaths = (found) => {
      return found.map((f) => pending(file, yamlPosition(doc.doc, doc.lineCounter, f.path, f.at ?? 'value'), f));
    };
  }

  if (!spec || issues.length > 0) return { issues: capped(sortIssues(issues, file)).map(asInventoryIssue), locate: locatePaths };

  const later = crossChecks(spec);
  if (later.length > 0) {
    // as the schema's issues: at most MAX_ISSUES listed (100,000 VMs naming a missing group were 75 MB of
    // output), the rest counted; issues come in the order of the VMs, so the first listed are the first in the file
    const listed = sortIssues(locatePaths(later.slice(0, MAX_ISSUES)), file);
    if (later.length > MAX_ISSUES) {
      const last = listed[listed.length - 1]!;
      listed.push({ file, line: last.line, column: last.column, code: 'INVENTORY_INVALID', path: '', message: `... and ${later.length - MAX_ISSUES} more issue(s) not listed` });
    }
    return { issues: listed, locate: locatePaths };
  }
  return { inventory: resolveInventory(spec, file), issues: [], locate: locatePaths };
}

function pending(file: string, pos: TextPosition, f: PendingIssue): InventoryIssue {
  const out: InventoryIssue = { file, line: pos.line, column: pos.column, code: f.code, path: formatPath(f.path), message: f.message };
  if (f.expected !== undefined) out.expected = f.expected;
  if (f.actual !== undefined) out.actual = f.actual;
  return out;
}

/** What the schema cannot say alone: groups named exist, and no two VMs share a URL (names are unique by the schema). */
function crossChecks(spec: InventorySpec): PendingIssue[] {
  const out: PendingIssue[] = [];
  const groups = spec.groups ?? new Map();
  const firstByUrl = new Map<string, number>();
  const firstByKey = new Map<string, number>();
  const firstByNfc = new Map<string, number>();
  const firstByInstance = new Map<string, number>();
  // the groups an unknown group's issue names: once, not once per VM (10,000 groups times 100,000 VMs)
  let knownGroups: string | undefined;
  spec.vms.forEach((vm, i) => {
    if (vm.instanceId !== undefined) {
      const id = vm.instanceId.toLowerCase();
      const other = firstByInstance.get(id);
      if (other === undefined) firstByInstance.set(id, i);
      else out.push({ code: 'INVENTORY_DUPLICATE', path: ['vms', i, 'instanceId'], message: `vms[${i}].instanceId: the same vTPM instance as vms[${other}]; one instance answers at one address`, actual: vm.instanceId });
    }
    // names that differ only in Unicode normalization (café as é or as e + ´) look the same in every report, and so
    // do names that differ in a character reports show as its escape ("vm-\u202ex", a bidi override, is shown as
    // the text vm-\u202ex): a JUnit report would hold two testcases of one name, which CI systems take for one
    if (vm.name !== undefined) {
      const nfc = vm.name.normalize('NFC');
      const shown = terminalSafe(nfc);
      const other = firstByNfc.get(shown);
      if (other === undefined) firstByNfc.set(shown, i);
      else if (spec.vms[other]!.name !== vm.name) {
        const message =
          spec.vms[other]!.name!.normalize('NFC') === nfc
            ? `vms[${i}].name: the same name as vms[${other}] in another Unicode normalization; reports would show two VMs alike`
            : `vms[${i}].name: shown as vms[${other}]'s name in every report (${shown}); reports would show two VMs alike`;
        out.push({ code: 'INVENTORY_DUPLICATE', path: ['vms', i, 'name'], message, actual: vm.name });
      }
    }
    if (vm.group !== undefined && !groups.has(vm.group)) {
      knownGroups ??= groups.size ? ` (groups: ${[...groups.keys()].slice(0, 20).join(', ')})` : ' (the inventory has no groups:)';
      out.push({
        code: 'INVENTORY_UNKNOWN_GROUP',
        path: ['vms', i, 'group'],
        message: `vms[${i}].group: no group "${vm.group}" is defined${knownGroups}`,
        actual: vm.group,
      });
    }
    const url = normalizedUrl(vm.url);
    const first = firstByUrl.get(url);
    if (first !== undefined) out.push({ code: 'INVENTORY_DUPLICATE', path: ['vms', i, 'url'], message: `vms[${i}].url: the same endpoint as vms[${first}] (${vm.url}); audit each VM once`, actual: vm.url });
    else firstByUrl.set(url, i);
    // an unnamed VM is known by its url: it must not collide with another VM's name, in either order
    // (two names alike are the schema's INVENTORY_DUPLICATE already)
    const key = vm.name ?? vm.url;
    const firstKey = firstByKey.get(key);
    if (firstKey === undefined) firstByKey.set(key, i);
    else if (vm.name === undefined) out.push({ code: 'INVENTORY_DUPLICATE', path: ['vms', i, 'url'], message: `vms[${i}]: unnamed, so known by its url, which vms[${firstKey}] uses as its name`, actual: key });
    else if (spec.vms[firstKey]!.name === undefined) out.push({ code: 'INVENTORY_DUPLICATE', path: ['vms', i, 'name'], message: `vms[${i}].name: the url by which the unnamed vms[${firstKey}] is known; reports and --shard would take them for one VM`, actual: key });
  });
  return out;
}

function normalizedUrl(s: string): string {
  try {
    const u = new URL(s);
    return `${u.protocol}//${normalizedHost(u.hostname)}${u.port ? `:${u.port}` : ''}${percentNormalized(u.pathname).replace(/\/+$/, '')}${percentNormalized(u.search)}`;
  } catch {
    return s;
  }
}

/**
 * One machine, however written: "h.example." is the fully qualified "h.example", and the IPv4-mapped
 * "[::ffff:7f00:1]" (as the URL parser writes [::ffff:127.0.0.1]) is 127.0.0.1. Path spellings such as "//" are
 * left distinct: a server may tell them apart.
 */
function normalizedHost(hostname: string): string {
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/i.exec(hostname);
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return hostname.toLowerCase().replace(/\.$/, '');
}

/** RFC 3986 6.2.2: %76 is "v" (unreserved characters decoded), other escapes in upper case. */
function percentNormalized(s: string): string {
  return s.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9._~-]/.test(c) ? c : `%${hex.toUpperCase()}`;
  });
}

/** "[LABEL=]PATH" with PATH made absolute, the label kept (the trust loader's rule: a valid label before "=" is a label). */
function resolveTrustSpec(spec: string, base: string): string {
  const eq = spec.indexOf('=');
  if (eq > 0 && LABEL_PATTERN.test(spec.slice(0, eq))) return `${spec.slice(0, eq)}=${resolve(base, spec.slice(eq + 1))}`;
  // a path that itself has "=" in it: made absolute, it starts with "/" and is never read as a label
  return resolve(base, spec);
}

type Level = { settings: SettingsSpec; at: Path };

function resolveInventory(spec: InventorySpec, file: string): Inventory {
  const base = dirname(isAbsolute(file) ? file : resolve(file));
  const abs = (p: string): string => resolve(base, p);
  const defaults: Level | undefined = spec.defaults ? { settings: spec.defaults, at: ['defaults'] } : undefined;
  // One resolved Setting object per level and key, shared by every VM that inherits it.
  const memo = new Map<string, Setting<unknown>>();
  const setting = <T>(level: Level, key: keyof SettingsSpec, make: () => T): Setting<T> => {
    const id = `${pathKey(level.at)}|${key}`;
    let s = memo.get(id) as Setting<T> | undefined;
    if (!s) memo.set(id, (s = { value: make(), from: [...level.at, key] }));
    return s;
  };
  const groupLevels = new Map<string, Level>();
  for (const [name, g] of spec.groups ?? new Map()) groupLevels.set(name, { settings: g, at: ['groups', name] });

  // each file setting from the nearest level that gives it
  const filesOf = (nearest: (key: keyof SettingsSpec) => Level | undefined): LevelFiles => {
    const out: LevelFiles = {};
    let l = nearest('policy');
    if (l) out.policy = setting(l, 'policy', () => abs(l!.settings.policy!));
    l = nearest('trust');
    if (l) out.trust = setting(l, 'trust', () => l!.settings.trust!.map((t) => resolveTrustSpec(t, base)));
    l = nearest('intermediates');
    if (l) out.intermediates = setting(l, 'intermediates', () => l!.settings.intermediates!.map(abs));
    l = nearest('crls');
    if (l) out.crls = setting(l, 'crls', () => l!.settings.crls!.map(abs));
    l = nearest('tls');
    if (l) {
      out.tls = setting(l, 'tls', () => {
        const t = l!.settings.tls!;
        return { ...(t.ca ? { ca: t.ca.map(abs) } : {}), ...(t.cert ? { cert: abs(t.cert) } : {}), ...(t.key ? { key: abs(t.key) } : {}) };
      });
    }
    return out;
  };

  const vms = spec.vms.map((vm: VmSpec, index): InventoryVm => {
    const levels: Level[] = [{ settings: vm, at: ['vms', index] }];
    const group = vm.group !== undefined ? groupLevels.get(vm.group) : undefined;
    if (group) levels.push(group);
    if (defaults) levels.push(defaults);
    const nearest = (key: keyof SettingsSpec): Level | undefined => levels.find((l) => l.settings[key] !== undefined);
    const out: InventoryVm = { index, key: vm.name ?? vm.url, url: vm.url, tags: [] };
    if (vm.name !== undefined) out.name = vm.name;
    if (vm.instanceId !== undefined) out.instanceId = vm.instanceId.toLowerCase();
    if (vm.group !== undefined) out.group = vm.group;
    const tags = new Set<string>();
    for (const l of [...levels].reverse()) for (const t of l.settings.tags ?? []) tags.add(t);
    out.tags = [...tags];

    Object.assign(out, filesOf(nearest));
    const timeout = nearest('timeoutMs')?.settings.timeoutMs;
    if (timeout !== undefined) out.timeoutMs = timeout;
    const connect = nearest('connectTimeoutMs')?.settings.connectTimeoutMs;
    if (connect !== undefined) out.connectTimeoutMs = connect;
    const depth = nearest('maxDepth')?.settings.maxDepth;
    if (depth !== undefined) out.maxDepth = depth;
    return out;
  });
  // defaults, and each group over defaults: what a VM of it that set nothing itself would get
  const levels: LevelFiles[] = [];
  for (const group of [undefined, ...groupLevels.values()]) {
    const chain = [group, defaults].filter((l): l is Level => l !== undefined);
    if (chain.length > 0) levels.push(filesOf((key) => chain.find((l) => l.settings[key] !== undefined)));
  }
  return { file, vms, groups: [...groupLevels.keys()], levels };
}

/** Throws INVENTORY_INVALID listing every issue (exit 2). */
export function inventoryInvalid(file: string, issues: readonly InventoryIssue[]): ParseError {
  const first = issues[0];
  return new ParseError(
    'INVENTORY_INVALID',
    `${file}: ${issues.length} problem(s) in the inventory${first ? `; first: ${first.file}:${first.line}:${first.column} ${first.code} ${first.message}` : ''}`,
    { file, issues },
  );
}
