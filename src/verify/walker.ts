// The deep-attestation walker: attests the top layer, learns from its VERIFIED
// AK certificate whether it is virtual and where the layer below can be asked,
// attests that layer over the chained nonce, and so on down to a physical TPM
// (protocol.md sections 2-5). Then it decides per layer against the policy.
//
// It is a pure core over an evidence source: the same code verifies live
// evidence (a source that fetches over HTTP) and a saved bundle (a source that
// replays what was saved). It never reads a clock or a file itself.
//
// Order per layer, each step only on what the previous ones verified:
//   1. fetch evidence for nonce N_k (transport errors: the layer is unreachable)
//   2. AK certificate path to a trust anchor (nothing from it is used before this)
//   3. quote: signature with the certified key, magic, type, nonce N_k, PCR digest
//   4. logs (firmware, IMA, vPlatform table) replayed against the quoted PCRs
//   5. binding of the layer above to this one: nonce chain, hosted instance, issuer
//   6. the verified TrustedLayer extension says where to go next (verify before follow)
// Malformed evidence is the attester's fault, never the user's: any typed
// input error raised while processing a layer's evidence makes that layer
// not trusted (exit 1), never "bad input" (exit 2).

import { VerificationError, VtpmError, asVtpmError, type CodeTable } from '../errors.js';
import { verifyLogsAgainstQuote, type LogsToVerify, type LogsVerification } from '../eventlog/index.js';
import { evaluatePolicy, pcrSelectionFor, type EvaluationInput, type Finding, type LayerFacts, type MigrationFacts, type Policy, type PolicyEvaluation } from '../policy/index.js';
import { HASH_ALGS, type HashName } from '../tpm/constants.js';
import type { PcrValues } from '../tpm/pcrs.js';
import type { LayerEvidence } from '../transport/evidence.js';
import type { BodyHold } from '../transport/response-budget.js';
import type { PcrSelection as PcrRequest } from '../transport/evidence-request.js';
import { formatPcrSelection, type PcrSelection } from '../tpm/pcr-selection.js';
import { toHex } from '../util/bytes.js';
import { validateChain, validateChainAsync, type PathValidation } from '../x509/validate.js';
import { layerInfo, type VerifiedLayerInfo } from '../x509/layer-info.js';
import { HARDWARE_TPM_LABELS, VPLATFORM_CA_LABEL, type TrustStore } from '../x509/trust-store.js';
import type { ValidationCache } from '../x509/cache.js';
import type { Crl } from '../x509/crl.js';
import type { Certificate } from '../x509/certificate.js';
import { akFromKeyObject, akFromSpki, attestationKeyId, type AttestationKey } from './ak.js';
import { fail, pass, type CheckResult } from './checks.js';
import { nextNonce, type TopNonce } from './nonce-chain.js';
import { toLayerFacts } from './facts.js';
import { verifyQuote, verifyQuoteAsync, type QuoteVerified } from './quote.js';
import { decideVerdict, errorFromCheck, type AttestationResult, type CertificateSummary, type ErrorSummary, type LayerResult, type LayerStatus, type RuleOutcome } from './result.js';
import { checkInstanceHosted, issuersListed, verifyVplatformLog, VPLATFORM_PCR, type VerifiedVplatformTable } from './vplatform.js';
import type { VplatformLogCache } from './vplatform-cache.js';
import type { LogVerificationCache } from './log-cache.js';
import type { ParseGate, ParsePass } from './parse-gate.js';
import type { PathValidationMemo } from '../x509/path-memo.js';

export const WALK_CODES = {
  WALK_TOO_DEEP: { kind: 'verification', summary: 'the chain of layers is deeper than --max-depth allows (a deepAttestation chain that never ends)' },
  WALK_LOOP: { kind: 'verification', summary: 'a layer URI, AK key or vTPM instance id appears twice in one walk: the chain of layers loops' },
  WALK_ENDS_UNDER_VPLATFORM_CA: { kind: 'verification', summary: 'a layer that ends the walk (certified physical, or with no TrustedLayer extension) chains to an anchor labelled vplatform-ca and no hardware label: a host could certify its own "hardware"' },
  WALK_ENDS_UNDER_UNLABELLED_ANCHOR: {
    kind: 'verification',
    summary: 'warning: a layer that ends the walk chains to an anchor with no label saying whether it vouches for hardware TPMs (ek-ca, ak-ca, tpm-vendor) or virtual ones (vplatform-ca), so WALK_ENDS_UNDER_VPLATFORM_CA cannot be checked',
  },
  BINDING_NO_VPLATFORM_LOG: { kind: 'verification', summary: 'the layer below sent no vplatformLog, so it cannot show that it hosts the upper instance' },
  BINDING_NO_INSTANCE_ID: { kind: 'verification', summary: 'a virtual layer\'s verified AK certificate names no instanceId to bind to the layer below' },
  BINDING_NONCE_CHAIN: { kind: 'verification', summary: 'the lower quote does not carry the nonce chained from the quote above (protocol section 3)' },
  BINDING_ISSUER: { kind: 'verification', summary: 'the CA that issued the upper AK certificate is not recorded as an issuer by the layer below (protocol section 5.1)' },
  TARGET_INSTANCE_MISMATCH: { kind: 'verification', summary: "the top layer's verified AK certificate names another vTPM instance (or none) than the one expected at that URL (inventory instanceId, --instance): another VM answers there, through a relay or a wrong address" },
} as const satisfies CodeTable;

