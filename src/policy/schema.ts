// The policy language, version vtpm-verify/v1, defined once. The loader
// validates with it, `policy schema` prints the JSON Schema made from it, and
// README's reference table is generated from it (scripts/gen-policy-docs.mjs;
// a test keeps the committed copies in step).

import { HASH_ALGS, type HashName } from '../tpm/constants.js';
import { VENDORS } from '../x509/tcg.js';
import {
  bool,
  byType,
  child,
  defaulted,
  defaultedObject,
  dict,
  duration,
  enumOf,
  formatPath,
  hex,
  includable,
  int,
  keyed,
  list,
  obj,
  oneOrMany,
  optional,
  pathOf,
  regex,
  required,
  str,
  suggest,
  uint64,
  type Infer,
  type JsonSchema,
  type Schema,
} from './schema-dsl.js';

export const API_VERSION = 'vtpm-verify/v1';

export const BANKS: readonly HashName[] = HASH_ALGS.map((h) => h.name);
const DIGEST_SIZES = [...new Set(HASH_ALGS.map((h) => h.size))].sort((a, b) => a - b);
const MAX_PCR = 23;

const digestOfBank = (bank: HashName): Schema<string> => hex(`${bank} digest`, [HASH_ALGS.find((h) => h.name === bank)!.size]);
const anyDigest = hex('file digest', DIGEST_SIZES);
const sha256Digest = hex('SHA-256 digest', [32]);

/** A policy or rule-set name. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME_LABEL = 'name: letters, digits, ".", "_", "-" (up to 64)';
const name = str({ label: NAME_LABEL, pattern: NAME_PATTERN });
const anchorLabel = str({ label: 'trust anchor label', pattern: /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/ });
const role = str({ label: 'anchor role, e.g. tpm-vendor, ak-ca, vplatform-ca', pattern: /^[a-z][a-z0-9-]{0,63}$/ });
const oid = str({ label: 'dotted OID, e.g. 2.23.133.8.3', pattern: /^[0-2](?:\.(?:0|[1-9][0-9]{0,18})){1,40}$/ });
const layerKind = enumOf(['virtual', 'physical', 'unspecified']);
const requirement = enumOf(['required', 'optional']);
const severity = enumOf(['fail', 'warn']);

/**
 * TCG vendor ids are 4 bytes, written in certificates as "id:XXXXXXXX"; people
 * know them by their ASCII letters ("IFX", "INTC", "NTC"). Both forms become
 * "id:" + 8 uppercase hex digits, for policy values and certificate facts alike.
 */
export function normalizeManufacturer(s: string): string | undefined {
  const m = /^id:([0-9a-fA-F]{8})$/.exec(s);
  if (m) return `id:${m[1]!.toUpperCase()}`;
  if (/^[\x21-\x7e]{1,4}$/.test(s)) return `id:${Buffer.from(s.padEnd(4, '\0'), 'latin1').toString('hex').toUpperCase()}`;
  return undefined;
}

/**
 * What two normalized vendor ids compare by. The TCG registry pads a name of fewer than 4 letters with zero
 * bytes (IFX: id:49465800) or with spaces (STM: id:53544D20, NSM: id:4E534D20), and the letters form pads with
 * zero bytes: `STM` in a policy (id:53544D00) must be ST's id, or it would select and allow no ST TPM at all.
 * Trailing zero bytes and spaces are therefore one padding; no two registered ids differ only by it.
 */
export function manufacturerKey(id: string): string {
  const bytes = Buffer.from(id.slice(3), 'hex');
  let end = bytes.length;
  while (end > 1 && (bytes[end - 1] === 0 || bytes[end - 1] === 0x20)) end--;
  bytes.fill(0, end);
  return `id:${bytes.toString('hex').toUpperCase()}`;
}

const VENDOR_LETTERS = Object.keys(VENDORS);

/**
 * Letters are taken only for a registered vendor: "ifx", "IFK" or "ST" (ST's
 * id is STM) are other ids, which no TPM has, so under `select` the rule set
 * would select nothing, unseen. A vendor not (yet) listed is written by id.
 */
