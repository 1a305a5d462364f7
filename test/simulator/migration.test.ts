// The simulated Migration Controller over HTTP (protocol section 6) and the
// migration operations: the event stream (400 without an instance, empty for
// an unknown one, replay after Last-Event-ID, live events, a stream cut in
// the middle of an event), the controller's own evidence, a live migration
// (tables, new certificate, Clock continuing), a clone, a restore, the
// scenario admin endpoint and `simulate --scenario`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { loadTrustStore } from '../../src/cli/trust-files.js';
import { baselinePolicy } from '../../src/policy/index.js';
import { SCENARIO_TOPOLOGY, SCENARIO_NAMES, ScenarioAdmin, startScenario } from '../../src/simulator/scenarios.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { liveSource } from '../../src/transport/layer-source.js';
import { migrationEvents, type MigrationEvent } from '../../src/transport/migration-stream.js';
import { drawTopNonce } from '../../src/verify/nonce-chain.js';
import { walk, type EvidenceSource } from '../../src/verify/walker.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { BIN, REPO_ROOT } from '../helpers/paths.js';

async function scenarioSim(t: import('node:test').TestContext): Promise<RunningSimulator> {
  const sim = await startSimulator({ topology: SCENARIO_TOPOLOGY, migrationController: true });
  t.after(() => sim.close());
  return sim;
}

async function attest(sim: RunningSimulator, url: string) {
  const client = new EvidenceClient({ timeoutMs: 10_000 });
  try {
    const now = new Date();
    const trust = loadTrustStore([sim.trustDir]);
    const o = await walk(
      { target: url, topNonce: drawTopNonce(now, url), trust: trust.store, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now },
      liveSource(client) as EvidenceSource,
    );
    return o.result;
  } finally {
    client.close();
  }
}

/** A raw GET: status, headers, and the body read until `enough` says so (or the end). */
function rawGet(url: string, headers: Record<string, string> = {}, enough: (body: string) => boolean = () => false): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      const done = (ended: boolean): void => {
        resolve({ status: res.statusCode!, headers: res.headers, body, ended });
        req.destroy();
      };
      res.on('data', (d: string) => {
        body += d;
        if (enough(body)) done(false);
      });
      res.on('end', () => done(true));
      res.on('error', () => done(true));
      res.on('aborted', () => done(true));
    });
    req.on('error', reject);
  });
}

test('the event stream: 400 without or with a malformed instance, 405 for POST; replay after Last-Event-ID; live events; an unknown instance gets an open, empty stream', { timeout: 30_000 }, async (t) => {
  const sim = await scenarioSim(t);
  const c = sim.migrations!.controller;
  const base = `${c.url}/v1/migrations`;
  assert.equal((await rawGet(base)).status, 400);
  assert.equal((await rawGet(`${base}?instance=xyz`)).status, 400);
  assert.equal((await rawGet(`${c.url}/v1/other`)).status, 404);
  const post = await new Promise<number>((resolve) => http.request(`${base}?instance=${'aa'.repeat(32)}`, { method: 'POST' }, (res) => (res.resume(), resolve(res.statusCode!))).end());
  assert.equal(post, 405);

  const vm = sim.platform.layer('vm').instanceIdHex;
  const m = sim.migrations!;
  m.migrate('vm', 'vmm-b');
  m.migrate('vm', 'vmm-a');
  m.migrate('vm', 'vmm-b');
  // replay after Last-Event-ID 1: events 2 and 3, in the protocol's wire form
  const replay = await rawGet(`${base}?instance=${vm}`, { 'last-event-id': '1' }, (b) => b.split('\n\n').length > 2);
  assert.equal(replay.status, 200);
  assert.match(String(replay.headers['content-type']), /^text\/event-stream/);
  const ids = [...replay.body.matchAll(/^id: (\d+)$/gm)].map((x) => Number(x[1]));
  assert.deepEqual(ids, [2, 3]);
  assert.match(replay.body, /^event: migration$/m);
  const data = JSON.parse(/^data: (.*)$/m.exec(replay.body)![1]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(data).sort(), ['from', 'instance', 'seq', 'time', 'to']);
  assert.deepEqual([data['instance'], data['seq'], data['from'], data['to']], [vm, 2, sim.platform.layer('vmm-b').url, sim.platform.layer('vmm-a').url]);

  // an unknown instance: the stream opens and stays empty; only its own events would come
  const other = 'cd'.repeat(32);
  const pending = rawGet(`${base}?instance=${other}`, {}, (b) => b.includes('id: '));
  for (let i = 0; c.openStreams === 0 && i < 100_000; i++) await new Promise((r) => setImmediate(r));
  m.migrate('vm', 'vmm-a'); // seq 4, not for this instance
  c.record({ instance: other, from: 'http://x.test/a', to: 'http://x.test/b' }); // seq 5
  const unknown = await pending;
  assert.deepEqual([...unknown.body.matchAll(/^id: (\d+)$/gm)].map((x) => Number(x[1])), [5]);

  // live: the client library sees every event of its instance, past ones first
  const ac = new AbortController();
  const got: MigrationEvent[] = [];
  for await (const e of migrationEvents({ service: c.url, instance: vm, signal: ac.signal })) {
    got.push(e);
    if (got.length === 4) m.migrate('vm', 'vmm-b');
    if (got.length === 5) ac.abort();
  }
  assert.deepEqual(got.map((e) => e.seq), [1, 2, 3, 4, 6]);
});

