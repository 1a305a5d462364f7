// After the VM was attested again, the platforms it left: did they let it go?
//
// - After migration notifications, each source platform they name (the
//   events' `from`), and the host the VM was verified on last time, except
//   where the VM's verified certificate says it runs now, is attested, and its quoted vPlatform table must show migrate-out for
//   the instance (protocol section 6). A source still hosting it left a
//   duplicate behind (VPLATFORM_STILL_HOSTED); one that never recorded it
//   shows no migrate-out (VPLATFORM_NOT_MIGRATED_OUT). The policy's
//   migration rules decide (migration.requireSourceMigrateOut).
// - Without a notification, a VM whose verified host differs from last time
//   moved unannounced (a lost notification, or a copy answering): the
//   previous host is attested, and if both tables host the instance it runs
//   twice (VPLATFORM_HOSTED_TWICE, a clone finding).
// Either way the source's own evidence goes to the state store as hosting
// evidence (a stay extended or closed), which may raise CLONE_HOSTED_TWICE.
//
// A notification is only a hint: what is checked is the instance from the VM's
// verified certificate, on platforms whose evidence verifies; a source that
// cannot be attested is "not-checked", never assumed clean.

import type { Finding, MigrationFacts } from '../policy/evidence.js';
import type { StateFinding } from '../state/findings.js';
import { toCheckResult } from '../state/findings.js';
import { boundLayers, type HostingEvidence } from '../state/hosting-findings.js';
import { fail, pass, type CheckResult } from '../verify/checks.js';
import type { AttestationResult, Verdict } from '../verify/result.js';
import { checkInstanceMigratedOut, checkSingleHost } from '../verify/vplatform.js';
import { normalizeUri, type VerifiedLayer } from '../verify/walker.js';
import { toHex } from '../util/bytes.js';
import type { AttestTrigger } from './trigger.js';

export type SourceStatus =
  /** the source's table shows migrate-out */
  | 'migrated-out'
  /** the source's table still hosts the instance: a duplicate */
  | 'still-hosted'
  /** the source's table never had the instance, or destroyed it */
  | 'not-migrated-out'
  /** the source could not be attested (unreachable, not trusted, no table) */
  | 'not-checked'
  /** unannounced move: the previous host still hosts the instance too */
  | 'hosted-twice'
  /** unannounced move: the previous host no longer hosts it (a lost notification) */
  | 'moved';

export interface SourceReport {
  /** the source platform's deep attestation URI */
  uri: string;
  /** hex instance id checked */
  instance: string;
  status: SourceStatus;
  /** the failing check's code, if any */
  code?: string;
  message: string;
  /** the verdict of the source platform's own attestation */
  sourceVerdict: Verdict | null;
  /** true: no notification announced the move (the previous host was checked) */
  unannounced: boolean;
}

/** A source platform's attestation, as the watcher ran it (through the state store). */
export interface SourceAttestation {
  result: AttestationResult;
  verified: readonly VerifiedLayer[];
  /** when its nonce was made, ms */
  time: number;
}

export interface SourceCheckInput {
  /** the VM walk's verified layers, top first */
  verified: readonly VerifiedLayer[];
  trigger: AttestTrigger;
  /** the VM's verified host (deepAttestation) at the previous attestation, if any */
  previousHost: string | null;
  /**
   * The AK key id the previous host quoted with where it was last seen hosting the VM (watcher.ts boundHostAk), if
   * known: an answer at its URL quoting with another AK is not the previous host's (a relay to the host the VM runs
   * on now, or to a platform it left long ago), and vouches for nothing about it.
   */
  previousHostAk?: string | null;
  /** attests a source platform from its URI down (records it in the state store) */
  attestSource(uri: string): Promise<SourceAttestation>;
  /** records hosting evidence in the state store; returns its findings */
  recordHosting(instance: string, evidence: HostingEvidence): StateFinding[];
  /** the stay marker of the instance on a platform (state/assess.ts hostingEpoch) */
  hostingEpoch(platform: VerifiedLayer, instance: string): string | null;
  /** maps a state finding code to the policy's category */
  findingCategory(code: string): Finding['category'] | null;
  /**
   * policy migration.requireSourceMigrateOut: only then are sources that only a notification names (not the
   * VM's verified previous host) attested. Notifications are unsigned: without it they make no request.
   */
  followNamedSources: boolean;
}

export interface SourceCheckOutcome {
  findings: Finding[];
  checks: CheckResult[];
  /** for the policy, when notifications triggered this attestation and a source was checked */
  migration?: MigrationFacts;
  reports: SourceReport[];
}

