// The input of policy evaluation: facts about each attested layer that the
// deep-attestation walker has ALREADY VERIFIED (quote signature and nonce, AK
// certificate path to a trust anchor, event log and IMA replay against the
// quoted PCRs, binding between layers). The policy module never sees wire
// formats or unverified data; the walker maps its results into this model.
//
// Consequence: the cryptographic and certificate-path checks are preconditions
// of a LayerFacts existing at all. A layer whose quote or certificate path did
// not verify is not trusted whatever the policy says, and the walker reports it
// without calling the evaluator for it.
//
// Conventions: hex is lowercase without 0x; digests are plain hex (no
// "sha256:" prefix); bigint where the TPM field is 64-bit.

import type { HashName } from '../tpm/constants.js';
import type { PcrValues } from '../tpm/pcrs.js';

/**
 * What the verified AK certificate's TrustedLayer extension (protocol §4)
 * says about the TPM that signed this layer's quote. `unspecified`: the
 * certificate has no such extension, which says nothing about virtualization.
 */
export type LayerKind = 'virtual' | 'physical' | 'unspecified';

/** The trust anchor at which the AK certificate path of a layer verified. */
export interface TrustAnchorFacts {
  /** the label the trust store gives this anchor, e.g. "acme-vplatform-ca" */
  label: string;
  /** the anchor certificate's subject (RFC 4514 string) */
  subject: string;
  /**
   * what the trust store configured this anchor to vouch for, e.g.
   * "tpm-vendor" (a TPM manufacturer's EK CA), "ak-ca" (a privacy CA issuing
   * AK certificates), "vplatform-ca" (a vPlatform CA issuing vTPM certificates)
   */
  vouchesFor: string;
  /**
   * every label the trust store gives this anchor (an anchor given under several labels has them all):
   * anchor rules and selectors match any of them. Absent in older facts files: label and vouchesFor.
   */
  labels?: string[];
}

/** The labels `anchors` rules and selectors match (facts without `labels`: the label). */
export function anchorLabelsOf(anchor: TrustAnchorFacts): string[] {
  return anchor.labels ?? [anchor.label];
}

/** The roles `anchorRoles` rules match (facts without `labels`: vouchesFor; with them, a label is a role too). */
export function anchorRolesOf(anchor: TrustAnchorFacts): string[] {
  return anchor.labels ?? [anchor.vouchesFor];
}

/** Facts from the layer's AK certificate, whose path to `anchor` verified. */
export interface CertificateFacts {
  /** AK certificate subject, RFC 4514 string; may be "" (TCG certificates often carry an empty subject) */
  subject: string;
  /** AK certificate issuer, RFC 4514 string */
  issuer: string;
  anchor: TrustAnchorFacts;
  /** dotted OIDs of the AK certificate's extended key usages, e.g. "2.23.133.8.3" (tcg-kp-AIKCertificate) */
  ekus: string[];
  /**
   * TPM attributes from the verified certificate (TCG subject alternative
   * name: tcg-at-tpmManufacturer/Model/Version), as written there.
   * manufacturer is the TCG vendor id, normally "id:XXXXXXXX" (8 hex digits).
   */
  tcg?: { manufacturer?: string; model?: string; version?: string };
}

/** Facts from the layer's quote (TPMS_ATTEST), whose signature and nonce verified. */
export interface QuoteFacts {
  /** TPMS_CLOCK_INFO.clock: milliseconds the TPM has run since its clock was last set */
  clock: bigint;
  /** TPMS_CLOCK_INFO.resetCount */
  resetCount: number;
  /** TPMS_CLOCK_INFO.restartCount */
  restartCount: number;
  /** TPMS_CLOCK_INFO.safe: false when the clock may have gone back */
  safe: boolean;
  /** TPMS_ATTEST.firmwareVersion (vendor-specific 64-bit value) */
  firmwareVersion: bigint;
  /** the PCR values whose digest the quote signed (only the selected PCRs) */
  pcrs: PcrValues;
}