test('a stream fault cuts the connection in the middle of an event; the client resumes after the last whole one', { timeout: 30_000 }, async (t) => {
  const sim = await scenarioSim(t);
  const c = sim.migrations!.controller;
  const vm = sim.platform.layer('vm').instanceIdHex;
  for (const to of ['vmm-b', 'vmm-a', 'vmm-b']) sim.migrations!.migrate('vm', to);
  c.dropNextStream(1);
  const raw = await rawGet(`${c.url}/v1/migrations?instance=${vm}`);
  assert.equal(raw.ended, true, 'the connection went');
  assert.deepEqual([...raw.body.matchAll(/^id: (\d+)$/gm)].map((x) => Number(x[1])), [1, 2], 'the second event began');
  assert.ok(!raw.body.endsWith('\n\n'), 'and was cut before its end');
  c.dropNextStream(1);
  const ac = new AbortController();
  const seqs: number[] = [];
  const statuses: string[] = [];
  for await (const e of migrationEvents({ service: c.url, instance: vm, signal: ac.signal, sleep: async () => {}, onStatus: (s) => statuses.push(s.type) })) {
    seqs.push(e.seq);
    if (seqs.length === 3) ac.abort();
  }
  assert.deepEqual(seqs, [1, 2, 3]);
  assert.deepEqual(statuses.slice(0, 4), ['connected', 'disconnected', 'retrying', 'connected']);
  assert.equal(c.stats.drops, 2);
});

test('the controller attests as a physical layer of its own at {migrationService}/v1/evidence; every VM certificate names it', { timeout: 30_000 }, async (t) => {
  const sim = await scenarioSim(t);
  const r = await attest(sim, sim.migrations!.controller.url);
  assert.equal(r.verdict, 'trusted', r.reason);
  assert.deepEqual(r.layers.map((l) => l.kind), ['physical']);
  const vm = await attest(sim, sim.topUrl);
  assert.equal(vm.layers[0]!.migrationService, sim.migrations!.controller.url);
  assert.equal(vm.layers[1]!.migrationService, undefined, 'VMMs are not moved by it');
});

test('live migration: migrate-out on the source, migrate-in on the destination, a new AK certificate (same instance, deepAttestation = destination), the Clock continues', { timeout: 30_000 }, async (t) => {
  const sim = await scenarioSim(t);
  const vm = sim.platform.layer('vm');
  const before = await attest(sim, sim.topUrl);
  const clockBefore = BigInt(before.layers[0]!.clockInfo!.clock);
  const certBefore = vm.akCertificate.sha256;
  const e = sim.migrations!.migrate('vm', 'vmm-b');
  assert.deepEqual([e.seq, e.instance, e.from, e.to], [1, vm.instanceIdHex, sim.platform.layer('vmm-a').url, sim.platform.layer('vmm-b').url]);
  assert.notEqual(vm.akCertificate.sha256, certBefore);
  assert.equal(vm.host!.name, 'vmm-b');
  const ops = (name: string) => (sim.platform.layer(name).vplatformLog() as { op: string; instance?: string }[]).filter((x) => x.instance === vm.instanceIdHex).map((x) => x.op);
  assert.deepEqual(ops('vmm-a'), ['create', 'migrate-out']);
  assert.deepEqual(ops('vmm-b'), ['migrate-in']);
  const after = await attest(sim, sim.topUrl);
  assert.equal(after.verdict, 'trusted', after.reason);
  assert.deepEqual(after.layers.map((l) => l.uri), [sim.topUrl, sim.platform.layer('vmm-b').url, sim.platform.layer('host-b').url]);
  assert.equal(after.layers[0]!.instanceId, before.layers[0]!.instanceId);
  assert.equal(after.layers[0]!.akKeyId, before.layers[0]!.akKeyId, 'the same vTPM, the same AK');
  assert.ok(BigInt(after.layers[0]!.clockInfo!.clock) >= clockBefore);
  assert.equal(after.layers[0]!.clockInfo!.resetCount, before.layers[0]!.clockInfo!.resetCount);
  // moving it to where it already runs is refused
  assertThrowsCode(() => sim.migrations!.migrate('vm', 'vmm-b'), 'SIM_INVALID_ARGUMENT');
});

