// Alternatives inside a repetition that can begin with the same character,
// such as (.|\s)* or (a|ab)+: on a value of n such characters a backtracking
// engine tries every way of splitting it among the alternatives, 2^n of them,
// before it fails. safe-regex2's star-height test does not see this (its star
// height is 1), yet ro(.|\s)*quiet against "ro" and 30 spaces takes 12 s, and
// each further space doubles that. Patterns are matched against values the attester chooses, so
// such a pattern is refused when the policy loads.
//
// Alternatives are told apart by their leading characters (bar|baz differ in
// the third), so the test also refuses some alternations that would not blow
// up, (a|ab)* say, where one alternative ends inside the other.

import { createRequire } from 'node:module';

/** ret's token types (ret 0.5, the parser safe-regex2 uses) */
const ROOT = 0, GROUP = 1, POSITION = 2, SET = 3, RANGE = 4, REPETITION = 5, REFERENCE = 6, CHAR = 7;

interface Token {
  type: number;
  value?: number | Token;
  from?: number;
  to?: number;
  not?: boolean;
  set?: Token[];
  stack?: Token[];
  options?: Token[][];
  min?: number;
  max?: number | null;
  followedBy?: boolean;
  notFollowedBy?: boolean;
  lookBehind?: boolean;
}

type Ranges = [number, number][];
const MAX_CODE_POINT = 0x10ffff;
const ALL: Ranges = [[0, MAX_CODE_POINT]];

function normalize(r: Ranges): Ranges {
  const sorted = [...r].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

function complement(r: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [a, b] of normalize(r)) {
    if (a > next) out.push([next, a - 1]);
    next = b + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

function intersects(x: Ranges, y: Ranges): boolean {
  for (const [a, b] of x) for (const [c, d] of y) if (a <= d && c <= b) return true;
  return false;
}

function setRanges(t: Token): Ranges {
  const parts: Ranges = [];
  for (const item of t.set ?? []) {
    if (item.type === CHAR) parts.push([item.value as number, item.value as number]);
    else if (item.type === RANGE) parts.push([item.from!, item.to!]);
    else if (item.type === SET) parts.push(...setRanges(item));
  }
  return t.not ? complement(parts) : normalize(parts);
}

interface First {
  chars: Ranges;
  /** the token can match the empty string, so what follows it can begin the match too */
  nullable: boolean;
}

function isLookaround(t: Token): boolean {
  return t.followedBy === true || t.notFollowedBy === true || t.lookBehind === true;
}

function firstOfToken(t: Token): First {
  switch (t.type) {
    case CHAR: return { chars: [[t.value as number, t.value as number]], nullable: false };
    case RANGE: return { chars: [[t.from!, t.to!]], nullable: false };
    case SET: return { chars: setRanges(t), nullable: false };
    case POSITION: return { chars: [], nullable: true };
    case REFERENCE: return { chars: ALL, nullable: true };
    case REPETITION: {
      const f = firstOfToken(t.value as Token);
      return { chars: f.chars, nullable: f.nullable || t.min === 0 };
    }
    case GROUP:
    case ROOT: {
      if (isLookaround(t)) return { chars: [], nullable: true };
      if (t.options) {
        const chars: Ranges = [];
        let nullable = false;
        for (const o of t.options) {
          const f = firstOfStack(o);
          chars.push(...f.chars);
          nullable ||= f.nullable;
        }
        return { chars, nullable };
      }
      return firstOfStack(t.stack ?? []);
    }
    default: return { chars: ALL, nullable: true };
  }
}

function firstOfStack(stack: readonly Token[]): First {
  const chars: Ranges = [];
  for (const t of stack) {
    const f = firstOfToken(t);
    chars.push(...f.chars);
    if (!f.nullable) return { chars, nullable: false };
  }
  return { chars, nullable: true };
}

/** a token matching exactly one character */
function single(t: Token | undefined): Ranges | undefined {
  if (t?.type === CHAR || t?.type === RANGE || t?.type === SET) return firstOfToken(t).chars;
  return undefined;
}

/**
 * Whether two alternatives may both match at the same place. They are told
 * apart when, after a common run of single-character tokens, they need
 * characters from disjoint sets at the same offset (bar|baz: r or z). Where
 * one ends first, or begins something other than a single character, they are
 * taken as overlapping if their possible next characters meet.
 */
function overlap(a: readonly Token[], b: readonly Token[]): boolean {
  for (let k = 0; ; k++) {
    if (k >= a.length || k >= b.length) return true;
    const x = single(a[k]);
    const y = single(b[k]);
    if (x && y) {
      if (!intersects(normalize(x), normalize(y))) return false;
      continue;
    }
    return intersects(normalize(firstOfStack(a.slice(k)).chars), normalize(firstOfStack(b.slice(k)).chars));
  }
}

function ambiguous(t: Token, repeated: boolean): boolean {
  if (t.type === REPETITION) return ambiguous(t.value as Token, repeated || t.max === null || (t.max ?? 0) > 1);
  if (t.type !== GROUP && t.type !== ROOT) return false;
  if (t.options) {
    if (repeated && !isLookaround(t) && t.options.length > 1) {
      const options = t.options;
      for (let i = 0; i < options.length; i++) {
        for (let j = i + 1; j < options.length; j++) if (overlap(options[i]!, options[j]!)) return true;
      }
    }
    return t.options.some((o) => o.some((x) => ambiguous(x, repeated)));
  }
  return (t.stack ?? []).some((x) => ambiguous(x, repeated));
}

let parse: ((pattern: string) => Token) | undefined;

/**
 * True when a repeated part of the pattern holds alternatives that can begin
 * with the same character. Call it on a pattern safe-regex2 accepted (which
 * ret parsed); a pattern ret cannot parse counts as ambiguous.
 */
export function hasAmbiguousRepeatedAlternation(pattern: string): boolean {
  parse ??= createRequire(import.meta.url)('ret') as (pattern: string) => Token;
  let root: Token;
  try {
    root = parse(pattern);
  } catch {
    return true;
  }
  return ambiguous(root, false);
}
