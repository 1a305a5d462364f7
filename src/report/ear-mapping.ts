// How our checks and policy rules become AR4SI trustworthiness claims
// (draft-ietf-rats-ar4si) in an EAR. The mapping is a table keyed by error
// code, first match wins, so it is deterministic and documented (README,
// "EAR claim mapping"); a test checks that every verification code we have
// maps to a claim.

import type { LayerResult } from '../verify/result.js';
import type { Outcome } from './format.js';

export const TRUST_CLAIMS = [
  'instance-identity',
  'configuration',
  'executables',
  'file-system',
  'hardware',
  'runtime-opaque',
  'storage-opaque',
  'sourced-data',
] as const;

export type TrustClaim = (typeof TRUST_CLAIMS)[number];

/** Claim values; 0 ("no claim") is left out, as Veraison does. */
export type TrustVector = Partial<Record<TrustClaim, number>>;

/** AR4SI values: general ones valid for every claim, then per claim. */
export const AR4SI = {
  VERIFIER_MALFUNCTION: -1,
  NO_CLAIM: 0,
  UNEXPECTED_EVIDENCE: 1,
  CRYPTO_VALIDATION_FAILED: 99,
  instanceIdentity: { TRUSTWORTHY: 2, UNTRUSTWORTHY: 96, UNRECOGNIZED: 97 },
  configuration: { APPROVED: 2, NO_KNOWN_VULNS: 3, UNSAFE: 32, UNSUPPORTABLE: 96 },
  executables: { APPROVED_RUNTIME: 2, APPROVED_BOOT: 3, UNSAFE_RUNTIME: 32, UNRECOGNIZED_RUNTIME: 33, CONTRAINDICATED_RUNTIME: 96 },
  fileSystem: { APPROVED: 2, UNRECOGNIZED: 32, CONTRAINDICATED: 96 },
  hardware: { GENUINE: 2, UNSAFE: 32, CONTRAINDICATED: 96, UNRECOGNIZED: 97 },
  sourcedData: { TRUSTED: 2, UNTRUSTED: 32, CONTRAINDICATED: 96 },
} as const;

export type EarStatus = 'none' | 'affirming' | 'warning' | 'contraindicated';

const TIER_RANK: Record<EarStatus, number> = { none: 0, affirming: 1, warning: 2, contraindicated: 3 };

/** AR4SI tier of a claim value: none [-1,1], affirming [2,31], warning [32,95], contraindicated [96,127]. */
export function tierOf(value: number): EarStatus {
  if (value >= -1 && value <= 1) return 'none';
  if (value >= 2 && value <= 31) return 'affirming';
  if (value >= 32 && value <= 95) return 'warning';
  // [96,127], and anything outside the defined ranges: fail safe
  return 'contraindicated';
}

/** The worse of two tiers (none < affirming < warning < contraindicated, as Veraison orders them). */
export function worseTier(a: EarStatus, b: EarStatus): EarStatus {
  return TIER_RANK[a] >= TIER_RANK[b] ? a : b;
}

/** The worst tier in a vector; none for an empty one. */
export function vectorStatus(vector: TrustVector): EarStatus {
  let status: EarStatus = 'none';
  for (const claim of TRUST_CLAIMS) {
    const v = vector[claim];
    if (v !== undefined) status = worseTier(status, tierOf(v));
  }
  return status;
}

/** One row of the code table: codes (a trailing * is a prefix) and the claim value a failure sets. */
export interface CodeMapping {
  codes: readonly string[];
  claim: TrustClaim;
  /** the value a failing outcome with one of these codes sets */
  value: number;
  /** why, for README */
  meaning: string;
}

const { instanceIdentity: II, configuration: CFG, executables: EXE, fileSystem: FS, hardware: HW, sourcedData: SD } = AR4SI;

