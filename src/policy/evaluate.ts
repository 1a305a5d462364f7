// Evaluation: a pure function from a policy and verified layer facts to
// per-rule results. Every rule set whose `select` matches a layer applies to
// it (rule sets are never merged or overridden, so adding one can only make
// a policy stricter), and a layer is trusted only when none of its rules fail.

import { InternalError } from '../errors.js';
import type { CompiledRuleSet, CompiledSelector, Policy } from './compile.js';
import { anchorLabelsOf, type EvaluationInput, type LayerFacts } from './evidence.js';
import { RuleSink, type LayerEvaluation, type PolicyEvaluation, type RuleResult } from './result.js';
import { evaluateBindings, evaluateChain, evaluateUnmatched } from './rules/chain.js';
import { evaluateEventLog } from './rules/eventlog.js';
import { evaluateFreshness } from './rules/freshness.js';
import { evaluateIma } from './rules/ima.js';
import { evaluateFindings, evaluateMigration } from './rules/migration.js';
import { evaluatePcrs } from './rules/pcrs.js';
import { evaluateTpm } from './rules/tpm.js';
import { evaluateKinds, evaluateTrust } from './rules/trust.js';
import { manufacturerKey, normalizeManufacturer } from './schema.js';

/**
 * Why this selector does not pick this layer (the first condition given that does not hold, patterns as written
 * in the policy), or undefined when it picks it.
 */
export function notSelectedBecause(s: CompiledSelector | undefined, layer: LayerFacts, depth: number): string | undefined {
  if (!s) return undefined;
  if (s.position !== undefined) {
    const want = s.position >= 0 ? s.position : depth + s.position;
    if (layer.position !== want) return `position ${s.position}${s.position < 0 ? ` (layer ${want} of ${depth})` : ''}, this is layer ${layer.position}`;
  }
  if (s.kinds && !s.kinds.has(layer.kind)) return `kind ${[...s.kinds].join(' or ')}, not ${layer.kind}`;
  const cert = layer.certificate;
  if (s.subject && !s.subject.test(cert.subject)) return `AK certificate subject ${JSON.stringify(cert.subject)} does not match the whole of /${s.subject.source}/`;
  if (s.issuer && !s.issuer.test(cert.issuer)) return `AK certificate issuer ${JSON.stringify(cert.issuer)} does not match the whole of /${s.issuer.source}/`;
  if (s.anchors && !anchorLabelsOf(cert.anchor).some((l) => s.anchors!.has(l))) return `trust anchor ${[...s.anchors].join(' or ')}, not ${anchorLabelsOf(cert.anchor).join(', ')}`;
  if (s.manufacturers) {
    const m = cert.tcg?.manufacturer === undefined ? undefined : normalizeManufacturer(cert.tcg.manufacturer);
    if (m === undefined || !s.manufacturers.has(manufacturerKey(m))) return `TPM manufacturer ${[...s.manufacturers].join(' or ')}, not ${m ?? 'none given'}`;
  }
  return undefined;
}

/** Does this selector pick this layer? Every condition given must hold. */
export function selects(s: CompiledSelector | undefined, layer: LayerFacts, depth: number): boolean {
  return notSelectedBecause(s, layer, depth) === undefined;
}

function evaluateRuleSet(rs: CompiledRuleSet, layer: LayerFacts, sink: RuleSink): void {
  evaluateKinds(rs.spec.kinds, layer, sink);
  evaluateTrust(rs.spec.trust, layer, sink);
  evaluateTpm(rs.spec.tpm, layer, sink);
  evaluatePcrs(rs.spec.pcrs, layer, sink);
  evaluateEventLog(rs, layer, sink);
  evaluateIma(rs.spec.ima, rs.ima, layer, sink);
}

function checkInput(input: EvaluationInput): void {
  input.layers.forEach((l, i) => {
    if (l.position !== i) throw new InternalError(`layer facts out of order: index ${i} has position ${l.position}`, { index: i, position: l.position });
  });
}

export function evaluatePolicy(policy: Policy, input: EvaluationInput): PolicyEvaluation {
  checkInput(input);
  const { spec } = policy;
  const depth = input.layers.length;
  const layerResults: RuleResult[][] = input.layers.map(() => []);
  const layers: LayerEvaluation[] = input.layers.map((layer, i) => {
    const rules = layerResults[i]!;
    const prefix = `layer[${layer.position}]`;
    const why = policy.ruleSets.map((rs) => ({ ruleSet: rs.name, because: notSelectedBecause(rs.select, layer, depth) }));
    const matched = policy.ruleSets.filter((_, k) => why[k]!.because === undefined);
    const common = new RuleSink(rules, prefix, layer.position);
    evaluateUnmatched(spec.chain, layer, matched.map((rs) => rs.name), common, why.filter((w): w is { ruleSet: string; because: string } => w.because !== undefined));
    evaluateBindings(spec.chain, layer, common);
    for (const rs of matched) evaluateRuleSet(rs, layer, new RuleSink(rules, prefix, layer.position, rs.name));
    return { position: layer.position, uri: layer.uri, kind: layer.kind, ruleSets: matched.map((rs) => rs.name), verdict: 'trusted', rules };
  });

  const chain: RuleResult[] = [];
  const chainSink = new RuleSink(chain, '');
  evaluateChain(spec.chain, input, chainSink);
  evaluateFreshness(spec.freshness, input, chainSink);
  evaluateMigration(spec.migration, input, chainSink);
  evaluateFindings(spec.migration, input, (position) => new RuleSink(layerResults[position]!, `layer[${position}]`, position), chainSink);

  const counts = { pass: 0, fail: 0, warn: 0, notApplicable: 0 };
  const tally = (rs: RuleResult[]): boolean => {
    let failed = false;
    for (const r of rs) {
      if (r.status === 'pass') counts.pass++;
      else if (r.status === 'fail') {
        counts.fail++;
        failed = true;
      } else if (r.status === 'warn') counts.warn++;
      else counts.notApplicable++;
    }
    return failed;
  };
  for (const l of layers) if (tally(l.rules)) l.verdict = 'not-trusted';
  tally(chain);
  return { policy: policy.name, verdict: counts.fail === 0 ? 'trusted' : 'not-trusted', layers, chain, counts };
}

/** Every failed rule, layers first then the chain: what a report leads with. */
export function failedRules(e: PolicyEvaluation): RuleResult[] {
  return [...e.layers.flatMap((l) => l.rules), ...e.chain].filter((r) => r.status === 'fail');
}
