// A watch restarted after the VM moved: the host the state file last saw the
// VM verified on is checked as the host it left, as a watch that kept running
// would have checked it. The simulated platform and its Migration Controller
// on 127.0.0.1, live attestations through one real SQLite state file shared by
// two watches, one after the other. Waits are on printed lines, never on time.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWatchDeps } from '../../src/cli/actions/watch.js';
import { setupVerifier } from '../../src/cli/verifier-setup.js';
import { SCENARIO_TOPOLOGY, startScenario } from '../../src/simulator/scenarios.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { openState } from '../../src/state/index.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { watch } from '../../src/watch/watcher.js';
import { tempDir } from '../state/tmp.js';
import { LineLog } from './live-watch.js';
import Database from 'better-sqlite3';
import type { WatchOutcome } from '../../src/watch/watcher.js';

/** One watch on `stateFile` until `done(lines)` holds (or `stopWhen` resolves), then stopped; its lines. */
async function watchUntil(sim: RunningSimulator, stateFile: string, done: (lines: LineLog) => boolean, opts: { policy?: string; stopWhen?: (lines: LineLog) => Promise<void> } = {}): Promise<LineLog> {
  const store = await openState(stateFile);
  const client = new EvidenceClient({ timeoutMs: 15_000 });
  const lines = new LineLog();
  const setup = await setupVerifier({ trust: [sim.trustDir], ...(opts.policy ? { policy: opts.policy } : {}) });
  const deps = await createWatchDeps({ url: sim.topUrl, setup, client, store, emit: lines.push, stream: { sleep: async () => {}, random: () => 0 } });
  const ac = new AbortController();
  // the interval never fires: only the initial attestation and notifications
  const running = watch({ target: sim.topUrl, intervalMs: 3_600_000, exitOnFailure: false, reattestOnNotification: true, requireTrustedController: false }, deps, ac.signal);
  try {
    await (opts.stopWhen ? opts.stopWhen(lines) : lines.settled(() => done(lines)));
  } finally {
    ac.abort();
    await running;
    client.close();
    store.close();
  }
  return lines;
}

async function platform(t: TestContext, scenario: string) {
  const sim = await startSimulator({ topology: SCENARIO_TOPOLOGY, migrationController: true });
  t.after(() => sim.close());
  return { sim, run: startScenario(scenario, sim.migrations!), stateFile: join(tempDir(t), 'state.db') };
}

/** Records, beside the watch's own results, a copy of the newest one (of the VM: the only target here) as `edit` changes it, one second later. */
async function recordEdited(sim: RunningSimulator, stateFile: string, edit: (result: Record<string, any>) => void): Promise<void> {
  const store = await openState(stateFile);
  const { recordResult } = await import('../../src/state/assess.js');
  const [last] = store.history({ limit: 1 });
  const copy = structuredClone(last!.result) as Record<string, any>;
  edit(copy);
  copy['finishedAt'] = new Date(Date.parse(copy['finishedAt'] as string) + 1000).toISOString();
  recordResult(store, copy as never);
  store.close();
}

/** The restarted watch's first attestation checked the host the VM left (vmm-a), which still hosts it: not trusted. */
function assertLeftHostChecked(sim: RunningSimulator, after: LineLog): void {
  const initial = after.of('attested')[0]!;
  assert.equal(initial.verdict, 'not-trusted', initial.reason);
  assert.ok(initial.findings.includes('VPLATFORM_HOSTED_TWICE'), initial.findings.join(','));
  assert.deepEqual(after.of('source').map((l) => [l.source, l.status]), [[sim.platform.layer('vmm-a').url, 'hosted-twice']]);
}

test('a migration that left a duplicate on the source while no watch ran: the restarted watch checks the host the VM was last verified on, and fails', { timeout: 60_000 }, async (t) => {
  const { sim, run, stateFile } = await platform(t, 'source-still-hosts');
  const before = await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  assert.equal(before.of('attested')[0]!.verdict, 'trusted');
  run.step(); // vmm-a → vmm-b, vmm-a keeps hosting the instance
  const vmmA = sim.platform.layer('vmm-a').url;
  // the restarted watch: its initial attestation finds the VM on vmm-b, then the notification is replayed
  const after = await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 2);
  const [initial, replayed] = after.of('attested');
  assert.equal(initial!.trigger, 'initial');
  assert.equal(initial!.verdict, 'not-trusted', initial!.reason);
  assert.ok(initial!.findings.includes('VPLATFORM_HOSTED_TWICE'), initial!.findings.join(','));
  const migrated = after.of('migrated');
  assert.equal(migrated.length, 1);
  assert.deepEqual([migrated[0]!.fromHost, migrated[0]!.announced], [vmmA, false]);
  assert.deepEqual(after.of('source')[0] && [after.of('source')[0]!.source, after.of('source')[0]!.status, after.of('source')[0]!.unannounced], [vmmA, 'hosted-twice', true]);
  // before, the previous host was known only to the watch that saw it: the restarted one asked nobody, and both were trusted
  assert.equal(replayed!.trigger, 'migration');
  assert.equal(replayed!.verdict, 'not-trusted', replayed!.reason);
});

