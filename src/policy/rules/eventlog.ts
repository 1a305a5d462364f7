// Rules on the TCG event log. Its contents count only when it replayed to the
// quoted PCRs: every content rule fails on a missing or non-matching log, so
// a policy demanding secure boot can never pass for want of evidence.

import { patternList } from '../pattern.js';
import type { HashName } from '../../tpm/constants.js';
import type { CompiledRuleSet } from '../compile.js';
import type { BootApplicationFacts, EventLogFacts, LayerFacts } from '../evidence.js';
import type { RuleSink } from '../result.js';
import type { EventLogSpec } from '../schema.js';

/**
 * A failed command-line or CRTM-version rule lists at most this many of the measured texts, each cut at
 * MAX_TEXT_SHOWN characters: they are the attester's, a replaying 8 MiB log holds tens of thousands
 * (or a few of 1 MiB), and the result carries the list three times (rule, layer error, result error)
 * for every VM attested through that layer (a 7.6 MB log made a 19 MB result).
 */
export const MAX_TEXTS_LISTED = 20;
export const MAX_TEXT_SHOWN = 4096;

function shownText(text: string): string {
  return text.length > MAX_TEXT_SHOWN ? `${text.slice(0, MAX_TEXT_SHOWN)}… (${text.length} characters)` : text;
}

/**
 * The failure message's tail and the actual value for measured texts `all`, of which `bad` are not allowed.
 * Up to MAX_TEXTS_LISTED texts, all of them are listed; past it, the ones not allowed (the first
 * MAX_TEXTS_LISTED measured could all be allowed, and hide the ones that failed), or when every one is
 * allowed, the first measured.
 */
function textsShown(all: readonly string[], bad: readonly string[]): { first: string; more: string; actual: string[] } {
  const first = JSON.stringify(bad[0] === undefined ? '' : shownText(bad[0]));
  if (all.length <= MAX_TEXTS_LISTED || bad.length === 0) return { first, more: '', actual: all.slice(0, MAX_TEXTS_LISTED).map(shownText) };
  const more = bad.length > MAX_TEXTS_LISTED ? ` (${bad.length} of ${all.length} not allowed; the first ${MAX_TEXTS_LISTED} of them listed)` : ` (${bad.length} of ${all.length} not allowed, listed)`;
  return { first, more, actual: bad.slice(0, MAX_TEXTS_LISTED).map(shownText) };
}

/** Boot applications are measured into PCR 4 (TCG PC Client PFP). */
const BOOT_APP_PCR = 4;
/** Kernel command lines are measured into PCR 8 (GRUB) and PCR 12 (systemd-boot, sd-stub). */
export const KERNEL_CMDLINE_PCRS: readonly number[] = [8, 12];

/**
 * The command-line PCRs the log does not account for: not quoted in a bank the log carries, or quoted at a
 * value other than their initial one (zeros) while the log has no event for them. A command line measured
 * there is unseen: a log that leaves out GRUB's PCR 8 events and brings a PCR 12 line extended from the
 * running OS (or the reverse) would otherwise show only the line the policy allows.
 */
export function unaccountedCmdlinePcrs(layer: LayerFacts, log: EventLogFacts): number[] {
  return KERNEL_CMDLINE_PCRS.filter(
    (pcr) =>
      ![...log.replayedPcrs].some(([bank, replayed]) => {
        const quoted = layer.quote.pcrs.get(bank)?.get(pcr);
        return quoted !== undefined && (replayed.has(pcr) || quoted.every((b) => b === 0));
      }),
  );
}
const MAX_LISTED = 20;

/** The log, if its contents may be used; otherwise records why not under id and returns undefined. */
function usableLog(layer: LayerFacts, sink: RuleSink, id: string): EventLogFacts | undefined {
  const log = layer.eventLog;
  if (!log) sink.fail(id, 'POLICY_EVENTLOG_MISSING', 'the layer sent no event log', { expected: 'an event log', actual: null });
  else if (!log.replayMatched) sink.fail(id, 'POLICY_EVENTLOG_REPLAY', 'the event log does not replay to the quoted PCRs, so its contents cannot be used', { expected: 'replay matches the quote', actual: 'mismatch' });
  else return log;
  return undefined;
}

