// Everything an audit loads before its first request: for each distinct
// combination of settings in the inventory, the policy, the trust store and
// CRLs (a "profile"), and for each distinct TLS setting an HTTP client with
// kept-alive connections. Each file is read once however many VMs name it.
// A file that cannot be read or used is an inventory issue located at the
// key that named it; all of them are reported at once (exit 2), together
// with the issues of any policy file the inventory names.

import { createHash } from 'node:crypto';
import { VtpmError } from '../errors.js';
import type { AuditProfile, AuditTarget } from '../audit/run.js';
import type { Inventory, InventoryIssue, InventoryVm, PendingIssue, Setting } from '../audit/inventory.js';
import { MAX_INCLUDE_TEXT, MAX_ISSUES, MAX_POLICY_TEXT, sortIssues, type PolicyIssue } from '../policy/load.js';
import { readInputFile } from '../util/files.js';
import { baselinePolicy } from '../policy/baseline.js';
import type { Policy } from '../policy/compile.js';
import { unknownAnchorLabels } from '../policy/trust-labels.js';
import type { Path } from '../policy/schema-dsl.js';
import { EvidenceClient } from '../transport/evidence-client.js';
import { HTTP_DEFAULTS } from '../transport/http-client.js';
import { ResponseBudget } from '../transport/response-budget.js';
import { INVENTORY_TLS_NAMES, readTlsFiles } from '../transport/tls-files.js';
import type { ValidationCache } from '../x509/cache.js';
import type { Crl } from '../x509/crl.js';
import type { TrustStore } from '../x509/trust-store.js';
import { loadPolicyFile } from './policy-file.js';
import { loadCrls, loadTrustStore } from './trust-files.js';
import { anchorLabels } from './verifier-setup.js';

/** The command line's settings: what a VM gets when the inventory does not say. */
export interface AuditDefaults {
  policy?: string | undefined;
  trust: readonly string[];
  intermediates: readonly string[];
  crls: readonly string[];
  ca?: readonly string[] | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  timeoutMs?: number | undefined;
  connectTimeoutMs?: number | undefined;
  maxDepth?: number | undefined;
}

export interface AuditSetup {
  /** the VMs asked for, ready to attest, in inventory order */
  targets: AuditTarget[];
  /** distinct policy + trust combinations */
  profiles: number;
  clients: EvidenceClient[];
  /** trust files that could not be used (not fatal), for stderr */
  warnings: string[];
  /**
   * What decides the fleet's verdicts besides the inventory's own text, one line each: --max-depth, and per
   * VM of the inventory the SHA-256 of its policy's files and of its trust store's anchors (with their labels)
   * and intermediates. By content, not by the paths they were named by (a --trust spelled with a trailing
   * slash or through a link, an inventory checked out elsewhere, CRL file names that change when they are
   * refreshed). The same for every shard of one audit (every VM's settings are loaded, not only the shard's);
   * CRLs are left out, as they are refreshed between one shard and the next.
   */
  config: string[];
  close(): void;
}

const CLI: 'command line' = 'command line';

/**
 * Loads what the VMs of the inventory need and builds the targets of `selected`
 * (the shard). Every VM's settings are checked, not only the shard's, so all
 * shards of one fleet accept or reject the inventory alike. Throws
 * INVENTORY_INVALID with every issue, located.
 */