/** What the `assess` hook hands back to the walker before the policy decides. */
export interface AssessOutcome {
  findings: Finding[];
  checks: CheckResult[];
  migration?: MigrationFacts;
}

/** What the walker asks its evidence source for. */
export interface LayerRequest {
  position: number;
  /** base URI of the evidence endpoint */
  uri: string;
  nonce: Buffer;
  pcrs: PcrRequest[];
  /** the upper layer's instanceId being followed down (informational for the service) */
  instance?: Buffer;
  /**
   * set when large logs wait their turn at a parse gate: a source that read the evidence under a response budget
   * hands its body's hold over here, and the walker releases it once the layer is admitted (or gives up waiting)
   */
  holdUntilParsed?: (held: BodyHold) => void;
}

/** Fetches one layer's evidence; throws TransportError when it cannot, EVIDENCE_* errors when it is malformed. */
export type EvidenceSource = (request: LayerRequest) => Promise<LayerEvidence>;

export interface WalkOptions {
  /** the top layer's evidence endpoint base URI */
  target: string;
  topNonce: TopNonce;
  trust: TrustStore;
  cache?: ValidationCache;
  crls?: readonly Crl[];
  policy: Policy;
  /** how the policy is named in results */
  policySource: { source: string; builtin: boolean };
  /** certificate validation time: now for live evidence, the evidence time for a bundle */
  at: Date;
  /** decision time (freshness rules); defaults to `at` */
  now?: Date;
  /** the time an offline bundle's evidence was collected */
  evidenceTime?: Date;
  /** hard limit on layers walked (default 8) */
  maxDepth?: number;
  /**
   * The vTPM instance the challenger means to attest at `target` (an inventory's instanceId,
   * --instance). Without it a relay at the target URL that forwards another healthy VM's live
   * evidence verifies in every respect: nothing in the evidence names the URL it was asked at.
   */
  expectInstanceId?: Uint8Array;
  /**
   * Called with the top layer's instance id (if its certificate names one) and AK once its checks are done
   * (`clean`: none failed): a fleet audit's registry of the vTPMs its VMs answered as, which returns the
   * check to show (failing when another VM of the audit answers as the same vTPM).
   */
  claimTopInstance?: (claim: { instanceId: string | undefined; akKeyId: string; clean: boolean }) => CheckResult | undefined;
  /** findings from the state store to hand to the policy (clone/rollback) */
  findings?: Finding[];
  /**
   * Called once the walk is over and before the policy is evaluated, with
   * every layer whose evidence verified: the place to record clock readings
   * in a state store and return its rollback/clone findings (and checks to
   * show on the result). The only I/O the walker lets in. A watcher that
   * reacted to a migration notification also returns what it learnt about
   * the source platform (`migration`), for the policy's migration rules.
   */
  assess?: (verified: readonly VerifiedLayer[], layers: readonly LayerResult[]) => Promise<AssessOutcome>;
  /** replays only what is new in a host's vplatformLog (fleet audits attest many VMs per host) */
  vplatformCache?: VplatformLogCache;
  /** reuses the replay of a log already verified against the same quoted PCR values (fleet audits) */
  logCache?: LogVerificationCache;
  /** reuses a valid AK certificate path validation of the same chain while no validity boundary is crossed (fleet audits) */
  pathMemo?: PathValidationMemo;
  /** bounds how many large logs concurrent walks parse at once (fleet audits: parse-gate.ts) */
  parseGate?: ParseGate;
  /**
   * ParseImaOptions.checkMemory for every layer's IMA list (the CLI's imaMemoryCheck): a list the heap cannot hold
   * is refused with a typed IMA_TOO_LARGE (the layer is not trusted) before V8 ends the process out of memory.
   */
  imaCheckMemory?: LogsToVerify['imaCheckMemory'];
  /** likewise for every layer's firmware event log (EVENTLOG_TOO_LARGE, cap memory) */
  eventLogCheckMemory?: LogsToVerify['eventLogCheckMemory'];
  /**
   * Ends a wait at the parse gate with its reason (a TransportError: the audit's per-VM deadline): the layer is
   * then unreachable, as when its request ran out of time.
   */
  parseWaitSignal?: AbortSignal;
  /**
   * Where the quote's and the AK certificate's public-key operations run:
   * 'inline' (default) on the event loop, or 'thread-pool' on libuv's
   * threads, same checks and outcomes. The pool pays off only when other
   * walks have work for the event loop meanwhile (a fleet audit: 10,000 VMs
   * went from ~340 to ~375 VMs/s); one walk alone would just wait for each
   * hand-off (a single attestation in process took 2.0 ms instead of 1.1).
   */
  signatures?: 'inline' | 'thread-pool';
  /** monotonic milliseconds, for elapsed times (default performance.now) */
  clock?: () => number;
  /** wall-clock time for the result's timestamps (default new Date()) */
  wallClock?: () => Date;
}

/** One layer as the walk collected it: what a saved bundle keeps. */
export interface CollectedLayer {
  position: number;
  uri: string;
  nonce: Buffer;
  instance?: Buffer;
  pcrs: PcrRequest[];
  evidence?: LayerEvidence;
}