function manufacturerProblem(s: string): string | undefined {
  if (!normalizeManufacturer(s)) return `"${s}" is neither "id:" + 8 hex digits nor 1-4 printable letters`;
  if (/^id:[0-9a-fA-F]{8}$/.test(s) || Object.hasOwn(VENDORS, s)) return undefined;
  // "id:" and "id:1" are 1-4 printable letters too, but meant as an id with its digits cut short
  if (s.startsWith('id:')) return `"${s}" is not "id:" + 8 hex digits`;
  const hint = suggest(s, VENDOR_LETTERS);
  const others = hint ? `did you mean "${hint}" (${VENDORS[hint]})?` : `registered: ${VENDOR_LETTERS.join(', ')}`;
  return `"${s}" is not the letters of a TCG-registered TPM vendor (${others}); a vendor not listed is written "id:" + its 8 hex digits`;
}

const manufacturer = str({
  label: 'TCG vendor id: "id:XXXXXXXX", or the letters of a registered vendor, e.g. IFX, INTC, NTC, STM',
  check: manufacturerProblem,
  normalize: (s) => normalizeManufacturer(s)!,
});

// ---------------------------------------------------------------- layer rules

const selectSchema = obj(
  {
    position: optional(int(-32, 31, 'position'), 'the layer at this position: 0 = the VM at the top, 1 = its VMM, ...; negative counts from the bottom: -1 = the lowest layer', 0),
    kind: optional(oneOrMany(layerKind, 'string', { unique: true }), 'the layer kind stated by its verified AK certificate (unspecified: no TrustedLayer extension); one kind or a list', 'virtual'),
    certificate: optional(
      obj(
        {
          subject: optional(regex(), "the AK certificate's subject as RFC 4514 text (last RDN first, no spaces: CN=vm AK,O=Acme) matches this pattern", 'CN=web-[0-9]+,O=Acme'),
          issuer: optional(regex(), "the AK certificate's issuer matches this pattern", 'CN=Acme vPlatform CA [0-9]+,O=Acme'),
          anchor: optional(oneOrMany(anchorLabel, 'string', { unique: true }), 'the AK path verified to this trust anchor (one label or a list)', 'acme-vplatform-ca'),
          manufacturer: optional(oneOrMany(manufacturer, 'string', { unique: true }), 'the certificate names this TPM manufacturer (one or a list)', 'IFX'),
        },
        { minKeys: 1 },
      ),
      'select by verified AK certificate attributes; every attribute given must match',
    ),
  },
  { minKeys: 1, label: 'layer selector' },
);

const trustSchema = obj(
  {
    anchors: optional(list(anchorLabel, { min: 1, unique: true, itemName: 'anchor' }), "the layer's AK certificate path must end at one of these trust anchors (labels in the trust store)", ['acme-vplatform-ca']),
    anchorRoles: optional(list(role, { min: 1, unique: true, itemName: 'role' }), 'the trust anchor must vouch for one of these roles', ['vplatform-ca']),
    requiredEkus: optional(list(oid, { min: 1, unique: true, itemName: 'EKU' }), 'the AK certificate must carry every one of these extended key usages', ['2.23.133.8.3']),
    manufacturers: optional(list(manufacturer, { min: 1, unique: true, itemName: 'manufacturer' }), 'the TPM manufacturer named in the AK certificate must be one of these', ['IFX', 'NTC', 'id:494E5443']),
    instanceIds: optional(list(hex('instance id', [32]), { min: 1, unique: true, itemName: 'instance id' }), "the layer's vTPM instance id must be one of these (pins one VM)"),
  },
  { minKeys: 1 },
);

const tpmSchema = obj(
  {
    firmwareVersions: optional(list(uint64(), { min: 1, unique: true, itemName: 'firmware version' }), "the quote's firmwareVersion must be one of these (meaningful for AKs in the endorsement or platform hierarchy only: an owner-hierarchy AK's quotes carry it obfuscated)", ['0x0001000200030004']),
    minFirmwareVersion: optional(uint64(), "the quote's firmwareVersion must be at least this (meaningful for AKs in the endorsement or platform hierarchy only: an owner-hierarchy AK's quotes carry it obfuscated, and the rule passes by chance)", '0x0007005500000000'),
    requireSafeClock: defaulted(bool(), false, "true: the quote's clock must be marked safe (TPMS_CLOCK_INFO.safe)", true),
  },
  { minKeys: 1 },
);

type PcrRule = string[] | 'replay';

const pcrRule = (bank: HashName): Schema<PcrRule> =>
  byType<PcrRule>({
    array: list(digestOfBank(bank), { min: 1, unique: true, itemName: 'golden value' }),
    string: enumOf(['replay']),
  });

