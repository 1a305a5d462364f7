// Clone detection from hosting periods: CLONE_HOSTED_TWICE fires when two
// platforms hosted the instance at overlapping times, and not on migrations.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { assessHosting, boundLayers, type HostingEvidence, type Stay } from '../../src/state/hosting-findings.js';
import { fail, pass } from '../../src/verify/checks.js';
import type { VerifiedLayer } from '../../src/verify/walker.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { P, Q, T0 } from './reading.js';

const X = 'c'.repeat(64);
const R3 = ['cc03', 'ff00'];

/** Applies evidence in order, keeping stays like the store does; returns codes per step. */
function run(evidence: (Omit<HostingEvidence, 'time'> & { at: number })[]): { codes: string[][]; stays: Stay[] } {
  let stays: Stay[] = [];
  let nextId = 1;
  const codes: string[][] = [];
  for (const e of evidence) {
    const a = assessHosting(X, stays, { ...e, time: T0 + e.at * 1000 });
    for (const s of a.changed) {
      if (s.id === null) stays = [...stays, { ...s, id: nextId++ }];
      else stays = stays.map((old) => (old.id === s.id ? s : old));
    }
    codes.push(a.findings.map((f) => f.code));
  }
  return { codes, stays };
}

/** A state store in a real SQLite file of its own, closed after the test, and the assessor that writes to it. */
async function storeOnDisk(t: TestContext) {
  const { openState } = await import('../../src/state/index.js');
  const { stateAssessor } = await import('../../src/state/assess.js');
  const { tempDir } = await import('./tmp.js');
  const store = await openState(`${tempDir(t)}/state.db`);
  t.after(() => store.close());
  return { store, stateAssessor };
}

test('a migration, and a migration back, are not clones (no hosting epochs)', () => {
  const { codes, stays } = run([
    { platformPath: P, hosted: true, at: 0 },
    { platformPath: P, hosted: true, at: 10 },
    { platformPath: Q, hosted: true, at: 20 },
    { platformPath: P, hosted: true, at: 30 },
  ]);
  assert.deepEqual(codes, [[], [], [], []]);
  assert.equal(stays.length, 3, 'P, Q, then P again: three stays');
  assert.equal(stays[0]!.last - stays[0]!.first, 10_000);
});

test('CLONE_HOSTED_TWICE: the source still hosts the instance (same hosting epoch) after it was seen on the destination', () => {
  const { codes, stays } = run([
    { platformPath: P, epoch: 'e1', hosted: true, at: 0 },
    { platformPath: Q, epoch: 'f1', hosted: true, at: 20 },
    { platformPath: P, epoch: 'e1', hosted: true, at: 25 }, // source check: still hosted through entry e1
  ]);
  assert.deepEqual(codes, [[], [], ['CLONE_HOSTED_TWICE']]);
  assert.equal(stays.length, 2);
});

test('benign twins: the source shows migrate-out; or the instance came back through a new log entry', () => {
  assert.deepEqual(
    run([
      { platformPath: P, epoch: 'e1', hosted: true, at: 0 },
      { platformPath: Q, epoch: 'f1', hosted: true, at: 20 },
      { platformPath: P, hosted: false, at: 25 },
      { platformPath: Q, epoch: 'f1', hosted: true, at: 30 },
    ]).codes,
    [[], [], [], []],
  );
  assert.deepEqual(
    run([
      { platformPath: P, epoch: 'e1', hosted: true, at: 0 },
      { platformPath: Q, epoch: 'f1', hosted: true, at: 20 },
      { platformPath: P, epoch: 'e2', hosted: true, at: 40 }, // migrate-in again: new entry
    ]).codes,
    [[], [], []],
  );
});

test('the clone keeps being reported while the other stay is open, and stops once it is closed', () => {
  const { codes } = run([
    { platformPath: P, epoch: 'e1', hosted: true, at: 0 },
    { platformPath: Q, epoch: 'f1', hosted: true, at: 20 },
    { platformPath: P, epoch: 'e1', hosted: true, at: 25 },
    { platformPath: P, epoch: 'e1', hosted: true, at: 30 },
    { platformPath: Q, hosted: false, at: 35 }, // the duplicate is destroyed
    { platformPath: P, epoch: 'e1', hosted: true, at: 40 },
  ]);
  assert.deepEqual(codes, [[], [], ['CLONE_HOSTED_TWICE'], ['CLONE_HOSTED_TWICE'], [], []]);
});