/** A layer whose AK path, quote and logs were checked (whatever their outcome). */
export interface VerifiedLayer {
  position: number;
  uri: string;
  nonce: Buffer;
  message: Uint8Array;
  info: VerifiedLayerInfo;
  target: Certificate;
  ak: AttestationKey;
  quote: QuoteVerified;
  logs: LogsVerification | null;
  vplatform: VerifiedVplatformTable | null;
  akKeyId: string;
}

export interface WalkOutcome {
  result: AttestationResult;
  /** what the policy was evaluated on */
  facts: LayerFacts[];
  evaluation: PolicyEvaluation | null;
  collected: CollectedLayer[];
  verified: VerifiedLayer[];
}

export const DEFAULT_MAX_DEPTH = 8;

const ALL_PCRS = Array.from({ length: 24 }, (_, i) => i);

/**
 * The PCR selection asked of every layer: all 24 PCRs of sha256 (so every PCR
 * a log touches can be replayed against the quote, and PCR 23 carries the
 * vPlatform table) plus whatever other banks the policy reads.
 */
const pcrRequests = new WeakMap<Policy, Map<number, PcrRequest[]>>();

/** layerPcrRequest of what the policy reads at this position, computed once per policy and position. */
function pcrRequestFor(policy: Policy, position: number): PcrRequest[] {
  let byPosition = pcrRequests.get(policy);
  if (!byPosition) pcrRequests.set(policy, (byPosition = new Map()));
  let request = byPosition.get(position);
  if (!request) byPosition.set(position, (request = layerPcrRequest(pcrSelectionFor(policy, position))));
  return request;
}

/** The bank every layer is asked for in full (all 24 PCRs): a quote without it is never taken. */
const REQUIRED_BANK: HashName = 'sha256';

/**
 * The PCRs of `asked` that the signed selection does not cover, by bank. A bank
 * other than sha256 that the quote leaves out altogether is not counted: a TPM
 * quotes only the banks it has allocated (it filters the rest out of the
 * selection), and the request is the union of what every rule set that could
 * select the layer reads; a rule that reads such a bank fails on its own
 * (POLICY_PCR_NOT_QUOTED, a forbidden list it cannot check). A bank the quote
 * carries must cover every PCR asked of it.
 */
export function unquotedPcrs(asked: readonly PcrRequest[], selection: PcrSelection): PcrRequest[] {
  const quoted = new Map(selection.banks.map((b) => [b.hash.name, new Set(b.pcrs)]));
  const out: PcrRequest[] = [];
  for (const r of asked) {
    const have = quoted.get(r.bank);
    if (!have?.size && r.bank !== REQUIRED_BANK) continue;
    const missing = r.pcrs.filter((p) => !have?.has(p));
    if (missing.length) out.push({ bank: r.bank, pcrs: missing });
  }
  return out;
}

export function layerPcrRequest(policyPcrs: Map<HashName, Set<number>>): PcrRequest[] {
  const banks = new Map<HashName, Set<number>>([['sha256', new Set(ALL_PCRS)]]);
  for (const [bank, pcrs] of policyPcrs) {
    const s = banks.get(bank) ?? new Set<number>();
    for (const p of pcrs) s.add(p);
    banks.set(bank, s);
  }
  const order = new Map(HASH_ALGS.map((h, i) => [h.name, i]));
  return [...banks.entries()]
    .sort((a, b) => (order.get(a[0]) ?? 99) - (order.get(b[0]) ?? 99))
    .map(([bank, pcrs]) => ({ bank, pcrs: [...pcrs].sort((x, y) => x - y) }));
}

function errorSummary(err: VtpmError): ErrorSummary {
  return { code: err.code, message: err.message, details: err.details };
}

function certSummary(c: Certificate): CertificateSummary {
  return {
    subject: c.subject.text,
    issuer: c.issuer.text,
    serial: c.serial,
    notBefore: new Date(c.notBefore).toISOString(),
    notAfter: new Date(c.notAfter).toISOString(),
    sha256: c.fingerprint,
  };
}

/** What makes two layer URIs the same layer: scheme, host, path without trailing slashes, and query. */
export function normalizeUri(uri: string): string {
  try {
    const u = new URL(uri);
    // the query is part of where a layer is: one gateway may serve layers told apart by it
    return `${u.protocol}//${u.host.toLowerCase()}${u.pathname.replace(/\/+$/, '')}${u.search}`;
  } catch {
    return uri;
  }
}

function clockInfoJson(q: QuoteVerified): LayerResult['clockInfo'] {
  const c = q.clockInfo;
  return { clock: c.clock.toString(), resetCount: c.resetCount, restartCount: c.restartCount, safe: c.safe };
}

function akForCertificate(info: VerifiedLayerInfo): AttestationKey {
  return info.publicKey ? akFromKeyObject(info.publicKey, 'certificate') : akFromSpki(info.spki);
}

/** A quote's verified PCR values, or an empty map. */
function quotedPcrs(q: QuoteVerified): PcrValues {
  return q.pcrs ?? new Map();
}

export async function walk(options: WalkOptions, source: EvidenceSource): Promise<WalkOutcome> {
  const pass = options.parseGate?.pass();
  try {
    return await walkLayers(options, source, pass);
  } finally {
    // the parsed logs are garbage once the walk has its result
    pass?.release();
  }
}