const pcrsSchema = includable(
  keyed(BANKS, 'bank', (bank) => dict({ label: 'index', expected: `a PCR index 0..${MAX_PCR}`, pattern: /^(?:[0-9]|1[0-9]|2[0-3])$/ }, pcrRule(bank), { description: 'a list of allowed (golden) values of this PCR, or "replay": the quoted value must equal the event log replay', example: ['3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969'] }, MAX_PCR + 1, 1), {
    type: 'mapping of PCR index to rule',
    description: 'a PCR bank: sha1, sha256, sha384, sha512, sm3_256, sha3_256, sha3_384 or sha3_512 (digests have the size of the bank: sha256 shown below)',
    docKey: 'sha256',
  }, 1),
);

const digestsByBank = includable(
  keyed(BANKS, 'bank', (bank) => list(digestOfBank(bank), { min: 1, unique: true, itemName: 'digest' }), {
    type: 'list of digests of the bank',
    description: 'digests of boot applications in this bank',
    docKey: 'sha256',
    example: ['0d7a9ee0d1e2fca44e5e11bb4bd0b5e4b0fea5e1b4cfdc3c1ab7c8a90f2c8b2b'],
  }, 1),
);

const eventLogSchema = obj(
  {
    required: defaulted(bool(), false, 'the layer must send an event log that replays to its quoted PCRs', true),
    mustReplay: defaulted(bool(), false, 'an event log the layer sends must replay to its quoted PCRs (without `required`, sending none is acceptable)', true),
    requireSecureBoot: defaulted(bool(), false, 'true: the event log must measure SecureBoot = 1', true),
    bootApplications: optional(
      obj(
        {
          allowed: optional(digestsByBank, 'every boot application must have a digest in this list (in one of the banks given)'),
          forbidden: optional(digestsByBank, 'no boot application may have a digest in this list'),
        },
        { minKeys: 1 },
      ),
      'digests of EV_EFI_BOOT_SERVICES_APPLICATION events (bootloaders, shim, kernels)',
    ),
    kernelCmdlines: optional(
      includable(
        obj(
          {
            exact: optional(list(str({ label: 'kernel command line', maxLength: 8192 }), { min: 1, unique: true, itemName: 'command line' }), 'allowed command lines, compared exactly', ['console=ttyS0 root=/dev/vda1 ro']),
            patterns: optional(list(regex(), { min: 1, unique: true, itemName: 'pattern' }), 'allowed command lines as patterns matching the whole line', ['console=ttyS0 root=UUID=[0-9a-f-]+ ro( quiet)?']),
          },
          { minKeys: 1 },
        ),
      ),
      'every measured kernel command line must be allowed here, and at least one must be measured',
    ),
    dbx: optional(
      obj(
        {
          sha256: optional(list(sha256Digest, { min: 1, unique: true, itemName: 'dbx hash' }), 'image hashes the measured dbx must contain (revoked bootloaders)'),
          certSha256: optional(list(sha256Digest, { min: 1, unique: true, itemName: 'dbx certificate hash' }), 'SHA-256 of certificates (DER) the measured dbx must contain'),
        },
        { minKeys: 1 },
      ),
      'required dbx content (PCR 7): the forbidden-signatures database must hold at least these',
    ),
    crtmVersions: optional(list(str({ label: 'CRTM version text', minLength: 1, maxLength: 1024 }), { min: 1, unique: true, itemName: 'version' }), 'every EV_S_CRTM_VERSION must be one of these, and at least one must be measured', ['1.15.0-1']),
    allowedQuirks: optional(list(str({ label: 'workaround id', pattern: /^[a-z0-9][a-z0-9-]{0,63}$/ }), { unique: true, itemName: 'workaround' }), 'firmware workarounds the replay may use; any other fails (absent: any)', []),
  },
  { minKeys: 1 },
);

