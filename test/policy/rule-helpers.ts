// Reading one rule's result out of an evaluation in tests.
import assert from 'node:assert/strict';
import type { PolicyEvaluation, RuleResult } from '../../src/policy/result.js';

export function allResults(e: PolicyEvaluation): RuleResult[] {
  return [...e.layers.flatMap((l) => l.rules), ...e.chain];
}

/** The one result with this id (and rule set, when given); fails when there is not exactly one. */
export function rule(e: PolicyEvaluation, id: string, ruleSet?: string): RuleResult {
  const found = allResults(e).filter((r) => r.id === id && (ruleSet === undefined || r.ruleSet === ruleSet));
  assert.equal(found.length, 1, `expected one result ${id}, got ${found.length}: ${allResults(e).map((r) => r.id).join(', ')}`);
  return found[0]!;
}

export function assertPass(e: PolicyEvaluation, id: string): RuleResult {
  const r = rule(e, id);
  assert.equal(r.status, 'pass', `${id}: ${r.message}`);
  return r;
}

export function assertFail(e: PolicyEvaluation, id: string, code: string): RuleResult {
  const r = rule(e, id);
  assert.equal(r.status, 'fail', `${id} should fail: ${r.message}`);
  assert.equal(r.code, code);
  assert.equal(e.verdict, 'not-trusted');
  return r;
}

export function assertNoResult(e: PolicyEvaluation, id: string): void {
  assert.equal(allResults(e).filter((r) => r.id === id).length, 0, `unexpected result ${id}`);
}