/** First match wins: exact codes are listed before the prefixes that would also match them. */
export const CODE_MAPPINGS: readonly CodeMapping[] = [
  { codes: ['INTERNAL_ERROR'], claim: 'instance-identity', value: AR4SI.VERIFIER_MALFUNCTION, meaning: 'a bug in vtpm-verify stopped the appraisal' },
  { codes: ['QUOTE_PCR_DIGEST_MISMATCH'], claim: 'executables', value: AR4SI.CRYPTO_VALIDATION_FAILED, meaning: 'the PCR values sent are not the ones the signed quote covers' },
  { codes: ['QUOTE_PCR_SELECTION_MISMATCH'], claim: 'executables', value: EXE.UNRECOGNIZED_RUNTIME, meaning: 'the quote does not cover the PCRs asked for' },
  { codes: ['QUOTE_AK_NOT_RESTRICTED', 'ATTEST_KEY_NOT_RESTRICTED', 'QUOTE_AK_NOT_FIXED', 'ATTEST_KEY_NOT_FIXED'], claim: 'instance-identity', value: II.UNTRUSTWORTHY, meaning: 'the AK could sign forged quotes' },
  {
    codes: ['QUOTE_*', 'ATTEST_*', 'CHAIN_BAD_SIGNATURE', 'CRL_BAD_SIGNATURE', 'BUNDLE_MISMATCH'],
    claim: 'instance-identity',
    value: AR4SI.CRYPTO_VALIDATION_FAILED,
    meaning: 'the quote signature, its nonce or a certificate signature does not verify (or a saved bundle was edited)',
  },
  {
    codes: ['WALK_ENDS_UNDER_UNLABELLED_ANCHOR'],
    claim: 'hardware',
    value: HW.UNSAFE,
    meaning: 'a warning: the layer ending the walk chains to an anchor not labelled for hardware or virtual TPMs, so that its TPM is hardware is not known',
  },
  {
    codes: [
      'CHAIN_UNTRUSTED_ROOT',
      'CHAIN_ANCHOR_NOT_ALLOWED',
      'POLICY_TRUST_ANCHOR',
      'POLICY_ANCHOR_ROLE',
      'WALK_ENDS_UNDER_VPLATFORM_CA',
      'POLICY_INSTANCE_ID',
      'WATCH_INSTANCE_CHANGED',
      'TARGET_INSTANCE_MISMATCH',
      'POLICY_EVIDENCE_STALE',
      'POLICY_EVIDENCE_FUTURE',
      'BUNDLE_CHALLENGE_MISMATCH',
    ],
    claim: 'instance-identity',
    value: II.UNRECOGNIZED,
    meaning: 'the AK does not chain to an accepted anchor (a layer ending the walk: to one for hardware TPMs), the instance is not an allowed one (or not the watched or expected one), or saved evidence is not fresh',
  },
  { codes: ['CHAIN_*', 'CRL_*', 'POLICY_EKU_MISSING'], claim: 'instance-identity', value: II.UNTRUSTWORTHY, meaning: 'the AK certificate path is invalid (expired, revoked, wrong usage, ...)' },
  {
    codes: ['POLICY_CLONE', 'POLICY_SOURCE_STILL_HOSTS', 'CLONE_*', 'AUDIT_DUPLICATE_INSTANCE', 'VPLATFORM_HOSTED_TWICE', 'VPLATFORM_STILL_HOSTED', 'VPLATFORM_NOT_MIGRATED_OUT'],
    claim: 'instance-identity',
    value: II.UNTRUSTWORTHY,
    meaning: 'the vTPM instance may run twice (clone, a source that still hosts it after a migration, or two VMs of an audit answering as it)',
  },
  {
    codes: ['POLICY_ROLLBACK', 'CLOCK_RESET_COUNT_DECREASED', 'CLOCK_RESTART_COUNT_DECREASED', 'CLOCK_WENT_BACK', 'RESTORE_FROM_BACKUP'],
    claim: 'configuration',
    value: CFG.UNSUPPORTABLE,
    meaning: 'the vTPM state was rolled back or restored from a backup',
  },
  { codes: ['POLICY_CLOCK_UNSAFE', 'CLOCK_NOT_SAFE'], claim: 'configuration', value: CFG.UNSAFE, meaning: 'the TPM clock may have gone back (clockInfo.safe = 0)' },
  {
    codes: ['POLICY_SECURE_BOOT', 'POLICY_KERNEL_CMDLINE', 'POLICY_DBX_MISSING', 'POLICY_LAYER_KIND', 'POLICY_UNMATCHED_LAYER', 'POLICY_CHAIN_DEPTH', 'POLICY_CHAIN_END', 'POLICY_NOT_TRUSTED', 'WALK_*'],
    claim: 'configuration',
    value: CFG.UNSUPPORTABLE,
    meaning: 'secure boot, kernel command line, dbx, or the shape of the layer chain is not what the policy requires (POLICY_NOT_TRUSTED: the policy as a whole)',
  },
  { codes: ['POLICY_FIRMWARE_VERSION', 'POLICY_CRTM_VERSION'], claim: 'hardware', value: HW.UNSAFE, meaning: 'TPM or platform firmware version not allowed (known-vulnerable or below the minimum)' },
  { codes: ['POLICY_MANUFACTURER'], claim: 'hardware', value: HW.UNRECOGNIZED, meaning: 'the TPM manufacturer is not an allowed one' },
  {
    codes: ['POLICY_BOOT_APP_FORBIDDEN', 'POLICY_PCR_REPLAY', 'POLICY_EVENTLOG_REPLAY', 'EVENTLOG_REPLAY_MISMATCH', 'EVENTLOG_REPLAY_NO_OVERLAP', 'EVENTLOG_DIGEST_DATA_MISMATCH'],
    claim: 'executables',
    value: EXE.CONTRAINDICATED_RUNTIME,
    meaning: 'a forbidden boot component, or an event log that contradicts the quoted PCRs',
  },
  {
    codes: ['POLICY_PCR_VALUE', 'POLICY_BOOT_APP_NOT_ALLOWED', 'POLICY_PCR_NOT_QUOTED', 'POLICY_EVENTLOG_MISSING', 'POLICY_QUIRK', 'EVENTLOG_QUIRK_APPLIED'],
    claim: 'executables',
    value: EXE.UNRECOGNIZED_RUNTIME,
    meaning: 'a PCR or boot component is not a known-good value (or cannot be judged)',
  },
  { codes: ['EVENTLOG_*', 'PCR_SELECTION_INVALID'], claim: 'executables', value: AR4SI.UNEXPECTED_EVIDENCE, meaning: 'the event log cannot be parsed' },
  {
    codes: ['POLICY_IMA_DENIED', 'POLICY_IMA_DIGEST', 'POLICY_IMA_REPLAY', 'IMA_REPLAY_MISMATCH', 'IMA_REPLAY_NO_OVERLAP', 'IMA_TEMPLATE_HASH_MISMATCH'],
    claim: 'file-system',
    value: FS.CONTRAINDICATED,
    meaning: 'a denied or altered file, or an IMA log that contradicts the quoted PCR',
  },
  { codes: ['POLICY_IMA_UNKNOWN_FILE', 'POLICY_IMA_VIOLATION', 'POLICY_IMA_MISSING'], claim: 'file-system', value: FS.UNRECOGNIZED, meaning: 'a measured file is not in the allow-list, or was open for write while measured (or there is no IMA log)' },
  { codes: ['IMA_*'], claim: 'file-system', value: AR4SI.UNEXPECTED_EVIDENCE, meaning: 'the IMA log cannot be parsed' },
  {
    codes: ['POLICY_BINDING', 'BINDING_*', 'VPLATFORM_INSTANCE_NOT_HOSTED', 'VPLATFORM_INSTANCE_LEFT', 'VPLATFORM_ISSUER_NOT_RECORDED', 'VPLATFORM_REPLAY_MISMATCH', 'VPLATFORM_LIFECYCLE_VIOLATION'],
    claim: 'sourced-data',
    value: SD.CONTRAINDICATED,
    meaning: 'the binding to the layer below fails: nonce chain, hosted instance, issuer, or a vPlatform log that contradicts its PCR',
  },
  { codes: ['MIGRATION_SOURCE_NOT_FOLLOWED'], claim: 'sourced-data', value: SD.UNTRUSTED, meaning: 'a source platform only an unsigned notification named was not attested' },
  { codes: ['VPLATFORM_*', 'MIGRATION_EVENT_*'], claim: 'sourced-data', value: AR4SI.UNEXPECTED_EVIDENCE, meaning: 'the vPlatform log (or a migration event) cannot be parsed' },
  {
    codes: ['CERT_*', 'LAYER_EXT_*', 'AK_*', 'TPM_*', 'EVIDENCE_*', 'JSON_INVALID', 'BASE64_INVALID', 'HEX_INVALID'],
    claim: 'instance-identity',
    value: AR4SI.UNEXPECTED_EVIDENCE,
    meaning: 'the evidence (quote, certificates, response) cannot be parsed',
  },
];