/**
 * What a layer's logs weigh at the parse gate: the firmware log's and IMA list's sizes. Not the vPlatform table:
 * it came parsed with the evidence, replaying it builds about as much again (not ten times), and an audit's walks
 * through one host share its replay (weighed anyway, a 20,000-entry table made 27 of 32 walks wait, 14% slower).
 */
function logBytesOf(evidence: LayerEvidence): number {
  return (evidence.eventLog?.length ?? 0) + (evidence.imaLog?.length ?? 0);
}

async function walkLayers(options: WalkOptions, source: EvidenceSource, parsePass: ParsePass | undefined): Promise<WalkOutcome> {
  const clock = options.clock ?? (() => performance.now());
  const wall = options.wallClock ?? (() => new Date());
  const startedAt = wall();
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const policy = options.policy;
  const issuerRequirement = policy.spec.chain.bindings.issuer;

  const layers: LayerResult[] = [];
  const collected: CollectedLayer[] = [];
  const verified: VerifiedLayer[] = [];
  const bindings: LayerFacts['binding'][] = [];
  const seenUris = new Set<string>();
  const seenKeys = new Set<string>();
  /** instance id (hex) -> the position of the layer certified as it */
  const seenInstances = new Map<string, number>();

  let uri: string | null = options.target;
  let nonce: Buffer = options.topNonce.nonce;
  let instance: Buffer | undefined;
  let upper: VerifiedLayer | null = null;
  let stoppedBy: ErrorSummary | undefined;


  for (let position = 0; uri !== null; position++) {
    const t0 = clock();
    const checks: CheckResult[] = [];
    const layer: LayerResult = { position, uri, status: 'not-trusted', nonce: toHex(nonce), checks, rules: [] };
    layers.push(layer);
    const stop = (summary: ErrorSummary, status: LayerStatus = 'not-trusted'): void => {
      layer.status = status;
      layer.error ??= summary;
      stoppedBy ??= summary;
    };

    if (position >= maxDepth) {
      const e = new VerificationError('WALK_TOO_DEEP', `the chain of layers goes deeper than ${maxDepth} layers (next: ${uri})`, { maxDepth, next: uri });
      checks.push(fail('walk.depth', e.code, e.message, { expected: `<= ${maxDepth} layers`, actual: position + 1 }));
      stop(errorSummary(e));
      break;
    }
    const uriKey = normalizeUri(uri);
    if (seenUris.has(uriKey)) {
      const e = new VerificationError('WALK_LOOP', `layer ${position} would be ${uri} again: the chain of layers loops`, { uri });
      checks.push(fail('walk.loop', e.code, e.message, { actual: uri }));
      stop(errorSummary(e));
      break;
    }
    seenUris.add(uriKey);

    const pcrs = pcrRequestFor(policy, position);
    // the body's bytes stay counted against the response budget while the layer waits at the gate
    let held: BodyHold | undefined;
    const request: LayerRequest = {
      position,
      uri,
      nonce,
      pcrs,
      ...(instance ? { instance } : {}),
      ...(parsePass ? { holdUntilParsed: (h: BodyHold) => void (held = h) } : {}),
    };
    const entry: CollectedLayer = { position, uri, nonce, pcrs, ...(instance ? { instance } : {}) };
    collected.push(entry);

    // 1. fetch
    let evidence: LayerEvidence;
    try {
      evidence = await source(request);
      entry.evidence = evidence;
    } catch (err) {
      const e = asVtpmError(err);
      if (e.kind === 'internal') throw e;
      checks.push(fail('evidence.fetch', e.code, e.message));
      stop(errorSummary(e), e.kind === 'transport' ? 'unreachable' : 'not-trusted');
      layer.elapsedMs = clock() - t0;
      break;
    }

    // large logs wait their turn: parsed, they take about ten times their size until the walk ends; meanwhile
    // the body read stays counted against the response budget, which may drop it (it holds the most)
    if (parsePass) {
      const deadline = options.parseWaitSignal;
      const dropped = (held as BodyHold | undefined)?.dropped;
      const ended = (err: unknown): boolean => (deadline?.aborted === true && err === deadline.reason) || (dropped?.aborted === true && err === dropped.reason);
      try {
        if (dropped?.aborted) throw dropped.reason;
        await parsePass.admit(logBytesOf(evidence), deadline, dropped);
      } catch (err) {
        // the VM's deadline came while the layer waited its turn, or the budget dropped its body (a stop's refusal
        // still ends the walk)
        if (!ended(err)) throw err;
        const e = asVtpmError(err);
        checks.push(fail('evidence.fetch', e.code, e.message));
        stop(errorSummary(e), 'unreachable');
        layer.elapsedMs = clock() - t0;
        break;
      } finally {
        (held as BodyHold | undefined)?.release();
      }
    }

    let current: VerifiedLayer | null = null;
    try {
      current = await verifyLayer(position, uri, nonce, pcrs, evidence, options, checks, layer);
    } catch (err) {
      const e = asVtpmError(err);
      if (e.kind === 'internal') throw e;
      // Malformed evidence (a certificate, a log) is the attester's: the layer is not trusted.
      checks.push(fail('evidence.parse', e.code, e.message));
      stop(errorSummary(e));
    }
    if (!current) {
      const failed = checks.find((c) => c.status === 'fail');
      if (failed) stop(errorFromCheck(failed));
      layer.elapsedMs = clock() - t0;
      break;
    }
    // Keys seen twice: a lower layer answering with an upper layer's AK is a loop too. Checked before the
    // layer counts as verified: every verified layer has a binding to the one above (the policy's facts).
    if (seenKeys.has(current.akKeyId)) {
      const e = new VerificationError('WALK_LOOP', `layer ${position} quotes with the same AK as a layer above it: the chain of layers loops`, { akKeyId: current.akKeyId });
      checks.push(fail('walk.loop', e.code, e.message, { actual: current.akKeyId }));
      stop(errorSummary(e));
      layer.elapsedMs = clock() - t0;
      break;
    }
    // One vTPM instance twice in one chain (a VM certified under its own VMM's instance id): no platform hosts
    // itself, and protocol section 6 calls an instance on two platforms a clone.
    const instanceHex = current.info.layer?.instanceId ? toHex(current.info.layer.instanceId) : undefined;
    if (instanceHex !== undefined && seenInstances.has(instanceHex)) {
      const e = new VerificationError('WALK_LOOP', `layer ${position} is certified as vTPM instance ${instanceHex.slice(0, 16)}…, as layer ${seenInstances.get(instanceHex)} above it is: the chain of layers loops`, { instanceId: instanceHex, alsoAt: seenInstances.get(instanceHex) });
      checks.push(fail('walk.loop', e.code, e.message, { actual: instanceHex }));
      stop(errorSummary(e));
      layer.elapsedMs = clock() - t0;
      break;
    }
    if (instanceHex !== undefined) seenInstances.set(instanceHex, position);
    seenKeys.add(current.akKeyId);
    verified.push(current);

    // 5. binding of the layer above to this one
    bindings.push(bindLayers(upper, current, checks, issuerRequirement));

    // 6. where next: only from the verified extension
    const ext = current.info.layer;
    // A vPlatform CA vouches for virtual TPMs, and a host holds its own (protocol 5.1): a layer that ends the walk
    // (certified physical, or with no TrustedLayer extension) under such an anchor could be any key the host made,
    // and the walk would stop above the real hardware. Other labels of the same anchor do not change what it is,
    // unless one says it vouches for hardware TPMs too.
    const anchorLabels = current.info.anchorLabels;
    const endsWalk = ext === null || ext === undefined || ext.kind === 'physical';
    if (endsWalk && anchorLabels.includes(VPLATFORM_CA_LABEL) && !anchorLabels.some((l) => HARDWARE_TPM_LABELS.has(l))) {
      checks.push(
        fail('layer.anchor', 'WALK_ENDS_UNDER_VPLATFORM_CA', `layer ${position} ends the walk (${ext ? 'certified physical' : 'its certificate has no TrustedLayer extension'}), but its AK certificate chains to an anchor labelled ${VPLATFORM_CA_LABEL}, which vouches for virtual TPMs`, {
          expected: `an anchor for hardware TPMs (${[...HARDWARE_TPM_LABELS].join(', ')})`,
          actual: `${current.info.anchorSubject} (${anchorLabels.join(', ')})`,
        }),
      );
    } else if (endsWalk && !anchorLabels.some((l) => l === VPLATFORM_CA_LABEL || HARDWARE_TPM_LABELS.has(l))) {
      // Unlabelled (`--trust root.pem`), the vPlatform root looks like any other anchor: a host's per-host vPlatform
      // CA could certify a key of its own as "hardware" and end the walk above the real TPM, and nothing above sees it.
      checks.push({
        id: 'layer.anchor',
        status: 'warn',
        code: 'WALK_ENDS_UNDER_UNLABELLED_ANCHOR',
        message: `layer ${position} ends the walk under an anchor with no label saying whether it vouches for hardware TPMs (${[...HARDWARE_TPM_LABELS].join(', ')}) or virtual ones (${VPLATFORM_CA_LABEL}): if it is a vPlatform CA, a host could have certified this key as hardware; label the anchors (--trust ek-ca=PATH, --trust ${VPLATFORM_CA_LABEL}=PATH)`,
        expected: `an anchor labelled ${[...HARDWARE_TPM_LABELS].join(', ')} or ${VPLATFORM_CA_LABEL}`,
        actual: `${current.info.anchorSubject} (${anchorLabels.join(', ')})`,
      });
    }
    layer.kind = ext ? ext.kind : 'unspecified';
    if (ext?.instanceId) layer.instanceId = toHex(ext.instanceId);
    if (ext?.deepAttestation) layer.deepAttestation = ext.deepAttestation;
    if (ext?.migrationService) layer.migrationService = ext.migrationService;
    if (current.vplatform) layer.hostedInstanceCount = current.vplatform.hostedNow.size;
    if (position === 0 && options.expectInstanceId) checks.push(checkTargetInstance(options.expectInstanceId, ext?.instanceId, options.target));
    if (position === 0 && options.claimTopInstance) {
      const claimed = options.claimTopInstance({ instanceId: ext?.instanceId ? toHex(ext.instanceId) : undefined, akKeyId: current.akKeyId, clean: checks.every((c) => c.status !== 'fail') });
      if (claimed) checks.push(claimed);
    }

    const failedHere = checks.find((c) => c.status === 'fail');
    layer.status = failedHere ? 'not-trusted' : 'trusted';
    if (failedHere) {
      layer.error = errorFromCheck(failedHere);
      stoppedBy ??= layer.error;
    }
    layer.elapsedMs = clock() - t0;

    if (ext?.kind === 'virtual') {
      if (!ext.instanceId || !ext.deepAttestation) {
        // The x509 module rejects such an extension; keep the walker honest regardless.
        const e = new VerificationError('BINDING_NO_INSTANCE_ID', `layer ${position} is virtual but its certificate names no instanceId or deepAttestation`, {});
        checks.push(fail('layer.extension', e.code, e.message));
        stop(errorSummary(e));
        break;
      }
      checks.push(pass('layer.extension', `virtual layer (instance ${toHex(ext.instanceId).slice(0, 16)}…): the layer below is asked at ${ext.deepAttestation}`));
      nonce = nextNonce(nonce, current.message);
      instance = Buffer.from(ext.instanceId);
      uri = ext.deepAttestation;
      upper = current;
    } else {
      checks.push(
        pass('layer.extension', ext ? 'physical layer: the walk ends here' : 'the AK certificate has no TrustedLayer extension: the walk ends here (the policy decides what that means)'),
      );
      uri = null;
    }
  }

  // State: clock readings and hosting, before the policy decides.
  const findings: Finding[] = [...(options.findings ?? [])];
  let stateChecks: CheckResult[] | undefined;
  let migration: MigrationFacts | undefined;
  if (options.assess && verified.length > 0) {
    const assessed = await options.assess(verified, layers);
    findings.push(...assessed.findings);
    stateChecks = assessed.checks;
    migration = assessed.migration;
  }

  // Policy over every layer whose evidence verified.
  const facts = verified.map((v, i) => toLayerFacts(v, bindings[i]!));
  const input: EvaluationInput = {
    layers: facts,
    now: options.now ?? options.at,
    ...(options.evidenceTime ? { evidenceTime: options.evidenceTime } : {}),
    ...(findings.length > 0 ? { findings } : {}),
    ...(migration ? { migration } : {}),
  };
  const evaluation = facts.length > 0 ? evaluatePolicy(policy, input) : null;
  const chain: RuleOutcome[] = [];
  if (evaluation) {
    for (const le of evaluation.layers) {
      const lr = layers[le.position];
      if (!lr) continue;
      lr.rules = le.rules.map(toRuleOutcome);
      const failedRule = le.rules.find((r) => r.status === 'fail');
      if (failedRule && lr.status === 'trusted') {
        lr.status = 'not-trusted';
        lr.error = { code: failedRule.code ?? 'POLICY_NOT_TRUSTED', message: failedRule.message, details: { rule: failedRule.id, expected: failedRule.expected, actual: failedRule.actual } };
      }
    }
    chain.push(...evaluation.chain.map(toRuleOutcome));
  }
  // A walk cut short by an unreachable layer, or by a layer whose own evidence did not verify (its kind is
  // then unknown), says nothing about the shape of the chain: its depth and where it ends are unknown, not
  // wrong. That layer's failure decides the verdict. Judged, the chain-end rule said "the walk ended at layer 1,
  // which is virtual" when layer 2 had answered and failed, and, as chain rules count on the VM, put a
  // configuration failure on the VM's own EAR vector.
  const unverified = layers.find((l) => l.position >= verified.length && (l.status === 'unreachable' || l.status === 'not-trusted'));
  if (unverified) {
    const why = unverified.status === 'unreachable' ? 'the walk could not complete' : unjudgedBecause(unverified);
    for (const r of chain) {
      if (r.status === 'fail' && (r.code === 'POLICY_CHAIN_END' || r.code === 'POLICY_CHAIN_DEPTH') && r.id !== 'chain.maxDepth') {
        r.status = 'not-applicable';
        r.message = `not judged: ${why} (${r.message})`;
        delete r.code;
      }
    }
  }

  for (const l of layers) compactPassedChecks(l.checks);
  const { verdict, error, reason } = decideVerdict(layers, chain);
  const result: AttestationResult = {
    target: options.target,
    verdict,
    reason,
    ...(error ? { error } : {}),
    policy: { source: options.policySource.source, id: policy.name, builtin: options.policySource.builtin },
    nonce: toHex(options.topNonce.nonce),
    startedAt: startedAt.toISOString(),
    finishedAt: wall().toISOString(),
    layers,
    chain,
    platformPath: verified.slice(1).map((v) => v.akKeyId),
    ...(stateChecks && stateChecks.length > 0 ? { findings: stateChecks } : {}),
  };
  void stoppedBy;
  return { result, facts, evaluation, collected, verified };
}

