// Rules on the age of offline evidence (a saved bundle). Live evidence is
// fresh by its nonce, so these rules do not apply to it.

import type { EvaluationInput } from '../evidence.js';
import type { RuleSink } from '../result.js';
import type { FreshnessSpec } from '../schema.js';

function human(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function evaluateFreshness(spec: FreshnessSpec | undefined, input: EvaluationInput, sink: RuleSink): void {
  if (!spec) return;
  const t = input.evidenceTime;
  if (!t) {
    if (spec.maxAge) sink.notApplicable('freshness.maxAge', 'live evidence (fresh by its nonce)');
    return;
  }
  const age = input.now.getTime() - t.getTime();
  const actual = t.toISOString();
  if (age < -spec.maxFutureSkew.ms) {
    sink.fail('freshness.maxFutureSkew', 'POLICY_EVIDENCE_FUTURE', `the evidence is dated ${human(age)} in the future (more than ${spec.maxFutureSkew.text})`, { expected: `collected no later than now + ${spec.maxFutureSkew.text}`, actual });
  } else {
    sink.pass('freshness.maxFutureSkew', 'the evidence is not dated in the future', { actual });
  }
  if (spec.maxAge) {
    sink.check(age <= spec.maxAge.ms, 'freshness.maxAge', 'POLICY_EVIDENCE_STALE', `the evidence is ${age < 0 ? '0s' : human(age)} old, at most ${spec.maxAge.text}`, `the evidence is ${human(age)} old, older than ${spec.maxAge.text}`, { expected: `at most ${spec.maxAge.text} old`, actual });
  }
}

export function explainFreshness(spec: FreshnessSpec | undefined): string[] {
  if (!spec) return [];
  const out: string[] = [];
  if (spec.maxAge) out.push(`offline evidence must be at most ${spec.maxAge.text} old`);
  out.push(`offline evidence may be dated at most ${spec.maxFutureSkew.text} in the future`);
  return out;
}
