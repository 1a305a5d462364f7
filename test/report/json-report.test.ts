// The audit JSON report against its documented schema
// (docs/audit-report.schema.json, validated with ajv): real reports
// validate, a result with every optional field validates (so the schema
// keeps up with the model), and the schema rejects what it must.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { AUDIT_REPORT_SCHEMA_PATH, auditReportJsonChunks, renderAuditReportJson, type AuditReport, type AuditRun } from '../../src/report/json-report.js';
import { summarize } from '../../src/report/summary.js';
import type { CheckResult } from '../../src/verify/checks.js';
import type { AttestationResult, CertificateSummary, ErrorSummary, LayerResult, RuleOutcome } from '../../src/verify/result.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { fleet } from './fleet.js';
import { NONCE, hostileResult, runChanges } from './fixtures.js';

const schema = JSON.parse(readFileSync(join(REPO_ROOT, AUDIT_REPORT_SCHEMA_PATH), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
const validate = ajv.compile(schema);

function assertValid(doc: unknown): void {
  const ok = validate(doc);
  assert.ok(ok, `schema errors:\n${JSON.stringify(validate.errors, null, 2)}`);
}

function assertInvalid(doc: unknown, why: string): void {
  assert.equal(validate(doc), false, `the schema should reject: ${why}`);
}

test('a fleet report validates against the schema and carries every result', () => {
  const f = fleet();
  const text = renderAuditReportJson(f.run, summarize(f.results), f.results);
  const doc = JSON.parse(text) as AuditReport;
  assertValid(doc);
  assert.equal(doc.format, 'vtpm-verify/audit-report');
  assert.equal(doc.version, 2);
  assert.deepEqual(doc.run, f.run);
  assert.deepEqual(doc.results, JSON.parse(JSON.stringify(f.results)));
  assert.equal(doc.summary.total, f.results.length);
  // one result per line: greppable, and streamed in chunks equal to the whole
  const lines = text.split('\n');
  const results = lines.slice(lines.indexOf('"results":[') + 1, lines.indexOf(']}'));
  assert.equal(results.length, f.results.length);
  results.forEach((line, i) => assert.deepEqual(JSON.parse(line.replace(/,$/, '')), doc.results[i]));
  assert.equal([...auditReportJsonChunks(f.run, summarize(f.results), f.results)].join(''), text);
});

test('an empty audit validates too', () => {
  const run: AuditRun = { tool: { name: 'vtpm-verify', version: '0.1.0' }, startedAt: '2026-11-26T12:00:00Z', finishedAt: '2026-11-26T12:00:00Z' };
  const doc = JSON.parse(renderAuditReportJson(run, summarize([]), [])) as AuditReport;
  assertValid(doc);
  assert.deepEqual(doc.results, []);
  assert.equal(doc.summary.timing, null);
});

// Every field of the model set: `Required<...>` makes this fail to compile when
// the model gains a field, and the schema (additionalProperties: false) rejects
// the field until it is documented there too.
function fullResult(): Required<AttestationResult> {
  const error: Required<ErrorSummary> = { code: 'POLICY_PCR_VALUE', message: 'PCR 7 mismatch', details: { layer: 0, expected: ['00'], actual: '11' } };
  const check: Required<CheckResult> = { id: 'quote.signature', status: 'fail', code: 'QUOTE_BAD_SIGNATURE', message: 'bad', expected: { a: 1 }, actual: [1, 'x', null] };
  const rule: Required<RuleOutcome> = { id: 'layer[0].pcrs.sha256.7', status: 'fail', message: 'PCR 7', code: 'POLICY_PCR_VALUE', expected: ['00'], actual: '11' };
  const cert: Required<CertificateSummary> = { subject: 'CN=a', issuer: 'CN=b', serial: '01', notBefore: '2026-01-01T00:00:00Z', notAfter: '2027-01-01T00:00:00Z', sha256: 'ab'.repeat(32) };
  const layer: Required<LayerResult> = {
    position: 0,
    uri: 'https://vm.example:8443',
    status: 'not-trusted',
    nonce: NONCE,
    kind: 'virtual',
    instanceId: 'cd'.repeat(32),
    akName: `000b${'ef'.repeat(32)}`,
    akKeyId: '12'.repeat(32),
    certificatePath: [cert],
    anchor: { label: 'vplatform-ca', subject: 'CN=b', vouchesFor: 'vplatform-ca' },
    clockInfo: { clock: '18446744073709551615', resetCount: 2, restartCount: 0, safe: false },
    firmwareVersion: '0001000200030004',
    deepAttestation: 'https://vmm.example:9443',
    migrationService: 'https://mig.example',
    hostedInstanceCount: 3,
    checks: [check, { id: 'quote.nonce', status: 'pass', message: 'ok' }, { id: 'x', status: 'skip', message: 'n/a' }, { id: 'y', status: 'warn', code: 'CLOCK_NOT_SAFE', message: 'w' }],
    rules: [rule, { id: 'freshness.maxAge', status: 'not-applicable', message: 'live' }],
    error,
    elapsedMs: 12.5,
  };
  return {
    target: 'https://vm.example:8443',
    name: 'vm',
    group: 'web',
    tags: ['a', 'b'],
    attempts: 2,
    attemptsMs: 3_400,
    verdict: 'not-trusted',
    reason: 'VM (layer 0): PCR 7 mismatch',
    error,
    policy: { source: 'p.yaml', id: 'p', builtin: false },
    nonce: NONCE,
    startedAt: '2026-11-26T12:00:00.000Z',
    finishedAt: '2026-11-26T12:00:00.125+01:00',
    layers: [layer, { position: 1, uri: 'https://vmm.example:9443', status: 'not-reached', nonce: '', checks: [], rules: [] }],
    chain: [{ id: 'chain.endAt', status: 'warn', code: 'POLICY_CHAIN_END', message: 'w' }],
    platformPath: [`000b${'99'.repeat(32)}`],
    findings: [{ id: 'state.clock', status: 'fail', code: 'CLOCK_WENT_BACK', message: 'went back', expected: '>= 5', actual: '4' }],
  };
}

function report(results: unknown[]): unknown {
  const f = fleet(2);
  return JSON.parse(renderAuditReportJson(f.run, summarize([]), results as AttestationResult[]));
}

test("a run with --state validates: its run id, and what changed since the previous run (or null)", () => {
  const f = fleet(2);
  const since = runChanges();

  for (const state of [{ runId: 7, since }, { runId: 1, since: null }]) {
    const run: Required<AuditRun> = { ...f.run, interrupted: { signal: 'SIGTERM', notStarted: 3 }, state } as Required<AuditRun>;
    const doc = JSON.parse(renderAuditReportJson(run, summarize(f.results), f.results)) as AuditReport;
    assertValid(doc);
    assert.deepEqual(doc.run.state, state);
  }
  const bad = (mutate: (s: Record<string, any>) => void, why: string): void => {
    const state = JSON.parse(JSON.stringify({ runId: 7, since })) as Record<string, any>;
    mutate(state);
    assertInvalid(JSON.parse(renderAuditReportJson({ ...f.run, state } as AuditRun, summarize([]), [])), why);
  };
  bad((s) => (s['since']['changes'][0]['now'] = 'fine'), 'a verdict not in the enum');
  bad((s) => delete s['runId'], 'no run id');
  bad((s) => (s['since']['worse'] = -1), 'a negative count');
  bad((s) => (s['since']['extra'] = 1), 'an unknown field');
});

test('a result with every optional field set validates (the schema covers the whole model)', () => {
  assertValid(report([fullResult(), hostileResult()]));
});

test('the schema is strict where the model is: unknown fields, bad hex, bad enums and times are rejected', () => {
  const cases: [string, (r: Record<string, any>) => void][] = [
    ['an unknown result field', (r) => (r['extra'] = 1)],
    ['an unknown layer field', (r) => (r['layers'][0]['extra'] = 1)],
    ['an unknown check field', (r) => (r['layers'][0]['checks'][0]['extra'] = 1)],
    ['uppercase hex nonce', (r) => (r['nonce'] = NONCE.toUpperCase())],
    ['odd-length hex instance id', (r) => (r['layers'][0]['instanceId'] = 'abc')],
    ['a verdict not in the enum', (r) => (r['verdict'] = 'maybe')],
    ['a layer status not in the enum', (r) => (r['layers'][0]['status'] = 'fine')],
    ['a check status of a rule', (r) => (r['layers'][0]['checks'][0]['status'] = 'not-applicable')],
    ['a clock as a number', (r) => (r['layers'][0]['clockInfo']['clock'] = 5)],
    ['a time that is not ISO-8601', (r) => (r['startedAt'] = 'yesterday')],
    ['a missing reason', (r) => delete r['reason']],
    ['a missing layer nonce', (r) => delete r['layers'][0]['nonce']],
    ['firmwareVersion of the wrong length', (r) => (r['layers'][0]['firmwareVersion'] = '01')],
  ];
  for (const [why, mutate] of cases) {
    const r = JSON.parse(JSON.stringify(fullResult())) as Record<string, any>;
    mutate(r);
    assertInvalid(report([r]), why);
  }
  const doc = report([]) as Record<string, any>;
  doc['version'] = 1;
  assertInvalid(doc, 'an earlier format version (1 listed hostedInstances)');
  const v1Layer = JSON.parse(JSON.stringify(fullResult())) as Record<string, any>;
  v1Layer['layers'][0]['hostedInstances'] = ['34'.repeat(32)];
  assertInvalid(report([v1Layer]), 'the version-1 hostedInstances list');
  const doc2 = report([]) as Record<string, any>;
  doc2['summary']['failureCodes'] = [{ code: 'X', count: 0 }];
  assertInvalid(doc2, 'a code counted zero times');
});