/**
 * Why the chain's shape is left unjudged below a layer that did not verify: its evidence failed, or the walk refused
 * it before asking (--max-depth, a URI seen above: no evidence of it was ever fetched, so none "did not verify").
 */
function unjudgedBecause(layer: LayerResult): string {
  const p = layer.position;
  if (layer.checks.some((c) => c.id === 'walk.depth' && c.status === 'fail')) return `the walk stopped at its depth limit before layer ${p}, so where it ends is unknown`;
  if (layer.checks.some((c) => c.id === 'walk.loop' && c.status === 'fail')) return `layer ${p} repeats a layer above it (the chain loops), so it has no end`;
  return `layer ${p}'s evidence did not verify, so where the walk ends is unknown`;
}

/** Steps 2-4 for one layer. Returns null when a check failed that stops the walk. */
async function verifyLayer(position: number, uri: string, nonce: Buffer, asked: readonly PcrRequest[], evidence: LayerEvidence, options: WalkOptions, checks: CheckResult[], layer: LayerResult): Promise<VerifiedLayer | null> {
  const pool = options.signatures === 'thread-pool';
  // 2. the AK certificate path
  // The certified key verifies the quote: a keyUsage that forbids signing fails the path (CHAIN_KEY_USAGE).
  const chainOptions = { at: options.at, requireKeyUsage: 'digitalSignature' as const, ...(options.cache ? { cache: options.cache } : {}), ...(options.crls ? { crls: options.crls } : {}), ...(options.pathMemo ? { memo: options.pathMemo } : {}) };
  const ders = evidence.certificates.map((c) => c.der);
  const path: PathValidation = pool ? await validateChainAsync(ders, options.trust, chainOptions) : validateChain(ders, options.trust, chainOptions);
  checks.push(...path.checks);
  layer.certificatePath = (path.path.length > 0 ? path.path : [path.target]).map(certSummary);
  if (!path.valid) {
    if (!checks.some((c) => c.status === 'fail')) checks.push(fail('certificates.path', path.code, path.message));
    return null;
  }
  const info = layerInfo(path);
  layer.anchor = { label: info.anchorLabels[0] ?? 'unlabelled', subject: info.anchorSubject, vouchesFor: info.anchorLabels.join(',') || 'unlabelled' };
  // 3. the quote, with the certified key
  const ak = akForCertificate(info);
  // the key, not the bytes its certificate encodes it with: one EC key has several encodings (attestationKeyId)
  const akKeyId = attestationKeyId(ak.key);
  layer.akKeyId = akKeyId;
  const quoteInput = { ak, message: evidence.quote.message, signature: evidence.quote.signature, nonce, pcrs: evidence.unverifiedPcrs };
  const q = pool ? await verifyQuoteAsync(quoteInput) : verifyQuote(quoteInput);
  checks.push(...q.checks);
  if (!q.ok) return null;
  // The attester chooses what it quotes: a PCR asked for and left out is unseen by every rule and log replay
  // that reads it (a log's events there would count as unverified rather than fail). A conforming attester
  // quotes what it is asked (protocol section 2), so a quote that does not is not taken.
  // A saved bundle's request is its own (unsigned) word: whatever it says, every walk asks for all of sha256.
  const request = evidence.askedPcrs ? layerPcrRequest(new Map(evidence.askedPcrs.map((r) => [r.bank, new Set(r.pcrs)]))) : asked;
  const unquoted = unquotedPcrs(request, q.selection);
  if (unquoted.length) {
    const label = (r: PcrRequest) => `${r.bank}:${r.pcrs.join(',')}`;
    checks.push(fail('quote.pcr-request', 'QUOTE_PCR_SELECTION_MISMATCH', `the signed quote leaves out PCRs the challenger asked for: ${unquoted.map(label).join(' ')}`, { expected: request.map(label), actual: formatPcrSelection(q.selection) }));
    return null;
  }
  checks.push(pass('quote.pcr-request', 'the signed quote covers every PCR the challenger asked for'));
  layer.clockInfo = clockInfoJson(q);
  layer.firmwareVersion = q.firmwareVersion.toString(16).padStart(16, '0');
  const pcrs = quotedPcrs(q);

  // 4. logs against the quoted PCRs
  let logs: LogsVerification | null = null;
  if (evidence.eventLog || evidence.imaLog) {
    const given = {
      ...(evidence.eventLog ? { eventLog: evidence.eventLog } : {}),
      ...(evidence.imaLog ? { ima: Buffer.from(evidence.imaLog, 'utf8') } : {}),
      ...(evidence.imaLog && options.imaCheckMemory ? { imaCheckMemory: options.imaCheckMemory } : {}),
      ...(evidence.eventLog && options.eventLogCheckMemory ? { eventLogCheckMemory: options.eventLogCheckMemory } : {}),
    };
    logs = options.logCache ? options.logCache.verify(given, pcrs) : verifyLogsAgainstQuote(given, pcrs);
    checks.push(...logs.checks);
  }
  let vplatform: VerifiedVplatformTable | null = null;
  if (evidence.vplatformLog) {
    const quoted23 = pcrs.get('sha256')?.get(VPLATFORM_PCR);
    if (!quoted23) {
      checks.push(fail('vplatform.replay', 'VPLATFORM_REPLAY_MISMATCH', 'the vplatformLog cannot be checked: sha256 PCR 23 was not quoted', { expected: 'sha256:23 in the quote', actual: null }));
    } else {
      const entries = evidence.vplatformLog;
      const v = options.vplatformCache ? options.vplatformCache.verify(uri, entries, quoted23) : verifyVplatformLog(entries, quoted23);
      checks.push(...v.checks);
      vplatform = v.table;
    }
  }
  return { position, uri, nonce, message: evidence.quote.message, info, target: path.target, ak, quote: q, logs, vplatform, akKeyId };
}