test('one finding per other platform, naming both platforms and times', () => {
  const a = assessHosting(
    X,
    [
      { id: 1, platformPath: Q, epoch: null, first: T0 + 5_000, last: T0 + 6_000, closedAt: null },
      { id: 2, platformPath: R3, epoch: null, first: T0 + 7_000, last: T0 + 7_000, closedAt: null },
      { id: 3, platformPath: P, epoch: 'e1', first: T0, last: T0 + 1_000, closedAt: null },
    ],
    { platformPath: P, epoch: 'e1', time: T0 + 9_000, hosted: true },
  );
  assert.deepEqual(
    a.findings.map((f) => f.details['otherPlatform']),
    [Q, R3],
  );
  assert.deepEqual(a.findings[0]!.details['platform'], P);
  assert.deepEqual(a.findings[0]!.details['seen'], { from: new Date(T0).toISOString(), to: new Date(T0 + 9_000).toISOString(), epoch: 'e1' });
});

test('evidence without a platform path is a bug of the caller', () => {
  assertThrowsCode(() => assessHosting(X, [], { platformPath: [], time: T0, hosted: true }), 'INTERNAL_ERROR');
});

test('akConflict: an AK that is not the instance\'s own, on another platform than where it runs now, is another vTPM claiming it', async () => {
  const { akConflict } = await import('../../src/state/hosting-findings.js');
  const A = 'aa'.repeat(34);
  const B = 'bb'.repeat(34);
  const open = [{ platformPath: P, last: T0 }];
  // hosted nowhere yet, or one of its own AKs anywhere (a migration, or a clone, which copies the AK)
  assert.equal(akConflict(X, { akName: B, platformPath: Q }, [A], []), null);
  assert.equal(akConflict(X, { akName: A, platformPath: Q }, [A], open), null);
  // another AK where it runs now: re-keyed in place
  assert.equal(akConflict(X, { akName: B, platformPath: P }, [A], open), null);
  // another AK elsewhere
  const c = akConflict(X, { akName: B, platformPath: Q }, [A], open);
  assert.equal(c?.code, 'CLONE_AK_CONFLICT');
  assert.deepEqual(c?.details, { knownAks: [A], knownPlatform: P, ak: B, platform: Q });
  // a former host, whose stay was never closed, is not where it runs now: it cannot re-key the instance
  assert.equal(akConflict(X, { akName: B, platformPath: P }, [A], [{ platformPath: Q, last: T0 + 1_000 }, { platformPath: P, last: T0 }])?.code, 'CLONE_AK_CONFLICT');
});

