// The source check's rules on what a notification may make the watcher ask
// (unit level; the live scenarios are in scenarios.test.ts): a source only a
// notification names is not attested unless the policy requires the check, a
// "source" that is the platform the VM runs on now under another name is not
// a source, and sources are attested at once, not one timeout after another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSources, type SourceAttestation, type SourceCheckInput } from '../../src/watch/source-check.js';
import { batchOf } from '../../src/watch/trigger.js';
import type { VerifiedLayer } from '../../src/verify/walker.js';
import { analyzeVplatformLog } from '../../src/verify/vplatform.js';
import type { AttestationResult } from '../../src/verify/result.js';

const INSTANCE = 'cd'.repeat(32);
const CURRENT = 'http://127.0.0.1:8472/l/vmm-b';
const PREVIOUS = 'http://127.0.0.1:8472/l/vmm-a';

/** The VM walk: a verified top layer naming CURRENT, over a host layer quoting with AK `cur`. */
function vmWalk(): VerifiedLayer[] {
  const top = { position: 0, akKeyId: 'vm', info: { layer: { kind: 'virtual', instanceId: Buffer.from(INSTANCE, 'hex'), deepAttestation: CURRENT } }, vplatform: null };
  const host = { position: 1, akKeyId: 'cur', info: { layer: { kind: 'physical' } }, vplatform: { hostedNow: new Set([INSTANCE]) } };
  return [top, host] as unknown as VerifiedLayer[];
}

/** A source's attestation: its top layer quoting with AK `ak`, with no vPlatform table (so: not-checked). */
/** A source platform's attestation: its AK, verdict and vPlatform table (analyzeVplatformLog's; none by default). */
function sourceAttestation(ak: string, verdict: AttestationResult['verdict'] = 'trusted', vplatform: unknown = null): SourceAttestation {
  return {
    result: { verdict, reason: 'test', layers: [{}] } as unknown as AttestationResult,
    verified: [{ position: 0, akKeyId: ak, info: {}, vplatform } as unknown as VerifiedLayer],
    time: 0,
  };
}

function input(sources: string[], over: Partial<SourceCheckInput>): SourceCheckInput {
  const batch = { ...batchOf('http://ctl.test/m', { instance: INSTANCE, seq: 1, from: sources[0]!, to: CURRENT, time: new Date(0) }), sources };
  return {
    verified: vmWalk(),
    trigger: { kind: 'migration', batch },
    previousHost: PREVIOUS,
    attestSource: () => Promise.reject(new Error('not expected')),
    recordHosting: () => [],
    hostingEpoch: () => null,
    findingCategory: () => null,
    followNamedSources: false,
    ...over,
  };
}

test('a source only a notification names is not attested unless the policy requires the check; the verified previous host is', async () => {
  const asked: string[] = [];
  const attestSource = async (uri: string): Promise<SourceAttestation> => {
    asked.push(uri);
    return sourceAttestation(`ak-of-${uri}`);
  };
  const named = 'http://10.0.0.9:8080/internal/admin';
  const out = await checkSources(input([named], { attestSource }));
  assert.deepEqual(asked, [PREVIOUS], 'only the previous host, verified last time, was asked');
  const report = out.reports.find((r) => r.uri === named)!;
  assert.deepEqual([report.status, report.code, report.sourceVerdict], ['not-checked', 'MIGRATION_SOURCE_NOT_FOLLOWED', null]);
  assert.ok(out.checks.some((c) => c.code === 'MIGRATION_SOURCE_NOT_FOLLOWED' && c.status === 'warn'));

  asked.length = 0;
  await checkSources(input([named], { attestSource, followNamedSources: true }));
  assert.deepEqual(asked.sort(), [named, PREVIOUS].sort(), 'with the policy asking, every named source is attested');
});

test('a "source" that quotes with the AK of the host the VM runs on now is that host under another name: no source line, no finding', async () => {
  const alias = 'http://localhost:8472/l/vmm-b';
  const out = await checkSources(input([alias], { previousHost: CURRENT, followNamedSources: true, attestSource: async () => sourceAttestation('cur') }));
  assert.deepEqual(out.reports, []);
  assert.deepEqual(out.findings, []);
  assert.equal(out.migration, undefined, 'nothing for the policy to judge');
  const note = out.checks.find((c) => c.id === 'migration.source');
  assert.equal(note?.status, 'warn');
  assert.match(note?.message ?? '', /is the platform the VM runs on now/);

  // the same after an unannounced "move" to another spelling of the same host
  const moved = await checkSources({ ...input([alias], {}), trigger: { kind: 'interval' }, previousHost: alias, attestSource: async () => sourceAttestation('cur') });
  assert.deepEqual(moved.reports, []);
  assert.deepEqual(moved.findings, []);
  assert.equal(moved.checks.find((c) => c.id === 'migration.previous-host')?.status, 'pass');
});