/** One boot application measured into the event log (EV_EFI_BOOT_SERVICES_APPLICATION). */
export interface BootApplicationFacts {
  /** the PCR it was measured into (normally 4) */
  pcr: number;
  /** the event's digests per bank, hex: { sha256: "…" } */
  digests: Partial<Record<HashName, string>>;
  /** the device path as text, informational only (never used to decide) */
  path?: string;
}

/**
 * Facts taken from a TCG PC Client event log. Only meaningful when
 * `replayMatched`: the policy treats the contents of a log that did not
 * replay to the quoted PCRs as untrusted and fails every rule reading them.
 */
export interface EventLogFacts {
  /** true when replaying the log gave exactly the quoted values of every PCR the log touches */
  replayMatched: boolean;
  /** the PCR values the replay computed (all banks the log carries) */
  replayedPcrs: PcrValues;
  /** SecureBoot variable measured as 1 (true), 0 (false); undefined when the log does not measure it */
  secureBoot?: boolean;
  bootApplications: BootApplicationFacts[];
  /** kernel command lines measured (PCR 8/9/12, as the walker extracts them), decoded to text */
  kernelCmdlines: string[];
  /** verified PCR 8 and 12 events whose text is not attested: a command line could hide in one (absent: none) */
  kernelCmdlinesUnattested?: number;
  /** digests of the other verified events whose digest is not their data's hash (blobs, relabelled images): forbidden hashes are looked for here too */
  unboundDigests?: BootApplicationFacts[];
  /** EV_S_CRTM_VERSION contents as text (firmware version strings) */
  crtmVersions: string[];
  /** the dbx measured in PCR 7: SHA-256 hashes of forbidden images, and SHA-256 of forbidden certificates (DER) */
  dbx: { sha256: string[]; certSha256: string[] };
  /** ids of firmware workarounds the replay needed to match (see eventlog/workarounds) */
  quirksApplied: string[];
}

/** One IMA measurement-list entry. */
export interface ImaEntryFacts {
  /** the file path (or, for ima-buf, the buffer's name, e.g. ".ima" or "boot_aggregate") */
  path: string;
  /** the file digest, lowercase hex, without the "algo:" prefix */
  digest: string;
  /** the file digest's algorithm as IMA names it: "sha1", "sha256", ... */
  algo: string;
  /**
   * what the digest is of (ima-ngv2, ima-sigv2): "ima", a hash of the file's content, or "verity", its fs-verity
   * digest (a Merkle tree root's hash: another value for the same content). Absent: a content hash.
   */
  digestType?: string;
  /** the template: "ima", "ima-ng", "ima-sig", "ima-buf", ... (a label: the template hash does not cover it) */
  template: string;
  /** false: the entry contradicts its template name (an "ima-buf" whose digest is not its buffer's hash) */
  templateAttested?: boolean;
  /**
   * true: the kernel's boot_aggregate, the list's entry 0 (a hash of TPM PCRs in the algorithm of a bank,
   * SHA-1 on kernels before 5.8 or without a bank of IMA's algorithm), not a file's digest
   */
  bootAggregate?: boolean;
}

/** Facts from the IMA measurement list. Only meaningful when `replayMatched` (as for the event log). */
export interface ImaFacts {
  /** true when the list's template hashes replay to the quoted IMA PCR (10) */
  replayMatched: boolean;
  entries: ImaEntryFacts[];
  /**
   * Verified violation entries (all-zero template hash): the file was open for write while it was measured
   * (ToMToU, open-writers), so what was read may not be what the list says. No digest, and the path (when the
   * template has one) is the attester's claim: IMA extends all ones for a violation, whatever its template
   * data, so only how many there were is attested. Absent in facts from before violations were given: none.
   */
  violations?: ImaViolationFacts[];
  /**
   * Verified entries (not violations) whose file name or digest could not be read: a template this verifier does
   * not know. The template name is not in the template hash, so anyone who rewrites a binary list can give any
   * entry such a name: these are measured files that cannot be checked, and the allow-list and denied rules fail
   * on them. Absent: none.
   */
  undecoded?: ImaUndecodedFacts[];
}

export interface ImaUndecodedFacts {
  /** the entry's index in the list */
  entry: number;
  /** the template name the list gives it (a label, not attested) */
  template: string;
}