export function setupAudit(
  inventory: Inventory,
  selected: readonly InventoryVm[],
  defaults: AuditDefaults,
  cache: ValidationCache,
  locate: (found: readonly PendingIssue[]) => InventoryIssue[],
  invalid: (issues: InventoryIssue[]) => Error,
): AuditSetup {
  const pending: PendingIssue[] = [];
  const policyIssues: InventoryIssue[] = [];
  const warnings: string[] = [];
  const clients: EvidenceClient[] = [];

  const fromCli = <T>(value: T | undefined): Setting<T> | undefined => (value === undefined ? undefined : { value, from: CLI });
  const cliPolicy = fromCli(defaults.policy);
  const cliTrust = defaults.trust.length > 0 ? fromCli([...defaults.trust]) : undefined;
  const cliIntermediates = defaults.intermediates.length > 0 ? fromCli([...defaults.intermediates]) : undefined;
  const cliCrls = defaults.crls.length > 0 ? fromCli([...defaults.crls]) : undefined;
  const cliTls =
    defaults.ca !== undefined || defaults.cert !== undefined || defaults.key !== undefined
      ? fromCli({ ...(defaults.ca ? { ca: [...defaults.ca] } : {}), ...(defaults.cert !== undefined ? { cert: defaults.cert } : {}), ...(defaults.key !== undefined ? { key: defaults.key } : {}) })
      : undefined;

  // A problem with a command-line file is thrown as such (as attest does); one named by the inventory is located there.
  const problem = (setting: Setting<unknown>, err: unknown, what: string): void => {
    if (setting.from === CLI || !(err instanceof VtpmError) || err.kind === 'internal') throw err;
    pending.push({ code: 'INVENTORY_FILE', path: setting.from as Path, message: `${what}: ${err.message}` });
  };

  // policies, once per file
  const policies = new Map<string, { policy: Policy; source: { source: string; builtin: boolean } } | null>();
  const policyFor = (setting: Setting<string> | undefined) => {
    if (!setting) return { policy: baselinePolicy(), source: { source: 'built-in baseline', builtin: true } };
    const known = policies.get(setting.value);
    if (known !== undefined) return known;
    let loaded: { policy: Policy; source: { source: string; builtin: boolean } } | null = null;
    try {
      loaded = { policy: loadPolicyFile(setting.value), source: { source: setting.value, builtin: false } };
    } catch (err) {
      if (err instanceof VtpmError && err.code === 'POLICY_INVALID' && setting.from !== CLI) {
        const issues = (err.details['issues'] ?? []) as PolicyIssue[];
        policyIssues.push(...issues);
        pending.push({ code: 'INVENTORY_FILE', path: setting.from as Path, message: `policy ${setting.value}: ${issues.length} problem(s), listed with the policy file's own positions` });
      } else problem(setting, err, `policy ${setting.value}`);
    }
    policies.set(setting.value, loaded);
    return loaded;
  };

  // trust stores (with their intermediates and CRLs), once per combination
  const stores = new Map<string, { trust: TrustStore; crls: Crl[] } | null>();
  const storeFor = (trust: Setting<string[]>, intermediates: Setting<string[]> | undefined, crls: Setting<string[]> | undefined) => {
    const id = JSON.stringify([trust.value, intermediates?.value ?? [], crls?.value ?? []]);
    const known = stores.get(id);
    if (known !== undefined) return known;
    let loaded: { trust: TrustStore; crls: Crl[] } | null = null;
    let store: TrustStore | undefined;
    try {
      const t = loadTrustStore(trust.value, { intermediates: intermediates?.value ?? [], cache });
      for (const p of t.problems) warnings.push(`trust: ${p.origin}: ${p.message}`);
      store = t.store;
    } catch (err) {
      // the failing file tells whether trust or intermediates named it
      const path = err instanceof VtpmError ? String(err.details['path'] ?? '') : '';
      const byIntermediates = intermediates !== undefined && intermediates.value.includes(path);
      problem(byIntermediates ? intermediates : trust, err, byIntermediates ? 'intermediates' : 'trust');
    }
    let crlList: Crl[] = [];
    if (store && crls) {
      try {
        crlList = loadCrls(crls.value);
      } catch (err) {
        problem(crls, err, 'crls');
        store = undefined;
      }
    }
    if (store) loaded = { trust: store, crls: crlList };
    stores.set(id, loaded);
    return loaded;
  };

  // HTTP clients, once per TLS setting; one budget bounds the response bytes all of them hold at once
  const budget = new ResponseBudget(HTTP_DEFAULTS.maxBufferedBytes);
  const clientsByTls = new Map<string, EvidenceClient | null>();
  const clientFor = (tls: Setting<{ ca?: string[]; cert?: string; key?: string }> | undefined): EvidenceClient | null => {
    const id = JSON.stringify(tls?.value ?? null);
    const known = clientsByTls.get(id);
    if (known !== undefined) return known;
    let client: EvidenceClient | null = null;
    try {
      client = new EvidenceClient({
        tls: tls ? readTlsFiles(tls.value, INVENTORY_TLS_NAMES) : {},
        budget,
        ...(defaults.timeoutMs !== undefined ? { timeoutMs: defaults.timeoutMs } : {}),
        ...(defaults.connectTimeoutMs !== undefined ? { connectTimeoutMs: defaults.connectTimeoutMs } : {}),
      });
      clients.push(client);
    } catch (err) {
      problem(tls!, err, 'tls');
    }
    clientsByTls.set(id, client);
    return client;
  };

  const profiles = new Map<string, AuditProfile>();
  const wanted = new Set(selected.map((vm) => vm.index));
  const targets: AuditTarget[] = [];
  let noTrust = 0;
  // the rules each VM is judged by, by content (see AuditSetup.config); each policy and store digested once
  const vmRules: string[] = [];
  const policyDigests = new Map<Policy, string>();
  const policyDigest = (policy: Policy): string => policyDigests.get(policy) ?? (policyDigests.set(policy, policyFilesDigest(policy)), policyDigests.get(policy)!);
  const trustDigests = new Map<TrustStore, string>();
  const trustDigestOf = (trust: TrustStore): string => trustDigests.get(trust) ?? (trustDigests.set(trust, trustDigest(trust)), trustDigests.get(trust)!);
  for (const vm of inventory.vms) {
    const policySetting = vm.policy ?? cliPolicy;
    const trust = vm.trust ?? cliTrust;
    const intermediates = vm.intermediates ?? cliIntermediates;
    const crls = vm.crls ?? cliCrls;
    const tls = vm.tls ?? cliTls;
    const policy = policyFor(policySetting);
    if (!trust) {
      if (noTrust++ < MAX_ISSUES) {
        pending.push({ code: 'INVENTORY_NO_TRUST', path: ['vms', vm.index], message: `${vm.key}: no trust anchors: set trust: for the VM, its group or defaults, or give --trust` });
      }
      continue;
    }
    const store = storeFor(trust, intermediates, crls);
    const client = clientFor(tls);
    vmRules.push(`vm ${vm.index} policy ${policy ? policyDigest(policy.policy) : 'none'} trust ${store ? trustDigestOf(store.trust) : 'none'}`);
    if (!policy || !store || !client || !wanted.has(vm.index)) continue;
    const profileId = JSON.stringify([policySetting?.value ?? null, trust.value, intermediates?.value ?? [], crls?.value ?? []]);
    let profile = profiles.get(profileId);
    if (!profile) {
      profiles.set(profileId, (profile = { policy: policy.policy, policySource: policy.source, trust: store.trust, crls: store.crls }));
      // once per policy and trust store met together
      // (profiles that differ only by intermediates or CRLs would say it again)
      for (const w of unknownAnchorLabels(policy.policy, anchorLabels(store.trust))) {
        const text = `policy ${policy.source.source}: ${w}`;
        if (!warnings.includes(text)) warnings.push(text);
      }
    }
    const timeoutMs = vm.timeoutMs ?? defaults.timeoutMs;
    const connectTimeoutMs = vm.connectTimeoutMs ?? defaults.connectTimeoutMs;
    const maxDepth = vm.maxDepth ?? defaults.maxDepth;
    targets.push({
      index: vm.index,
      ...(vm.name !== undefined ? { name: vm.name } : {}),
      url: vm.url,
      ...(vm.instanceId !== undefined ? { instanceId: vm.instanceId } : {}),
      ...(vm.group !== undefined ? { group: vm.group } : {}),
      tags: vm.tags,
      profile,
      client,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
      ...(maxDepth !== undefined ? { maxDepth } : {}),
    });
  }
  // the files defaults and every group name, used by a VM or not (each file is still loaded once): a group
  // naming a missing policy must not wait for its first VM to be found out
  for (const level of inventory.levels) {
    if (level.policy) policyFor(level.policy);
    // as a VM of the level would get them: intermediates or CRLs a group names over --trust are its own files too
    const trust = level.trust ?? cliTrust;
    if (trust && (level.trust || level.intermediates || level.crls)) storeFor(trust, level.intermediates ?? cliIntermediates, level.crls ?? cliCrls);
    if (level.tls) clientFor(level.tls);
  }
  const close = (): void => {
    for (const c of clients) c.close();
  };
  if (pending.length > 0 || policyIssues.length > 0) {
    close();
    const located = sortIssues(locate(pending), inventory.file);
    if (noTrust > MAX_ISSUES) {
      const last = located[located.length - 1]!;
      located.push({ ...last, path: '', message: `... and ${noTrust - MAX_ISSUES} more VM(s) without trust anchors` });
    }
    throw invalid([...located, ...policyIssues]);
  }
  const config = [`max-depth ${defaults.maxDepth ?? 'default'}`, ...vmRules];
  return { targets, profiles: profiles.size, clients, warnings, config, close };
}

