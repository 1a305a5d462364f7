// A readable summary of what a policy demands: the whole chain, then each
// rule set with the layers it selects, in layer order (top first). Each rule
// family writes its own sentences next to its evaluator (rules/*.ts).

import type { Policy } from './compile.js';
import { explainChain } from './rules/chain.js';
import { explainEventLog } from './rules/eventlog.js';
import { explainFreshness } from './rules/freshness.js';
import { explainIma } from './rules/ima.js';
import { explainMigration } from './rules/migration.js';
import { explainPcrs } from './rules/pcrs.js';
import { explainTpm } from './rules/tpm.js';
import { explainTrust } from './rules/trust.js';
import type { SelectSpec } from './schema.js';

export interface RuleSetExplanation {
  name: string;
  /** where it is written: file:line:column */
  at: string;
  description?: string;
  /** which layers it applies to, in words */
  selects: string;
  demands: string[];
}

export interface PolicyExplanation {
  name: string;
  file?: string;
  description?: string;
  chain: string[];
  ruleSets: RuleSetExplanation[];
  freshness: string[];
  migration: string[];
  includes: string[];
}

function positionText(p: number): string {
  if (p === 0) return 'layer 0 (the top: the VM)';
  if (p > 0) return `layer ${p}`;
  if (p === -1) return 'the lowest layer';
  return `the layer ${-p - 1} above the lowest`;
}

export function selectText(s: SelectSpec | undefined): string {
  if (!s) return 'every layer';
  const parts = [s.position === undefined ? 'every layer' : positionText(s.position)];
  if (s.kind) parts.push(`that is ${s.kind.join(' or ')}`);
  const c = s.certificate;
  if (c?.subject !== undefined) parts.push(`whose AK certificate subject matches /${c.subject}/`);
  if (c?.issuer !== undefined) parts.push(`whose AK certificate issuer matches /${c.issuer}/`);
  if (c?.anchor) parts.push(`whose AK path ends at ${c.anchor.join(' or ')}`);
  if (c?.manufacturer) parts.push(`whose TPM is made by ${c.manufacturer.join(' or ')}`);
  return parts.join(', ');
}

/** Rule sets by the layer they pick: fixed positions top-down, then bottom-relative ones, then the rest. */
function orderKey(s: SelectSpec | undefined): number {
  const p = s?.position;
  if (p === undefined) return 1000;
  return p >= 0 ? p : 500 + p;
}

export function explainPolicy(policy: Policy): PolicyExplanation {
  const { spec } = policy;
  const ruleSets = policy.ruleSets
    .map((rs, i) => ({ rs, i }))
    .sort((a, b) => orderKey(a.rs.spec.select) - orderKey(b.rs.spec.select) || a.i - b.i)
    .map(({ rs }): RuleSetExplanation => {
      const s = rs.spec;
      const demands = [...explainTrust(s.kinds, s.trust), ...explainTpm(s.tpm), ...explainPcrs(s.pcrs), ...explainEventLog(s.eventLog), ...explainIma(s.ima)];
      const e: RuleSetExplanation = { name: rs.name, at: rs.at, selects: selectText(s.select), demands: demands.length ? demands : ['nothing beyond the chain rules (the rule set only marks these layers as expected)'] };
      if (s.description !== undefined) e.description = s.description;
      return e;
    });
  const out: PolicyExplanation = {
    name: spec.name,
    chain: explainChain(spec.chain),
    ruleSets,
    freshness: explainFreshness(spec.freshness),
    migration: explainMigration(spec.migration),
    includes: policy.includes,
  };
  if (policy.file !== undefined) out.file = policy.file;
  if (spec.description !== undefined) out.description = spec.description;
  return out;
}