test('through the state store: an impostor vTPM claiming a known instance gets CLONE_AK_CONFLICT, and the genuine instance is not made a clone', async (t) => {
  const { store, stateAssessor } = await storeOnDisk(t);
  const instance = Buffer.from('cd'.repeat(32), 'hex');
  const hex = 'cd'.repeat(32);
  /** a VM layer over a host layer whose vPlatform table hosts the instance */
  const walk = (ak: string, host: string, clock: number) =>
    [
      { position: 0, akKeyId: ak, info: { layer: { kind: 'virtual', instanceId: instance } }, quote: { clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n }, vplatform: null },
      { position: 1, akKeyId: host, info: { layer: { kind: 'physical' } }, quote: { clockInfo: { clock: 1n, resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n }, vplatform: { hostedNow: new Set([hex]), issuers: new Set(), instances: new Map(), entries: [] } },
    ] as unknown as Parameters<ReturnType<typeof stateAssessor>>[0];
  const genuine = 'aa'.repeat(34);
  const impostor = 'bb'.repeat(34);
  const codes = async (layers: Parameters<ReturnType<typeof stateAssessor>>[0], at: number) =>
    (await stateAssessor(store, { target: 'https://vm', time: T0 + at * 1000, receivedAt: () => T0 + at * 1000 + 100 })(layers)).findings.map((f) => f.code);
  assert.deepEqual(await codes(walk(genuine, '11'.repeat(34), 1_000), 0), []);
  // host-2's compromised per-host CA certified another key under the same instance id; host-2's table "hosts" it
  assert.deepEqual(await codes(walk(impostor, '22'.repeat(34), 5_000), 30), ['CLONE_AK_CONFLICT']);
  assert.deepEqual(await codes(walk(impostor, '22'.repeat(34), 6_000), 60), ['CLONE_AK_CONFLICT']);
  // the genuine instance, attested again where it runs, between and after the impostor's claims: no clone finding
  assert.deepEqual(await codes(walk(genuine, '11'.repeat(34), 1_500), 45), []);
  assert.deepEqual(await codes(walk(genuine, '11'.repeat(34), 2_000), 90), []);
  assert.equal(store.stays(hex).length, 1, 'only the genuine instance\'s stay was recorded');
  // audits a day or more apart: the impostor is still another vTPM (the instance never left host 1)
  const day = 86_400;
  assert.deepEqual(await codes(walk(impostor, '22'.repeat(34), 7_000), day + 120), ['CLONE_AK_CONFLICT']);
  assert.deepEqual(await codes(walk(genuine, '11'.repeat(34), 3_000), day + 180), []);
  // the genuine VM re-keyed in place, then live-migrated with its new AK: its own, not a conflict
  const rekeyed = 'cc'.repeat(34);
  assert.deepEqual(await codes(walk(rekeyed, '11'.repeat(34), 4_000), day + 240), []);
  assert.deepEqual(await codes(walk(rekeyed, '33'.repeat(34), 5_000), day + 3_840), []);
  // it leaves host 3 with evidence (a migrate-out in host 3's table), then runs on host 4 with the same AK: its own
  store.recordHosting(hex, { platformPath: ['33'.repeat(34)], epoch: null, time: T0 + (day + 4_000) * 1000, hosted: false });
  assert.deepEqual(await codes(walk(rekeyed, '44'.repeat(34), 6_000), day + 4_200), []);
  assert.deepEqual(await codes(walk(rekeyed, '44'.repeat(34), 7_000), 8 * day), []);
  // a former host (host 1, whose stay was never closed) presents a vTPM of its own under the id
  assert.deepEqual(await codes(walk('dd'.repeat(34), '11'.repeat(34), 9_000), 8 * day + 60), ['CLONE_AK_CONFLICT']);
  assert.deepEqual(await codes(walk(rekeyed, '44'.repeat(34), 8_000), 8 * day + 120), []);
});

test('a walk cut short below the VM (a lower layer unreachable, or a stop) is no hosting evidence: the next whole walk is not CLONE_HOSTED_TWICE', async (t) => {
  const { store, stateAssessor } = await storeOnDisk(t);
  type Layers = Parameters<ReturnType<typeof stateAssessor>>[0];
  const hex = 'ce'.repeat(32);
  const vmm = 'ee'.repeat(32);
  const vmmAk = '11'.repeat(34);
  const hostAk = '22'.repeat(34);
  const clockInfo = (clock: number) => ({ clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n });
  const table = (hosted: string) => ({ hostedNow: new Set([hosted]), issuers: new Set(), instances: new Map([[hosted, { entries: [0] }]]), entries: [{ op: 'create' }] });
  /** VM → VMM → host; `whole: false`: the host did not answer (the walk stopped at the VMM, which points further down) */
  let lowerClock = 0;
  const walk = (clock: number, whole: boolean, instance = hex) => {
    lowerClock += 1_000;
    return [
      { position: 0, akKeyId: `a${instance.slice(0, 67)}`, info: { layer: { kind: 'virtual', instanceId: Buffer.from(instance, 'hex') } }, quote: clockInfo(clock), vplatform: null },
      { position: 1, akKeyId: vmmAk, info: { layer: { kind: 'virtual', instanceId: Buffer.from(vmm, 'hex') } }, quote: clockInfo(lowerClock), vplatform: table(instance) },
      ...(whole ? [{ position: 2, akKeyId: hostAk, info: { layer: { kind: 'physical' } }, quote: clockInfo(lowerClock), vplatform: table(vmm) }] : []),
    ] as unknown as Layers;
  };
  const codes = async (layers: Layers, at: number) =>
    (await stateAssessor(store, { target: 'https://vm', time: T0 + at * 1000, receivedAt: () => T0 + at * 1000 + 100 })(layers)).findings.map((f) => f.code);
  assert.deepEqual(await codes(walk(1_000, true), 0), []);
  // the host is down for one audit (or the audit was stopped while the host's request was in flight)
  assert.deepEqual(await codes(walk(31_000, false), 30), []);
  // the host is back: the same VM on the same platforms, not two platforms hosting it
  assert.deepEqual(await codes(walk(61_000, true), 60), []);
  assert.deepEqual(await codes(walk(91_000, true), 90), []);
  assert.deepEqual(
    store.stays(hex).map((s) => s.platformPath),
    [[vmmAk, hostAk]],
    'one stay, on the whole platform path',
  );
  // an instance first seen through a cut-short walk: its key becomes its own at its first whole walk, no finding
  const fresh = 'cf'.repeat(32);
  assert.deepEqual(await codes(walk(1_000, false, fresh), 100), []);
  assert.equal(store.stays(fresh).length, 0);
  assert.deepEqual(await codes(walk(2_000, true, fresh), 130), []);
  assert.deepEqual(await codes(walk(3_000, true, fresh), 160), []);
  assert.deepEqual(store.instanceKeys(fresh), [`a${fresh.slice(0, 67)}`]);
  // the clock readings of the layers that verified are still compared: a rollback is found on a cut-short walk too
  assert.ok((await codes(walk(2_500, false, fresh), 190)).includes('CLOCK_WENT_BACK'));
});

test('a top layer the audit refused (TARGET_INSTANCE_MISMATCH, AUDIT_DUPLICATE_INSTANCE) cannot make its key the instance\'s own on a new state file; a clone of the own key is still found', async (t) => {
  const { store, stateAssessor } = await storeOnDisk(t);
  type Layers = Parameters<ReturnType<typeof stateAssessor>>[0];
  type Results = NonNullable<Parameters<ReturnType<typeof stateAssessor>>[1]>;
  const instance = Buffer.from('cb'.repeat(32), 'hex');
  const hex = 'cb'.repeat(32);
  const walk = (ak: string, host: string, clock: number) =>
    [
      { position: 0, akKeyId: ak, info: { layer: { kind: 'virtual', instanceId: instance } }, quote: { clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n }, vplatform: null },
      { position: 1, akKeyId: host, info: { layer: { kind: 'physical' } }, quote: { clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n }, vplatform: { hostedNow: new Set([hex]), issuers: new Set(), instances: new Map([[hex, { entries: [0] }]]), entries: [{ op: 'create' }] } },
    ] as unknown as Layers;
  /** the walk's layer results: the top one refused with `code` (the audit's own check), or clean */
  const results = (code?: string) => [{ position: 0, checks: code ? [{ id: 'target.instance', status: 'fail', code, message: 'refused' }] : [] }] as unknown as Results;
  const codes = async (layers: Layers, at: number, code?: string) =>
    (await stateAssessor(store, { target: 'https://vm', time: T0 + at * 1000, receivedAt: () => T0 + at * 1000 + 100 })(layers, results(code))).findings.map((f) => f.code);
  const genuine = 'aa'.repeat(34);
  const impostor = 'bb'.repeat(34);
  const host1 = '11'.repeat(34);
  const host2 = '22'.repeat(34);
  // first run on a new file: the impostor (host 2's vTPM certified under the victim's id) comes first in the inventory, and is refused
  assert.deepEqual(await codes(walk(impostor, host2, 5_000), 0, 'TARGET_INSTANCE_MISMATCH'), []);
  assert.deepEqual(await codes(walk(genuine, host1, 1_000), 1), [], 'the genuine VM is not framed');
  // the next runs: the impostor is the one flagged, the genuine VM stays clean
  assert.deepEqual(await codes(walk(impostor, host2, 6_000), 3600, 'AUDIT_DUPLICATE_INSTANCE'), ['CLONE_AK_CONFLICT']);
  assert.deepEqual(await codes(walk(genuine, host1, 2_000), 3601), []);
  assert.deepEqual(store.instanceKeys(hex), [genuine]);
  assert.deepEqual(store.stays(hex).map((s) => s.platformPath), [[host1]]);
  // a clone of the genuine vTPM (its key copied) answering at another VM's URL, refused in the audit: still a clone in the state
  assert.deepEqual(await codes(walk(genuine, host2, 2_500), 3602, 'AUDIT_DUPLICATE_INSTANCE'), []);
  assert.ok((await codes(walk(genuine, host1, 3_000), 3603)).includes('CLONE_HOSTED_TWICE'));
});

test('a lower layer whose verified table does not host the instance above (a relay answering for the host, a stale host, no table) is no hosting evidence: the genuine VM is not made a clone', async (t) => {
  const { store, stateAssessor } = await storeOnDisk(t);
  type Layers = Parameters<ReturnType<typeof stateAssessor>>[0];
  const hex = 'cd'.repeat(32);
  const vmm = 'ed'.repeat(32);
  const vmAk = '33'.repeat(34);
  const hostAk = '22'.repeat(34);
  const clockInfo = (clock: number) => ({ clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n });
  const table = (hosted: string | null, left = false) =>
    hosted === null
      ? null
      : { hostedNow: new Set(left ? [] : [hosted]), issuers: new Set(), instances: new Map([[hosted, { entries: left ? [0, 1] : [0] }]]), entries: [{ op: 'create' }, { op: 'migrate-out' }] };
  let clock = 0;
  /** VM → VMM (AK `vmmAk`, its table for the VM) → host (its table for the VMM) */
  const walk = (vmmAk: string, vmTable: ReturnType<typeof table>, hostTable: ReturnType<typeof table> = table(vmm)) => {
    clock += 1_000;
    return [
      { position: 0, akKeyId: vmAk, info: { layer: { kind: 'virtual', instanceId: Buffer.from(hex, 'hex') } }, quote: clockInfo(clock), vplatform: null },
      { position: 1, akKeyId: vmmAk, info: { layer: { kind: 'virtual', instanceId: Buffer.from(vmm, 'hex') } }, quote: clockInfo(clock), vplatform: vmTable },
      { position: 2, akKeyId: hostAk, info: { layer: { kind: 'physical' } }, quote: clockInfo(clock), vplatform: hostTable },
    ] as unknown as Layers;
  };
  let at = 0;
  const codes = async (layers: Layers) => {
    at += 30;
    return (await stateAssessor(store, { target: 'https://vm', time: T0 + at * 1000, receivedAt: () => T0 + at * 1000 + 100 })(layers)).findings.map((f) => f.code);
  };
  const genuine = '11'.repeat(34);
  const relay = '44'.repeat(34);
  assert.deepEqual(await codes(walk(genuine, table(hex))), []);
  // another genuine platform answers for the VMM (VPLATFORM_INSTANCE_NOT_HOSTED: its table never had the VM)
  assert.deepEqual(await codes(walk(relay, table('ab'.repeat(32)))), []);
  // one that sends no verified table (BINDING_NO_VPLATFORM_LOG, VPLATFORM_REPLAY_MISMATCH)
  assert.deepEqual(await codes(walk(relay, null)), []);
  // the VMM answers, but its host is relayed: the VMM's path is not proven either
  assert.deepEqual(await codes(walk(genuine, table(hex), table('ab'.repeat(32)))), []);
  // the genuine VM through its genuine host: no clone, now or later
  assert.deepEqual(await codes(walk(genuine, table(hex))), []);
  assert.deepEqual(await codes(walk(genuine, table(hex))), []);
  assert.deepEqual(store.stays(hex).map((s) => s.platformPath), [[genuine, hostAk]], 'one stay, on the genuine path');
  assert.deepEqual(store.instanceKeys(hex), [vmAk]);
  // a stale host whose own verified table shows migrate-out still closes its stay
  assert.deepEqual(await codes(walk(genuine, table(hex, true))), []);
  assert.equal(store.stays(hex).length, 1);
  assert.notEqual(store.stays(hex)[0]!.closedAt, null, 'the migrate-out closed the stay');
  // a clone whose copy's host does list it is still found
  const copyHost = '55'.repeat(34);
  assert.deepEqual(await codes(walk(genuine, table(hex))), []);
  assert.deepEqual(await codes(walk(copyHost, table(hex))), []);
  assert.ok((await codes(walk(genuine, table(hex)))).includes('CLONE_HOSTED_TWICE'));
});

test('a walk whose issuer binding failed (the layer above certified by a CA the host below does not record) is no hosting evidence: an impostor key cannot be made the instance\'s own through the genuine host, then claim the instance elsewhere', async (t) => {
  const { store, stateAssessor } = await storeOnDisk(t);
  type Layers = Parameters<ReturnType<typeof stateAssessor>>[0];
  const instance = Buffer.from('ca'.repeat(32), 'hex');
  const hex = 'ca'.repeat(32);
  const ca1 = '1c'.repeat(32);
  const caEvil = 'ec'.repeat(32);
  /** a VM layer (its AK certificate issued by `issuer`) over a host whose verified table hosts the instance and records `recorded` as issuers */
  const walk = (ak: string, issuer: string, host: string, recorded: string[], clock: number) =>
    [
      { position: 0, akKeyId: ak, info: { layer: { kind: 'virtual', instanceId: instance }, issuerCertificateSha256: issuer }, quote: { clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n }, vplatform: null },
      { position: 1, akKeyId: host, info: { layer: { kind: 'physical' } }, quote: { clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n }, vplatform: { hostedNow: new Set([hex]), instances: new Map([[hex, { entries: [0] }]]), entries: [{ op: 'create' }], issuers: new Set(recorded) } },
    ] as unknown as Layers;
  const codes = async (layers: Layers, at: number) =>
    (await stateAssessor(store, { target: 'https://vm', time: T0 + at * 1000, receivedAt: () => T0 + at * 1000 + 100 })(layers)).findings.map((f) => f.code);
  const genuine = 'aa'.repeat(34);
  const impostor = 'bb'.repeat(34);
  const host1 = '11'.repeat(34);
  const hostEvil = '22'.repeat(34);
  assert.deepEqual(await codes(walk(genuine, ca1, host1, [ca1], 1_000), 0), []);
  // host 2's per-host CA certifies its own key under the victim's id, pointing the walk at host 1, which hosts the
  // instance but records only its own CA: the walk fails its issuer binding (VPLATFORM_ISSUER_NOT_RECORDED)
  await codes(walk(impostor, caEvil, host1, [ca1], 5_000), 30);
  assert.deepEqual(store.instanceKeys(hex), [genuine], 'the impostor\'s key is not the instance\'s own');
  assert.deepEqual(store.stays(hex).map((s) => s.platformPath), [[host1]]);
  // the impostor then claims the instance on host 2, whose table records host 2's CA: another vTPM claiming the instance
  assert.deepEqual(await codes(walk(impostor, caEvil, hostEvil, [caEvil], 6_000), 60), ['CLONE_AK_CONFLICT']);
  assert.deepEqual(await codes(walk(genuine, ca1, host1, [ca1], 2_000), 90), []);
  // a host whose table "hosts" the instance, walked through with a key from a CA it does not record either: its
  // table is no evidence that the instance runs there (it would make the genuine VM CLONE_HOSTED_TWICE)
  await codes(walk('dd'.repeat(34), ca1, hostEvil, [caEvil], 8_000), 120);
  assert.deepEqual(store.stays(hex).map((s) => s.platformPath), [[host1]]);
  assert.deepEqual(await codes(walk(genuine, ca1, host1, [ca1], 3_000), 150), []);
});

test('boundLayers: a layer is bound when the one below hosts it now in its verified table and records its issuer (or none); a failed binding.issuer of the walk (a policy requiring it) unbinds it too', () => {
  const instance = Buffer.alloc(32, 7);
  const layer = (position: number, table: { hosted: string[]; issuers: string[] } | null, issuer = 'ca-1') =>
    ({
      position,
      info: { layer: { instanceId: instance, kind: position === 2 ? 'physical' : 'virtual' }, issuerCertificateSha256: issuer },
      vplatform: table && { hostedNow: new Set(table.hosted), issuers: new Set(table.issuers) },
    }) as unknown as VerifiedLayer;
  const hex = instance.toString('hex');
  // a host recording no issuer at all (a 5.0 platform): the table alone binds
  const verified = [layer(0, null), layer(1, { hosted: [hex], issuers: [] }), layer(2, { hosted: [hex], issuers: [] })];
  assert.deepEqual(boundLayers(verified), [true, true, true]);
  const checks = (position: number, failed: boolean) => ({ position, checks: failed ? [fail('binding.issuer', 'VPLATFORM_ISSUER_NOT_RECORDED', 'not recorded')] : [pass('binding.issuer', 'recorded')] });
  assert.deepEqual(boundLayers(verified, [checks(0, false), checks(1, false), checks(2, false)]), [true, true, true]);
  // the walk failed the VM's issuer binding on the VMM (policy bindings.issuer: required): neither the VM nor anything above is bound
  assert.deepEqual(boundLayers(verified, [checks(0, false), checks(1, true), checks(2, false)]), [false, true, true]);
  assert.deepEqual(boundLayers(verified, [checks(0, false), checks(1, false), checks(2, true)]), [false, false, true]);
  // a table recording other issuers unbinds without the walk's word
  assert.deepEqual(boundLayers([layer(0, null), layer(1, { hosted: [hex], issuers: ['ca-2'] })]), [false, true]);
});
