// Rules on the IMA measurement list: an allow-list path → digests (like
// Keylime's runtime policy), path excludes, excluded templates, and denied
// digests. One pass over the entries with Map/Set lookups: 100,000 entries
// against a 50,000-path list take a few milliseconds.

import { patternList } from '../pattern.js';
import type { CompiledIma } from '../compile.js';
import type { PolicyRuleCode } from '../codes.js';
import type { ImaEntryFacts, ImaViolationFacts, LayerFacts } from '../evidence.js';
import type { RuleSink } from '../result.js';
import type { ImaSpec } from '../schema.js';

const MAX_LISTED = 20;

/**
 * A measured path as a failure shows it: cut at the longest path an allow-list may name (4,096
 * characters). IMA paths are the attester's and may each be 1 MiB: twenty of them, listed per kind
 * and three times in the result (rule, layer error, result error), made 57 MB of a 22 MB list.
 */
export const MAX_IMA_PATH_SHOWN = 4096;

export function shownPath(path: string): string {
  return path.length > MAX_IMA_PATH_SHOWN ? `${path.slice(0, MAX_IMA_PATH_SHOWN)}… (${path.length} characters)` : path;
}

/** Why the IMA log's contents cannot be used, or undefined when they can. */
function imaUnusable(layer: LayerFacts): { code: PolicyRuleCode; message: string; expected: string; actual: string | null } | undefined {
  if (!layer.ima) return { code: 'POLICY_IMA_MISSING', message: 'the layer sent no IMA log', expected: 'an IMA log', actual: null };
  if (!layer.ima.replayMatched) return { code: 'POLICY_IMA_REPLAY', message: 'the IMA log does not replay to the quoted PCR, so its contents cannot be used', expected: 'replay matches the quote', actual: 'mismatch' };
  return undefined;
}

/** The digest's kind as IMA lists it: "sha256", or "verity:sha256" for an fs-verity digest. */
const digestKind = (e: ImaEntryFacts): string => (e.digestType === undefined || e.digestType === 'ima' ? e.algo : `${e.digestType}:${e.algo}`);

const entryOf = (e: ImaEntryFacts) => ({ path: shownPath(e.path), digest: `${digestKind(e)}:${e.digest}`, template: e.template });

/**
 * The algorithm a denied digest is of, by its length in hex: the list names none, and IMA's other algorithms
 * share these sizes (sm3_256, sha3-256 and streebog256 are 32 bytes, as SHA-256 is).
 */
const DENIED_ALGORITHM: Readonly<Record<number, string>> = { 40: 'sha1', 64: 'sha256', 96: 'sha384', 128: 'sha512' };

/** Can this entry's digest be compared with denied digests of these lengths: a content hash in their algorithm? */
function deniedComparable(e: ImaEntryFacts, sizes: ReadonlySet<number>): boolean {
  return sizes.has(e.digest.length) && DENIED_ALGORITHM[e.digest.length] === e.algo && (e.digestType === undefined || e.digestType === 'ima');
}

