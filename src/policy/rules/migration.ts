// Rules on migration (protocol §6) and on the state store's clone and
// rollback findings (protocol §7).

import type { EvaluationInput } from '../evidence.js';
import type { RuleSink } from '../result.js';
import type { MigrationSpec } from '../schema.js';

export function evaluateMigration(spec: MigrationSpec, input: EvaluationInput, sink: RuleSink): void {
  const m = input.migration;
  const id = 'migration.requireSourceMigrateOut';
  if (!m) {
    if (spec.requireSourceMigrateOut) sink.notApplicable(id, 'this attestation was not triggered by a migration');
  } else if (m.sourceCheck === 'migrated-out') {
    sink.pass(id, `the source ${m.from} recorded migrate-out`, { actual: m.sourceCheck });
  } else if (m.sourceCheck === 'still-hosted') {
    // A source still hosting the instance left a duplicate behind: always a failure.
    sink.fail(id, 'POLICY_SOURCE_STILL_HOSTS', `the source ${m.from} still hosts the instance after it migrated to ${m.to}`, { expected: 'migrated-out', actual: m.sourceCheck });
  } else if (m.sourceCheck === 'not-migrated-out') {
    // the notification named a source that shows no migrate-out: it never hosted the instance, or destroyed it
    const what = `the source ${m.from} shows no migrate-out for the instance`;
    if (spec.requireSourceMigrateOut) sink.fail(id, 'POLICY_SOURCE_STILL_HOSTS', `${what}, and the policy requires it`, { expected: 'migrated-out', actual: m.sourceCheck });
    else sink.notApplicable(id, `${what} (not required)`);
  } else if (spec.requireSourceMigrateOut) {
    sink.fail(id, 'POLICY_SOURCE_STILL_HOSTS', `the source ${m.from} was not attested, and the policy requires its migrate-out`, { expected: 'migrated-out', actual: m.sourceCheck });
  } else {
    sink.notApplicable(id, `the source ${m.from} was not attested (not required)`);
  }
}

/** Findings about one layer go to that layer's results; findings about no known layer to the chain's. */
export function evaluateFindings(spec: MigrationSpec, input: EvaluationInput, sinkFor: (layer: number) => RuleSink, chain: RuleSink): void {
  const findings = input.findings;
  if (!findings) return;
  if (findings.length === 0) {
    chain.pass('migration.findings', 'the state store found no sign of a clone or rollback');
    return;
  }
  for (const f of findings) {
    const sink = input.layers.some((l) => l.position === f.layer) ? sinkFor(f.layer) : chain;
    const severity = spec.findings[f.category];
    const code = f.category === 'clone' ? 'POLICY_CLONE' : 'POLICY_ROLLBACK';
    const message = `${f.category} finding ${f.code}: ${f.message}`;
    if (severity === 'fail') sink.fail(`migration.findings.${f.category}`, code, message, { actual: f.code });
    else sink.warn(`migration.findings.${f.category}`, code, message, { actual: f.code });
  }
}

export function explainMigration(spec: MigrationSpec): string[] {
  const out: string[] = [];
  out.push(spec.reattestOnNotification ? 'on a migration notification the VM is attested again from the top' : 'migration notifications do not trigger a new attestation');
  out.push(
    spec.requireTrustedController
      ? 'the Migration Controller is attested, and its notifications are acted on only while it is trusted'
      : 'migration notifications are acted on without attesting the Migration Controller (they only trigger attestations)',
  );
  out.push(spec.requireSourceMigrateOut ? 'after a migration the source platform must have recorded migrate-out' : 'after a migration the source platform fails only if it was attested and still hosts the instance');
  out.push(`clone findings ${spec.findings.clone === 'fail' ? 'fail' : 'only warn'}; rollback findings ${spec.findings.rollback === 'fail' ? 'fail' : 'only warn'}`);
  return out;
}