/**
 * SHA-256 of a policy's file and the files it includes, as they are now (read just before, to load it): their
 * contents in order, not their paths (the policy's own text names its includes). The built-in baseline (no file)
 * by its name.
 */
function policyFilesDigest(policy: Policy): string {
  const h = createHash('sha256');
  if (policy.file === undefined) h.update(`built-in ${policy.name}\0`);
  for (const file of [...(policy.file !== undefined ? [policy.file] : []), ...policy.includes]) {
    h.update(`file\0`);
    try {
      // read as the loader read it (a regular file, under its cap): swapped for a FIFO since, it must not hang
      h.update(readInputFile(file, file === policy.file ? 'policy file' : 'included file', file === policy.file ? MAX_POLICY_TEXT : MAX_INCLUDE_TEXT));
    } catch (err) {
      h.update(`unreadable ${(err as { code?: string }).code ?? ''}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}

/** SHA-256 of a trust store's anchors (fingerprint and labels) and intermediates, in a fixed order. */
function trustDigest(store: TrustStore): string {
  const anchors = store.anchors.map((a) => `${a.certificate.fingerprint}:${[...a.labels].sort().join(',')}`).sort();
  const intermediates = store.intermediates.map((c) => c.fingerprint).sort();
  return createHash('sha256').update(`${anchors.join(' ')}\n${intermediates.join(' ')}`).digest('hex');
}
