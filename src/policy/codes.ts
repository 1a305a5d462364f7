// Error codes of the policy module. Loading codes (kind input, exit 2) name
// what is wrong with a policy file; rule codes (kind verification, exit 1)
// name why evidence did not satisfy a policy rule and appear on failed
// RuleResults.

import type { CodeTable } from '../errors.js';

export const POLICY_LOAD_CODES = {
  POLICY_INVALID: { kind: 'input', summary: 'a policy file has errors; details.issues lists every one with file:line:column' },
  POLICY_YAML_SYNTAX: { kind: 'input', summary: 'a policy file is not well-formed YAML (or an included file not well-formed JSON)' },
  POLICY_DUPLICATE_KEY: { kind: 'input', summary: 'a key appears twice in the same mapping' },
  POLICY_UNKNOWN_KEY: { kind: 'input', summary: 'a key the policy language does not define (often a typo); the message lists the expected keys' },
  POLICY_MISSING_KEY: { kind: 'input', summary: 'a required key is absent' },
  POLICY_TYPE: { kind: 'input', summary: 'a value has the wrong type (for example a list where a mapping is expected)' },
  POLICY_VALUE: { kind: 'input', summary: 'a value is out of range or badly formed (hex length, PCR index, enum value, pattern)' },
  POLICY_REGEX: { kind: 'input', summary: 'a pattern is not a valid RE2 pattern, or compiles too large' },
  POLICY_DUPLICATE: { kind: 'input', summary: 'a list holds the same item twice (digest, label, rule-set name)' },
  POLICY_VERSION: { kind: 'input', summary: 'apiVersion is missing or not one this vtpm-verify understands' },
  POLICY_INCLUDE: { kind: 'input', summary: 'an included reference file cannot be read, or includes are nested' },
  POLICY_FACTS_INVALID: { kind: 'input', summary: 'a layer-facts JSON file (input of policy init / evaluate) has errors; details.issues lists them' },
  POLICY_INIT_UNREPRESENTABLE: { kind: 'input', summary: 'policy init: the facts or evidence hold what a policy cannot state (a trust label or workaround id the policy language refuses, or so much that the policy would pass its size cap); details.issues lists what the generated policy broke' },
} as const satisfies CodeTable;

export const POLICY_RULE_CODES = {
  POLICY_NOT_TRUSTED: { kind: 'verification', summary: 'the evidence does not satisfy the policy; the result lists every failed rule' },
  POLICY_LAYER_KIND: { kind: 'verification', summary: 'a layer is of a kind (virtual, physical, unspecified) its rules do not allow' },
  POLICY_UNMATCHED_LAYER: { kind: 'verification', summary: 'no rule set selects this layer and chain.unmatchedLayers is fail' },
  POLICY_TRUST_ANCHOR: { kind: 'verification', summary: "a layer's AK certificate path ends at a trust anchor the policy does not allow" },
  POLICY_ANCHOR_ROLE: { kind: 'verification', summary: "the trust anchor of a layer's AK path does not vouch for a role the policy allows" },
  POLICY_EKU_MISSING: { kind: 'verification', summary: 'the AK certificate lacks an extended key usage the policy requires' },
  POLICY_MANUFACTURER: { kind: 'verification', summary: 'the TPM manufacturer named by the AK certificate is not allowed (or not named)' },
  POLICY_INSTANCE_ID: { kind: 'verification', summary: "the layer's vTPM instance id is not one the policy allows" },
  POLICY_FIRMWARE_VERSION: { kind: 'verification', summary: 'the quoted TPM firmwareVersion is not allowed or below the minimum' },
  POLICY_CLOCK_UNSAFE: { kind: 'verification', summary: 'the quote says the TPM clock is not safe (it may have gone back)' },
  POLICY_PCR_NOT_QUOTED: { kind: 'verification', summary: 'the policy has a rule for a PCR the quote does not cover' },
  POLICY_PCR_VALUE: { kind: 'verification', summary: 'a quoted PCR value is not one of the golden values' },
  POLICY_PCR_REPLAY: { kind: 'verification', summary: 'a quoted PCR does not equal the event log replay' },
  POLICY_EVENTLOG_MISSING: { kind: 'verification', summary: 'the policy needs an event log and the layer has none' },
  POLICY_EVENTLOG_REPLAY: { kind: 'verification', summary: 'the event log does not replay to the quoted PCRs, so its contents cannot be used' },
  POLICY_SECURE_BOOT: { kind: 'verification', summary: 'secure boot is not on (or the event log does not say)' },
  POLICY_BOOT_APP_NOT_ALLOWED: { kind: 'verification', summary: 'a boot application digest is not in the allowed list' },
  POLICY_BOOT_APP_FORBIDDEN: { kind: 'verification', summary: 'a boot application digest is in the forbidden list (or cannot be checked against it)' },
  POLICY_KERNEL_CMDLINE: { kind: 'verification', summary: 'a measured kernel command line is not allowed (or none was measured, or one may be hidden)' },
  POLICY_DBX_MISSING: { kind: 'verification', summary: 'the measured dbx lacks an entry the policy requires' },
  POLICY_CRTM_VERSION: { kind: 'verification', summary: 'a measured CRTM/firmware version is not allowed (or none was measured)' },
  POLICY_QUIRK: { kind: 'verification', summary: 'the event log replay needed a firmware workaround the policy does not allow' },
  POLICY_IMA_MISSING: { kind: 'verification', summary: 'the policy needs an IMA log and the layer has none' },
  POLICY_IMA_REPLAY: { kind: 'verification', summary: 'the IMA log does not replay to the quoted PCR, so its contents cannot be used' },
  POLICY_IMA_UNKNOWN_FILE: { kind: 'verification', summary: 'a measured file is not in the IMA allow-list' },
  POLICY_IMA_DIGEST: { kind: 'verification', summary: "a measured file's digest is not one the IMA allow-list gives for its path" },
  POLICY_IMA_VIOLATION: { kind: 'verification', summary: 'the IMA log has a violation (a file open for write while measured, its content unknown) and the policy checks an allow-list without `violations: allow`' },
  POLICY_IMA_DENIED: { kind: 'verification', summary: 'a measured file has a denied digest (or cannot be checked against the list)' },
  POLICY_CHAIN_DEPTH: { kind: 'verification', summary: 'the number of layers is outside chain.minDepth..chain.maxDepth' },
  POLICY_CHAIN_END: { kind: 'verification', summary: 'the walk did not end at the kind of layer chain.endAt requires' },
  POLICY_BINDING: { kind: 'verification', summary: 'a binding check between two layers (nonce chain, hosted instance, issuer) failed or was not done' },
  POLICY_EVIDENCE_STALE: { kind: 'verification', summary: 'offline evidence is older than freshness.maxAge' },
  POLICY_EVIDENCE_FUTURE: { kind: 'verification', summary: 'offline evidence is dated in the future beyond freshness.maxFutureSkew' },
  POLICY_SOURCE_STILL_HOSTS: { kind: 'verification', summary: 'after a migration the source platform did not record migrate-out (or was not checked)' },
  POLICY_CLONE: { kind: 'verification', summary: 'the state store found signs of a cloned vTPM' },
  POLICY_ROLLBACK: { kind: 'verification', summary: 'the state store found signs of a rolled-back or restored vTPM' },
} as const satisfies CodeTable;

export type PolicyLoadCode = keyof typeof POLICY_LOAD_CODES;
export type PolicyRuleCode = keyof typeof POLICY_RULE_CODES;
