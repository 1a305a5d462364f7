// Glue between a deep attestation and the state store: the walker's `assess`
// hook. For every verified virtual layer it records the vTPM's clock reading
// (rollback, restore, interleaved-history findings) and, from the verified
// vPlatform table of the layer below, whether that platform hosts the
// instance now (two platforms hosting one instance: a clone). The findings go
// to the policy, which decides failure or warning.

import type { Finding } from '../policy/evidence.js';
import type { CheckResult } from '../verify/checks.js';
import type { AttestationResult, LayerResult } from '../verify/result.js';
import type { VerifiedLayer } from '../verify/walker.js';
import { toHex } from '../util/bytes.js';
import { toCheckResult, type StateFinding } from './findings.js';
import type { ResultRecord, StateStore } from './store.js';
import { akConflict, boundLayers } from './hosting-findings.js';
import type { ClockInfo } from './clock-findings.js';
import { boundResult } from '../report/bound-result.js';

/** What the policy's migration.findings categories mean in state-store codes. */
export function findingCategory(code: string): Finding['category'] | null {
  if (code.startsWith('CLONE_')) return 'clone';
  if (code === 'CLOCK_RESET_COUNT_DECREASED' || code === 'CLOCK_RESTART_COUNT_DECREASED' || code === 'CLOCK_WENT_BACK' || code === 'RESTORE_FROM_BACKUP') return 'rollback';
  // CLOCK_NOT_SAFE: the policy's tpm.requireClockSafe rule judges the flag itself.
  return null;
}

export interface AssessContext {
  target: string;
  /** when the walk's nonce was made, ms since the epoch */
  time: number;
  /** when the evidence arrived (default: now) */
  receivedAt?: () => number;
}

/** The stay marker: the lower platform's key and the log entry that began the instance's current stay. */
export function hostingEpoch(lower: VerifiedLayer, instanceHex: string): string | null {
  const rec = lower.vplatform?.instances.get(instanceHex);
  if (!rec) return null;
  const begin = [...rec.entries].reverse().find((i) => {
    const op = lower.vplatform!.entries[i]?.op;
    return op === 'create' || op === 'migrate-in';
  });
  return begin === undefined ? null : `${lower.akKeyId}#${begin}`;
}

/**
 * Codes by which the walk refused the top layer's claim to its instance: the URL was to be another vTPM's
 * (the inventory's or --instance's), or another VM of the audit answered with the key or owns the instance.
 */
const REFUSED_CLAIM_CODES = new Set(['TARGET_INSTANCE_MISMATCH', 'AUDIT_DUPLICATE_INSTANCE']);

/** What the state assessment reads of one verified layer (plain data: it crosses to the audit's state thread). */
export interface LayerDigest {
  /** the instance id (hex) of a virtual layer; null for a physical one */
  instance: string | null;
  akName: string;
  clockInfo: ClockInfo;
  firmwareVersion: bigint;
  /** AK Names of the layers below it */
  platformPath: string[];
  /** the stay marker the layer below gives the instance (hostingEpoch) */
  hostingEpoch: string | null;
  /** seen through a platform path whose binding held (boundLayers) */
  bound: boolean;
  /** the layer below is itself bound (false for the bottom layer) */
  lowerBound: boolean;
  /** the layer below showed a verified vPlatform table that does not host the instance now */
  lowerTableShowsGone: boolean;
}

/** What the state assessment needs of a walk, taken from its verified layers and their results. */
export interface AssessInput {
  /** the bottom verified layer ended the walk: the platform path is whole, not a prefix */
  wholePath: boolean;
  /** the walk refused the top layer's claim to its instance (REFUSED_CLAIM_CODES) */
  refusedTop: boolean;
  layers: LayerDigest[];
}