export interface ImaViolationFacts {
  /** the entry's index in the list */
  entry: number;
  /** the path its template data names: NOT attested (shown, never decided on) */
  path?: string;
}

/**
 * The result of a binding check between this layer and the layer ABOVE it
 * (position - 1). For the top layer (position 0) every field is
 * 'not-applicable'.
 *   pass: checked and holds; fail: checked and does not hold;
 *   not-checked: the walker could not or did not check (e.g. no vplatformLog);
 *   not-applicable: nothing to check (only meaningful for the top layer: below
 *   it every binding applies in protocol v1, so a policy that requires a
 *   binding treats not-applicable there like not-checked, as a failure).
 */
export type BindingStatus = 'pass' | 'fail' | 'not-checked' | 'not-applicable';

export interface BindingFacts {
  /** protocol §3: this layer's quote carried N_k derived from the quote above */
  nonceChain: BindingStatus;
  /** protocol §5: the layer above's instanceId is hosted now by this layer's vPlatform table */
  hostedInstance: BindingStatus;
  /** protocol §5.1: the issuer of the layer above's AK certificate is recorded as an `issuer` of this layer */
  issuer: BindingStatus;
}

/** One attested layer, everything in it already verified by the walker. */
export interface LayerFacts {
  /** 0 = the VM at the top, then downward (1 = its VMM, ...) */
  position: number;
  /** where the evidence came from (agent or deep attestation service base URI) */
  uri: string;
  /** from the verified AK certificate's TrustedLayer extension */
  kind: LayerKind;
  /** the vTPM instance id from the verified certificate (64 hex), when kind is virtual */
  instanceId?: string;
  /** the AK's TPM object Name (hex, nameAlg prefix included), when known */
  akName?: string;
  certificate: CertificateFacts;
  quote: QuoteFacts;
  /** absent when the layer sent no event log */
  eventLog?: EventLogFacts;
  /** absent when the layer sent no IMA log */
  ima?: ImaFacts;
  /** checks binding this layer to the one above it */
  binding: BindingFacts;
}

/** A finding of the state store (#7) about a layer's vTPM history (protocol §7). */
export interface Finding {
  /** clone: two copies of one vTPM (interleaved histories, hosted by two platforms); rollback: state restored or clock went back */
  category: 'clone' | 'rollback';
  /** the state store's own code, e.g. "STATE_RESET_COUNT_DECREASED" */
  code: string;
  /** the position of the layer it concerns */
  layer: number;
  message: string;
}

/** What the walker learnt about a migration it reacted to (protocol §6). */
export interface MigrationFacts {
  /** deep attestation URI of the source platform */
  from: string;
  /** deep attestation URI of the destination */
  to: string;
  /**
   * migrated-out: the source was attested and its vPlatform table no longer hosts the instance;
   * still-hosted: it still hosts it (a duplicate was left behind);
   * not-migrated-out: it was attested but shows no migrate-out (it never hosted the instance, or destroyed it);
   * not-checked: the source was not attested (not reachable or not asked).
   */
  sourceCheck: 'migrated-out' | 'still-hosted' | 'not-migrated-out' | 'not-checked';
}

export interface EvaluationInput {
  /** every attested layer, top (position 0) first, positions 0..n-1 in order */
  layers: LayerFacts[];
  /** the time of the decision (the evaluator never reads a clock itself) */
  now: Date;
  /** when the evidence was collected, for an offline bundle; absent for live evidence */
  evidenceTime?: Date;
  /** clone/rollback findings from the state store */
  findings?: Finding[];
  /** present when this attestation was triggered by a migration notification */
  migration?: MigrationFacts;
}

// The kind of the bottom layer decides where the walk ended: the walker
// follows `deepAttestation` of every virtual layer, so a virtual bottom layer
// means the chain stopped before reaching a root (depth limit, or a failure
// the walker reports itself). There is no separate field for it, so the two
// can never disagree.
export function walkEndedAt(input: EvaluationInput): LayerKind | undefined {
  return input.layers[input.layers.length - 1]?.kind;
}