/** A boot application's path (a device path's file nodes, the attester's: one 1 MiB event names ~500,000 characters) cut as measured texts are. */
function describeApp(a: BootApplicationFacts): { pcr: number; path?: string; digests: Partial<Record<HashName, string>> } {
  return a.path === undefined ? { pcr: a.pcr, digests: a.digests } : { pcr: a.pcr, path: shownText(a.path), digests: a.digests };
}

/** A boot application as a failure's message names it: its path (cut), or its first digest. */
function appLabel(a: BootApplicationFacts): string {
  return a.path === undefined ? String(Object.values(a.digests)[0]) : shownText(a.path);
}

function appHits(a: BootApplicationFacts, sets: ReadonlyMap<HashName, ReadonlySet<string>>): boolean {
  for (const [bank, set] of sets) {
    const d = a.digests[bank];
    if (d !== undefined && set.has(d)) return true;
  }
  return false;
}

/**
 * PCR 4 is quoted in a bank the log carries (so the replay compared it, events or none). Quoted only in
 * another bank, the log's PCR 4 events stay unverified: the list of boot applications would be empty,
 * and a `forbidden` rule would pass for want of anything to check.
 */
export function bootPcrVerified(layer: LayerFacts, log: EventLogFacts): boolean {
  for (const [bank, values] of layer.quote.pcrs) if (values.has(BOOT_APP_PCR) && log.replayedPcrs.get(bank)?.has(BOOT_APP_PCR)) return true;
  return false;
}

function evaluateBootApps(rs: CompiledRuleSet, layer: LayerFacts, sink: RuleSink): void {
  for (const [key, sets] of [['allowed', rs.bootAllowed], ['forbidden', rs.bootForbidden]] as const) {
    if (!sets) continue;
    const id = `eventLog.bootApplications.${key}`;
    const log = usableLog(layer, sink, id);
    if (!log) continue;
    // A log is only complete for PCRs the quote covers; without PCR 4 the list of boot applications may have been cut.
    if (!bootPcrVerified(layer, log)) {
      sink.fail(id, key === 'allowed' ? 'POLICY_BOOT_APP_NOT_ALLOWED' : 'POLICY_BOOT_APP_FORBIDDEN', `the quote does not cover PCR ${BOOT_APP_PCR} in a bank the event log carries, so the boot applications in the log are not proven complete`, { expected: `PCR ${BOOT_APP_PCR} quoted in a bank of the log`, actual: null });
      continue;
    }
    const apps = log.bootApplications;
    if (key === 'allowed') {
      const bad = apps.filter((a) => !appHits(a, sets));
      if (apps.length === 0) sink.fail(id, 'POLICY_BOOT_APP_NOT_ALLOWED', 'no boot application is measured in the event log', { expected: 'at least one allowed boot application', actual: [] });
      else sink.check(bad.length === 0, id, 'POLICY_BOOT_APP_NOT_ALLOWED', `all ${apps.length} boot application(s) are allowed`, `${bad.length} boot application(s) not allowed: ${bad.slice(0, 3).map(appLabel).join(', ')}`, { actual: bad.slice(0, MAX_LISTED).map(describeApp) });
    } else {
      // A digest counts only in a bank the quote verified: a boot application with none in a bank the list names
      // cannot be told apart from what the list forbids there (a revoked image's SHA-1 against a SHA-256-only quote).
      const unchecked = [...sets.keys()].flatMap((bank) => apps.filter((a) => a.digests[bank] === undefined).map((a) => ({ bank, app: a })));
      if (unchecked.length) {
        const banks = [...new Set(unchecked.map((u) => u.bank))];
        const shown = [...new Set(unchecked.map((u) => u.app))];
        sink.fail(id, 'POLICY_BOOT_APP_FORBIDDEN', `${shown.length} boot application(s) have no verified ${banks.join('/')} digest, the bank(s) of the forbidden list: they cannot be checked against it (first: ${appLabel(shown[0]!)})`, {
          expected: `a verified digest in ${banks.join(' and ')} for every boot application`,
          actual: shown.slice(0, MAX_LISTED).map(describeApp),
        });
        continue;
      }
      // an image relabelled as a firmware blob (the type is not in the digest) is still that image
      const bad = [...apps, ...(log.unboundDigests ?? [])].filter((a) => appHits(a, sets));
      sink.check(bad.length === 0, id, 'POLICY_BOOT_APP_FORBIDDEN', `none of ${apps.length} boot application(s) is forbidden`, `${bad.length} forbidden boot application(s): ${bad.slice(0, 3).map(appLabel).join(', ')}`, { actual: bad.slice(0, MAX_LISTED).map(describeApp) });
    }
  }
}