export function evaluateIma(spec: ImaSpec | undefined, c: CompiledIma | undefined, layer: LayerFacts, sink: RuleSink): void {
  if (!spec || !c) return;
  const unusable = imaUnusable(layer);
  const checkAllow = c.allow !== undefined;
  const checkDenied = c.denied !== undefined;
  for (const [wanted, id] of [[spec.required, 'ima.required'], [checkAllow, 'ima.allowList'], [checkDenied, 'ima.denied']] as const) {
    if (wanted && unusable) sink.fail(id, unusable.code, unusable.message, { expected: unusable.expected, actual: unusable.actual });
  }
  if (spec.required && !unusable) sink.pass('ima.required', 'the IMA log is present and replays to the quoted PCR');
  if (spec.mustReplay) {
    if (!layer.ima) sink.notApplicable('ima.mustReplay', 'the layer sent no IMA log');
    else if (unusable) sink.fail('ima.mustReplay', unusable.code, unusable.message, { expected: unusable.expected, actual: unusable.actual });
    else sink.pass('ima.mustReplay', 'the IMA log replays to the quoted PCR');
  }
  const ima = layer.ima;
  if (unusable || !ima || (!checkAllow && !checkDenied)) return;
  const { allow, denied, excludes, excludeTemplates } = c;
  const notListed: ImaEntryFacts[] = [];
  const wrongDigest: ImaEntryFacts[] = [];
  const deniedHits: ImaEntryFacts[] = [];
  let checked = 0;
  let excluded = 0;
  for (const e of ima.entries) {
    // a denied digest is denied whatever the entry says it is (its template name is not in the template hash)
    if (denied && denied.has(e.digest)) deniedHits.push(e);
    if (excludeTemplates.size && e.templateAttested !== false && excludeTemplates.has(e.template)) {
      excluded++;
      continue;
    }
    if (!allow) continue;
    if (excludes.length && excludes.some((r) => r.test(e.path))) {
      excluded++;
      continue;
    }
    checked++;
    const ok = allow.get(e.path);
    if (ok === undefined) notListed.push(e);
    else if (!ok.includes(e.digest)) wrongDigest.push(e);
  }
  // A violation says a file was open for write while it was measured: what was read may not be what was
  // measured, and the entry has no digest to look up. Nor is its path attested: IMA extends all ones for it,
  // whatever its template data says, so a compromised attester can name any file there. `excludes` therefore
  // do not apply to violations: strict, each one fails; `violations: allow` lets them all pass.
  const violated: readonly ImaViolationFacts[] = allow && spec.violations === 'fail' ? (ima.violations ?? []) : [];
  // An entry whose file name or digest could not be read (a template this verifier does not know) is a measured
  // file all the same: its template name is not in the template hash, so any entry of a binary list can be given
  // one. Neither rule can check it, and excludes (by path) and excludeTemplates (by a label) cannot pass it.
  const undecoded = ima.undecoded ?? [];
  const undecodedText = undecoded.length
    ? `${undecoded.length} entr${undecoded.length === 1 ? 'y' : 'ies'} whose file name or digest cannot be read (first: entry ${undecoded[0]!.entry}, template ${JSON.stringify(undecoded[0]!.template)})`
    : '';
  const undecodedShown = undecoded.length ? { undecodedCount: undecoded.length, undecoded: undecoded.slice(0, MAX_LISTED) } : {};
  if (checkAllow) {
    if (ima.entries.length === 0 && undecoded.length === 0) {
      sink.fail('ima.allowList', 'POLICY_IMA_UNKNOWN_FILE', 'the IMA log has no entries (is IMA measuring?)', { expected: 'measured files in the allow-list', actual: [] });
    } else {
      const parts: string[] = [];
      if (violated.length) parts.push(`${violated.length} violation(s): a file open for write while measured, its content unknown (first: entry ${violated[0]!.entry}${violated[0]!.path === undefined ? '' : `, claiming ${shownPath(violated[0]!.path)}`})`);
      if (wrongDigest.length) parts.push(`${wrongDigest.length} file(s) with a digest the allow-list does not give (first: ${shownPath(wrongDigest[0]!.path)})`);
      if (notListed.length) parts.push(`${notListed.length} file(s) not in the allow-list (first: ${shownPath(notListed[0]!.path)})`);
      if (undecoded.length) parts.push(undecodedText);
      const code = wrongDigest.length ? 'POLICY_IMA_DIGEST' : notListed.length || undecoded.length ? 'POLICY_IMA_UNKNOWN_FILE' : 'POLICY_IMA_VIOLATION';
      sink.check(parts.length === 0, 'ima.allowList', code, `all ${checked} checked file(s) are in the allow-list (${excluded} excluded)`, parts.join('; '), {
        expected: `digests from an allow-list of ${c.allowPaths} path(s)`,
        actual: {
          checked,
          excluded,
          wrongDigestCount: wrongDigest.length,
          wrongDigest: wrongDigest.slice(0, MAX_LISTED).map(entryOf),
          notListedCount: notListed.length,
          notListed: notListed.slice(0, MAX_LISTED).map(entryOf),
          ...(violated.length ? { violationCount: violated.length, violations: violated.slice(0, MAX_LISTED).map((v) => (v.path === undefined ? v : { ...v, path: shownPath(v.path) })) } : {}),
          ...undecodedShown,
        },
      });
    }
  }
  if (checkDenied) {
    // A digest compares only with digests of its algorithm: a file measured with another one (a SHA-256 IMA list
    // against a list of denied SHA-1 hashes) cannot be told apart from a denied one, and must not pass for it.
    // Nor with a digest of another kind or algorithm of the same size: an SM3 or SHA3-256 list (ima_hash=) or an
    // fs-verity digest (ima-ngv2 "verity:sha256:") never equals the SHA-256 of a denied file, whatever the file.
    const sizes = new Set([...denied!].map((d) => d.length));
    // The kernel's boot_aggregate is a hash of PCRs in a bank's algorithm (SHA-1 before Linux 5.8, or without
    // a bank of IMA's hash), not a file: it is no measured file left unchecked.
    const unchecked = ima.entries.filter((e) => !deniedComparable(e, sizes) && e.bootAggregate !== true);
    if (undecoded.length) {
      sink.fail('ima.denied', 'POLICY_IMA_DENIED', `${undecodedText}: they cannot be checked against the denied digests`, {
        expected: 'every measured file with a readable digest',
        actual: { count: undecoded.length, entries: undecoded.slice(0, MAX_LISTED) },
      });
      return;
    }
    if (unchecked.length) {
      const algos = [...new Set(unchecked.map(digestKind))];
      const given = [...sizes].map((n) => DENIED_ALGORITHM[n]!);
      sink.fail('ima.denied', 'POLICY_IMA_DENIED', `${unchecked.length} measured file(s) have a ${algos.join('/')} digest, and the denied list has no digest of that algorithm (only ${given.join(', ')}): they cannot be checked against it (first: ${shownPath(unchecked[0]!.path)})`, {
        expected: `denied digests of the measured files' algorithm (${given.join(', ')} given)`,
        actual: { count: unchecked.length, entries: unchecked.slice(0, MAX_LISTED).map(entryOf) },
      });
      return;
    }
    sink.check(deniedHits.length === 0, 'ima.denied', 'POLICY_IMA_DENIED', `no measured file has a denied digest (${denied!.size} denied)`, `${deniedHits.length} measured file(s) with a denied digest (first: ${deniedHits[0] === undefined ? undefined : shownPath(deniedHits[0].path)})`, {
      actual: { count: deniedHits.length, entries: deniedHits.slice(0, MAX_LISTED).map(entryOf) },
    });
  }
}

