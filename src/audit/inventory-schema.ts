// The audit inventory format, defined once with the policy language's schema
// DSL: the loader validates with it, docs/inventory.schema.json (for editors)
// and README's reference table are generated from it
// (scripts/gen-policy-docs.mjs; a test keeps the committed copies in step).
//
// Settings cascade: a VM's own key wins over its group's, which wins over
// `defaults`, which win over the command line (--policy, --trust, --timeout,
// ...). Lists (trust, crls, intermediates, tls.ca) and `tls` as a whole are
// replaced, never merged; only `tags` accumulate (defaults, group, VM).

import { schemaReferenceMarkdown } from '../policy/reference.js';
import { reservedParameterProblem } from '../transport/evidence-request.js';
import { dict, enumOf, hex, int, list, obj, oneOrMany, optional, pathOf, required, str, type Infer, type JsonSchema, type Schema } from '../policy/schema-dsl.js';

export const INVENTORY_API_VERSION = 'vtpm-verify/v1';

const MAX_TIMEOUT_MS = 600_000;

const path = str({ label: 'file path (relative to the inventory file)', minLength: 1, maxLength: 4096 });
const paths = oneOrMany(path, 'string', { max: 1000 });
const trustSpec = str({ label: '[LABEL=]PATH: a certificate file or folder, as for --trust (relative to the inventory file)', minLength: 1, maxLength: 4096 });
// \p{Cs}: an unpaired surrogate (a YAML or JSON "\ud800") is no character: written out as UTF-8 it becomes
// U+FFFD, so "x\ud800" and "x\udfff" would show as the same name in every report
const tag = str({ label: 'tag: no spaces, commas, control characters or unpaired surrogates (up to 128)', pattern: /^[^\s,\p{Cc}\p{Cs}]{1,128}$/u });
const groupName = str({ label: 'group name: letters, digits, ".", "_", "-" (up to 64)', pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/ });
const vmName = str({ label: 'VM name: no spaces, control characters or unpaired surrogates (up to 256)', pattern: /^[^\s\p{Cc}\p{Cs}]{1,256}$/u });

/** Why a URL is not an evidence endpoint we can ask, or undefined. */
export function evidenceUrlProblem(s: string): string | undefined {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return `"${s.slice(0, 80)}" is not an absolute URL (expected http://host:port/path or https://...)`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `only http and https evidence endpoints are supported, not ${u.protocol}`;
  if (u.username || u.password) return 'credentials in the URL are not supported (use tls.cert and tls.key)';
  if (u.port === '0') return 'port 0 in the URL: no server listens there';
  return reservedParameterProblem(u)?.message;
}

const url = str({ label: "http(s) URL of the VM's evidence endpoint (protocol section 2)", minLength: 1, maxLength: 2048, format: 'uri', check: evidenceUrlProblem });

const tlsSchema = obj(
  {
    ca: optional(paths, 'CA bundle(s) (PEM) that https endpoint certificates must chain to; replaces the system roots'),
    cert: optional(path, 'client certificate (PEM) for mutual TLS; needs key'),
    key: optional(path, 'client private key (PEM) for mutual TLS; needs cert'),
  },
  {
    label: 'TLS settings',
    minKeys: 1,
    refine: (v, where, ctx) => {
      if ((v.cert === undefined) !== (v.key === undefined)) {
        ctx.issues.push({ code: 'POLICY_MISSING_KEY', path: pathOf(where), at: 'value', message: `${v.cert === undefined ? 'key' : 'cert'} is given without ${v.cert === undefined ? 'cert' : 'key'}: mutual TLS needs both`, expected: 'cert and key' });
      }
    },
  },
);

