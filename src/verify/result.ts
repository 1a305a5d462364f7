// The result of one deep attestation: what `attest`, `verify`, `watch` and
// `audit` produce, what reports (tree, JSON, EAR, JUnit, HTML) render and
// what the state store keeps. Plain JSON-serializable data: hex strings for
// bytes, decimal strings for 64-bit counters, ISO-8601 strings for times.

import { fail, type CheckResult } from './checks.js';

/**
 * trusted: every layer verified and satisfied the policy.
 * not-trusted: some check or policy rule failed (exit 1).
 * incomplete: the walk could not finish (network, I/O) and nothing failed (exit 3).
 */
export type Verdict = 'trusted' | 'not-trusted' | 'incomplete';

/**
 * trusted / not-trusted: as for the whole result, for this layer alone.
 * unreachable: fetching this layer's evidence failed (transport).
 * not-reached: the walk stopped above this layer (it is listed when known).
 */
export type LayerStatus = 'trusted' | 'not-trusted' | 'unreachable' | 'not-reached';

export type LayerKind = 'virtual' | 'physical' | 'unspecified';

/** One policy rule's outcome (the policy evaluator's RuleResult, as JSON). */
export interface RuleOutcome {
  /** stable rule id, e.g. "layer[0].pcrs.sha256.7" */
  id: string;
  status: 'pass' | 'fail' | 'warn' | 'not-applicable';
  message: string;
  code?: string;
  expected?: unknown;
  actual?: unknown;
}

export interface ErrorSummary {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER, hex */
  sha256: string;
}

export interface LayerResult {
  /** 0 = the VM at the top, then downward */
  position: number;
  /** the evidence endpoint base URI asked */
  uri: string;
  status: LayerStatus;
  /** the nonce this layer's quote had to carry (hex) */
  nonce: string;
  /** from the verified AK certificate's TrustedLayer extension */
  kind?: LayerKind;
  /** hex; from the verified AK certificate */
  instanceId?: string;
  /** hex TPM object Name of the AK, when known */
  akName?: string;
  /** SHA-256 of the AK's SubjectPublicKeyInfo, hex: identifies the key across certificates */
  akKeyId?: string;
  /** leaf (AK certificate) first, up to the trust anchor */
  certificatePath?: CertificateSummary[];
  anchor?: { label: string; subject: string; vouchesFor: string };
  /** TPMS_CLOCK_INFO of the verified quote; counters as decimal strings */
  clockInfo?: { clock: string; resetCount: number; restartCount: number; safe: boolean };
  /** firmwareVersion of the verified quote, hex (16 digits) */
  firmwareVersion?: string;
  /** where the walk went next, from the verified certificate */
  deepAttestation?: string;
  migrationService?: string;
  /**
   * how many instances this layer hosts now, by its replayed and quoted
   * vplatformLog (the instance above is checked by binding.hosted-instance);
   * a count, not the list, so a result's size does not grow with the host's density
   */
  hostedInstanceCount?: number;
  /** cryptographic, certificate-path, replay and binding checks */
  checks: CheckResult[];
  /** policy rules that applied to this layer */
  rules: RuleOutcome[];
  /** the failure that decided this layer's status, if any */
  error?: ErrorSummary;
  /** ms spent on this layer (fetch + verify) */
  elapsedMs?: number;
}