export function evaluateEventLog(rs: CompiledRuleSet, layer: LayerFacts, sink: RuleSink): void {
  const spec = rs.spec.eventLog;
  if (!spec) return;
  if (spec.required && usableLog(layer, sink, 'eventLog.required')) sink.pass('eventLog.required', 'the event log is present and replays to the quoted PCRs');
  if (spec.mustReplay) {
    if (!layer.eventLog) sink.notApplicable('eventLog.mustReplay', 'the layer sent no event log');
    else if (usableLog(layer, sink, 'eventLog.mustReplay')) sink.pass('eventLog.mustReplay', 'the event log replays to the quoted PCRs');
  }
  if (spec.requireSecureBoot) {
    const log = usableLog(layer, sink, 'eventLog.requireSecureBoot');
    if (log) {
      sink.check(log.secureBoot === true, 'eventLog.requireSecureBoot', 'POLICY_SECURE_BOOT', 'secure boot is on', log.secureBoot === false ? 'secure boot is off (SecureBoot measured as 0)' : 'the event log does not measure the SecureBoot variable', { expected: true, actual: log.secureBoot ?? null });
    }
  }
  evaluateBootApps(rs, layer, sink);
  if (rs.kernelCmdlines) {
    const log = usableLog(layer, sink, 'eventLog.kernelCmdlines');
    if (log) {
      const { exact, patterns } = rs.kernelCmdlines;
      const bad = log.kernelCmdlines.filter((c) => !exact.has(c) && !patterns.some((p) => p.test(c)));
      const unaccounted = unaccountedCmdlinePcrs(layer, log);
      if (log.kernelCmdlinesUnattested) {
        // a relabelled or rewritten PCR 8 or 12 event could be the command line that really booted
        sink.fail('eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE', `${log.kernelCmdlinesUnattested} PCR 8 or 12 event(s) hold text their digest does not cover: a kernel command line may be hidden in them`, { expected: 'every PCR 8 and 12 text attested', actual: log.kernelCmdlinesUnattested });
      } else if (unaccounted.length) {
        sink.fail('eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE', `the event log does not account for PCR ${unaccounted.join(' and ')} (not quoted, or extended with no event in the log): a kernel command line measured there is not seen`, {
          expected: `PCRs ${KERNEL_CMDLINE_PCRS.join(' and ')} quoted, each replayed by the log or at its initial value`,
          actual: { unaccountedPcrs: unaccounted },
        });
      } else if (log.kernelCmdlines.length === 0) sink.fail('eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE', 'no kernel command line is measured in the event log', { expected: 'an allowed kernel command line', actual: [] });
      else {
        const shown = textsShown(log.kernelCmdlines, bad);
        sink.check(bad.length === 0, 'eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE', 'every kernel command line is allowed', `kernel command line not allowed: ${shown.first}${shown.more}`, {
          expected: { exact: [...exact], patterns: patterns.map((p) => p.source) },
          actual: shown.actual,
        });
      }
    }
  }
  if (spec.dbx) {
    for (const key of ['sha256', 'certSha256'] as const) {
      const required = spec.dbx[key];
      if (!required) continue;
      const log = usableLog(layer, sink, `eventLog.dbx.${key}`);
      if (!log) continue;
      const have = new Set(log.dbx[key]);
      const missing = required.filter((d) => !have.has(d));
      sink.check(missing.length === 0, `eventLog.dbx.${key}`, 'POLICY_DBX_MISSING', `the dbx holds all ${required.length} required ${key === 'sha256' ? 'image' : 'certificate'} hash(es)`, `the dbx lacks ${missing.length} required ${key === 'sha256' ? 'image' : 'certificate'} hash(es)`, {
        expected: required,
        actual: { missing: missing.slice(0, MAX_LISTED), missingCount: missing.length },
      });
    }
  }
  if (spec.crtmVersions) {
    const log = usableLog(layer, sink, 'eventLog.crtmVersions');
    if (log) {
      const bad = log.crtmVersions.filter((v) => !spec.crtmVersions!.includes(v));
      if (log.crtmVersions.length === 0) sink.fail('eventLog.crtmVersions', 'POLICY_CRTM_VERSION', 'no CRTM version is measured in the event log', { expected: spec.crtmVersions, actual: [] });
      else {
        const shown = textsShown(log.crtmVersions, bad);
        sink.check(bad.length === 0, 'eventLog.crtmVersions', 'POLICY_CRTM_VERSION', 'the CRTM version is allowed', `CRTM version ${shown.first} is not allowed${shown.more}`, { expected: spec.crtmVersions, actual: shown.actual });
      }
    }
  }
  if (spec.allowedQuirks) {
    // A restriction, not a demand: with no usable log there is nothing it could forbid.
    const log = layer.eventLog;
    if (!log) sink.notApplicable('eventLog.allowedQuirks', 'no event log');
    else {
      const bad = log.quirksApplied.filter((q) => !spec.allowedQuirks!.includes(q));
      sink.check(bad.length === 0, 'eventLog.allowedQuirks', 'POLICY_QUIRK', log.quirksApplied.length ? `the replay used only allowed workarounds (${log.quirksApplied.join(', ')})` : 'the replay used no firmware workaround', `the replay used workaround(s) the policy does not allow: ${bad.join(', ')}`, {
        expected: spec.allowedQuirks,
        actual: log.quirksApplied,
      });
    }
  }
}

