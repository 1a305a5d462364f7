// A policy against the trust store it is used with: the anchor labels its
// rule sets select by or require that no anchor of the store has. Such a
// label is a typo or a policy written for another store. Under `select`, the
// rule set can then select no layer, and with `chain.unmatchedLayers: allow`
// (the default) the layer it was written for passes on the built-in checks
// alone, without a word; under `trust`, every layer the rule set selects
// fails. Said as warnings where the two meet (attest, verify, watch, demo,
// audit), not refused: one policy may serve several trust stores.

import type { Policy } from './compile.js';

function listed(labels: Iterable<string>): string {
  return [...labels].join(' or ');
}

/** What `policy` names by anchor label that no anchor of a store labelled `labels` has, one sentence each. */
export function unknownAnchorLabels(policy: Policy, labels: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const known = [...labels].sort().join(', ') || 'none';
  const none = (wanted: Iterable<string>): boolean => ![...wanted].some((l) => labels.has(l));
  for (const rs of policy.ruleSets) {
    const selectBy = rs.select?.anchors;
    if (selectBy && none(selectBy)) {
      out.push(`rule set "${rs.name}" (${rs.at}) selects layers by trust anchor ${listed(selectBy)}, a label no anchor of the trust store has (its labels: ${known}): it selects no layer, and the layer meant is judged without it`);
    }
    const required = rs.spec.trust?.anchors;
    if (required && none(required)) {
      out.push(`rule set "${rs.name}" (${rs.at}) requires trust anchor ${listed(required)}, a label no anchor of the trust store has (its labels: ${known}): every layer it selects fails POLICY_TRUST_ANCHOR`);
    }
    const roles = rs.spec.trust?.anchorRoles;
    if (roles && none(roles)) {
      out.push(`rule set "${rs.name}" (${rs.at}) requires an anchor vouching for ${listed(roles)}, a label no anchor of the trust store has (its labels: ${known}): every layer it selects fails POLICY_ANCHOR_ROLE`);
    }
  }
  return out;
}
