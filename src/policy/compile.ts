// A validated policy turned into what evaluation needs: patterns compiled once
// (anchored: a pattern always matches the WHOLE value), digest lists as Sets,
// the IMA allow-list as the Map the loader built. Evaluating 100,000 IMA
// entries then costs one Map lookup and a scan of one or two digests each.

import type { HashName } from '../tpm/constants.js';
import { anyOf, wholeMatch, type Pattern } from './pattern.js';
import type { LayerKind } from './evidence.js';
import { manufacturerKey, type LayerRuleSpec, type PolicySpec } from './schema.js';

export interface CompiledSelector {
  position?: number;
  kinds?: ReadonlySet<LayerKind>;
  subject?: Pattern;
  issuer?: Pattern;
  anchors?: ReadonlySet<string>;
  manufacturers?: ReadonlySet<string>;
}

export interface CompiledIma {
  /** path → allowed digests: the validated map itself (lists of one to a few digests: includes() beats a Set) */
  allow?: ReadonlyMap<string, readonly string[]>;
  /** number of paths in the allow-list, for reports */
  allowPaths: number;
  /** the exclude patterns, as one RE2 set (each matching the whole path on its own) */
  excludes: readonly Pattern[];
  excludeTemplates: ReadonlySet<string>;
  denied?: ReadonlySet<string>;
}

export interface CompiledRuleSet {
  name: string;
  /** where the rule set is written: "policies/production.yaml:31:5" */
  at: string;
  spec: LayerRuleSpec;
  select?: CompiledSelector;
  kernelCmdlines?: { exact: ReadonlySet<string>; patterns: readonly Pattern[] };
  bootAllowed?: ReadonlyMap<HashName, ReadonlySet<string>>;
  bootForbidden?: ReadonlyMap<HashName, ReadonlySet<string>>;
  ima?: CompiledIma;
}

/** A loaded, validated and compiled policy: what evaluatePolicy takes. */
export interface Policy {
  name: string;
  /** the policy file, when loaded from one */
  file?: string;
  /** included reference files, as resolved */
  includes: string[];
  spec: PolicySpec;
  ruleSets: CompiledRuleSet[];
}

function digestSets(m: ReadonlyMap<HashName, string[]> | undefined): ReadonlyMap<HashName, ReadonlySet<string>> | undefined {
  return m && new Map([...m].map(([bank, list]) => [bank, new Set(list)]));
}

function compileSelector(s: LayerRuleSpec['select']): CompiledSelector | undefined {
  if (!s) return undefined;
  const out: CompiledSelector = {};
  if (s.position !== undefined) out.position = s.position;
  if (s.kind) out.kinds = new Set(s.kind);
  const c = s.certificate;
  if (c?.subject !== undefined) out.subject = wholeMatch(c.subject);
  if (c?.issuer !== undefined) out.issuer = wholeMatch(c.issuer);
  if (c?.anchor) out.anchors = new Set(c.anchor);
  // compared by manufacturerKey: a zero-padded and a space-padded short vendor name are one vendor
  if (c?.manufacturer) out.manufacturers = new Set(c.manufacturer.map(manufacturerKey));
  return out;
}

function compileIma(spec: NonNullable<LayerRuleSpec['ima']>): CompiledIma {
  const out: CompiledIma = {
    allowPaths: spec.allowList?.size ?? 0,
    excludes: anyOf(spec.excludes ?? []),
    excludeTemplates: new Set(spec.excludeTemplates ?? []),
  };
  if (spec.allowList) out.allow = spec.allowList;
  if (spec.denied) out.denied = new Set(spec.denied);
  return out;
}

export function compilePolicy(spec: PolicySpec, where: { file?: string; includes: string[]; ruleSetAt: (index: number) => string }): Policy {
  const ruleSets = spec.layers.map((rs, index): CompiledRuleSet => {
    const out: CompiledRuleSet = { name: rs.name, at: where.ruleSetAt(index), spec: rs };
    const select = compileSelector(rs.select);
    if (select) out.select = select;
    const k = rs.eventLog?.kernelCmdlines;
    if (k) out.kernelCmdlines = { exact: new Set(k.exact ?? []), patterns: (k.patterns ?? []).map(wholeMatch) };
    const allowed = digestSets(rs.eventLog?.bootApplications?.allowed);
    if (allowed) out.bootAllowed = allowed;
    const forbidden = digestSets(rs.eventLog?.bootApplications?.forbidden);
    if (forbidden) out.bootForbidden = forbidden;
    if (rs.ima) out.ima = compileIma(rs.ima);
    return out;
  });
  const policy: Policy = { name: spec.name, includes: where.includes, spec, ruleSets };
  if (where.file !== undefined) policy.file = where.file;
  return policy;
}