test('sources are attested at once: a slow one does not hold back the others', async () => {
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const attestSource = (uri: string): Promise<SourceAttestation> =>
    new Promise((resolve) => {
      started.push(uri);
      release.set(uri, () => resolve(sourceAttestation(`ak-${uri}`, 'incomplete')));
    });
  const sources = ['http://a.test/l/x', 'http://b.test/l/y', 'http://c.test/l/z'];
  const pending = checkSources(input(sources, { attestSource, followNamedSources: true }));
  for (let i = 0; i < 50 && started.length < 4; i++) await new Promise((r) => setImmediate(r));
  assert.equal(started.length, 4, 'the three named sources and the previous host all started before any finished');
  for (const r of [...release.values()].reverse()) r();
  const out = await pending;
  assert.deepEqual(out.reports.map((r) => r.uri), [...sources, PREVIOUS], 'reported in order');
});

test('a source whose own host is relayed (its table does not host the source) records no hosting evidence; a bound one does', async () => {
  const SOURCE = 'ef'.repeat(32);
  const attestation = (hostHosts: boolean): SourceAttestation => ({
    result: { verdict: hostHosts ? 'trusted' : 'not-trusted', reason: 'test', layers: [{}, {}] } as unknown as AttestationResult,
    verified: [
      { position: 0, akKeyId: 'src', info: { layer: { kind: 'virtual', instanceId: Buffer.from(SOURCE, 'hex') } }, vplatform: { hostedNow: new Set([INSTANCE]), instances: new Map(), entries: [], issuers: new Set() } },
      { position: 1, akKeyId: hostHosts ? 'host' : 'relay', info: { layer: { kind: 'physical' } }, vplatform: { hostedNow: new Set(hostHosts ? [SOURCE] : []), instances: new Map(), entries: [], issuers: new Set() } },
    ] as unknown as VerifiedLayer[],
    time: 0,
  });
  for (const hostHosts of [false, true]) {
    const recorded: string[][] = [];
    await checkSources(input([PREVIOUS], { attestSource: async () => attestation(hostHosts), recordHosting: (_i, ev) => (recorded.push([...ev.platformPath]), []) }));
    assert.deepEqual(recorded, hostHosts ? [['src', 'host']] : [], hostHosts ? 'the bound source is evidence' : 'a path through a relay is no evidence');
  }
});

test('an unannounced move tells the policy what the previous host showed, as an announced one does: a withheld notification does not spare the required migrate-out', async () => {
  const platformAttestation = (verdict: AttestationResult['verdict'], vplatform: unknown): SourceAttestation => sourceAttestation('prev', verdict, vplatform);
  const unannounced = (attestation: SourceAttestation) => checkSources({ ...input([PREVIOUS], {}), trigger: { kind: 'interval' }, attestSource: async () => attestation });

  // unreachable (no table): not checked, and the policy hears it
  const down = await unannounced(sourceAttestation('prev', 'incomplete'));
  assert.deepEqual(down.reports.map((r) => [r.status, r.unannounced]), [['not-checked', true]]);
  assert.deepEqual(down.migration, { from: PREVIOUS, to: CURRENT, sourceCheck: 'not-checked' });

  // not trusted, its table showing migrate-out: it cannot vouch for it (was "moved", a pass)
  const migratedOut = analyzeVplatformLog([{ pcr: 23, op: 'create', instance: INSTANCE }, { pcr: 23, op: 'migrate-out', instance: INSTANCE }]);
  const untrusted = await unannounced(platformAttestation('not-trusted', migratedOut));
  assert.deepEqual(untrusted.reports.map((r) => [r.status, r.sourceVerdict]), [['not-checked', 'not-trusted']]);
  assert.equal(untrusted.checks.find((c) => c.id === 'migration.previous-host')?.status, 'warn');
  assert.deepEqual(untrusted.migration, { from: PREVIOUS, to: CURRENT, sourceCheck: 'not-checked' });

  // trusted and migrated out: moved, and the policy's migrate-out is met
  const moved = await unannounced(platformAttestation('trusted', migratedOut));
  assert.deepEqual(moved.reports.map((r) => r.status), ['moved']);
  assert.deepEqual(moved.migration, { from: PREVIOUS, to: CURRENT, sourceCheck: 'migrated-out' });
});

