// Clone detection from where an instance was seen hosted (protocol sections 5
// and 6). PURE: takes the instance's known stays and one piece of hosting
// evidence, returns findings and the stays to write.
//
// A *stay* is a period during which one platform (identified by its platform
// path) was seen hosting the instance: [first, last] are the times of the
// first and last evidence of it, closedAt the time of evidence that it no
// longer does (its vplatformLog shows migrate-out or destroy).
//
// Evidence of hosting comes from two places: a deep attestation of the VM
// through platform P (same-platform binding held), and an attestation of P
// itself whose signed vplatformLog lists the instance as hosted now (the
// source-platform check after a migration). Both can carry a hosting epoch:
// an opaque marker of the log entry that began the stay (recommended: the
// PCR 23 value right after the instance's last create/migrate-in entry). With
// it, evidence from P extends P's stay only while P keeps hosting through the
// same entry, so a migration away and back starts a new stay. Without it, a
// stay only continues while it is the instance's latest one.
//
// Two stays of different platforms whose [first, last] intervals overlap mean
// both hosted the instance at once: CLONE_HOSTED_TWICE. It is reported when
// the overlap appears, and again on later evidence while the other stay is
// not closed (the duplicate may still run); a stay closed by evidence stops
// the repetition.

import { InternalError } from '../errors.js';
import { toHex } from '../util/bytes.js';
import type { VerifiedLayer } from '../verify/walker.js';
import type { LayerResult } from '../verify/result.js';
import type { StateFinding } from './findings.js';
import { platformKey, shortPath } from './clock-findings.js';

export interface Stay {
  /** storage id; null for a stay not yet written */
  id: number | null;
  platformPath: string[];
  /** the hosting epoch the stay was seen with, or null */
  epoch: string | null;
  /** ms since the epoch */
  first: number;
  last: number;
  closedAt: number | null;
}

export interface HostingEvidence {
  /** the hosting platform's path: its AK Name, then the layers below it */
  platformPath: readonly string[];
  /** opaque marker of the log entry that began this stay (see above) */
  epoch?: string | null | undefined;
  /** ms since the epoch */
  time: number;
  /** true: hosted now; false: the platform's log shows migrate-out or destroy */
  hosted: boolean;
}

export interface HostingAssessment {
  findings: StateFinding[];
  /** stays to insert (id null) or update */
  changed: Stay[];
}

function mostRecent(stays: readonly Stay[], keep: (s: Stay) => boolean): Stay | undefined {
  let best: Stay | undefined;
  for (const s of stays) {
    if (!keep(s)) continue;
    if (!best || s.last > best.last || (s.last === best.last && (s.id ?? Infinity) > (best.id ?? Infinity))) best = s;
  }
  return best;
}

function overlaps(a: { first: number; last: number }, b: { first: number; last: number }): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function assessHosting(instanceId: string, stays: readonly Stay[], ev: HostingEvidence): HostingAssessment {
  if (ev.platformPath.length === 0) {
    throw new InternalError('state: hosting evidence without a platform path', { instanceId });
  }
  const key = platformKey(ev.platformPath);
  const onThisPlatform = (s: Stay): boolean => platformKey(s.platformPath) === key;

  if (!ev.hosted) {
    const closing = stays.filter((s) => onThisPlatform(s) && s.closedAt === null && s.last <= ev.time);
    return { findings: [], changed: closing.map((s) => ({ ...s, closedAt: ev.time })) };
  }

  const epoch = ev.epoch ?? null;
  let target: Stay | undefined;
  if (epoch !== null) {
    target = mostRecent(stays, (s) => onThisPlatform(s) && s.epoch === epoch && s.closedAt === null);
  } else {
    const latest = mostRecent(stays, () => true);
    if (latest && onThisPlatform(latest) && latest.epoch === null && latest.closedAt === null) target = latest;
  }
  const before = target ? { first: target.first, last: target.last } : undefined;
  const stay: Stay = target
    ? { ...target, first: Math.min(target.first, ev.time), last: Math.max(target.last, ev.time) }
    : { id: null, platformPath: [...ev.platformPath], epoch, first: ev.time, last: ev.time, closedAt: null };

  // The other platforms whose stays overlap this one, the latest stay of each.
  const clashes = new Map<string, Stay>();
  for (const other of stays) {
    const otherKey = platformKey(other.platformPath);
    if (otherKey === key || !overlaps(stay, other)) continue;
    const isNew = !before || !overlaps(before, other);
    if (!isNew && other.closedAt !== null) continue;
    const seen = clashes.get(otherKey);
    if (!seen || other.last > seen.last) clashes.set(otherKey, other);
  }
  const findings: StateFinding[] = [...clashes.values()].map((other) => ({
    code: 'CLONE_HOSTED_TWICE',
    message: `instance seen hosted by platform ${shortPath(stay.platformPath)} (${iso(stay.first)} to ${iso(stay.last)}) and by platform ${shortPath(other.platformPath)} (${iso(other.first)} to ${iso(other.last)}) at overlapping times: a possible clone`,
    instanceId,
    details: {
      platform: [...stay.platformPath],
      seen: { from: iso(stay.first), to: iso(stay.last), epoch: stay.epoch },
      otherPlatform: [...other.platformPath],
      otherSeen: { from: iso(other.first), to: iso(other.last), epoch: other.epoch, closedAt: other.closedAt === null ? null : iso(other.closedAt) },
    },
  }));
  return { findings, changed: [stay] };
}