export function explainIma(spec: ImaSpec | undefined): string[] {
  if (!spec) return [];
  const out: string[] = [];
  if (spec.required) out.push('an IMA log is required and must replay to the quoted PCR 10');
  else if (spec.mustReplay) out.push('an IMA log, when sent, must replay to the quoted PCR 10');
  if (spec.allowList) out.push(`every measured file must be in an allow-list of ${spec.allowList.size} path(s) with one of its digests`);
  // excludes and excludeTemplates only exempt entries from the allow-list: without one they do nothing (and never
  // exempt anything from the denied digests), which a reader of the bare "except ..." line could not tell
  if (spec.excludes) out.push(spec.allowList ? `except paths matching ${patternList(spec.excludes)}` : `excludes ${patternList(spec.excludes)} have no effect: there is no allow-list to exempt paths from`);
  if (spec.allowList) out.push(spec.violations === 'allow' ? 'violations (a file open for write while measured) pass' : 'a violation (a file open for write while measured, its content unknown) fails, whatever path it claims');
  if (spec.excludeTemplates) {
    const names = spec.excludeTemplates.join(', ');
    out.push(spec.allowList ? `entries of template ${names} are not checked against the allow-list${spec.denied ? ' (denied digests still are)' : ''}` : `excludeTemplates ${names} have no effect: there is no allow-list to exempt entries from`);
  }
  if (spec.denied) out.push(`no measured file may have one of ${spec.denied.length} denied digest(s)`);
  return out;
}
