// The built-in baseline policy, used by `attest` without --policy: every
// check that needs no reference values. The cryptographic and certificate-path
// checks (quote signature and nonce, AK path to a trust anchor, replay) are
// done by the walker before any LayerFacts exist; on top of them the baseline
// requires the binding checks between layers, that the walk reached a layer
// that is not virtual, that logs a layer sends replay to its quote, and fails
// on clone or rollback findings. It is written in the policy language and
// loaded by the same loader, so `policy explain` can show it like any other.
//
// At run time it is built from BASELINE_SPEC, the plain value its YAML parses
// to, validated and compiled by the same code: `attest` without --policy then
// loads no YAML parser (25–50 ms of start-up). A test checks that the two give
// the same compiled policy, to the rule set's file:line:column.

import { InternalError } from '../errors.js';
import { compilePolicy, type Policy } from './compile.js';
import { policySchema } from './schema.js';
import { INVALID, validate } from './schema-dsl.js';

export const BASELINE_POLICY_YAML = `# vtpm-verify built-in baseline: every check that needs no reference values.
apiVersion: vtpm-verify/v1
name: baseline
description: Cryptographic, certificate-path and binding checks only; no reference values.
chain:
  endAt: not-virtual           # a virtual lowest layer means the walk stopped early
  unmatchedLayers: allow
  bindings:
    nonceChain: required
    hostedInstance: required
    issuer: optional           # only where per-host vPlatform CAs record their issuer
migration:
  reattestOnNotification: true
  requireSourceMigrateOut: false  # a source still hosting the instance fails anyway
  findings: { clone: fail, rollback: fail }
layers:
  - name: every-layer
    description: logs a layer sends must replay to its quote
    eventLog: { mustReplay: true }
    ima: { mustReplay: true }
`;

/** What BASELINE_POLICY_YAML parses to (before defaults). */
export const BASELINE_SPEC = {
  apiVersion: 'vtpm-verify/v1',
  name: 'baseline',
  description: 'Cryptographic, certificate-path and binding checks only; no reference values.',
  chain: {
    endAt: 'not-virtual',
    unmatchedLayers: 'allow',
    bindings: { nonceChain: 'required', hostedInstance: 'required', issuer: 'optional' },
  },
  migration: {
    reattestOnNotification: true,
    requireSourceMigrateOut: false,
    findings: { clone: 'fail', rollback: 'fail' },
  },
  layers: [{ name: 'every-layer', description: 'logs a layer sends must replay to its quote', eventLog: { mustReplay: true }, ima: { mustReplay: true } }],
} as const;

/** Where each rule set of BASELINE_POLICY_YAML starts (compiled policies and `policy explain` name it). */
export const BASELINE_RULE_SETS_AT = ['<baseline>:17:5'] as const;

let baseline: Policy | undefined;

/** The baseline policy, built once. */
export function baselinePolicy(): Policy {
  if (baseline) return baseline;
  const { value, issues } = validate(policySchema, BASELINE_SPEC);
  if (value === INVALID || issues.length > 0) throw new InternalError('the built-in baseline policy does not validate', { issues: issues.map((i) => i.message) });
  baseline = compilePolicy(value, { file: '<baseline>', includes: [], ruleSetAt: (index) => BASELINE_RULE_SETS_AT[index]! });
  return baseline;
}
