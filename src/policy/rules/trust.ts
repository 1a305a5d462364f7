// Rules on what a layer is and who vouches for it: its kind, the trust anchor
// its AK certificate path ended at, the certificate's EKUs, the TPM
// manufacturer and the vTPM instance id. All read verified certificate facts.

import { anchorLabelsOf, anchorRolesOf, type LayerFacts } from '../evidence.js';
import type { RuleSink } from '../result.js';
import { manufacturerKey, normalizeManufacturer, type LayerRuleSpec, type TrustSpec } from '../schema.js';

/** "id:49465800" → "IFX (id:49465800)": vendor ids are ASCII letters padded with zero bytes. */
export function manufacturerText(id: string): string {
  const bytes = Buffer.from(id.slice(3), 'hex');
  const letters = bytes.toString('latin1').replace(/[\0 ]+$/, '');
  return /^[\x21-\x7e]+$/.test(letters) ? `${letters} (${id})` : id;
}

export function evaluateKinds(kinds: LayerRuleSpec['kinds'], layer: LayerFacts, sink: RuleSink): void {
  if (!kinds) return;
  sink.check(kinds.includes(layer.kind), 'kinds', 'POLICY_LAYER_KIND', `layer kind ${layer.kind} is allowed`, `layer kind ${layer.kind} is not one of ${kinds.join(', ')}`, { expected: kinds, actual: layer.kind });
}

export function evaluateTrust(spec: TrustSpec | undefined, layer: LayerFacts, sink: RuleSink): void {
  if (!spec) return;
  const cert = layer.certificate;
  // an anchor given under several labels has them all: any of them may satisfy a rule
  const labels = anchorLabelsOf(cert.anchor);
  const shown = labels.join(', ');
  if (spec.anchors) {
    const hit = spec.anchors.find((a) => labels.includes(a));
    sink.check(hit !== undefined, 'trust.anchors', 'POLICY_TRUST_ANCHOR', `AK path ends at allowed anchor ${hit}`, `AK path ends at anchor ${shown} (${cert.anchor.subject}), not one of ${spec.anchors.join(', ')}`, {
      expected: spec.anchors,
      actual: labels.length === 1 ? labels[0] : labels,
    });
  }
  if (spec.anchorRoles) {
    const roles = anchorRolesOf(cert.anchor);
    const hit = spec.anchorRoles.find((r) => roles.includes(r));
    sink.check(hit !== undefined, 'trust.anchorRoles', 'POLICY_ANCHOR_ROLE', `anchor ${shown} vouches for ${hit}`, `anchor ${shown} vouches for ${roles.join(', ')}, not one of ${spec.anchorRoles.join(', ')}`, {
      expected: spec.anchorRoles,
      actual: roles.length === 1 ? roles[0] : roles,
    });
  }
  if (spec.requiredEkus) {
    const missing = spec.requiredEkus.filter((oid) => !cert.ekus.includes(oid));
    sink.check(missing.length === 0, 'trust.requiredEkus', 'POLICY_EKU_MISSING', 'AK certificate carries every required EKU', `AK certificate lacks EKU ${missing.join(', ')}`, { expected: spec.requiredEkus, actual: cert.ekus });
  }
  if (spec.manufacturers) {
    const given = cert.tcg?.manufacturer;
    const normalized = given === undefined ? undefined : normalizeManufacturer(given);
    const key = normalized === undefined ? undefined : manufacturerKey(normalized);
    sink.check(key !== undefined && spec.manufacturers.some((m) => manufacturerKey(m) === key), 'trust.manufacturers', 'POLICY_MANUFACTURER', `TPM manufacturer ${normalized} is allowed`, given === undefined ? 'the AK certificate names no TPM manufacturer' : `TPM manufacturer ${given} is not one of ${spec.manufacturers.join(', ')}`, {
      expected: spec.manufacturers,
      actual: given ?? null,
    });
  }
  if (spec.instanceIds) {
    const id = layer.instanceId;
    sink.check(id !== undefined && spec.instanceIds.includes(id), 'trust.instanceIds', 'POLICY_INSTANCE_ID', `instance ${id} is allowed`, id === undefined ? 'the layer states no vTPM instance id' : `instance ${id} is not one the policy allows`, { expected: spec.instanceIds, actual: id ?? null });
  }
}

export function explainTrust(kinds: LayerRuleSpec['kinds'], spec: TrustSpec | undefined): string[] {
  const out: string[] = [];
  if (kinds) out.push(`the layer must be ${kinds.join(' or ')}`);
  if (!spec) return out;
  if (spec.anchors) out.push(`its AK certificate path must end at trust anchor ${spec.anchors.join(' or ')}`);
  if (spec.anchorRoles) out.push(`its trust anchor must vouch for ${spec.anchorRoles.join(' or ')}`);
  if (spec.requiredEkus) out.push(`the AK certificate must carry EKU ${spec.requiredEkus.join(' and ')}`);
  if (spec.manufacturers) out.push(`the TPM manufacturer must be ${spec.manufacturers.map(manufacturerText).join(' or ')}`);
  if (spec.instanceIds) out.push(`the vTPM instance id must be one of ${spec.instanceIds.length} pinned id(s)`);
  return out;
}