test('the previous host is read by the VM\'s instance: a newer result at its URL naming another instance (an impostor, a relay) does not hide it', { timeout: 60_000 }, async (t) => {
  const { sim, run, stateFile } = await platform(t, 'source-still-hosts');
  await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  run.step(); // vmm-a → vmm-b, vmm-a keeps hosting the instance
  // while no watch ran, another instance answered at the VM's URL, seen on vmm-b
  await recordEdited(sim, stateFile, (other) => {
    other['layers'][0].instanceId = 'cd'.repeat(32);
    other['layers'][0].deepAttestation = sim.platform.layer('vmm-b').url;
    other['platformPath'] = ['ab'.repeat(32)];
  });
  // looked up by URL, the newest result named the other instance, and the VM's own previous host (vmm-a) went unchecked
  assertLeftHostChecked(sim, await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1));
});

test('an impostor answering under the VM\'s instance id at another URL, refused by an audit, does not stand for the VM\'s previous host: the host the VM left is still checked', { timeout: 60_000 }, async (t) => {
  const { sim, run, stateFile } = await platform(t, 'source-still-hosts');
  await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  run.step(); // vmm-a → vmm-b, vmm-a keeps hosting the instance
  // while no watch ran, an audit met a vTPM of host-b certified under the VM's instance id, with a key of its own,
  // at another URL, and refused its claim (its inventory pins another instance there)
  await recordEdited(sim, stateFile, (impostor) => {
    impostor['target'] = 'http://127.0.0.1:9/l/impostor';
    impostor['verdict'] = 'not-trusted';
    impostor['layers'][0].akKeyId = 'bb'.repeat(32);
    impostor['layers'][0].deepAttestation = sim.platform.layer('host-b').url;
    impostor['layers'][0].checks.push({ id: 'target.instance', status: 'fail', code: 'TARGET_INSTANCE_MISMATCH', message: 'another instance was expected at this URL' });
    impostor['platformPath'] = ['ab'.repeat(32)];
  });
  const after = await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  // taken as the VM's previous host, the impostor's host was checked instead (no longer hosting it: "moved", trusted)
  // and the duplicate left on vmm-a never was
  assertLeftHostChecked(sim, after);
  assert.deepEqual(after.of('migrated').map((m) => m.fromHost), [sim.platform.layer('vmm-a').url]);
});

test('an honest migration while no watch ran: the restarted watch finds the previous host let the VM go (moved), trusted', { timeout: 60_000 }, async (t) => {
  const { sim, run, stateFile } = await platform(t, 'live-migration');
  await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  run.step();
  const after = await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 2);
  assert.deepEqual(after.of('attested').map((a) => [a.trigger, a.verdict]), [['initial', 'trusted'], ['migration', 'trusted']]);
  const source = after.of('source')[0]!;
  assert.deepEqual([source.source, source.status, source.unannounced], [sim.platform.layer('vmm-a').url, 'moved', true]);
  assert.equal(after.of('finding').filter((f) => f.status === 'fail').length, 0);
});

test('a restarted watch whose target answers as another instance than the state file last saw there: nothing of the old one is checked or compared', { timeout: 60_000 }, async (t) => {
  const { sim, stateFile } = await platform(t, 'live-migration');
  await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  // the last result recorded at this URL names another instance (another VM was there, on another host)
  const store = await openState(stateFile);
  const { recordResult } = await import('../../src/state/assess.js');
  const [last] = store.history({ limit: 1 });
  const other = structuredClone(last!.result) as { layers: { instanceId: string; deepAttestation: string }[]; platformPath: string[] };
  other.layers[0]!.instanceId = 'cd'.repeat(32);
  other.layers[0]!.deepAttestation = sim.platform.layer('vmm-b').url;
  other.platformPath = ['ab'.repeat(32)];
  recordResult(store, other as never);
  store.close();
  const after = await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  assert.equal(after.of('attested')[0]!.verdict, 'trusted');
  assert.deepEqual(after.of('migrated'), []);
  assert.deepEqual(after.of('source'), []);
});