/** Codes that set no claim: the layer could not be appraised at all (its status is then none). */
export const UNAPPRAISED_CODE_PREFIXES = ['TRANSPORT_', 'STATE_', 'IO_ERROR'] as const;

/**
 * A warning sets the claim's warning-tier value instead; instance-identity
 * has none in AR4SI, so its warnings are reported as an unsafe configuration.
 */
export const WARN_VALUES: Readonly<Record<TrustClaim, readonly [TrustClaim, number]>> = {
  'instance-identity': ['configuration', CFG.UNSAFE],
  configuration: ['configuration', CFG.UNSAFE],
  executables: ['executables', EXE.UNRECOGNIZED_RUNTIME],
  'file-system': ['file-system', FS.UNRECOGNIZED],
  hardware: ['hardware', HW.UNSAFE],
  'runtime-opaque': ['configuration', CFG.UNSAFE],
  'storage-opaque': ['configuration', CFG.UNSAFE],
  'sourced-data': ['sourced-data', SD.UNTRUSTED],
};

function codeMatches(pattern: string, code: string): boolean {
  return pattern.endsWith('*') ? code.startsWith(pattern.slice(0, -1)) : code === pattern;
}

/** The table row for a code, if any. */
export function mappingFor(code: string): CodeMapping | undefined {
  return CODE_MAPPINGS.find((m) => m.codes.some((p) => codeMatches(p, code)));
}

