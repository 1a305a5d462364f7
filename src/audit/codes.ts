// Error codes of fleet audits: the inventory file (kind input, exit 2; each
// issue located at file:line:column) and the audit's own outcome.

import type { CodeTable } from '../errors.js';

export const INVENTORY_CODES = {
  INVENTORY_INVALID: { kind: 'input', summary: 'an audit inventory has errors; details.issues lists every one with file:line:column' },
  INVENTORY_YAML_SYNTAX: { kind: 'input', summary: 'the inventory is not well-formed YAML' },
  INVENTORY_DUPLICATE_KEY: { kind: 'input', summary: 'a key appears twice in the same mapping of the inventory' },
  INVENTORY_UNKNOWN_KEY: { kind: 'input', summary: 'a key the inventory format does not define (often a typo); the message lists the expected keys' },
  INVENTORY_MISSING_KEY: { kind: 'input', summary: 'a required inventory key is absent (a VM without url, an inventory without vms)' },
  INVENTORY_TYPE: { kind: 'input', summary: 'an inventory value has the wrong type (for example a mapping where a list is expected)' },
  INVENTORY_VALUE: { kind: 'input', summary: 'an inventory value is out of range or badly formed (a URL that is not http(s), a timeout, a name or tag pattern)' },
  INVENTORY_VERSION: { kind: 'input', summary: 'the inventory apiVersion is not one this vtpm-verify understands' },
  INVENTORY_DUPLICATE: { kind: 'input', summary: 'two VMs of the inventory have the same name, the same URL or the same instanceId' },
  INVENTORY_UNKNOWN_GROUP: { kind: 'input', summary: 'a VM names a group the inventory does not define' },
  INVENTORY_FILE: { kind: 'input', summary: 'a file the inventory names (policy, trust anchors, CRL, TLS CA, certificate or key) cannot be read or used' },
  INVENTORY_NO_TRUST: { kind: 'input', summary: 'a VM has no trust anchors: neither its entry, its group, the inventory defaults nor --trust give any' },
} as const satisfies CodeTable;

export type InventoryCode = keyof typeof INVENTORY_CODES;

export const AUDIT_CODES = {
  AUDIT_NOT_TRUSTED: { kind: 'verification', summary: 'the audit finished and at least one VM is not trusted (exit 1; details count them, the reports name them)' },
  AUDIT_DUPLICATE_INSTANCE: { kind: 'verification', summary: "the VM answered as a vTPM instance the inventory names for another VM (instanceId), or with the attestation key another VM of the audit answered with first: one URL relays the other VM's evidence, or the vTPM was cloned (details name the other VM)" },
  AUDIT_INTERRUPTED: { kind: 'transport', summary: 'SIGINT/SIGTERM stopped the audit: the VMs in flight were cancelled and the rest not started (neither has a result); results so far are stored and reported (exit 3 unless a VM failed: 1)' },
  AUDIT_UNREACHABLE: { kind: 'transport', summary: 'the audit finished, no VM failed verification, but at least one could not be attested after its retries (exit 3, unless --unreachable-ok)' },
  REPORT_INVALID: { kind: 'input', summary: 'a JSON report given to `report` is not one `audit --json FILE` writes: not its layout, not its schema, truncated, data after its end, a start or end time that is no real instant, a summary that does not count its results, a result whose verdict its own layers and rules contradict, an exit code 1 with no result not trusted, or a merged report that disagrees with the reports it lists (details: file, line)' },
  REPORT_MISMATCH: { kind: 'input', summary: 'the reports given to `report` are not the shards of one audit: another inventory, another shard count, another run label (or not the one --run-label names), another configuration (policy, trust anchors, inventory text, version), a shard or a VM twice, a VM outside its shard or its inventory' },
  REPORT_INCOMPLETE: { kind: 'transport', summary: 'the reports given to `report` do not cover the whole fleet: a shard has no report, a shard was interrupted, or (with --inventory) VMs have no result (exit 3 unless a VM is not trusted: 1; not with --allow-partial)' },
} as const satisfies CodeTable;