test('a watch stopped while it checks a source, after the VM came back from an old backup on a new host: the restore is reported by the next attestation, not left in the clock history as if it were accepted', { timeout: 60_000 }, async (t) => {
  const { sim, stateFile } = await platform(t, 'live-migration');
  const m = sim.migrations!;
  const backup = m.backup('vm');
  m.reboot('vm'); // resetCount 1: the backup (resetCount 0) is older
  const dir = tempDir(t);
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, 'apiVersion: vtpm-verify/v1\nname: sources\nmigration:\n  requireSourceMigrateOut: true\n');
  // a source that answers nothing: the check waits on it until the watch is stopped
  let asked!: () => void;
  const sourceAsked = new Promise<void>((resolve) => (asked = resolve));
  const slow = createServer(() => asked());
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  t.after(() => (slow.closeAllConnections(), slow.close()));
  const slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}/l/slow`;
  // the controller: one notification, naming the silent source, once the VM was restored on vmm-b
  let notify!: (text: string) => void;
  sim.mount('m', {
    handle(_req, res) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(':\n\n');
      notify = (text) => res.write(text);
    },
    close() {},
  });
  const vmmB = sim.platform.layer('vmm-b').url;
  const instance = sim.platform.layer('vm').instanceIdHex;
  const first = await watchUntil(sim, stateFile, () => false, {
    policy,
    stopWhen: async (lines) => {
      await lines.until(() => lines.of('stream').some((l) => l.status === 'connected'));
      m.migrate('vm', 'vmm-b', { state: backup });
      const data = { instance, seq: 1, from: slowUrl, to: vmmB, time: '2026-11-26T12:00:00Z' };
      notify(`id: 1\nevent: migration\ndata: ${JSON.stringify(data)}\n\n`);
      await sourceAsked;
    },
  });
  assert.deepEqual(first.of('attested').map((a) => a.verdict), ['trusted'], 'the stopped attestation printed nothing');
  const after = await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1, { policy });
  const next = after.of('attested')[0]!;
  assert.equal(next.verdict, 'not-trusted', next.reason);
  assert.ok(next.findings.includes('CLOCK_RESET_COUNT_DECREASED'), next.findings.join(','));
});

test('a restarted watch whose state file cannot be read for the previous host ends with STATE_CORRUPT and records nothing of its attestation: restarted again, it does not take the VM\'s current host as the one it left', { timeout: 60_000 }, async (t) => {
  const { sim, run, stateFile } = await platform(t, 'source-still-hosts');
  await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  run.step(); // vmm-a → vmm-b while no watch runs, vmm-a keeping the instance hosted
  // the result the previous host is read from is damaged
  const db = new Database(stateFile);
  db.prepare(`UPDATE result SET findings = '{' WHERE target = ?`).run(sim.topUrl);
  const counts = () => ['result', 'observation', 'stay'].map((table) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
  const before = counts();
  t.after(() => db.close());
  for (let i = 0; i < 3; i++) {
    const store = await openState(stateFile);
    const client = new EvidenceClient({ timeoutMs: 15_000 });
    const lines = new LineLog();
    const setup = await setupVerifier({ trust: [sim.trustDir] });
    const deps = await createWatchDeps({ url: sim.topUrl, setup, client, store, emit: lines.push, stream: { sleep: async () => {}, random: () => 0 } });
    let outcome: WatchOutcome;
    try {
      outcome = await watch({ target: sim.topUrl, intervalMs: 3_600_000, exitOnFailure: false, reattestOnNotification: true, requireTrustedController: false }, deps, new AbortController().signal);
    } finally {
      client.close();
      store.close();
    }
    assert.equal(outcome.error?.code, 'STATE_CORRUPT');
    assert.deepEqual(lines.of('attested'), []);
    // neither the result (a trusted one, its previous host never checked) nor the walk's readings and stays
    assert.deepEqual(counts(), before, `restart ${i + 1}`);
  }
});

test('a restarted watch whose last result was a walk cut short below the VM: no migrated line where the VM did not move, one where it did', { timeout: 60_000 }, async (t) => {
  const { sim, run, stateFile } = await platform(t, 'source-still-hosts');
  const first = (await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1)).of('attested')[0]!;
  const hostA = sim.platform.layer('host-a');
  hostA.faults.push({ fault: 'unreachable', mode: 'reset' });
  // the newest result names only the start of the path (vmm-a), then host-a answers again
  const cut = await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  assert.deepEqual(cut.of('attested').map((a) => [a.verdict, a.platformPath]), [['incomplete', first.platformPath.slice(0, 1)]]);
  assert.deepEqual(cut.of('migrated'), []);
  hostA.faults.length = 0;
  const again = await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  assert.deepEqual(again.of('attested').map((a) => [a.verdict, a.platformPath]), [['trusted', first.platformPath]]);
  assert.deepEqual(again.of('migrated'), []);
  // cut short again, then the VM moves while no watch runs, leaving a duplicate on vmm-a
  hostA.faults.push({ fault: 'unreachable', mode: 'reset' });
  await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  hostA.faults.length = 0;
  run.step();
  const after = await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  const initial = after.of('attested')[0]!;
  assert.equal(initial.verdict, 'not-trusted', initial.reason);
  assert.deepEqual(after.of('migrated').map((m) => [m.fromPath, m.toPath, m.fromHost]), [[first.platformPath.slice(0, 1), initial.platformPath, sim.platform.layer('vmm-a').url]]);
  assert.deepEqual(after.of('source').map((s) => s.status), ['hosted-twice']);
});

test('a watch stopped while a source platform\'s own walk waits on the layer below it records nothing of that walk: neither its result nor the readings of the layers it had verified', { timeout: 60_000 }, async (t) => {
  const { sim, run, stateFile } = await platform(t, 'live-migration');
  const vmmA = sim.platform.layer('vmm-a');
  const hostA = sim.platform.layer('host-a');
  let armed = false;
  let asked!: () => void;
  const hostAsked = new Promise<void>((resolve) => (asked = resolve));
  class Client extends EvidenceClient {
    override fetch(...args: Parameters<EvidenceClient['fetch']>): ReturnType<EvidenceClient['fetch']> {
      if (armed && String(args[0]) === hostA.url) asked();
      return super.fetch(...args);
    }
  }
  const store = await openState(stateFile);
  const client = new Client({ timeoutMs: 15_000 });
  const lines = new LineLog();
  const setup = await setupVerifier({ trust: [sim.trustDir] });
  const deps = await createWatchDeps({ url: sim.topUrl, setup, client, store, emit: lines.push, stream: { sleep: async () => {}, random: () => 0 } });
  const ac = new AbortController();
  const running = watch({ target: sim.topUrl, intervalMs: 3_600_000, exitOnFailure: false, reattestOnNotification: true, requireTrustedController: false }, deps, ac.signal);
  try {
    assert.equal((await lines.attested(1)).verdict, 'trusted');
    await lines.until(() => lines.of('stream').some((l) => l.status === 'connected'));
    // host-a answers only after the watch stopped: vmm-a (the source) verifies, its walk waits below it
    hostA.faults.push({ fault: 'slow', mode: 'delay' });
    armed = true;
    run.step(); // vm moves vmm-a → vmm-b: the notification's attestation checks vmm-a
    await hostAsked;
  } finally {
    ac.abort();
    await running;
    client.close();
    store.close();
  }
  assert.deepEqual(lines.of('attested').length, 1, 'the stopped attestation printed nothing');
  const db = new Database(stateFile, { readonly: true });
  try {
    const of = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE target = ?`).get(vmmA.url) as { n: number }).n;
    assert.deepEqual([of('result'), of('observation')], [0, 0]);
  } finally {
    db.close();
  }
});

