// Policy patterns (kernel command lines, IMA path excludes, certificate
// names): RE2 syntax, matched by re2js in time linear in the value. The values
// come from the attester, and a backtracking engine (JavaScript's RegExp) can
// be made to take exponential or polynomial time by a crafted value:
// ro(.|\s)*quiet took 12 s on "ro" and 30 spaces, ro .* root=.* quiet 77 ms on
// a 24 KB line and minutes on a 1 MB one. Load-time tests for such patterns
// (star height, ambiguous alternations) refused some and missed others; with
// an automaton there is nothing to refuse.

import { createRequire } from 'node:module';
import type { RE2JS as RE2JSClass, RE2Set as RE2SetClass } from 're2js';

/** A compiled pattern: test() is true when the pattern matches the WHOLE value. */
export interface Pattern {
  /** the pattern as written in the policy */
  readonly source: string;
  test(value: string): boolean;
}

/**
 * Instructions a pattern may compile to. Matching is linear in the value, but
 * each character can cost up to this many steps: a pattern whose automaton
 * has more states than re2js's fast matcher keeps, such as [ab]*a[ab]{999}c
 * (9,021 instructions), runs on the slower one at about 97 s per MB of value.
 * Ordinary patterns compile to under 200 ([0-9a-f]{64} to 66), and the
 * shipped ones take 0 to 26 ms per MB of crafted value.
 */
export const MAX_PATTERN_PROGRAM = 10_000;

/**
 * Instructions all the patterns of one policy may compile to together. A compiled instruction holds
 * about 750 bytes and takes about 3 µs to compile: 1,000 excludes of 1,000 characters (1.27 million
 * instructions, a 1 MB policy) took 1 GB and 7 s to load, and 14,000 x{1000}-style patterns would take
 * far more. Ordinary policies use a few thousand.
 */
export const MAX_POLICY_PROGRAM = 100_000;

/** What the policy being checked (checkPolicy) has left of MAX_POLICY_PROGRAM; undefined outside a check. */
let budget: number | undefined;

/** Counts the patterns fn's checks see against MAX_POLICY_PROGRAM (synchronous: one policy at a time). */
export function withPatternBudget<T>(fn: () => T): T {
  const outer = budget;
  budget = MAX_POLICY_PROGRAM;
  try {
    return fn();
  } finally {
    budget = outer;
  }
}

let re2js: { RE2JS: typeof RE2JSClass; RE2Set: typeof RE2SetClass } | undefined;
/** re2js, loaded on first use: only a policy with patterns needs it, not every command's start-up. */
function lib(): { RE2JS: typeof RE2JSClass; RE2Set: typeof RE2SetClass } {
  // not named `require`: the bundle's banner declares one in the same scope
  re2js ??= createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JSClass; RE2Set: typeof RE2SetClass };
  return re2js;
}
function engine(): typeof RE2JSClass {
  return lib().RE2JS;
}

/** Why a pattern cannot be used (for the policy loader), or undefined. */
export function patternProblem(pattern: string): string | undefined {
  // past the budget, the pattern that crossed it has made the policy invalid: the rest are not compiled
  if (budget !== undefined && budget < 0) return undefined;
  let size: number;
  try {
    size = engine().compile(pattern).programSize();
  } catch (err) {
    // re2js reads a lookbehind as a malformed named group ("invalid named capture"): say what it is
    const lookbehind = /invalid named capture: `\(\?<[=!]/.test((err as Error).message) ? /\(\?<[=!]/.exec(pattern) : null;
    if (lookbehind) return `not a valid RE2 pattern: lookbehind \`${lookbehind[0]}\` (no lookaround runs in linear time)`;
    // re2js: "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"
    return `not a valid RE2 pattern: ${(err as Error).message.replace(/^error parsing regexp: /, '')}`;
  }
  if (size > MAX_PATTERN_PROGRAM) return `too large once compiled (${size} instructions, at most ${MAX_PATTERN_PROGRAM}): large repeat counts such as {1000} multiply`;
  if (budget !== undefined) {
    budget -= size;
    if (budget < 0) return `the policy's patterns compile to more than ${MAX_POLICY_PROGRAM} instructions together with this one (${size}): each costs memory and time for every value matched; use fewer or smaller patterns`;
  }
  return undefined;
}

/** The pattern anchored at both ends: "console=ttyS0" never accepts "console=ttyS0 init=/bin/sh". */
export function wholeMatch(pattern: string): Pattern {
  const re = engine().compile(pattern);
  return { source: pattern, test: (value) => re.matches(value) };
}

/**
 * Any of the patterns, as one automaton (one pass per value rather than one per pattern): an RE2 set, each
 * pattern parsed on its own and matching the whole value on its own. Not the text `(?:a)|(?:b)`: a pattern's
 * `\Q` quotes to its end, so `\Q/etc/ld.so.cache` joined to `/tmp/\Q.x\E` was one literal path that neither
 * pattern matches (and with no `\E` after it, no pattern at all), and two patterns may name a group alike.
 * The patterns are valid, and within MAX_POLICY_PROGRAM together (the loader checked).
 */
export function anyOf(patterns: readonly string[]): Pattern[] {
  if (patterns.length < 2) return patterns.map(wholeMatch);
  const { RE2Set } = lib();
  const set = new RE2Set(RE2Set.ANCHOR_BOTH);
  for (const p of patterns) set.add(p);
  set.compile();
  return [{ source: patterns.join(' | '), test: (value) => set.match(value).length > 0 }];
}

/** Patterns as written (not JSON-escaped: "\d" reads as in the policy), for explanations: the first `max`, then how many more. */
export function patternList(patterns: readonly string[], max = 10): string {
  const shown = patterns.slice(0, max).map((p) => `"${p}"`).join(', ');
  return patterns.length > max ? `${shown} and ${patterns.length - max} more` : shown;
}