/** One affirmation: passing policy rules (by id, "layer[N]." and "@ruleSet" removed) that approve a claim. */
export interface PassMapping {
  ids: readonly string[];
  claim: TrustClaim;
  value: number;
  meaning: string;
}

/**
 * Only rules that compare evidence with reference values affirm executables,
 * file-system and configuration: a replay that merely matches the quote says
 * the log is genuine, not that what it lists is approved. Under the built-in
 * baseline policy those claims are therefore not made (0).
 */
export const PASS_MAPPINGS: readonly PassMapping[] = [
  { ids: ['pcrs.*', 'eventLog.bootApplications.*'], claim: 'executables', value: EXE.APPROVED_BOOT, meaning: 'PCRs or boot applications match reference values' },
  { ids: ['ima.allowList'], claim: 'file-system', value: FS.APPROVED, meaning: 'every measured file is in the IMA allow-list' },
  {
    ids: ['eventLog.requireSecureBoot', 'eventLog.kernelCmdlines', 'eventLog.dbx.*'],
    claim: 'configuration',
    value: CFG.APPROVED,
    meaning: 'secure boot, kernel command line or dbx match the policy',
  },
  { ids: ['chain.bindings.*', 'binding.*'], claim: 'sourced-data', value: SD.TRUSTED, meaning: 'the binding checks to the layer below hold' },
];

/** "layer[1].pcrs.sha256.7@web" → "pcrs.sha256.7" */
export function normalizedRuleId(id: string): string {
  return id.replace(/^layer\[\d+\]\./, '').replace(/@[^@]*$/, '');
}

function passMappingFor(id: string): PassMapping | undefined {
  const bare = normalizedRuleId(id);
  return PASS_MAPPINGS.find((m) => m.ids.some((p) => codeMatches(p, bare)));
}