test('a restarted watch tells repeats from new notifications by the controller\'s own clock: one behind ours does not have its next events dropped, one ahead does not have its repeats handled again', { timeout: 60_000 }, async (t) => {
  const sim = await startSimulator({ topology: SCENARIO_TOPOLOGY });
  t.after(() => sim.close());
  const instance = '5a'.repeat(32);
  const event = (seq: number, time: number): string =>
    `id: ${seq}\nevent: migration\ndata: ${JSON.stringify({ instance, seq, from: 'https://host-a.example/da', to: 'https://host-b.example/da', time: new Date(time).toISOString() })}\n\n`;
  for (const skewMs of [-30 * 60_000, 5 * 60_000]) {
    // the controller's clock; the event seq 7 the last watch handled was dated a minute ago by it
    const controllerNow = Math.floor((Date.now() + skewMs) / 1000) * 1000;
    const handled = controllerNow - 60_000;
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // seq 7 again (a replay: a repeat), then seq 1 of a controller reinstalled since, dated now by its clock (new)
      res.end(event(7, handled) + event(1, controllerNow));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const service = `http://127.0.0.1:${(server.address() as { port: number }).port}/ctl/`;
    const store = await openState(join(tempDir(t), 'state.db'));
    const client = new EvidenceClient({ timeoutMs: 15_000 });
    try {
      const setup = await setupVerifier({ trust: [sim.trustDir] });
      const deps = await createWatchDeps({ url: sim.topUrl, setup, client, store, emit: () => {}, stream: { sleep: async () => {}, random: () => 0 } });
      deps.saveCursor(service, instance, 7, new Date(handled));
      const cursor = deps.loadCursor(service, instance)!;
      assert.deepEqual(cursor, { seq: 7, time: handled }, 'the cursor keeps the event\'s time');
      const ac = new AbortController();
      const delivered: number[] = [];
      const skipped: number[] = [];
      const onStatus = (s: { type: string; reason?: string; seq?: number | undefined }): void => {
        if (s.type === 'skipped' && s.reason === 'duplicate') skipped.push(s.seq!);
        if (s.type === 'disconnected') ac.abort();
      };
      for await (const e of deps.subscribe({ service, instance, afterSeq: cursor.seq, afterTime: cursor.time, signal: ac.signal, onStatus })) delivered.push(e.seq);
      assert.deepEqual({ delivered, skipped }, { delivered: [1], skipped: [7] }, `controller clock ${skewMs / 60_000} min off`);
    } finally {
      client.close();
      store.close();
      await new Promise((resolve) => server.close(resolve));
    }
  }
});

