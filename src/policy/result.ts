// What evaluation returns: one RuleResult per rule and layer, each saying
// which rule (stable id, and the rule set it came from), pass / fail / warn /
// not-applicable, expected vs actual, and why — so a report can always say
// exactly why a layer is or is not trusted.

import type { CheckResult } from '../verify/checks.js';
import type { PolicyRuleCode } from './codes.js';
import type { LayerKind } from './evidence.js';

export type RuleStatus = 'pass' | 'fail' | 'warn' | 'not-applicable';

export interface RuleResult {
  /**
   * stable id mirroring the policy key: "layer[0].pcrs.sha256.7",
   * "layer[1].chain.bindings.hostedInstance", "chain.endAt", "freshness.maxAge".
   * Two matching rule sets may check the same key; (id, ruleSet) is unique.
   */
  id: string;
  status: RuleStatus;
  /** the layer position, for layer rules */
  layer?: number;
  /** the rule set the rule came from (layer rules written in `layers:`) */
  ruleSet?: string;
  /** set on fail and warn */
  code?: PolicyRuleCode;
  message: string;
  expected?: unknown;
  actual?: unknown;
}

export interface LayerEvaluation {
  position: number;
  uri: string;
  kind: LayerKind;
  /** names of the rule sets that selected this layer, in policy order */
  ruleSets: string[];
  verdict: Verdict;
  rules: RuleResult[];
}

export type Verdict = 'trusted' | 'not-trusted';

export interface PolicyEvaluation {
  policy: string;
  verdict: Verdict;
  layers: LayerEvaluation[];
  /** rules on the whole chain: depth, end, freshness, migration */
  chain: RuleResult[];
  counts: { pass: number; fail: number; warn: number; notApplicable: number };
}

/** Collects the results of one (layer, rule set) or of the chain, under an id prefix. */
export class RuleSink {
  constructor(
    readonly out: RuleResult[],
    private readonly prefix: string,
    private readonly layer?: number,
    private readonly ruleSet?: string,
  ) {}

  private add(id: string, status: RuleStatus, message: string, extra: { code?: PolicyRuleCode; expected?: unknown; actual?: unknown }): void {
    const r: RuleResult = { id: this.prefix ? `${this.prefix}.${id}` : id, status, message };
    if (this.layer !== undefined) r.layer = this.layer;
    if (this.ruleSet !== undefined) r.ruleSet = this.ruleSet;
    if (extra.code !== undefined) r.code = extra.code;
    if (extra.expected !== undefined) r.expected = extra.expected;
    if (extra.actual !== undefined) r.actual = extra.actual;
    this.out.push(r);
  }

  pass(id: string, message: string, extra: { expected?: unknown; actual?: unknown } = {}): void {
    this.add(id, 'pass', message, extra);
  }

  fail(id: string, code: PolicyRuleCode, message: string, extra: { expected?: unknown; actual?: unknown } = {}): void {
    this.add(id, 'fail', message, { code, ...extra });
  }

  warn(id: string, code: PolicyRuleCode, message: string, extra: { expected?: unknown; actual?: unknown } = {}): void {
    this.add(id, 'warn', message, { code, ...extra });
  }

  notApplicable(id: string, message: string): void {
    this.add(id, 'not-applicable', message, {});
  }

  /** pass or fail on a condition */
  check(ok: boolean, id: string, code: PolicyRuleCode, passMessage: string, failMessage: string, extra: { expected?: unknown; actual?: unknown } = {}): void {
    if (ok) this.pass(id, passMessage, extra);
    else this.fail(id, code, failMessage, extra);
  }
}

/** RuleResults as the CheckResults every report lists (not-applicable → skip). */
export function toCheckResults(results: readonly RuleResult[]): CheckResult[] {
  return results.map((r) => {
    const c: CheckResult = { id: r.ruleSet ? `${r.id}@${r.ruleSet}` : r.id, status: r.status === 'not-applicable' ? 'skip' : r.status, message: r.message };
    if (r.code !== undefined) c.code = r.code;
    if (r.expected !== undefined) c.expected = r.expected;
    if (r.actual !== undefined) c.actual = r.actual;
    return c;
  });
}
