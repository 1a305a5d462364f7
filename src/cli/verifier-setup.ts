// What every verifying command (attest, verify, demo, watch, audit) loads
// before it can walk: the policy (or the built-in baseline), the trust store,
// CRLs, and a validation cache shared by every walk of the process.

import type { Policy } from '../policy/compile.js';
import type { Crl } from '../x509/crl.js';
import type { TrustStore } from '../x509/trust-store.js';
import { ValidationCache } from '../x509/cache.js';
import { UsageError } from '../errors.js';

export interface VerifierSetupOptions {
  policy?: string | undefined;
  trust: readonly string[];
  intermediates?: readonly string[] | undefined;
  crls?: readonly string[] | undefined;
}

export interface VerifierSetup {
  policy: Policy;
  policySource: { source: string; builtin: boolean };
  trust: TrustStore;
  cache: ValidationCache;
  crls: Crl[];
  /** trust files that could not be used, for stderr */
  warnings: string[];
}

/** Every label an anchor of the store has (an anchor given without one: unlabelled). */
export function anchorLabels(store: TrustStore): Set<string> {
  return new Set(store.anchors.flatMap((a) => a.labels));
}

export async function setupVerifier(opts: VerifierSetupOptions): Promise<VerifierSetup> {
  if (opts.trust.length === 0) throw new UsageError('USAGE', 'at least one --trust file or folder is needed (the trust anchors AK certificate paths must end at)', {});
  const [{ loadTrustStore, loadCrls }, policyMod] = await Promise.all([import('./trust-files.js'), import('../policy/index.js')]);
  let policy: Policy;
  let policySource: VerifierSetup['policySource'];
  if (opts.policy !== undefined) {
    const { loadPolicyFile } = await import('./policy-file.js');
    policy = loadPolicyFile(opts.policy);
    policySource = { source: opts.policy, builtin: false };
  } else {
    policy = policyMod.baselinePolicy();
    policySource = { source: 'built-in baseline', builtin: true };
  }
  const cache = new ValidationCache();
  const loaded = loadTrustStore([...opts.trust], { intermediates: [...(opts.intermediates ?? [])], cache });
  const warnings = loaded.problems.map((p) => `trust: ${p.origin}: ${p.message}`);
  for (const w of policyMod.unknownAnchorLabels(policy, anchorLabels(loaded.store))) warnings.push(`policy ${policySource.source}: ${w}`);
  const crls = opts.crls && opts.crls.length > 0 ? loadCrls([...opts.crls]) : [];
  return { policy, policySource, trust: loaded.store, cache, crls, warnings };
}