/** What defaults, groups and VMs may each set. */
const settingFields = {
  policy: optional(path, 'integrity policy file (default: --policy, else the built-in baseline)', 'policies/production.yaml'),
  trust: optional(oneOrMany(trustSpec, 'string', { max: 1000 }), 'trust anchors for AK certificate paths, as --trust: a file or folder, optionally LABEL=PATH', ['trust/']),
  intermediates: optional(paths, 'untrusted intermediate CA certificates (file or folder), as --intermediates'),
  crls: optional(paths, 'CRL files to check revocation with, as --crl'),
  tls: optional(tlsSchema, 'TLS for https endpoints; replaces (is not merged with) the tls of defaults or the group'),
  timeoutMs: optional(int(1, MAX_TIMEOUT_MS, 'milliseconds'), 'total time allowed per layer request (default --timeout, else 30000)', 10000),
  connectTimeoutMs: optional(int(1, MAX_TIMEOUT_MS, 'milliseconds'), 'time allowed to connect (TCP and TLS) per layer request (default 5000)', 3000),
  maxDepth: optional(int(1, 64, 'layers'), 'follow at most this many layers (default --max-depth, else 8)'),
  tags: optional(list(tag, { max: 64, unique: true, itemName: 'tag' }), 'tags shown in reports (JUnit classname when no group); defaults, group and VM tags add up', ['prod', 'eu-west']),
};

const settingsSchema = obj(settingFields, { label: 'settings' });

const groupSchema = obj({ description: optional(str({ maxLength: 4096 }), 'what the group is'), ...settingFields }, { label: 'group' });

const vmSchema = obj(
  {
    name: optional(vmName, 'the VM name reports use, and the key --shard hashes (default: the url)', 'web-1'),
    url: required(url, "the VM's evidence endpoint base URI", 'https://web-1.prod.example:8443/attest'),
    group: optional(groupName, 'the group whose settings (and name, as JUnit classname) the VM takes', 'web'),
    description: optional(str({ maxLength: 4096 }), 'free text'),
    instanceId: optional(
      hex('vTPM instance id', [32]),
      "the vTPM instance expected at url (protocol section 5): a VM whose verified AK certificate names another (a relay forwarding a healthy VM's evidence, a wrong address) is not trusted, TARGET_INSTANCE_MISMATCH",
    ),
    ...settingFields,
  },
  { label: 'VM' },
);

export const inventorySchema = obj(
  {
    apiVersion: optional(enumOf([INVENTORY_API_VERSION], 'POLICY_VERSION'), 'the format version of this file', INVENTORY_API_VERSION),
    defaults: optional(settingsSchema, 'settings for every VM (a group or the VM itself may override each)'),
    groups: optional(
      dict({ label: 'group', expected: 'a group name: letters, digits, ".", "_", "-" (up to 64)', pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, maxLength: 64 }, groupSchema, {
        description: 'settings shared by the VMs that name this group',
        example: { policy: 'policies/web.yaml', tags: ['web'] },
      }, 10_000),
      'named groups of settings',
    ),
    vms: required(list(vmSchema, { min: 1, max: 1_000_000, uniqueField: 'name', itemName: 'VM name' }), 'the VMs to audit, each attested down through its layers'),
  },
  { label: 'inventory' },
);

export type InventorySpec = Infer<typeof inventorySchema>;
export type VmSpec = InventorySpec['vms'][number];
export type SettingsSpec = Infer<typeof settingsSchema>;
export type TlsSpec = Infer<typeof tlsSchema>;

/** The JSON Schema (draft 2020-12) for editors: docs/inventory.schema.json is this. */
export function inventoryJsonSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://vtpm-verify.invalid/schema/inventory-v1.json',
    title: 'vtpm-verify audit inventory (vtpm-verify/v1)',
    description: 'Generated from src/audit/inventory-schema.ts; do not edit by hand.',
    ...(inventorySchema as Schema<unknown>).jsonSchema(),
  };
}

/** The reference table for README, one row per key. */
export function inventoryReferenceMarkdown(): string {
  return schemaReferenceMarkdown(inventorySchema as Schema<unknown>);
}
