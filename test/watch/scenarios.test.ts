// End to end over loopback: the watcher against the simulated platform and
// its Migration Controller, every scenario detected with its own code, a
// clean migration accepted with the new platform path, the stream dropped
// mid-event and resumed without losing or repeating a notification, and a
// burst of 1,000 migrations costing a bounded number of attestations.
import { test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { BURST_MIGRATIONS } from '../../src/simulator/scenarios.js';
import { liveWatch, reportedCodes, type LiveWatch } from './live-watch.js';

/** Waits for the initial attestation and the subscription. */
async function ready(w: LiveWatch) {
  const first = await w.lines.attested(1);
  assert.equal(first.verdict, 'trusted', first.reason);
  await w.lines.until(() => w.lines.of('stream').some((l) => l.status === 'connected'));
  return first;
}

test('live migration: the VM is attested again on the new platform and accepted; old and new paths reported; the source shows migrate-out', { timeout: 60_000 }, async (t) => {
  const w = await liveWatch(t, 'live-migration');
  const first = await ready(w);
  const vmmA = w.sim.platform.layer('vmm-a').url;
  const vmmB = w.sim.platform.layer('vmm-b').url;
  const [step] = [w.run.step()!];
  assert.equal(step.events.length, 1);
  const after = await w.lines.attested(2);
  assert.equal(after.trigger, 'migration');
  assert.deepEqual(after.events, { count: 1, firstSeq: 1, lastSeq: 1 });
  assert.equal(after.verdict, 'trusted', after.reason);
  assert.deepEqual(after.findings, []);
  assert.notDeepEqual(after.platformPath, first.platformPath);
  const migrated = w.lines.of('migrated');
  assert.equal(migrated.length, 1);
  assert.deepEqual([migrated[0]!.fromPath, migrated[0]!.toPath, migrated[0]!.fromHost, migrated[0]!.toHost, migrated[0]!.announced], [first.platformPath, after.platformPath, vmmA, vmmB, true]);
  const source = w.lines.of('source');
  assert.deepEqual(source.map((s) => [s.source, s.status, s.sourceVerdict, s.unannounced]), [[vmmA, 'migrated-out', 'trusted', false]]);
  // the clock continued: nothing went back; an interval attestation later is still trusted on the new path
  await w.tick();
  const later = await w.lines.attested(3);
  assert.deepEqual([later.verdict, later.platformPath], ['trusted', after.platformPath]);

  const { summary } = await w.stop();
  assert.equal(summary.failures, 0);
  const store = await import('../../src/state/index.js').then((m) => m.openState(w.stateFile));
  try {
    // every result went to the history: the VM three times, the source once
    assert.deepEqual(
      store.history({ limit: 100 }).map((h) => h.target).sort(),
      [vmmA, w.sim.topUrl, w.sim.topUrl, w.sim.topUrl].sort(),
    );
    assert.equal(store.migrationCursor(w.sim.migrations!.controller.url, after.instance!)?.seq, 1);
    // the stay on vmm-a was closed by its own migrate-out, the one on vmm-b is open
    const stays = store.stays(after.instance!);
    assert.equal(stays.length, 2);
    assert.ok(stays[0]!.closedAt !== null && stays[1]!.closedAt === null);
  } finally {
    store.close();
  }
});

test('clone: a copy of the vTPM on vmm-b answering in turn is VPLATFORM_HOSTED_TWICE and CLONE_HOSTED_TWICE at once, and CLONE_INTERLEAVED_CLOCKS once both histories alternate', { timeout: 60_000 }, async (t) => {
  const w = await liveWatch(t, 'clone');
  await ready(w);
  w.run.step();
  // no notification: the next periodic attestation reaches the copy on vmm-b
  await w.tick();
  const copy = await w.lines.attested(2);
  assert.equal(copy.trigger, 'interval');
  assert.equal(copy.verdict, 'not-trusted');
  assert.ok(copy.findings.includes('VPLATFORM_HOSTED_TWICE'), copy.findings.join());
  assert.ok(copy.findings.includes('CLONE_HOSTED_TWICE'), copy.findings.join());
  const migrated = w.lines.of('migrated');
  assert.equal(migrated[0]?.announced, false);
  const prev = w.lines.of('source');
  assert.deepEqual(prev.map((s) => [s.source, s.status, s.code, s.unannounced]), [[w.sim.platform.layer('vmm-a').url, 'hosted-twice', 'VPLATFORM_HOSTED_TWICE', true]]);
  // the original again: its clock is behind the copy's (CLOCK_WENT_BACK); copy, original: the two histories
  // alternate, and the original's reading continues the older one
  await w.tick();
  const original = await w.lines.attested(3);
  assert.equal(original.verdict, 'not-trusted');
  assert.ok(original.findings.includes('CLOCK_WENT_BACK') && original.findings.includes('VPLATFORM_HOSTED_TWICE'), original.findings.join());
  await w.tick();
  await w.lines.attested(4);
  await w.tick();
  const again = await w.lines.attested(5);
  assert.ok(again.findings.includes('CLONE_INTERLEAVED_CLOCKS'), again.findings.join());
  for (const code of w.run.spec.expect.codes) assert.ok(reportedCodes(w.lines).has(code), code);
  assert.ok(w.lines.of('finding').some((f) => f.code === 'CLONE_INTERLEAVED_CLOCKS' && f.status === 'fail'));
});

test('clone under a policy whose clone findings only warn: reported as warnings, the VM stays trusted', { timeout: 60_000 }, async (t) => {
  const w = await liveWatch(t, 'clone', {
    policyYaml: ['apiVersion: vtpm-verify/v1', 'name: clones-warn', 'chain: { endAt: not-virtual }', 'migration:', '  findings: { clone: warn, rollback: fail }', ''].join('\n'),
  });
  await ready(w);
  w.run.step();
  await w.tick();
  const copy = await w.lines.attested(2);
  assert.equal(copy.verdict, 'trusted', copy.reason);
  assert.ok(copy.findings.includes('VPLATFORM_HOSTED_TWICE') && copy.findings.includes('CLONE_HOSTED_TWICE'), copy.findings.join());
  const hist = w.store.history({ limit: 1 })[0]!.result as { layers: { rules: { id: string; status: string; code?: string }[] }[] };
  const rules = hist.layers[0]!.rules.filter((r) => r.id.includes('migration.findings.clone'));
  assert.ok(rules.length > 0 && rules.every((r) => r.status === 'warn' && r.code === 'POLICY_CLONE'));
});

test('restore from an old backup: the reboot before it is accepted, the restore is CLOCK_RESET_COUNT_DECREASED and RESTORE_FROM_BACKUP', { timeout: 60_000 }, async (t) => {
  const w = await liveWatch(t, 'restore-backup');
  await ready(w);
  w.run.step(); // reboot: resetCount + 1
  await w.tick();
  const rebooted = await w.lines.attested(2);
  assert.equal(rebooted.verdict, 'trusted', `a reboot is not a rollback: ${rebooted.reason}`);
  w.run.step(); // the backup from before the reboot, restored on vmm-b
  const restored = await w.lines.attested(3);
  assert.equal(restored.trigger, 'migration');
  assert.equal(restored.verdict, 'not-trusted');
  assert.ok(restored.findings.includes('CLOCK_RESET_COUNT_DECREASED'), restored.findings.join());
  assert.ok(restored.findings.includes('RESTORE_FROM_BACKUP'), restored.findings.join());
  assert.equal(restored.error?.code, 'POLICY_ROLLBACK');
  // the source did let it go: the problem is the state, not a duplicate
  assert.deepEqual(w.lines.of('source').map((s) => s.status), ['migrated-out']);
});

test('a source that still hosts the instance after the move: VPLATFORM_STILL_HOSTED (and CLONE_HOSTED_TWICE); the policy fails it', { timeout: 60_000 }, async (t) => {
  const w = await liveWatch(t, 'source-still-hosts');
  await ready(w);
  w.run.step();
  const after = await w.lines.attested(2);
  assert.equal(after.verdict, 'not-trusted');
  const source = w.lines.of('source');
  assert.deepEqual(source.map((s) => [s.status, s.code]), [['still-hosted', 'VPLATFORM_STILL_HOSTED']]);
  assert.ok(after.findings.includes('VPLATFORM_STILL_HOSTED') && after.findings.includes('CLONE_HOSTED_TWICE'), after.findings.join());
  const r = w.store.history({ limit: 1, instance: after.instance! })[0]!.result as { chain: { id: string; status: string; code?: string }[] };
  assert.deepEqual(
    r.chain.filter((c) => c.id === 'migration.requireSourceMigrateOut').map((c) => [c.status, c.code]),
    [['fail', 'POLICY_SOURCE_STILL_HOSTS']],
  );
});

test('each clone finding is said once per attestation: the duplicate left on the source (at its first answer after the move) and a clone answering in turn', { timeout: 60_000 }, async (t) => {
  for (const scenario of ['source-still-hosts', 'clone']) {
    const w = await liveWatch(t, scenario);
    await ready(w);
    w.run.step();
    let n = 1;
    if (scenario === 'source-still-hosts') await w.lines.attested(++n);
    // a clone: the copy's answer, then the original's, then the copy's again
    else for (; n < 4; ) await w.tick(), await w.lines.attested(++n);
    await w.stop();
    // the lines of each attestation, from its attested line to the next
    const perAttestation: string[][] = [];
    for (const l of w.lines.lines) {
      if (l.type === 'attested') perAttestation.push([]);
      else if (l.type === 'finding') perAttestation.at(-1)!.push(`${l.code}: ${l.message}`);
    }
    assert.equal(perAttestation.length, n);
    assert.ok(perAttestation.slice(1).every((f) => f.some((m) => m.startsWith('CLONE_HOSTED_TWICE'))), `${scenario}: ${JSON.stringify(perAttestation)}`);
    for (const [i, findings] of perAttestation.entries()) assert.deepEqual(findings, [...new Set(findings)], `${scenario}, attestation ${i + 1}: a finding said twice`);
  }
});

test('the stream drops in the middle of an event: the watcher resumes after the last seq, every move is handled once, none lost', { timeout: 60_000 }, async (t) => {
  const w = await liveWatch(t, 'stream-drop');
  await ready(w);
  w.run.step(); // three moves; the first stream is cut in the middle of the second event
  await w.lines.settled(() => w.lines.of('attested').some((a) => a.events?.lastSeq === 3));
  const seqs = w.lines.of('notification').map((e) => e.seq);
  assert.deepEqual(seqs, [1, 2, 3], 'each notification once, in order');
  const stream = w.lines.of('stream').map((s) => [s.status, s.resumeAfter ?? null]);
  const cut = stream.findIndex(([s]) => s === 'disconnected');
  assert.ok(cut > 0, JSON.stringify(stream));
  assert.deepEqual(stream.slice(cut + 1).find(([s]) => s === 'connected'), ['connected', 1], 'resumed after seq 1');
  assert.equal(w.sim.migrations!.controller.stats.drops, 1);
  const last = w.lines.of('attested').at(-1)!;
  assert.equal(last.verdict, 'trusted', last.reason);
  assert.equal(w.store.migrationCursor(w.sim.migrations!.controller.url, last.instance!)?.seq, 3);
  // all moves covered by at most three attestations after the initial one
  assert.ok(w.attestCalls <= 4, String(w.attestCalls));
});

test(`a burst of ${BURST_MIGRATIONS} migrations: every notification read, at most one attestation in flight, a bounded number of them, the VM trusted where it ends`, { timeout: 120_000 }, async (t) => {
  const w = await liveWatch(t, 'burst');
  await ready(w);
  const heapBefore = process.memoryUsage().heapUsed;
  w.run.step();
  await w.lines.settled(() => w.lines.of('attested').some((a) => a.events?.lastSeq === BURST_MIGRATIONS));
  assert.equal(w.lines.of('notification').length, BURST_MIGRATIONS);
  assert.deepEqual(
    w.lines.of('notification').map((e) => e.seq),
    Array.from({ length: BURST_MIGRATIONS }, (_, i) => i + 1),
  );
  assert.equal(w.maxInFlight, 1);
  const after = w.lines.of('attested').filter((a) => a.trigger === 'migration');
  assert.ok(after.length >= 1 && after.length <= 3, `attestations after the burst: ${after.length}`);
  assert.equal(after.reduce((n, a) => n + a.events!.count, 0), BURST_MIGRATIONS, 'every notification covered by one attestation');
  const last = after.at(-1)!;
  assert.equal(last.verdict, 'trusted', last.reason);
  const { summary } = await w.stop();
  assert.equal(summary.coalescer.maxQueued, 1);
  assert.ok(summary.coalescer.coalesced >= BURST_MIGRATIONS - 3);
  // informational: the watcher keeps no per-notification state beyond the line it printed
  t.diagnostic(`attestations after the burst: ${after.length}; heap growth ${((process.memoryUsage().heapUsed - heapBefore) / 1e6).toFixed(1)} MB (simulator included)`);
});

test('notifications are hints: a false one (the source never hosted the VM, or cannot be reached, or the destination is wrong) changes no verdict unless the policy requires the migrate-out', { timeout: 60_000 }, async (t) => {
  const { reserveDeadPort } = await import('../../src/simulator/service.js');
  const dead = `http://127.0.0.1:${await reserveDeadPort()}/l/gone`;
  for (const required of [false, true]) {
    const w = await liveWatch(t, 'live-migration', {
      policyYaml: ['apiVersion: vtpm-verify/v1', `name: source-${required}`, 'chain: { endAt: not-virtual }', `migration: { requireSourceMigrateOut: ${required} }`, ''].join('\n'),
    });
    await ready(w);
    const c = w.sim.migrations!.controller;
    const vm = w.sim.platform.layer('vm');
    const vmmA = w.sim.platform.layer('vmm-a').url;
    const vmmB = w.sim.platform.layer('vmm-b').url;
    // "moved from vmm-b": vmm-b never had it
    c.record({ instance: vm.instanceIdHex, from: vmmB, to: vmmA });
    const first = await w.lines.attested(2);
    // a source only the (unsigned) notification names is attested only where the policy requires the check
    assert.deepEqual(
      w.lines.of('source').map((s) => [s.source, s.status, s.code]),
      [required ? [vmmB, 'not-migrated-out', 'VPLATFORM_NOT_MIGRATED_OUT'] : [vmmB, 'not-checked', 'MIGRATION_SOURCE_NOT_FOLLOWED']],
    );
    // "moved to vmm-b from a host nobody answers for": the VM's certificate still says vmm-a
    c.record({ instance: vm.instanceIdHex, from: dead, to: vmmB });
    const second = await w.lines.attested(3);
    const sources = w.lines.of('source');
    assert.deepEqual([sources[1]!.source, sources[1]!.status, sources[1]!.code], [dead, 'not-checked', required ? 'TRANSPORT_REFUSED' : 'MIGRATION_SOURCE_NOT_FOLLOWED']);
    if (!required) {
      // nothing was asked of either: the history holds the VM's results only
      assert.deepEqual([...new Set(w.store.history({ limit: 100 }).map((h) => h.target))], [w.sim.topUrl]);
    }
    assert.deepEqual(first.platformPath, second.platformPath, 'the VM did not move');
    if (!required) {
      assert.deepEqual([first.verdict, second.verdict], ['trusted', 'trusted'], `${first.reason} / ${second.reason}`);
      const hist = w.store.history({ limit: 1, instance: vm.instanceIdHex })[0]!.result as { findings: { id: string; status: string }[] };
      assert.ok(hist.findings.some((f) => f.id === 'migration.destination' && f.status === 'warn'), 'the wrong destination is a warning on the result');
    } else {
      assert.deepEqual([first.verdict, second.verdict], ['not-trusted', 'not-trusted']);
      assert.deepEqual([first.error?.code, second.error?.code], ['POLICY_SOURCE_STILL_HOSTS', 'POLICY_SOURCE_STILL_HOSTS']);
    }
    await w.stop();
  }
});

test('a trusted Migration System: the real controller is attested at {migrationService}/v1/evidence before its notifications count; one that fails its policy is not acted on', { timeout: 60_000 }, async (t) => {
  const policyYaml = ['apiVersion: vtpm-verify/v1', 'name: trusted-controller', 'chain: { endAt: not-virtual }', 'migration: { requireTrustedController: true }', ''].join('\n');
  const ok = await liveWatch(t, 'live-migration', { policyYaml });
  await ok.lines.until(() => ok.lines.of('controller').length === 1);
  const c = ok.lines.of('controller')[0]!;
  assert.deepEqual([c.service, c.verdict, c.trusted], [ok.sim.migrations!.controller.url, 'trusted', true]);
  await ready(ok);
  ok.run.step();
  const moved = await ok.lines.attested(2);
  assert.deepEqual([moved.trigger, moved.verdict], ['migration', 'trusted']);
  assert.equal(ok.lines.of('notification')[0]!.action, 'attest');
  // the controller's own attestation is in the history too
  assert.ok(ok.store.history({ limit: 100 }).some((h) => h.target === ok.sim.migrations!.controller.url && h.verdict === 'trusted'));
  await ok.stop();

  // a controller policy it cannot meet (it sends no IMA list): notifications are ignored, the interval still attests
  const bad = await liveWatch(t, 'live-migration', {
    policyYaml,
    controllerPolicyYaml: ['apiVersion: vtpm-verify/v1', 'name: controller-needs-ima', 'layers:', '  - name: all', '    ima: { required: true }', ''].join('\n'),
  });
  await bad.lines.until(() => bad.lines.of('controller').length === 1);
  assert.deepEqual([bad.lines.of('controller')[0]!.verdict, bad.lines.of('controller')[0]!.trusted], ['not-trusted', false]);
  await bad.lines.until(() => bad.lines.of('stream').some((l) => l.status === 'connected'));
  bad.run.step();
  await bad.lines.until(() => bad.lines.of('notification').length === 1);
  assert.equal(bad.lines.of('notification')[0]!.action, 'ignored');
  await bad.tick();
  const interval = await bad.lines.attested(2);
  assert.deepEqual([interval.trigger, interval.verdict], ['interval', 'trusted']);
  await bad.lines.until(() => bad.lines.of('controller').length === 2); // the controller is attested again at the interval
  const { summary } = await bad.stop();
  assert.equal(summary.byTrigger.migration, 0);
});

test('a VM re-keyed and moved in one step is CLONE_AK_CONFLICT, though the source check shows its old host let it go', { timeout: 60_000 }, async (t) => {
  const w = await liveWatch(t, 'live-migration');
  await ready(w);
  const m = w.sim.migrations!;
  // the VM's vTPM state with a new AK (same EK, so the same instance), started on vmm-b: an announced move
  const state = m.backup('vm');
  assert.equal(state.ak.scheme, 'ecdsa');
  state.ak.privateKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' });
  m.migrate('vm', 'vmm-b', { state });
  const after = await w.lines.attested(2);
  assert.deepEqual(w.lines.of('source').map((s) => s.status), ['migrated-out']);
  // judged after the source's migrate-out closed the instance's stay on vmm-a, the new AK was the instance's own: trusted
  assert.equal(after.verdict, 'not-trusted', after.reason);
  assert.ok(after.findings.includes('CLONE_AK_CONFLICT'), after.findings.join(','));
  await w.stop();
});

test("the VM's readings are recorded with the time its evidence arrived, not the time its source check ended", { timeout: 60_000 }, async (t) => {
  const w = await liveWatch(t, 'live-migration', { policyYaml: 'apiVersion: vtpm-verify/v1\nname: sources\nmigration:\n  requireSourceMigrateOut: true\n' });
  const first = await ready(w);
  // a source that answers only when the test lets it
  let asked!: (res: ServerResponse) => void;
  const request = new Promise<ServerResponse>((resolve) => (asked = resolve));
  const slow = createServer((_req, res) => asked(res));
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  t.after(() => (slow.closeAllConnections(), slow.close()));
  const slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}/l/slow`;
  w.sim.migrations!.controller.record({ instance: first.instance!, from: slowUrl, to: w.sim.platform.layer('vmm-a').url });
  const res = await request;
  // the walk's evidence arrived before the source was asked; the answer comes in a later millisecond
  const askedAt = Date.now();
  while (Date.now() <= askedAt);
  res.writeHead(503).end();
  const after = await w.lines.attested(2);
  assert.deepEqual(w.lines.of('source').map((s) => [s.source, s.status]), [[slowUrl, 'not-checked']]);
  const { summary } = await w.stop();
  assert.equal(summary.attestations, 2);
  const db = new Database(w.stateFile, { readonly: true });
  try {
    const row = db.prepare(`SELECT time, received_at FROM observation WHERE instance_id = ? AND target = ? ORDER BY id DESC LIMIT 1`).get(after.instance, w.sim.topUrl) as { time: number; received_at: number };
    // taken after the source check, the window in which a concurrent reading's regression is let pass grew by the check's length
    assert.ok(row.received_at <= askedAt, `received ${row.received_at}, the source was asked at ${askedAt}`);
  } finally {
    db.close();
  }
});

test('a walk cut short below the VM (its host unreachable for a while) is no migration: no migrated line, neither to the start of the path nor back to the whole one', { timeout: 60_000 }, async (t) => {
  const w = await liveWatch(t, 'live-migration');
  const first = await ready(w);
  const hostA = w.sim.platform.layer('host-a');
  hostA.faults.push({ fault: 'unreachable', mode: 'reset' });
  await w.tick();
  const cut = await w.lines.attested(2);
  assert.equal(cut.verdict, 'incomplete', cut.reason);
  assert.deepEqual(cut.platformPath, first.platformPath.slice(0, 1));
  hostA.faults.length = 0;
  await w.tick();
  const whole = await w.lines.attested(3);
  assert.deepEqual([whole.verdict, whole.platformPath], ['trusted', first.platformPath]);
  assert.deepEqual(w.lines.of('migrated'), []);
  // a real move after it is still one
  w.run.step();
  const moved = await w.lines.attested(4);
  assert.equal(moved.verdict, 'trusted', moved.reason);
  assert.deepEqual(w.lines.of('migrated').map((m) => [m.fromPath, m.toPath]), [[first.platformPath, moved.platformPath]]);
  await w.stop();
});