export function explainEventLog(spec: EventLogSpec | undefined): string[] {
  if (!spec) return [];
  const out: string[] = [];
  if (spec.required) out.push('an event log is required and must replay to the quoted PCRs');
  else if (spec.mustReplay) out.push('an event log, when sent, must replay to the quoted PCRs');
  if (spec.requireSecureBoot) out.push('secure boot must be on');
  const b = spec.bootApplications;
  const count = (m: ReadonlyMap<HashName, string[]>) => [...m].map(([bank, l]) => `${l.length} ${bank}`).join(' + ');
  if (b?.allowed) out.push(`every boot application must be one of ${count(b.allowed)} allowed digest(s)`);
  if (b?.forbidden) out.push(`no boot application may be one of ${count(b.forbidden)} forbidden digest(s)`);
  const k = spec.kernelCmdlines;
  if (k) out.push(`every kernel command line must ${[k.exact ? `be one of ${k.exact.length} exact line(s)` : '', k.patterns ? `match one of ${k.patterns.length} pattern(s) (${patternList(k.patterns)})` : ''].filter(Boolean).join(' or ')}, and one must be measured`);
  if (spec.dbx?.sha256) out.push(`the dbx must hold ${spec.dbx.sha256.length} given image hash(es)`);
  if (spec.dbx?.certSha256) out.push(`the dbx must hold ${spec.dbx.certSha256.length} given certificate hash(es)`);
  if (spec.crtmVersions) out.push(`the CRTM version must be ${spec.crtmVersions.map((v) => JSON.stringify(v)).join(' or ')}`);
  if (spec.allowedQuirks) out.push(spec.allowedQuirks.length ? `the replay may use only the workarounds ${spec.allowedQuirks.join(', ')}` : 'the replay may use no firmware workaround');
  return out;
}
