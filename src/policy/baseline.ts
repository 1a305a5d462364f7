// The built-in baseline policy, used by `attest` without --policy: every
// check that needs no reference values. The cryptographic and certificate-path
// checks (quote signature and nonce, AK path to a trust anchor, replay) are
// done by the walker before any LayerFacts exist; on top of them the baseline
// requires the binding checks between layers, that the walk reached a layer
// that is not virtual, that logs a layer sends replay to its quote, and fails
// on clone or rollback findings. It is written in the policy language and
// loaded by the same loader, so `policy explain` can show it like any other.

import type { Policy } from './compile.js';
import { loadPolicy } from './load.js';

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

let baseline: Policy | undefined;

/** The baseline policy, loaded once. */
export function baselinePolicy(): Policy {
  baseline ??= loadPolicy(BASELINE_POLICY_YAML, { path: '<baseline>' });
  return baseline;
}