/** The state assessment's input from a walk: pure, so it can be made where the walk ran and assessed elsewhere. */
export function assessInput(verified: readonly VerifiedLayer[], layers?: readonly LayerResult[]): AssessInput {
  // The platform path is whole only when the bottom verified layer ended the walk. A walk cut short below
  // (a lower layer unreachable, refused, or its request aborted by a stop) leaves a prefix of the path, which
  // names no platform: counted as hosting, it opened a stay on that prefix that never closed, and every later
  // attestation through the whole path was CLONE_HOSTED_TWICE. Its clock readings are still compared and kept.
  const wholePath = verified[verified.length - 1]?.info.layer?.kind !== 'virtual';
  // A top layer whose claim to its instance this walk refused cannot make a key the instance's own: an
  // impostor (a vTPM of a compromised host certified under a victim's instance id) audited before the victim
  // on a new state file took the instance's first stay, and the genuine VM was CLONE_AK_CONFLICT on every later
  // run. A key already the instance's own (a relay, a clone copying it) still counts, so a clone stays visible.
  const refusedTop = layers?.[0]?.checks.some((c) => c.status === 'fail' && c.code !== undefined && REFUSED_CLAIM_CODES.has(c.code)) === true;
  // Layer i is seen through its platform path only if every layer below it hosts the one above it now in its
  // verified table (the binding held). A relay answering for the host with another genuine platform's evidence
  // (VPLATFORM_INSTANCE_NOT_HOSTED), a stale host (VPLATFORM_INSTANCE_LEFT) or one whose table does not verify
  // names a path the instance does not run on: counted as hosting, one such answer opened a stay there, and the
  // genuine VM's next attestation was CLONE_HOSTED_TWICE (every later one while no table closed that stay).
  const bound = boundLayers(verified, layers);
  return {
    wholePath,
    refusedTop,
    layers: verified.map((layer, i) => {
      const id = layer.info.layer?.instanceId;
      const instance = id ? toHex(id) : null;
      const lower = verified[i + 1];
      return {
        instance,
        akName: layer.akKeyId,
        clockInfo: layer.quote.clockInfo,
        firmwareVersion: layer.quote.firmwareVersion,
        platformPath: verified.slice(i + 1).map((v) => v.akKeyId),
        hostingEpoch: lower && instance !== null ? hostingEpoch(lower, instance) : null,
        bound: bound[i]!,
        lowerBound: bound[i + 1] === true,
        lowerTableShowsGone: instance !== null && lower?.vplatform !== null && lower?.vplatform !== undefined && !lower.vplatform.hostedNow.has(instance),
      };
    }),
  };
}

/**
 * Each layer's claim to its instance (CLONE_AK_CONFLICT, or null), judged on the state file as it is now. `watch`
 * judges it before its source check records what the VM's previous host shows: that host's migrate-out closes the
 * instance's last open stay, and judged after it, a VM re-keyed and moved in one step (or an impostor answering
 * for the VM right after a genuine migration) had its new AK taken as the instance's own, trusted.
 */
export function akClaims(store: StateStore, verified: readonly VerifiedLayer[], layers?: readonly LayerResult[]): (StateFinding | null)[] {
  return akClaimsOf(store, assessInput(verified, layers));
}

function akClaimsOf(store: StateStore, input: AssessInput): (StateFinding | null)[] {
  const last = input.layers.length - 1;
  return input.layers.map((layer, i) => {
    if (layer.instance === null || !input.wholePath || !layer.bound || i === last) return null;
    return akConflict(layer.instance, { akName: layer.akName, platformPath: layer.platformPath }, store.instanceKeys(layer.instance), store.openStays(layer.instance));
  });
}

/** When the assessment is made: the walk's nonce time, and when its evidence arrived. */
export interface AssessTimes {
  target: string;
  /** when the walk's nonce was made, ms since the epoch */
  time: number;
  /** when the evidence arrived, ms since the epoch */
  receivedAt: number;
}

/**
 * The state assessment of a walk (its clock readings, hosting and claims recorded, the findings returned), from
 * assessInput(). `claims`: akClaims() taken earlier (default: judged now).
 */
