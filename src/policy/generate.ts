// Golden-policy generation (`policy init`): from the verified facts of
// known-good layers to the YAML text of a policy that pins the measured state
// that evidence shows (not which machine showed it), with a comment on each value saying where it came from. Large
// lists (the IMA allow-list) go to an included JSON file; the policy stays
// small enough to review.
//
// Pure: returns text; the caller writes the files. Every string is written as
// a JSON string (a valid YAML double-quoted scalar), and text from the
// evidence that lands in comments has its line breaks removed, so evidence can
// never inject YAML into the policy. Characters a reviewer would not see
// (bidi overrides, zero-width ones, other controls) are escaped in strings and
// replaced in comments, so what the reviewer reads is what the policy holds.

import type { HashName } from '../tpm/constants.js';
import type { LayerFacts } from './evidence.js';
import { bootPcrVerified, unaccountedCmdlinePcrs } from './rules/eventlog.js';
import { fwHex } from './rules/tpm.js';
import { manufacturerText } from './rules/trust.js';
import { API_VERSION, normalizeManufacturer } from './schema.js';
import { unseenPattern } from '../util/terminal-safe.js';

export interface GenerateOptions {
  /** the policy name (default "golden") */
  name?: string;
  /** where the facts came from, for the header comment (a file name) */
  source?: string;
  /** when the policy is generated, for the header comment */
  generatedAt?: Date;
  /**
   * the include path (relative to the policy file) of a layer's IMA
   * allow-list; undefined writes the allow-list inline
   */
  imaAllowListFile?: (layer: LayerFacts) => string | undefined;
}

export interface GeneratedPolicy {
  /** the policy YAML */
  yaml: string;
  /** included files to write next to the policy: path relative to the policy file, and content */
  files: { path: string; text: string }[];
}

/** PCRs not pinned: they change in normal operation and other rules cover them. */
const UNPINNED_PCRS: ReadonlyMap<number, string> = new Map([
  [10, 'IMA: grows with every measured file; covered by the ima rules'],
  [23, 'application PCR (the vPlatform table below the top): changes as VMs come and go'],
]);

/**
 * Characters a reviewer would not see, or that reorder what is shown: control
 * characters (C0, DEL, C1) and unseenPattern's (format characters such as bidi
 * overrides and marks, zero-width ones and BOM; the other default-ignorable
 * ones; the Unicode line and paragraph separators). The policy is printed to
 * the terminal without -o, and reviewed.
 */