/**
 * Does a layer's AK clash with the instance's? A vTPM keeps its AK when it moves (its state moves), and a clone
 * copies it; an instance id is only a claim in a certificate, which any per-host vPlatform CA can make for any
 * id. The instance's own AKs are those whose readings were taken as evidence of where it runs (`ownKeys`). An
 * AK that is not one of them is the instance's only if re-keyed where the instance runs now (the platform of
 * its latest open stay) or if the instance is hosted nowhere (no open stay); otherwise it is another vTPM
 * claiming the instance: CLONE_AK_CONFLICT, and its readings are no hosting evidence (no stay for it, so it
 * cannot make the genuine instance look cloned). A former host, whose stay was never closed, cannot re-key it.
 */
export function akConflict(instanceId: string, current: { akName: string; platformPath: readonly string[] }, ownKeys: readonly string[], openStays: readonly { platformPath: readonly string[]; last: number }[]): StateFinding | null {
  if (openStays.length === 0 || ownKeys.includes(current.akName)) return null;
  let latest = openStays[0]!;
  for (const s of openStays) if (s.last > latest.last) latest = s;
  if (platformKey(latest.platformPath) === platformKey(current.platformPath)) return null;
  return {
    code: 'CLONE_AK_CONFLICT',
    message: `instance runs on platform ${shortPath(latest.platformPath)} with AK ${ownKeys.map((k) => `${k.slice(0, 12)}…`).join(', ') || '(none recorded)'}; this layer quotes with AK ${current.akName.slice(0, 12)}… on platform ${shortPath(current.platformPath)}: another vTPM claims the instance`,
    instanceId,
    details: { knownAks: [...ownKeys], knownPlatform: [...latest.platformPath], ak: current.akName, platform: [...current.platformPath] },
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Whether each layer of a walk is seen through a platform path whose binding held: every layer below it hosts the
 * one above now, in its verified vPlatform table, and, where that table records issuers (protocol 5.1), records
 * the CA that issued the upper AK certificate. Only such a layer is evidence of where its instance runs (a relay
 * answering for the host, a stale host, or a table that does not verify names a path the instance does not run
 * on). An AK certificate from a CA the host does not record (VPLATFORM_ISSUER_NOT_RECORDED) is another host's
 * claim to an instance this one hosts: counted, it made an impostor's key the instance's own ("re-keyed in
 * place"), and that key then claimed the instance on its own host without CLONE_AK_CONFLICT.
 */
export function boundLayers(verified: readonly VerifiedLayer[], layers?: readonly Pick<LayerResult, 'position' | 'checks'>[]): boolean[] {
  const bound: boolean[] = verified.map(() => true);
  for (let i = verified.length - 2; i >= 0; i--) {
    const upper = verified[i]!;
    const instance = upper.info.layer?.instanceId;
    const table = verified[i + 1]!.vplatform;
    bound[i] =
      bound[i + 1]! &&
      instance !== undefined &&
      table !== null &&
      table !== undefined &&
      table.hostedNow.has(toHex(instance)) &&
      (table.issuers.size === 0 || table.issuers.has(upper.info.issuerCertificateSha256)) &&
      // the walk's own issuer binding, where the layers' results are given: a policy requiring it fails a host
      // whose table records no issuer at all, and what that walk refused is no hosting evidence either
      !issuerBindingFailed(layers?.find((l) => l.position === verified[i + 1]!.position));
  }
  return bound;
}

function issuerBindingFailed(lower: Pick<LayerResult, 'checks'> | undefined): boolean {
  return lower?.checks.some((c) => c.id === 'binding.issuer' && c.status === 'fail') === true;
}