test('a newer result at the VM\'s host URL answered by a platform that did not host the VM (a relay there) does not stand for that host\'s AK: the host the VM left, with its own AK, is still checked', { timeout: 60_000 }, async (t) => {
  const { sim, run, stateFile } = await platform(t, 'source-still-hosts');
  await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  // then, at vmm-a's URL, a platform that does not host the VM answered (its binding failed): the VM not trusted once
  await recordEdited(sim, stateFile, (relayed) => {
    relayed['verdict'] = 'not-trusted';
    const host = relayed['layers'][1];
    host.akKeyId = 'ab'.repeat(32);
    host.checks = host.checks.map((c: Record<string, unknown>) => (c['id'] === 'binding.hosted-instance' ? { ...c, status: 'fail', code: 'VPLATFORM_NOT_HOSTED' } : c));
    relayed['platformPath'] = ['ab'.repeat(32), ...relayed['platformPath'].slice(1)];
  });
  run.step(); // vmm-a → vmm-b, vmm-a keeps hosting the instance
  // taken as vmm-a's AK, the relayed platform's made vmm-a itself "not-checked" (another AK): the duplicate went unseen
  assertLeftHostChecked(sim, await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1));
});

test('the previous host\'s AK is read only from results that saw the VM at that host since it last was elsewhere: an older stay at the same URL (another machine there then) does not stand for the platform there now', { timeout: 60_000 }, async (t) => {
  const { sim, run, stateFile } = await platform(t, 'source-still-hosts');
  await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1);
  const vmmA = sim.platform.layer('vmm-a').url;
  const bind = (result: Record<string, any>, host: string, ak: string, bound: boolean): void => {
    result['verdict'] = bound ? 'trusted' : 'not-trusted';
    result['layers'][0].deepAttestation = host;
    const layer = result['layers'][1];
    layer.akKeyId = ak;
    layer.checks = layer.checks.map((c: Record<string, unknown>) => (c['id'] === 'binding.hosted-instance' ? (bound ? { ...c, status: 'pass' } : { ...c, status: 'fail', code: 'VPLATFORM_NOT_HOSTED' }) : c));
    result['platformPath'] = [ak, ...result['platformPath'].slice(1)];
  };
  // vmm-a's URL once named another machine (AK cd…), which hosted the VM; the VM then ran on vmm-b; then it came to
  // the machine at vmm-a's URL now, seen there once mid-migration (its table not yet hosting it)
  await recordEdited(sim, stateFile, (r) => bind(r, vmmA, 'cd'.repeat(32), true));
  await recordEdited(sim, stateFile, (r) => bind(r, sim.platform.layer('vmm-b').url, 'bb'.repeat(32), true));
  await recordEdited(sim, stateFile, (r) => bind(r, vmmA, 'ab'.repeat(32), false));
  run.step(); // vmm-a → vmm-b, vmm-a keeps hosting the instance
  // the older stay's AK (cd…), across the stay on vmm-b, was the one vmm-a had to answer with: vmm-a, answering with
  // its own, was "not-checked" and the duplicate left there went unseen; a watch that kept running knew none
  assertLeftHostChecked(sim, await watchUntil(sim, stateFile, (l) => l.of('attested').length >= 1));
});