/** Step 5: the binding of `upper` to `lower`, as checks on the lower layer and as policy facts. */
function bindLayers(upper: VerifiedLayer | null, lower: VerifiedLayer, checks: CheckResult[], issuerRequirement: 'required' | 'optional' | 'not-required' | string): LayerFacts['binding'] {
  if (!upper) return { nonceChain: 'not-applicable', hostedInstance: 'not-applicable', issuer: 'not-applicable' };
  // The quote's nonce check used N_k chained from the upper quote, so it passing is the nonce chain holding.
  const nonceOk = lower.quote.checks.some((c) => c.id === 'quote.nonce' && c.status === 'pass');
  checks.push(
    nonceOk
      ? pass('binding.nonce-chain', `the quote carries N_${lower.position} = SHA-256(N_${upper.position} || SHA-256(quote of layer ${upper.position}))`)
      : fail('binding.nonce-chain', 'BINDING_NONCE_CHAIN', 'the quote does not carry the chained nonce', { expected: toHex(lower.nonce) }),
  );
  const instanceId = upper.info.layer?.instanceId;
  let hosted: 'pass' | 'fail' = 'fail';
  if (!instanceId) {
    checks.push(fail('binding.hosted-instance', 'BINDING_NO_INSTANCE_ID', `layer ${upper.position} names no instanceId`));
  } else if (!lower.vplatform) {
    const sent = checks.some((c) => c.id === 'vplatform.replay');
    checks.push(
      sent
        ? fail('binding.hosted-instance', 'VPLATFORM_REPLAY_MISMATCH', `the vplatformLog does not replay to the quoted PCR 23, so it cannot show that instance ${toHex(instanceId)} is hosted here`)
        : fail('binding.hosted-instance', 'BINDING_NO_VPLATFORM_LOG', `this layer sent no vplatformLog, so it cannot show that it hosts instance ${toHex(instanceId)}`, { expected: 'a vplatformLog hosting the instance', actual: null }),
    );
  } else {
    const c = checkInstanceHosted(lower.vplatform, instanceId);
    checks.push({ ...c, id: 'binding.hosted-instance' });
    if (c.status === 'pass') hosted = 'pass';
  }
  // Issuer binding (5.1): checked when the policy requires it, or when this platform records issuers at all.
  let issuer: 'pass' | 'fail' | 'not-checked' = 'not-checked';
  const issuerHash = upper.info.issuerCertificateSha256;
  if (lower.vplatform && (issuerRequirement === 'required' || lower.vplatform.issuers.size > 0)) {
    if (lower.vplatform.issuers.has(issuerHash)) {
      issuer = 'pass';
      checks.push(pass('binding.issuer', `the CA that issued layer ${upper.position}'s AK certificate (${issuerHash.slice(0, 16)}…) is recorded as an issuer here`));
    } else {
      issuer = 'fail';
      const { listed, count } = issuersListed(lower.vplatform);
      const more = count > listed.length ? ` (${count} issuers recorded; the first ${listed.length} listed)` : '';
      checks.push(
        fail('binding.issuer', 'VPLATFORM_ISSUER_NOT_RECORDED', `the CA that issued layer ${upper.position}'s AK certificate is not recorded as an issuer by this platform${more}`, {
          expected: issuerHash,
          actual: listed,
        }),
      );
    }
  } else if (issuerRequirement === 'required') {
    issuer = 'fail';
    checks.push(fail('binding.issuer', 'BINDING_ISSUER', 'issuer binding is required but this layer has no verified vplatformLog'));
  }
  return { nonceChain: nonceOk ? 'pass' : 'fail', hostedInstance: hosted, issuer };
}