/** URIs compared as the walker does (normalizeUri). */
export function sameUri(a: string, b: string): boolean {
  return normalizeUri(a) === normalizeUri(b);
}

/** Worst first: what the policy hears when a batch named several sources. */
const SEVERITY: Record<MigrationFacts['sourceCheck'], number> = { 'still-hosted': 3, 'not-migrated-out': 2, 'not-checked': 1, 'migrated-out': 0 };

export async function checkSources(input: SourceCheckInput): Promise<SourceCheckOutcome> {
  const out: SourceCheckOutcome = { findings: [], checks: [], reports: [] };
  const top = input.verified[0];
  const ext = top?.position === 0 ? top.info.layer : undefined;
  if (!top || ext?.kind !== 'virtual' || !ext.instanceId || !ext.deepAttestation) return out;
  const instance = toHex(ext.instanceId);
  const currentHost = ext.deepAttestation;
  const lower = input.verified[1];
  const currentTable = lower?.position === 1 ? lower.vplatform : null;

  const addState = (list: readonly StateFinding[]): void => {
    for (const f of list) {
      const category = input.findingCategory(f.code);
      if (category) out.findings.push({ category, code: f.code, layer: 0, message: f.message });
      out.checks.push({ ...toCheckResult(f), message: `layer 0: ${f.message}` });
    }
  };

  const currentAk = lower?.position === 1 ? lower.akKeyId : null;

  /** Attests one source; returns its verified top layer with a vPlatform table, or a not-checked report. */
  const attest = async (uri: string, unannounced: boolean) => {
    const knownAk = input.previousHostAk && input.previousHost !== null && sameUri(uri, input.previousHost) ? input.previousHostAk : null;
    if (knownAk !== null && knownAk === currentAk) {
      // The VM was verified last time on the platform it runs on now, under the name it had then (a host renamed):
      // it did not move, whatever its old URL answers now. Asked, an old name gone (unreachable) or given to another
      // machine made this "not-checked", and migration.requireSourceMigrateOut failed a VM that never moved.
      return { report: null, platform: null, src: null, isCurrent: true, renamed: true };
    }
    const src = await input.attestSource(uri);
    const platform = src.verified[0];
    if (knownAk !== null && platform?.position === 0 && platform.akKeyId !== knownAk) {
      // the previous host's URL answers as another platform: whatever its table shows, it is not the one the VM left.
      // Taken as the current host (a relay to it), the move was "not a move" and the source check was skipped; taken
      // as itself, a relay to a host the VM migrated out of long ago passed the check for the one still running a copy
      const current = currentAk !== null && platform.akKeyId === currentAk;
      const report: SourceReport = {
        uri,
        instance,
        status: 'not-checked',
        message: `${uri} could not be checked: it quotes with AK ${platform.akKeyId}${current ? ', that of the host the VM runs on now,' : ''} not ${knownAk}, the AK it quoted with when the VM was verified there`,
        sourceVerdict: src.result.verdict,
        unannounced,
      };
      return { report, platform: null, src, isCurrent: false, renamed: false };
    }
    // the platform the VM runs on now, under another name (a notification's alias, a host with two names): not a source
    const isCurrent = platform !== undefined && platform.position === 0 && currentAk !== null && platform.akKeyId === currentAk;
    if (!platform?.vplatform || platform.position !== 0) {
      const report: SourceReport = {
        uri,
        instance,
        status: 'not-checked',
        ...(src.result.error ? { code: src.result.error.code } : {}),
        message: `${uri} could not be checked: ${src.result.verdict === 'trusted' ? 'it sent no vplatformLog' : src.result.reason}`,
        sourceVerdict: src.result.verdict,
        unannounced,
      };
      return { report, platform: null, src, isCurrent, renamed: false };
    }
    // The platform's own signed table is hosting evidence for the state store, whatever it says; but only
    // with its whole path verified and bound (each layer below hosting the one above in its verified table),
    // since a stay is keyed by the path the VM was seen through: a relay answering for the source's host named
    // a path the instance never ran on, whose open stay made every later attestation CLONE_HOSTED_TWICE.
    if (src.verified.length === src.result.layers.length && boundLayers(src.verified, src.result.layers).every((bound) => bound)) {
      addState(
        input.recordHosting(instance, {
          platformPath: src.verified.map((v) => v.akKeyId),
          epoch: input.hostingEpoch(platform, instance),
          time: src.time,
          hosted: platform.vplatform.hostedNow.has(instance),
        }),
      );
    }
    return { report: null, platform, src, isCurrent, renamed: false };
  };
  const currentHostNote = (uri: string, renamed: boolean): CheckResult => ({
    id: 'migration.source',
    status: 'warn',
    message: renamed
      ? `${uri} is the platform the VM runs on now (the VM was verified there last time with AK ${currentAk}, that of its verified host ${currentHost}): not a source, not asked`
      : `${uri} is the platform the VM runs on now (it quotes with the AK of its verified host ${currentHost}): not a source, not checked as one`,
  });

  if (input.trigger.kind === 'migration') {
    const batch = input.trigger.batch;
    if (!sameUri(batch.latest.to, currentHost)) {
      out.checks.push({
        id: 'migration.destination',
        status: 'warn',
        message: `the last notification (seq ${batch.latest.seq}) says the VM moved to ${batch.latest.to}; its verified AK certificate says it runs on ${currentHost}`,
        expected: batch.latest.to,
        actual: currentHost,
      });
    }
    // the notifications' sources, and where the VM verifiably was last (a notification may name the wrong source)
    const named = input.previousHost !== null && !batch.sources.some((s) => sameUri(s, input.previousHost!)) ? [...batch.sources, input.previousHost] : batch.sources;
    const sources = named.filter((s) => !sameUri(s, currentHost));
    let worst: MigrationFacts['sourceCheck'] | null = null;
    // A source only a notification names is followed only where the policy asks for the check: an unsigned
    // message must not make the challenger send requests anywhere it likes. The verified previous host always is.
    const followed = (uri: string): boolean => input.followNamedSources || (input.previousHost !== null && sameUri(uri, input.previousHost));
    // one source's timeout does not wait for another's
    const attested = await Promise.all(sources.map((uri) => (followed(uri) ? attest(uri, false) : null)));
    for (const [i, uri] of sources.entries()) {
      const one = attested[i];
      if (!one) {
        const message = `${uri} is named only by a notification, which is unsigned: not attested (migration.requireSourceMigrateOut in the policy turns the check on)`;
        out.reports.push({ uri, instance, status: 'not-checked', code: 'MIGRATION_SOURCE_NOT_FOLLOWED', message, sourceVerdict: null, unannounced: false });
        out.checks.push({ id: 'migration.source', status: 'warn', code: 'MIGRATION_SOURCE_NOT_FOLLOWED', message: `source ${message}` });
        continue;
      }
      const { report, platform, isCurrent, renamed } = one;
      if (isCurrent) {
        out.checks.push(currentHostNote(uri, renamed));
        continue;
      }
      const src = one.src!;
      let r: SourceReport;
      if (report) {
        r = report;
        out.checks.push({ id: 'migration.source', status: 'warn', ...(report.code ? { code: report.code } : {}), message: `source ${report.message}` });
      } else {
        const c = checkInstanceMigratedOut(platform!.vplatform!, instance);
        const status: SourceStatus = c.status === 'pass' ? 'migrated-out' : c.code === 'VPLATFORM_STILL_HOSTED' ? 'still-hosted' : 'not-migrated-out';
        // a platform that is not trusted cannot vouch that it let the VM go; its admission that it still hosts it counts
        const counted: SourceStatus = status === 'migrated-out' && src.result.verdict !== 'trusted' ? 'not-checked' : status;
        r = {
          uri,
          instance,
          status: counted,
          ...(c.code ? { code: c.code } : {}),
          message: counted === 'not-checked' ? `${uri} shows migrate-out but is not trusted: ${src.result.reason}` : `${uri}: ${c.message}`,
          sourceVerdict: src.result.verdict,
          unannounced: false,
        };
        out.checks.push({ ...c, id: 'migration.source', status: counted === 'migrated-out' ? 'pass' : counted === 'still-hosted' ? 'fail' : 'warn', message: `source ${r.message}` });
      }
      out.reports.push(r);
      const fact = r.status as MigrationFacts['sourceCheck'];
      if (worst === null || SEVERITY[fact] > SEVERITY[worst]) worst = fact;
    }
    if (batch.sourcesDropped > 0) {
      out.checks.push({ id: 'migration.source', status: 'warn', message: `${batch.sourcesDropped} more source platform(s) of ${batch.count} coalesced notifications were not checked` });
    }
    if (worst !== null) {
      const from = sources.length === 1 ? sources[0]! : batch.latest.from;
      out.migration = { from, to: currentHost, sourceCheck: worst };
    }
    return out;
  }

  if (input.previousHost !== null && !sameUri(input.previousHost, currentHost)) {
    const uri = input.previousHost;
    const { report, platform, src: answered, isCurrent, renamed } = await attest(uri, true);
    if (isCurrent) {
      // the certificate names the same host differently than last time: the VM did not move
      const how = renamed ? `the VM was verified there last time with AK ${currentAk}, that of ${currentHost}; not asked` : `the same AK as ${currentHost}`;
      out.checks.push(pass('migration.previous-host', `the previous host ${uri} is the platform the VM runs on now (${how}): it did not move`));
      return out;
    }
    const src = answered!;
    // The policy hears of the move as it does of an announced one (migration.requireSourceMigrateOut): a notification
    // is an unsigned hint, and its absence must not spare the source check. Without these facts a controller that
    // withheld the notification (or a watch restarted after the move) had an unreachable or untrusted previous host
    // pass, where the same move announced failed the policy's required migrate-out.
    if (report) {
      out.reports.push(report);
      out.checks.push({ id: 'migration.previous-host', status: 'warn', ...(report.code ? { code: report.code } : {}), message: `the VM moved without a notification; previous host ${report.message}` });
      out.migration = { from: uri, to: currentHost, sourceCheck: 'not-checked' };
      return out;
    }
    const tables = [{ platform: uri, table: platform!.vplatform! }, ...(currentTable ? [{ platform: currentHost, table: currentTable }] : [])];
    const c = checkSingleHost(instance, tables);
    const twice = c.status === 'fail';
    const hostedThere = platform!.vplatform!.hostedNow.has(instance);
    if (!twice && !hostedThere && src.result.verdict !== 'trusted') {
      // a platform that is not trusted cannot vouch that it let the VM go (its admission that it still hosts it counts)
      const message = `${uri} no longer hosts instance ${instance} by its table, but is not trusted: ${src.result.reason}`;
      out.reports.push({ uri, instance, status: 'not-checked', ...(src.result.error ? { code: src.result.error.code } : {}), message, sourceVerdict: src.result.verdict, unannounced: true });
      out.checks.push({ id: 'migration.previous-host', status: 'warn', ...(src.result.error ? { code: src.result.error.code } : {}), message: `the VM moved without a notification; previous host ${message}` });
      out.migration = { from: uri, to: currentHost, sourceCheck: 'not-checked' };
      return out;
    }
    if (!twice && !hostedThere) {
      const m = checkInstanceMigratedOut(platform!.vplatform!, instance);
      out.migration = { from: uri, to: currentHost, sourceCheck: m.status === 'pass' ? 'migrated-out' : 'not-migrated-out' };
      if (m.status !== 'pass') {
        // no longer hosted, but not let go either (destroyed there): what an announced move reports, not "moved", a pass
        const message = `${uri}: ${m.message}`;
        out.reports.push({ uri, instance, status: 'not-migrated-out', ...(m.code ? { code: m.code } : {}), message, sourceVerdict: src.result.verdict, unannounced: true });
        out.checks.push({ ...m, id: 'migration.previous-host', status: 'warn', message: `the VM moved without a notification; previous host ${message}` });
        return out;
      }
    }
    out.reports.push({
      uri,
      instance,
      status: twice ? 'hosted-twice' : hostedThere ? 'still-hosted' : 'moved',
      ...(twice ? { code: c.code! } : hostedThere ? { code: 'VPLATFORM_STILL_HOSTED' } : {}),
      message: twice ? c.message : hostedThere ? `${uri} still hosts instance ${instance}` : `${uri} no longer hosts instance ${instance}: it moved without a notification`,
      sourceVerdict: src.result.verdict,
      unannounced: true,
    });
    if (twice) {
      out.checks.push({ ...c, id: 'migration.previous-host' });
      out.findings.push({ category: 'clone', code: 'VPLATFORM_HOSTED_TWICE', layer: 0, message: c.message });
    } else if (hostedThere) {
      // the current host's table could not be compared (not verified); the previous one alone still hosts it
      const f = fail('migration.previous-host', 'VPLATFORM_STILL_HOSTED', `the VM moved without a notification and its previous host ${uri} still hosts instance ${instance}`);
      out.checks.push(f);
      out.findings.push({ category: 'clone', code: 'VPLATFORM_STILL_HOSTED', layer: 0, message: f.message });
    } else {
      out.checks.push(pass('migration.previous-host', `the VM moved from ${uri} to ${currentHost} without a notification; ${uri} no longer hosts it`));
    }
  }
  return out;
}