const UNSEEN = new RegExp(unseenPattern(String.raw`\p{Cc}`), 'gu');
/** \uXXXX for each UTF-16 unit: one past U+FFFF (a TAG character, U+E0000..) is a surrogate pair, escaped as two. */
const uEscape = (c: string): string => [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');
/** A JSON string, with unseen characters escaped (\uXXXX, valid in YAML double quotes and JSON alike). */
const q = (s: string): string => JSON.stringify(s).replace(UNSEEN, uEscape);
const safeComment = (s: string): string => s.replace(UNSEEN, '?');
const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

class Lines {
  readonly out: string[] = [];
  add(indent: number, text: string, comment?: string): void {
    this.out.push(`${' '.repeat(indent)}${text}${comment ? `  # ${safeComment(comment)}` : ''}`);
  }
  comment(indent: number, text: string): void {
    this.out.push(`${' '.repeat(indent)}# ${safeComment(text)}`);
  }
}

function generateTrust(w: Lines, l: LayerFacts): void {
  const c = l.certificate;
  if (!c.anchor.label) {
    w.comment(4, 'trust: not generated: the evidence came without an AK certificate (a bare AK key); add trust.anchors');
    return;
  }
  w.add(4, 'trust:');
  w.add(6, 'anchors:');
  w.add(8, `- ${q(c.anchor.label)}`, `the AK path verified to ${c.anchor.subject}`);
  w.add(6, 'anchorRoles:');
  w.add(8, `- ${q(c.anchor.vouchesFor)}`, 'what that anchor vouches for');
  if (c.ekus.length) {
    w.add(6, 'requiredEkus:');
    for (const eku of c.ekus) w.add(8, `- ${q(eku)}`, 'carried by the AK certificate');
  }
  const m = c.tcg?.manufacturer;
  const normalized = m === undefined ? undefined : normalizeManufacturer(m);
  if (normalized) {
    w.add(6, 'manufacturers:');
    w.add(8, `- ${q(normalized)}`, `TPM manufacturer named by the AK certificate: ${manufacturerText(normalized)}`);
  }
  if (l.instanceId) w.comment(6, `instanceIds: [${q(l.instanceId)}]  (uncomment to pin this one vTPM instance)`);
}

function generateTpm(w: Lines, l: LayerFacts): void {
  w.add(4, 'tpm:');
  w.add(6, 'firmwareVersions:');
  w.add(8, `- ${q(fwHex(l.quote.firmwareVersion))}`, 'firmwareVersion in the quote (a TPM upgrade changes it)');
  if (l.quote.safe) w.add(6, 'requireSafeClock: true', 'the quote marked the clock safe');
  else w.comment(6, 'requireSafeClock: not set, the quote marked the clock NOT safe');
}

/**
 * The IMA rules generated for the layer cover PCR 10 only when they check its files: an IMA log that replayed, with
 * entries for an allow-list. Without one (no IMA log, one that did not replay, an empty one: IMA off), nothing
 * would check what is measured there, so PCR 10 is pinned to its quoted value like any other PCR.
 */
const imaAllowListWritten = (l: LayerFacts): boolean => l.ima?.replayMatched === true && l.ima.entries.length > 0;

function generatePcrs(w: Lines, l: LayerFacts): void {
  const banks = [...l.quote.pcrs].filter(([, values]) => values.size > 0);
  if (!banks.length) return;
  const unpinned = (i: number): string | undefined => (i === 10 && !imaAllowListWritten(l) ? undefined : UNPINNED_PCRS.get(i));
  // a bank with only unpinned PCRs (a quote of PCR 10 alone) would be an empty mapping: its comments stand without it
  const pinned = (values: ReadonlyMap<number, Uint8Array>) => [...values.keys()].some((i) => unpinned(i) === undefined);
  if (banks.some(([, values]) => pinned(values))) w.add(4, 'pcrs:');
  for (const [bank, values] of banks) {
    if (pinned(values)) w.add(6, `${bank}:`);
    else w.comment(6, `${bank}: no PCR pinned`);
    for (const index of [...values.keys()].sort((a, b) => a - b)) {
      const skip = unpinned(index);
      if (skip) {
        w.comment(8, `PCR ${index} not pinned: ${skip}`);
        continue;
      }
      const quoted = hexOf(values.get(index)!);
      const replayed = l.eventLog?.replayedPcrs.get(bank)?.get(index);
      const note =
        index === 10
          ? `quoted value; IMA's PCR, pinned: ${!l.ima ? 'the layer sent no IMA log' : !l.ima.replayMatched ? 'its IMA log did not replay' : 'its IMA log has no entries'}, so no allow-list covers it`
          : replayed === undefined
            ? 'quoted value'
            : hexOf(replayed) === quoted
              ? 'quoted value; equals the event log replay'
              : 'quoted value; differs from the event log replay';
      w.add(8, `${q(String(index))}:`);
      w.add(10, `- ${q(quoted)}`, note);
    }
  }
}

function generateEventLog(w: Lines, l: LayerFacts): void {
  const log = l.eventLog;
  if (!log) {
    w.comment(4, 'eventLog: none generated, the layer sent no event log');
    return;
  }
  if (!log.replayMatched) {
    w.comment(4, 'eventLog: none generated, the event log did NOT replay to the quoted PCRs (not known-good)');
    return;
  }
  w.add(4, 'eventLog:');
  w.add(6, 'required: true', 'the layer sent an event log that replayed to its quote');
  if (log.secureBoot === true) w.add(6, 'requireSecureBoot: true', 'SecureBoot was measured as 1');
  else w.comment(6, `requireSecureBoot: not set, SecureBoot was ${log.secureBoot === false ? 'measured as 0' : 'not measured'}`);
  const pcr4Quoted = bootPcrVerified(l, log);
  if (log.bootApplications.length && pcr4Quoted) {
    const byBank = new Map<HashName, Map<string, string>>();
    for (const app of log.bootApplications) {
      for (const [bank, digest] of Object.entries(app.digests) as [HashName, string][]) {
        const m = byBank.get(bank) ?? new Map<string, string>();
        if (!m.has(digest)) m.set(digest, `PCR ${app.pcr}${app.path ? `: ${app.path}` : ''}`);
        byBank.set(bank, m);
      }
    }
    w.add(6, 'bootApplications:');
    w.add(8, 'allowed:');
    for (const [bank, digests] of byBank) {
      w.add(10, `${bank}:`);
      for (const [digest, where] of digests) w.add(12, `- ${q(digest)}`, `boot application, ${where}`);
    }
  } else if (log.bootApplications.length) w.comment(6, 'bootApplications: not generated, the quote does not cover PCR 4 in a bank the event log carries');
  const cmdlines = [...new Set(log.kernelCmdlines)];
  if (log.kernelCmdlinesUnattested) {
    // the rule fails on such a log whatever it lists: the policy would refuse the evidence it was made from (PCR 8 stays pinned)
    w.comment(6, `kernelCmdlines: not generated, ${log.kernelCmdlinesUnattested} PCR 8 or 12 event(s) hold text their digest does not cover`);
  } else if (cmdlines.length && unaccountedCmdlinePcrs(l, log).length) {
    // the same: the rule fails when a command-line PCR is not accounted for (PCR 8 and 12 stay pinned where quoted)
    w.comment(6, `kernelCmdlines: not generated, the log does not account for PCR ${unaccountedCmdlinePcrs(l, log).join(' and ')} (not quoted, or extended with no event)`);
  } else if (cmdlines.length) {
    w.add(6, 'kernelCmdlines:');
    w.add(8, 'exact:');
    for (const c of cmdlines) w.add(10, `- ${q(c)}`, 'measured kernel command line');
  }
  const dbx = { sha256: [...new Set(log.dbx.sha256)], certSha256: [...new Set(log.dbx.certSha256)] };
  if (dbx.sha256.length || dbx.certSha256.length) {
    w.add(6, 'dbx:', 'the dbx must keep at least what it held (revocations may be added)');
    for (const key of ['sha256', 'certSha256'] as const) {
      if (!dbx[key].length) continue;
      w.add(8, `${key}:`);
      for (const d of dbx[key]) w.add(10, `- ${q(d)}`);
    }
  }
  const crtm = [...new Set(log.crtmVersions)];
  if (crtm.includes('')) {
    // firmware that measures an empty version string (OVMF under swtpm does): the language has no empty version, so
    // the rule could not accept the evidence it was made from; PCR 0, which the event extends, stays pinned
    w.comment(6, 'crtmVersions: not generated, an EV_S_CRTM_VERSION event measures an empty version');
  } else if (crtm.length) {
    w.add(6, 'crtmVersions:');
    for (const v of crtm) w.add(8, `- ${q(v)}`, 'measured EV_S_CRTM_VERSION');
  }
  const quirks = [...new Set(log.quirksApplied)];
  w.add(6, `allowedQuirks: [${quirks.map(q).join(', ')}]`, quirks.length ? 'workarounds the replay needed' : 'the replay needed no firmware workaround');
}

function imaAllowList(l: LayerFacts): Map<string, string[]> {
  const m = new Map<string, Set<string>>();
  for (const e of l.ima!.entries) {
    const s = m.get(e.path) ?? new Set<string>();
    s.add(e.digest);
    m.set(e.path, s);
  }
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, s]) => [p, [...s]]));
}