function toRuleOutcome(r: { id: string; status: RuleOutcome['status']; message: string; code?: string | undefined; expected?: unknown; actual?: unknown }): RuleOutcome {
  return {
    id: r.id,
    status: r.status,
    message: r.message,
    ...(r.code ? { code: r.code } : {}),
    ...(r.expected !== undefined ? { expected: r.expected } : {}),
    ...(r.actual !== undefined ? { actual: r.actual } : {}),
  };
}

/**
 * Results are stored and reported per VM by the thousand: a passed check
 * keeps its id, message and expected value, but not what only repeats them
 * (an actual equal to the expected value, the certificate reference of a
 * passed chain check: the layer's certificatePath lists the certificates).
 * Failed and warning checks keep everything.
 */
function compactPassedChecks(checks: CheckResult[]): void {
  for (const c of checks) {
    if (c.status !== 'pass') continue;
    const extra = c as CheckResult & { certificate?: unknown };
    if (extra.certificate !== undefined) delete extra.certificate;
    if (c.actual !== undefined && c.actual === c.expected) delete c.actual;
  }
}

/** The top layer is the vTPM instance the challenger meant to ask at that URL (from its verified certificate). */
function checkTargetInstance(expected: Uint8Array, stated: Uint8Array | undefined, target: string): CheckResult {
  const want = toHex(expected);
  const actual = stated ? toHex(stated) : null;
  if (actual === want) return pass('target.instance', `the VM is the vTPM instance expected at this URL (${want.slice(0, 16)}…)`);
  return fail(
    'target.instance',
    'TARGET_INSTANCE_MISMATCH',
    actual === null
      ? `the VM's certificate names no vTPM instance, but instance ${want} is expected at ${target}`
      : `the VM answering at ${target} is vTPM instance ${actual}, not the expected ${want}: another VM answers there (a relay, or a wrong address)`,
    { expected: want, actual },
  );
}