/** Keeps the worse value per claim: higher tier wins; within a tier, the higher value (deterministic). */
function setWorse(vector: TrustVector, claim: TrustClaim, value: number): void {
  const old = vector[claim];
  if (old === undefined) {
    vector[claim] = value;
    return;
  }
  const [to, tn] = [TIER_RANK[tierOf(old)], TIER_RANK[tierOf(value)]];
  if (tn > to || (tn === to && value > old)) vector[claim] = value;
}

export interface VectorInput {
  layer: Pick<LayerResult, 'status' | 'kind' | 'anchor' | 'error'>;
  /** the layer's checks and rules, plus chain rules and findings for the top layer */
  outcomes: readonly Outcome[];
}

/**
 * The trustworthiness vector of one layer:
 * - each failing outcome sets its code's claim value (a warning: the warning-tier value);
 * - the layer's deciding error counts like a failing outcome;
 * - instance-identity 2 when the AK path verified to an anchor and nothing contradicts it;
 * - hardware 2 for a physical layer whose identity is affirmed;
 * - executables 3 / file-system 2 / configuration 2 / sourced-data 2 from passing reference rules and binding checks;
 *   executables 2 when boot (3) and the IMA allow-list (file-system 2) are both approved;
 * - unreachable and not-reached layers claim nothing.
 */
export function layerTrustVector(input: VectorInput): TrustVector {
  const { layer, outcomes } = input;
  const vector: TrustVector = {};
  if (layer.status === 'unreachable' || layer.status === 'not-reached') return vector;
  const failing: { code: string; status: 'fail' | 'warn' }[] = [];
  for (const o of outcomes) if ((o.status === 'fail' || o.status === 'warn') && o.code) failing.push({ code: o.code, status: o.status });
  if (layer.error) failing.push({ code: layer.error.code, status: 'fail' });
  for (const f of failing) {
    const m = mappingFor(f.code);
    if (!m) continue;
    if (f.status === 'fail') setWorse(vector, m.claim, m.value);
    else setWorse(vector, ...WARN_VALUES[m.claim]);
  }
  // Affirmations never override what a failure or warning said about a
  // claim, even one in the none tier (1, unexpected evidence).
  const judged = new Set(Object.keys(vector));
  const affirm = (claim: TrustClaim, value: number) => {
    if (!judged.has(claim)) setWorse(vector, claim, value);
  };
  for (const o of outcomes) {
    if (o.status !== 'pass') continue;
    const m = passMappingFor(o.id);
    if (m) affirm(m.claim, m.value);
  }
  // an identity verified to an anchor
  if (layer.anchor) affirm('instance-identity', II.TRUSTWORTHY);
  if (layer.kind === 'physical' && vector['instance-identity'] === II.TRUSTWORTHY) affirm('hardware', HW.GENUINE);
  if (vector.executables === EXE.APPROVED_BOOT && vector['file-system'] === FS.APPROVED) vector.executables = EXE.APPROVED_RUNTIME;
  // claims in AR4SI order, so equal vectors are equal text
  const ordered: TrustVector = {};
  for (const claim of TRUST_CLAIMS) if (vector[claim] !== undefined) ordered[claim] = vector[claim];
  return ordered;
}

/** The mapping as README tables (a test keeps README.md in step with this module). */
export function earMappingMarkdown(): string {
  const list = (xs: readonly string[]) => xs.map((x) => `\`${x}\``).join(', ');
  const lines = ['| failing codes (first match wins; `*` = prefix) | claim | value | meaning |', '|---|---|---:|---|'];
  for (const m of CODE_MAPPINGS) lines.push(`| ${list(m.codes)} | ${m.claim} | ${m.value} | ${m.meaning} |`);
  lines.push('', '| passing rules and checks (id without `layer[N].` and `@ruleSet`) | claim | value | meaning |', '|---|---|---:|---|');
  for (const m of PASS_MAPPINGS) lines.push(`| ${list(m.ids)} | ${m.claim} | ${m.value} | ${m.meaning} |`);
  lines.push('', '| a warning on | sets | value |', '|---|---|---:|');
  for (const claim of TRUST_CLAIMS) {
    const [to, value] = WARN_VALUES[claim];
    lines.push(`| ${claim} | ${to} | ${value} |`);
  }
  return lines.join('\n');
}
