// Rules on the chain of layers as a whole (depth, where the walk ended) and on
// the binding checks between adjacent layers (protocol §3, §5, §5.1).

import type { BindingFacts, EvaluationInput, LayerFacts } from '../evidence.js';
import type { RuleSink } from '../result.js';
import type { ChainSpec } from '../schema.js';

export function evaluateChain(spec: ChainSpec, input: EvaluationInput, sink: RuleSink): void {
  const depth = input.layers.length;
  if (spec.minDepth !== undefined) sink.check(depth >= spec.minDepth, 'chain.minDepth', 'POLICY_CHAIN_DEPTH', `${depth} layer(s), at least ${spec.minDepth}`, `only ${depth} layer(s) were attested, the policy needs at least ${spec.minDepth}`, { expected: `>= ${spec.minDepth}`, actual: depth });
  if (spec.maxDepth !== undefined) sink.check(depth <= spec.maxDepth, 'chain.maxDepth', 'POLICY_CHAIN_DEPTH', `${depth} layer(s), at most ${spec.maxDepth}`, `${depth} layers were attested, the policy allows at most ${spec.maxDepth}`, { expected: `<= ${spec.maxDepth}`, actual: depth });
  const bottom = input.layers[depth - 1];
  if (!bottom) {
    sink.fail('chain.endAt', 'POLICY_CHAIN_END', 'no layer was attested', { expected: spec.endAt, actual: null });
    return;
  }
  const ok = spec.endAt === 'any' || (spec.endAt === 'physical' ? bottom.kind === 'physical' : bottom.kind !== 'virtual');
  const want = spec.endAt === 'physical' ? 'a physical TPM' : spec.endAt === 'not-virtual' ? 'a layer that is not virtual' : 'any layer';
  sink.check(ok, 'chain.endAt', 'POLICY_CHAIN_END', `the walk ended at layer ${bottom.position} (${bottom.kind}), as allowed: ${want}`, `the walk ended at layer ${bottom.position}, which is ${bottom.kind}; the policy requires ${want}`, { expected: spec.endAt, actual: bottom.kind });
}

const BINDING_NAMES: Record<keyof BindingFacts, string> = {
  nonceChain: 'nonce chain',
  hostedInstance: 'hosted-instance binding',
  issuer: 'issuer binding',
};

/** Binding of a layer to the one above it; nothing for the top layer. */
export function evaluateBindings(spec: ChainSpec, layer: LayerFacts, sink: RuleSink): void {
  if (layer.position === 0) return;
  for (const key of ['nonceChain', 'hostedInstance', 'issuer'] as const) {
    const id = `chain.bindings.${key}`;
    const status = layer.binding[key];
    const required = spec.bindings[key] === 'required';
    const what = `${BINDING_NAMES[key]} to layer ${layer.position - 1}`;
    const expected = required ? 'pass' : 'pass, or not checked';
    if (status === 'pass') sink.pass(id, `${what} holds`, { expected, actual: status });
    // A check that was done and failed always fails, required or not.
    else if (status === 'fail') sink.fail(id, 'POLICY_BINDING', `${what} failed`, { expected, actual: status });
    // Below the top every binding applies in protocol v1, so "not applicable" is no excuse for a required one.
    else if (required) sink.fail(id, 'POLICY_BINDING', `${what} was not checked (${status}), and the policy requires it`, { expected, actual: status });
    else sink.notApplicable(id, `${what}: ${status} (optional)`);
  }
}

/** Rule sets whose reason for not selecting a layer the message spells out (all are in `actual`). */
const REASONS_IN_MESSAGE = 3;

/** notSelected: each rule set that does not select the layer, with the condition of its select that fails. */
export function evaluateUnmatched(spec: ChainSpec, layer: LayerFacts, selectedBy: string[], sink: RuleSink, notSelected: readonly { ruleSet: string; because: string }[] = []): void {
  if (spec.unmatchedLayers !== 'fail') return;
  const reasons = notSelected.slice(0, REASONS_IN_MESSAGE).map((n) => `${n.ruleSet}: ${n.because}`);
  if (notSelected.length > REASONS_IN_MESSAGE) reasons.push(`${notSelected.length - REASONS_IN_MESSAGE} more rule set(s)`);
  const c = layer.certificate;
  sink.check(
    selectedBy.length > 0,
    'chain.unmatchedLayers',
    'POLICY_UNMATCHED_LAYER',
    `selected by rule set(s) ${selectedBy.join(', ')}`,
    `no rule set selects layer ${layer.position} (${layer.kind}, ${c.subject || 'empty subject'})${reasons.length ? `: ${reasons.join('; ')}` : ''}`,
    selectedBy.length > 0
      ? { expected: 'a rule set selecting this layer', actual: selectedBy }
      : { expected: 'a rule set selecting this layer', actual: { position: layer.position, kind: layer.kind, subject: c.subject, issuer: c.issuer, notSelected } },
  );
}

export function explainChain(spec: ChainSpec): string[] {
  const out: string[] = [];
  if (spec.minDepth !== undefined && spec.minDepth === spec.maxDepth) out.push(`exactly ${spec.minDepth} layer(s)`);
  else {
    if (spec.minDepth !== undefined) out.push(`at least ${spec.minDepth} layer(s)`);
    if (spec.maxDepth !== undefined) out.push(`at most ${spec.maxDepth} layer(s)`);
  }
  out.push(
    spec.endAt === 'physical'
      ? 'the walk must end at a physical TPM'
      : spec.endAt === 'not-virtual'
        ? 'the walk must end at a layer that is not virtual (physical, or with no TrustedLayer extension)'
        : 'the walk may end at any layer',
  );
  if (spec.unmatchedLayers === 'fail') out.push('every layer must be selected by a rule set');
  const req = (['nonceChain', 'hostedInstance', 'issuer'] as const).filter((k) => spec.bindings[k] === 'required').map((k) => BINDING_NAMES[k]);
  const opt = (['nonceChain', 'hostedInstance', 'issuer'] as const).filter((k) => spec.bindings[k] === 'optional').map((k) => BINDING_NAMES[k]);
  if (req.length) out.push(`between adjacent layers, required: ${req.join(', ')}`);
  if (opt.length) out.push(`between adjacent layers, optional (failing if done and failed): ${opt.join(', ')}`);
  return out;
}