export function assessState(store: StateStore, at: AssessTimes, input: AssessInput, claims?: readonly (StateFinding | null)[]): { findings: Finding[]; checks: CheckResult[] } {
  const findings: Finding[] = [];
  const checks: CheckResult[] = [];
  const add = (position: number, list: readonly StateFinding[]) => {
    for (const f of list) {
      const category = findingCategory(f.code);
      if (category) findings.push({ category, code: f.code, layer: position, message: f.message });
      checks.push({ ...toCheckResult(f), message: `layer ${position}: ${f.message}` });
    }
  };
  const conflicts = claims ?? akClaimsOf(store, input);
  for (let i = 0; i < input.layers.length; i++) {
    const layer = input.layers[i]!;
    const instanceHex = layer.instance;
    if (instanceHex === null) continue;
    // before this reading is recorded: is this the AK the instance is known by?
    const conflict = conflicts[i] ?? null;
    if (conflict) add(i, [conflict]);
    const noClaim = conflict !== null || !input.wholePath || (i === 0 && input.refusedTop && !store.instanceKeys(instanceHex).includes(layer.akName));
    const noEvidence = noClaim || !layer.bound;
    const outcome = store.observe({
      instanceId: instanceHex,
      akName: layer.akName,
      clockInfo: layer.clockInfo,
      firmwareVersion: layer.firmwareVersion,
      platformPath: layer.platformPath,
      time: at.time,
      receivedAt: at.receivedAt,
      target: at.target,
      hostingEpoch: layer.hostingEpoch,
      ...(noEvidence ? { hosting: false } : {}),
    });
    add(i, outcome.findings);
    // another vTPM's claim to the instance says nothing of where the instance runs; a platform whose own path
    // holds (bound below it) and whose verified table shows migrate-out/destroy is evidence that closes its stay.
    // Hosted now is what the reading just recorded when the binding held (the same path, epoch and time): recorded
    // again, every CLONE_HOSTED_TWICE it raised was said twice in one result. When it did not (the layer's AK
    // certificate is from a CA the table does not record), a table that "hosts" the instance is that host's
    // word alone, answering for a key no CA it records certified: counted, any host could open a stay for any
    // instance, and the genuine VM was CLONE_HOSTED_TWICE.
    if (layer.lowerTableShowsGone && !noClaim && layer.lowerBound && noEvidence) {
      add(
        i,
        store.recordHosting(instanceHex, {
          platformPath: layer.platformPath,
          epoch: layer.hostingEpoch,
          time: at.time,
          hosted: false,
        }),
      );
    }
  }
  return { findings, checks };
}

export function stateAssessor(store: StateStore, ctx: AssessContext) {
  /** claims: akClaims() taken earlier (default: judged now) */
  return async (verified: readonly VerifiedLayer[], layers?: readonly LayerResult[], claims?: readonly (StateFinding | null)[]): Promise<{ findings: Finding[]; checks: CheckResult[] }> => {
    const receivedAt = (ctx.receivedAt ?? Date.now)();
    return assessState(store, { target: ctx.target, time: ctx.time, receivedAt }, assessInput(verified, layers), claims);
  };
}

/** Appends a finished attestation to the history; `resultJson`: the result already serialized (toJsonText(result, 0)). */
export function recordResult(store: StateStore, walked: AttestationResult, walkedJson?: string, runId?: number): number {
  return store.appendResult(resultRecord(walked, walkedJson, runId));
}

/** The history row of a finished attestation (plain data, with the result as JSON text), as recordResult stores it. */
export function resultRecord(walked: AttestationResult, walkedJson?: string, runId?: number): ResultRecord & { resultJson: string } {
  // a result past RESULT_JSON_CAP is cut down (attest --state, watch; an audit has done it for its reports already)
  const { result, json: resultJson } = boundResult(walked, walkedJson);
  const top = result.layers[0];
  const failed = result.layers.flatMap((l) => l.checks.filter((c) => c.status === 'fail').map((c) => ({ layer: l.position, code: c.code, id: c.id })));
  return {
    time: Date.parse(result.finishedAt),
    target: result.target,
    instanceId: top?.instanceId ?? null,
    verdict: result.verdict,
    findings: [...(result.findings ?? []).map((f) => ({ code: f.code, id: f.id, status: f.status })), ...failed],
    platformPath: result.platformPath,
    resultJson,
    ...(runId !== undefined ? { runId } : {}),
  };
}