const imaSchema = obj(
  {
    required: defaulted(bool(), false, 'the layer must send an IMA log that replays to its quoted PCR 10', true),
    mustReplay: defaulted(bool(), false, 'an IMA log the layer sends must replay to its quoted PCR 10 (without `required`, sending none is acceptable)', true),
    allowList: optional(
      includable(dict({ label: 'path', expected: 'a file path (1..4096 characters)' }, list(anyDigest, { min: 1, unique: true, itemName: 'digest' }), { description: 'the digests this file may have', example: ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'] })),
      'path → allowed digests (like Keylime runtime policies); every measured file must be listed with its digest. Large lists belong in an included JSON file',
      { include: 'golden/vm-ima.json' },
    ),
    excludes: optional(list(regex(), { min: 1, unique: true, itemName: 'pattern' }), 'paths matching one of these patterns (whole path) are not checked against the allow-list', ['/tmp/.*', '/var/lib/docker/.*']),
    violations: defaulted(
      enumOf(['fail', 'allow']),
      'fail',
      "what a violation entry (all-zero template hash: a file was open for write while measured, ToMToU or open-writers, so its content is unknown) does when the allow-list is checked: `fail`, whatever path it names (its path is not attested: IMA extends all ones for it, so `excludes` cannot apply); `allow` lets every violation pass",
      'fail',
    ),
    excludeTemplates: optional(list(str({ label: 'IMA template name', pattern: /^[a-z0-9_-]{1,32}$/ }), { min: 1, unique: true, itemName: 'template' }), 'entries of these templates are not checked against the allow-list (denied digests still are; an ima-buf entry whose digest is not the hash of its buffer is not one)', ['ima-buf']),
    denied: optional(includable(list(anyDigest, { min: 1, unique: true, itemName: 'digest' })), 'no measured file may have one of these digests, whatever its path or template (checked before excludes); they are SHA-1, SHA-256, SHA-384 or SHA-512 by their length, and a file measured with an algorithm none of them is of (sm3_256 and sha3-256 too, of SHA-256\'s size) or by its fs-verity digest (ima-ngv2 `verity:`) cannot be checked, and fails (the boot_aggregate entry, a hash of PCRs, is no file)'),
  },
  { minKeys: 1 },
);

const layerRuleSchema = obj(
  {
    name: required(name, 'names the rule set in results and explain output; unique in the policy', 'vm'),
    description: optional(str({ maxLength: 4096 }), 'what this rule set is for'),
    select: optional(selectSchema, 'which layers these rules apply to; every condition given must hold; absent: every layer'),
    kinds: optional(list(layerKind, { min: 1, unique: true, itemName: 'kind' }), 'the selected layer must be of one of these kinds', ['virtual']),
    trust: optional(trustSchema, "rules on the layer's verified AK certificate"),
    tpm: optional(tpmSchema, "rules on the layer's quote"),
    pcrs: optional(pcrsSchema, 'per bank and PCR index: golden values or "replay"'),
    eventLog: optional(eventLogSchema, 'rules on the TCG event log'),
    ima: optional(imaSchema, 'rules on the IMA measurement list'),
  },
  { label: 'layer rule set' },
);

// ---------------------------------------------------------------- whole-chain rules

const chainSchema = obj(
  {
    minDepth: optional(int(1, 16, 'layers'), 'at least this many layers', 3),
    maxDepth: optional(int(1, 16, 'layers'), 'at most this many layers', 3),
    endAt: defaulted(enumOf(['physical', 'not-virtual', 'any']), 'not-virtual', 'physical: the lowest layer must be a physical TPM; not-virtual: physical or unspecified (a virtual lowest layer means the walk stopped early); any: accept any', 'physical'),
    unmatchedLayers: defaulted(enumOf(['allow', 'fail']), 'allow', 'fail: a layer no rule set selects fails (strict policies name every layer)', 'fail'),
    bindings: defaultedObject(
      obj({
        nonceChain: defaulted(requirement, 'required', "each lower quote must carry the nonce derived from the quote above (protocol §3)"),
        hostedInstance: defaulted(requirement, 'required', "the layer above's vTPM instance must be hosted now by this layer (protocol §5)"),
        issuer: defaulted(requirement, 'optional', "the issuer of the layer above's AK certificate must be recorded by this layer (protocol §5.1)"),
      }),
      'which binding checks between adjacent layers must have been done and passed; a check that was done and failed always fails; optional: not done is acceptable',
    ),
  },
  {
    refine: (v, where, ctx) => {
      if (v.minDepth !== undefined && v.maxDepth !== undefined && v.minDepth > v.maxDepth) {
        const path = pathOf(child(where, 'minDepth'));
        ctx.issues.push({ code: 'POLICY_VALUE', path, at: 'value', message: `${formatPath(path)}: ${v.minDepth} is more than maxDepth ${v.maxDepth}`, expected: `at most ${v.maxDepth}`, actual: String(v.minDepth) });
      }
    },
  },
);

const freshnessSchema = obj(
  {
    maxAge: optional(duration(), 'offline evidence must have been collected at most this long ago', '10m'),
    maxFutureSkew: defaulted(duration(), { text: '5m', ms: 300_000 }, 'offline evidence dated later than now by more than this fails (clock skew allowance)'),
  },
  { minKeys: 1 },
);

const migrationSchema = obj({
  reattestOnNotification: defaulted(bool(), true, 'on a migration notification, attest the VM again from the top (a notification is a hint, never evidence); read by watchers'),
  requireSourceMigrateOut: defaulted(bool(), false, 'after a migration the source platform must have been attested and recorded migrate-out (a source still hosting the instance always fails); watch then also attests sources only a notification names', true),
  requireTrustedController: defaulted(
    bool(),
    false,
    'a trusted Migration System: watchers attest the Migration Controller ({migrationService}/v1/evidence) and act on its notifications only while it is trusted; read by watchers',
    true,
  ),
  findings: defaultedObject(
    obj({
      clone: defaulted(severity, 'fail', 'a clone finding of the state store (two copies of one vTPM) fails or warns'),
      rollback: defaulted(severity, 'fail', 'a rollback finding (vTPM state restored, clock went back) fails or warns'),
    }),
    'how findings of the state store count',
  ),
});

export const policySchema = obj(
  {
    apiVersion: required(enumOf([API_VERSION], 'POLICY_VERSION'), 'the language version of this file', API_VERSION),
    name: required(name, 'the policy name, shown in every result', 'production'),
    description: optional(str({ maxLength: 4096 }), 'what the policy is for'),
    chain: defaultedObject(chainSchema, 'rules on the whole chain of layers'),
    freshness: optional(freshnessSchema, 'rules on the age of offline evidence (bundles); live evidence is fresh by its nonce'),
    migration: defaultedObject(migrationSchema, 'rules on migration and on clone/rollback findings'),
    layers: defaulted(list(layerRuleSchema, { max: 64, uniqueField: 'name', itemName: 'rule-set name' }), [], 'rule sets; each applies to the layers its `select` matches, and ALL matching rule sets apply'),
  },
  {
    label: 'policy',
    // A rule set selecting a position no chain the policy accepts has: it never applies, and the layer its author
    // meant (layer 2 of three written as 3, the lowest written as -0 or counted from the wrong end) went unchecked.
    refine: (v, where, ctx) => {
      const max = v.chain.maxDepth;
      if (max === undefined) return;
      v.layers.forEach((rs, i) => {
        const p = rs.select?.position;
        if (p === undefined || (p >= 0 ? p < max : -p <= max)) return;
        const path = pathOf(child(child(child(child(where, 'layers'), i), 'select'), 'position'));
        const range = `0..${max - 1}, or -1..-${max} from the bottom`;
        ctx.issues.push({
          code: 'POLICY_VALUE',
          path,
          at: 'value',
          message: `${formatPath(path)}: ${p} selects no layer: chain.maxDepth is ${max}, so positions are ${range}; rule set "${rs.name}" would never apply`,
          expected: `a position ${range}`,
          actual: String(p),
        });
      });
    },
  },
);

export type PolicySpec = Infer<typeof policySchema>;
export type LayerRuleSpec = PolicySpec['layers'][number];
export type SelectSpec = NonNullable<LayerRuleSpec['select']>;
export type TrustSpec = NonNullable<LayerRuleSpec['trust']>;
export type TpmSpec = NonNullable<LayerRuleSpec['tpm']>;
export type PcrsSpec = NonNullable<LayerRuleSpec['pcrs']>;
export type EventLogSpec = NonNullable<LayerRuleSpec['eventLog']>;
export type ImaSpec = NonNullable<LayerRuleSpec['ima']>;
export type ChainSpec = PolicySpec['chain'];
export type FreshnessSpec = NonNullable<PolicySpec['freshness']>;
export type MigrationSpec = PolicySpec['migration'];

/** The JSON Schema (draft 2020-12) for editors: policies/schema.json is this, written by `policy schema`. */
export function policyJsonSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://vtpm-verify.invalid/schema/policy-v1.json',
    title: 'vtpm-verify integrity policy (vtpm-verify/v1)',
    description: 'Generated from src/policy/schema.ts by `vtpm-verify policy schema`; do not edit by hand.',
    ...policySchema.jsonSchema(),
  };
}