export interface AttestationResult {
  /** the top layer's URI as asked */
  target: string;
  /** the VM's name in the audit inventory (reports name the VM by it; target otherwise) */
  name?: string;
  /** the inventory group the VM belongs to (JUnit classname, report grouping) */
  group?: string;
  /** the VM's inventory tags */
  tags?: string[];
  /** attempts an audit made (more than 1: the earlier ones could not complete and were retried) */
  attempts?: number;
  /** with more than one attempt: the time they took together, ms (the waits between them left out); startedAt..finishedAt is the last one's */
  attemptsMs?: number;
  verdict: Verdict;
  /** why, in one line */
  reason: string;
  /** the failure that decided the verdict (the first failing check or rule, top-down), if any */
  error?: ErrorSummary;
  policy: { source: string; id: string; builtin: boolean };
  /** the top nonce, hex (32 bytes) */
  nonce: string;
  startedAt: string;
  finishedAt: string;
  /** layers in walk order, VM first */
  layers: LayerResult[];
  /** chain-wide rules (depth, end at physical, freshness, ...) */
  chain: RuleOutcome[];
  /** AK Names (or key ids) of the layers below the top, top-down: where the VM runs */
  platformPath: string[];
  /** findings from the state store (rollback, clone), when a state file was used */
  findings?: CheckResult[];
}

/** A failed check as the error a layer or result reports. */
export function errorFromCheck(check: CheckResult): ErrorSummary {
  const details: Record<string, unknown> = { check: check.id };
  if (check.expected !== undefined) details['expected'] = check.expected;
  if (check.actual !== undefined) details['actual'] = check.actual;
  return { code: check.code ?? 'CHECK_FAILED', message: check.message, details };
}

/** The overall verdict: any failure is not-trusted; otherwise unreachable layers make it incomplete. */
/** A layer's error message without the "layer N (uri): " it may start with (transport errors name the layer): the reason names it already. */
function messageFor(layer: LayerResult, message: string): string {
  const prefix = `layer ${layer.position} (${layer.uri}): `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

export function decideVerdict(layers: readonly LayerResult[], chain: readonly RuleOutcome[]): { verdict: Verdict; error?: ErrorSummary; reason: string } {
  const failedLayer = layers.find((l) => l.status === 'not-trusted');
  if (failedLayer) {
    const e = failedLayer.error ?? errorFromCheck(failedLayer.checks.find((c) => c.status === 'fail') ?? fail('layer', 'POLICY_NOT_TRUSTED', 'not trusted'));
    return { verdict: 'not-trusted', error: e, reason: `layer ${failedLayer.position} (${failedLayer.uri}): ${e.code}: ${messageFor(failedLayer, e.message)}` };
  }
  const failedChain = chain.find((r) => r.status === 'fail');
  if (failedChain) {
    const e: ErrorSummary = { code: failedChain.code ?? 'POLICY_NOT_TRUSTED', message: failedChain.message, details: { rule: failedChain.id, expected: failedChain.expected, actual: failedChain.actual } };
    return { verdict: 'not-trusted', error: e, reason: `${failedChain.id}: ${e.code}: ${e.message}` };
  }
  const unreachable = layers.find((l) => l.status === 'unreachable');
  if (unreachable) {
    const e = unreachable.error ?? { code: 'TRANSPORT_ERROR', message: 'unreachable' };
    return { verdict: 'incomplete', error: e, reason: `layer ${unreachable.position} (${unreachable.uri}) could not be attested: ${e.code}: ${messageFor(unreachable, e.message)}` };
  }
  const bottom = layers[layers.length - 1];
  return { verdict: 'trusted', reason: `all ${layers.length} layer(s) verified and satisfy the policy${bottom ? `; the walk ended at a ${bottom.kind ?? 'unspecified'} layer` : ''}` };
}

/**
 * The result with one more failed check on a layer, found after the walk (a fleet's view across the
 * shards of an audit), and its verdict decided again as the walk decides it.
 */
export function withFailedCheck(result: AttestationResult, position: number, check: CheckResult): AttestationResult {
  const layers = result.layers.map((l): LayerResult => {
    if (l.position !== position) return l;
    const refused: LayerResult = { ...l, checks: [...l.checks, check] };
    if (l.status === 'trusted') {
      refused.status = 'not-trusted';
      refused.error = errorFromCheck(check);
    }
    return refused;
  });
  const { verdict, error, reason } = decideVerdict(layers, result.chain);
  const out: AttestationResult = { ...result, verdict, reason, layers };
  if (error) out.error = error;
  else delete out.error;
  return out;
}