/** The allow-list as JSON, one path per line so diffs stay readable. */
function allowListJson(list: Map<string, string[]>): string {
  const lines = [...list].map(([path, digests]) => `  ${q(path)}: [${digests.map(q).join(', ')}]`);
  return `{\n${lines.join(',\n')}\n}\n`;
}

function generateIma(w: Lines, l: LayerFacts, opts: GenerateOptions, files: GeneratedPolicy['files']): void {
  const ima = l.ima;
  if (!ima) return;
  if (!ima.replayMatched) {
    w.comment(4, 'ima: none generated, the IMA log did NOT replay to the quoted PCR (not known-good)');
    return;
  }
  w.add(4, 'ima:');
  w.add(6, 'required: true', 'the layer sent an IMA log that replayed to its quote');
  if (!ima.entries.length) return;
  const violations = ima.violations ?? [];
  if (violations.length) {
    // the reference logged violations: its own policy would fail on them; say so where the rule is relaxed
    const first = violations[0]!.path ?? `entry ${violations[0]!.entry}`;
    w.comment(6, `the reference logged ${violations.length} violation(s) (a file open for write while measured, first: ${first}):`);
    w.comment(6, 'allowed so that this policy accepts it; `fail` fails every violation (their paths are not attested)');
    w.add(6, 'violations: allow');
  }
  const undecoded = ima.undecoded ?? [];
  if (undecoded.length) {
    // nothing to allow them by: the generated allow-list fails on them, as it would on any machine
    w.comment(6, `the reference has ${undecoded.length} entr${undecoded.length === 1 ? 'y' : 'ies'} whose file name or digest cannot be read (first: entry ${undecoded[0]!.entry}, template ${JSON.stringify(undecoded[0]!.template)}): the allow-list fails on them`);
  }
  const list = imaAllowList(l);
  const file = opts.imaAllowListFile?.(l);
  if (file) {
    files.push({ path: file, text: allowListJson(list) });
    w.add(6, 'allowList:');
    w.add(8, `include: ${q(file)}`, `${list.size} path(s) from the ${ima.entries.length} entries of the IMA log`);
    return;
  }
  w.add(6, 'allowList:', `${list.size} path(s) from the ${ima.entries.length} entries of the IMA log`);
  for (const [path, digests] of list) {
    const key = q(path);
    // YAML allows an implicit key of at most 1024 characters; a longer path (up to 4096) is written as an explicit key
    if (key.length > 1000) {
      w.add(8, `? ${key}`);
      w.add(8, `: [${digests.map(q).join(', ')}]`);
    } else w.add(8, `${key}: [${digests.map(q).join(', ')}]`);
  }
}