test('clone: both platforms host the instance; the VM address answers in turn from the copy and the original', { timeout: 30_000 }, async (t) => {
  const sim = await scenarioSim(t);
  const copy = sim.migrations!.clone('vm', 'vmm-b');
  const id = sim.platform.layer('vm').instanceIdHex;
  assert.ok(sim.platform.layer('vmm-a').hostedNow().includes(id) && sim.platform.layer('vmm-b').hostedNow().includes(id));
  assert.equal(copy.instanceIdHex, id);
  const a = await attest(sim, sim.topUrl);
  const b = await attest(sim, sim.topUrl);
  assert.deepEqual([a.verdict, b.verdict], ['trusted', 'trusted'], 'each copy alone is genuine');
  assert.deepEqual([a.layers[1]!.uri, b.layers[1]!.uri], [sim.platform.layer('vmm-b').url, sim.platform.layer('vmm-a').url]);
  assert.ok(BigInt(a.layers[0]!.clockInfo!.clock) > BigInt(b.layers[0]!.clockInfo!.clock), "the copy's clock runs ahead");
});

test('restore: a backup restored on another host brings the old Clock and resetCount back', { timeout: 30_000 }, async (t) => {
  const sim = await scenarioSim(t);
  const backup = sim.migrations!.backup('vm');
  sim.migrations!.reboot('vm');
  const rebooted = await attest(sim, sim.topUrl);
  assert.equal(rebooted.layers[0]!.clockInfo!.resetCount, 1);
  sim.migrations!.migrate('vm', 'vmm-b', { state: backup });
  const restored = await attest(sim, sim.topUrl);
  assert.equal(restored.verdict, 'trusted', 'without a state store nothing tells');
  assert.equal(restored.layers[0]!.clockInfo!.resetCount, 0);
});

test('scenarios: every name starts; an unknown one is USAGE; POST /admin/step runs the steps in order, 409 after the last', { timeout: 30_000 }, async (t) => {
  for (const name of SCENARIO_NAMES) {
    const sim = await startSimulator({ topology: SCENARIO_TOPOLOGY, migrationController: true });
    try {
      const run = startScenario(name, sim.migrations!);
      assert.ok(run.remaining > 0 && run.spec.summary.length > 0, name);
    } finally {
      await sim.close();
    }
  }
  const sim = await scenarioSim(t);
  assertThrowsCode(() => startScenario('nope', sim.migrations!), 'USAGE');
  const admin = new ScenarioAdmin(startScenario('restore-backup', sim.migrations!));
  sim.mount('admin', admin);
  const post = (path: string) =>
    new Promise<{ status: number; body: any }>((resolve) => {
      http.request(`${sim.origin}${path}`, { method: 'POST' }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d)).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(b) }));
      }).end();
    });
  const status = await rawGet(`${sim.origin}/admin`);
  assert.deepEqual(JSON.parse(status.body).steps.length, 2);
  const s1 = await post('/admin/step');
  assert.deepEqual([s1.status, s1.body.step, s1.body.events, s1.body.remaining], [200, 0, 0, 1]);
  const s2 = await post('/admin/step');
  assert.deepEqual([s2.status, s2.body.step, s2.body.events, s2.body.lastSeq, s2.body.remaining], [200, 1, 1, 1, 0]);
  assert.equal((await post('/admin/step')).status, 409);
  assert.equal(sim.platform.layer('vm').host!.name, 'vmm-b');
});

test('simulate --scenario: one JSON line with the steps, the controller and the step URL; a step over HTTP publishes its notification; SIGTERM ends it with exit 0', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [BIN, 'simulate', '--scenario', 'live-migration', '--json'], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' } });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    void exit.then((c) => reject(new Error(`exited ${c}: ${err}`)));
  });
  const r = JSON.parse(first).result;
  assert.equal(r.scenario.scenario, 'live-migration');
  assert.equal(r.scenario.controller, `${r.origin}/m/migrations`);
  assert.equal(r.scenario.stepUrl, `${r.origin}/admin/step`);
  assert.deepEqual(r.urls, [`${r.origin}/l/vm`]);
  const step = await new Promise<number>((resolve) => http.request(r.scenario.stepUrl, { method: 'POST' }, (res) => (res.resume(), resolve(res.statusCode!))).end());
  assert.equal(step, 200);
  const instance = r.layers.find((l: { name: string }) => l.name === 'vm').instanceId as string;
  const ac = new AbortController();
  for await (const e of migrationEvents({ service: r.scenario.controller, instance, signal: ac.signal })) {
    assert.deepEqual([e.seq, e.to], [1, `${r.origin}/l/vmm-b`]);
    ac.abort();
  }
  child.kill('SIGTERM');
  assert.equal(await exit, 0);
  assert.match(err, /scenario live-migration: step 1: migrate vm from vmm-a to vmm-b \(1 notification\(s\)\)/);
  const bad = spawn(process.execPath, [BIN, 'simulate', '--scenario', 'nope', '--layers', '2']);
  assert.equal(await new Promise((r) => bad.on('exit', r)), 2);
});