test('the previous host\'s URL answering with another AK than it quoted with when the VM was there is not the previous host: not checked, announced or not', async () => {
  const migratedOut = analyzeVplatformLog([{ pcr: 23, op: 'create', instance: INSTANCE }, { pcr: 23, op: 'migrate-out', instance: INSTANCE }]);
  // a platform the VM left long ago (trusted, its table showing migrate-out), relayed at the previous host's URL
  const oldHost = sourceAttestation('old', 'trusted', migratedOut);
  for (const [name, answer] of [['the current host', sourceAttestation('cur')], ['a host it left long ago', oldHost]] as const) {
    for (const trigger of [{ kind: 'interval' } as const, input([PREVIOUS], {}).trigger]) {
      const out = await checkSources({ ...input([PREVIOUS], {}), trigger, previousHostAk: 'prev', attestSource: async () => answer });
      const what = `${name}, ${trigger.kind}`;
      assert.deepEqual(out.reports.map((r) => [r.uri, r.status]), [[PREVIOUS, 'not-checked']], what);
      assert.match(out.reports[0]!.message, /quotes with AK (cur|old).* not prev/, what);
      assert.deepEqual(out.migration, { from: PREVIOUS, to: CURRENT, sourceCheck: 'not-checked' }, what);
      assert.ok(!out.checks.some((c) => c.status === 'pass' && c.id.startsWith('migration.')), what);
    }
  }
  // the previous host under another spelling, quoting with the AK it quoted with before (the current one): not a move
  const same = await checkSources({ ...input([PREVIOUS], {}), trigger: { kind: 'interval' }, previousHostAk: 'cur', attestSource: async () => sourceAttestation('cur') });
  assert.deepEqual(same.reports, []);
  assert.equal(same.checks.find((c) => c.id === 'migration.previous-host')?.status, 'pass');
});

test('a host renamed, its old name gone or given to another machine: the AK it quoted with is the one the VM runs on now, so the VM did not move, and its old URL is not asked', async () => {
  const asked: string[] = [];
  const unreachable: SourceAttestation = { result: { verdict: 'incomplete', reason: 'unreachable', layers: [{}] } as unknown as AttestationResult, verified: [], time: 0 };
  for (const answer of [unreachable, sourceAttestation('other')]) {
    for (const trigger of [{ kind: 'interval' } as const, input([PREVIOUS], {}).trigger]) {
      const out = await checkSources({
        ...input([PREVIOUS], {}),
        trigger,
        previousHostAk: 'cur',
        attestSource: async (uri) => {
          asked.push(uri);
          return answer;
        },
      });
      const what = `${answer.result.verdict}, ${trigger.kind}`;
      assert.deepEqual(out.reports, [], what);
      assert.equal(out.migration, undefined, what);
      assert.ok(!out.checks.some((c) => c.status === 'fail' || (c.status === 'warn' && c.id === 'migration.previous-host')), what);
    }
  }
  assert.deepEqual(asked, [], 'the old name of the host the VM runs on now is no source');
});

test('an unannounced move from a trusted host whose table shows no migrate-out (destroyed there) is not reported moved: not-migrated-out, as announced', async () => {
  const destroyed = analyzeVplatformLog([{ pcr: 23, op: 'create', instance: INSTANCE }, { pcr: 23, op: 'destroy', instance: INSTANCE }]);
  const answer = sourceAttestation('prev', 'trusted', destroyed);
  const out = await checkSources({ ...input([PREVIOUS], {}), trigger: { kind: 'interval' }, previousHostAk: 'prev', attestSource: async () => answer });
  assert.deepEqual(out.reports.map((r) => [r.status, r.code]), [['not-migrated-out', 'VPLATFORM_NOT_MIGRATED_OUT']]);
  assert.deepEqual(out.migration, { from: PREVIOUS, to: CURRENT, sourceCheck: 'not-migrated-out' });
  const check = out.checks.find((c) => c.id === 'migration.previous-host')!;
  assert.deepEqual([check.status, check.code, check.expected, check.actual], ['warn', 'VPLATFORM_NOT_MIGRATED_OUT', 'migrate-out', 'destroy']);
  assert.match(check.message, /without a notification.*no migrate-out.*destroyed/);
});