function bottomRule(bottom: LayerFacts): { endAt: string; why: string } {
  if (bottom.kind === 'physical') return { endAt: 'physical', why: `the lowest layer (${bottom.position}) is a physical TPM` };
  if (bottom.kind === 'unspecified') return { endAt: 'not-virtual', why: `the lowest layer (${bottom.position}) states no kind` };
  return { endAt: 'any', why: `the lowest layer (${bottom.position}) is virtual: the evidence stopped before a root` };
}

export function generatePolicy(layers: readonly LayerFacts[], opts: GenerateOptions = {}): GeneratedPolicy {
  const w = new Lines();
  const files: GeneratedPolicy['files'] = [];
  const name = opts.name ?? 'golden';
  w.comment(0, `Golden policy generated by \`vtpm-verify policy init\`${opts.source ? ` from ${opts.source}` : ''}${opts.generatedAt ? ` at ${opts.generatedAt.toISOString()}` : ''}.`);
  w.comment(0, "It pins the measured state the evidence shows (PCRs, boot, IMA, chain shape, anchors), not which machine showed it:");
  w.comment(0, 'instance ids (trust.instanceIds, written commented out), certificate subjects and evidence freshness are left to you.');
  w.comment(0, 'Review it, and widen lists (more golden values, patterns) on purpose.');
  w.add(0, `apiVersion: ${API_VERSION}`);
  w.add(0, `name: ${q(name)}`);
  w.add(0, `description: ${q(`Golden policy for ${layers.length} layer(s)${opts.source ? `, from ${opts.source}` : ''}`)}`);
  w.add(0, 'chain:');
  w.add(2, `minDepth: ${layers.length}`, `the evidence had ${layers.length} layer(s)`);
  w.add(2, `maxDepth: ${layers.length}`);
  const bottom = layers[layers.length - 1];
  if (bottom) {
    const b = bottomRule(bottom);
    w.add(2, `endAt: ${b.endAt}`, b.why);
  }
  w.add(2, 'unmatchedLayers: fail', 'every layer has its own rule set below');
  w.add(2, 'bindings:');
  for (const key of ['nonceChain', 'hostedInstance', 'issuer'] as const) {
    const below = layers.filter((l) => l.position > 0);
    const allPass = below.length > 0 && below.every((l) => l.binding[key] === 'pass');
    w.add(4, `${key}: ${allPass || key !== 'issuer' ? 'required' : 'optional'}`, allPass ? 'passed in the evidence' : below.length ? `not passed in the evidence (${below.map((l) => l.binding[key]).join(', ')})` : 'a single layer: nothing to bind');
  }
  w.add(0, 'migration:');
  w.add(2, 'requireSourceMigrateOut: true');
  w.add(2, 'findings: { clone: fail, rollback: fail }');
  w.add(0, 'layers:');
  for (const l of layers) {
    w.add(2, `- name: ${q(`layer-${l.position}`)}`);
    w.add(4, `description: ${q(`layer ${l.position}: ${l.kind}, ${l.uri}`)}`);
    w.add(4, 'select:');
    w.add(6, `position: ${l.position}`);
    w.add(4, `kinds: [${l.kind}]`, l.kind === 'unspecified' ? 'its AK certificate has no TrustedLayer extension' : 'from its AK certificate');
    generateTrust(w, l);
    generateTpm(w, l);
    generatePcrs(w, l);
    generateEventLog(w, l);
    generateIma(w, l, opts, files);
  }
  return { yaml: `${w.out.join('\n')}\n`, files };
}
