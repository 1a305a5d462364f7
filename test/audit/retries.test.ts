// Retries are for transport errors only. A flaky front (a real HTTP proxy on
// 127.0.0.1 in front of the simulator) fails the first request of some VMs
// and then answers: those VMs are retried and trusted. A VM whose evidence
// fails verification is asked exactly once. A VM that never answers is asked
// 1 + --retries times and ends unreachable; exit codes 3 and 1 and
// --unreachable-ok follow.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditReport } from '../../src/report/json-report.js';
import { startSimulator, writeTrustAnchors } from '../../src/simulator/start.js';
import { SimulatorService } from '../../src/simulator/service.js';
import { buildPlatform } from '../../src/simulator/platform.js';
import { inventoryYaml } from '../../src/simulator/fleet.js';
import { retryDelay } from '../../src/audit/run.js';
import { runCli } from '../helpers/cli.js';
import { countingFront } from './front.js';
import { tempDir } from '../helpers/tmp.js';

type Behaviour = 'proxy' | 'fail-first-503' | 'reset-first' | 'always-503';

/** A proxy to the simulator that misbehaves per VM path; counts the requests each path gets. */
function flakyFront(t: TestContext, target: string, behaviour: (path: string) => Behaviour): Promise<{ origin: string; hits: Map<string, number> }> {
  return countingFront(t, target, (path, n, req, res) => {
    const how = behaviour(path);
    if (how === 'always-503' || (how === 'fail-first-503' && n === 1)) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"try later"}');
      return true;
    }
    if (how === 'reset-first' && n === 1) {
      req.socket.destroy();
      return true;
    }
    return false;
  });
}

test('transport failures are retried (and then trusted); a verification failure is attempted once; a dead VM 1 + --retries times', async (t) => {
  const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 4 }, faults: [{ layer: 'vm-0003', fault: 'signature' }] });
  t.after(() => sim.close());
  const behaviours: Record<string, Behaviour> = { '/l/vm-0001': 'fail-first-503', '/l/vm-0002': 'reset-first', '/l/vm-0003': 'proxy', '/l/vm-0004': 'proxy', '/l/dead': 'always-503' };
  const front = await flakyFront(t, sim.origin, (p) => behaviours[p] ?? 'proxy');
  const dir = tempDir(t, 'vtpm-retries-');
  const vms = [...sim.inventory().map((e) => ({ ...e, url: e.url.replace(sim.origin, front.origin) })), { name: 'dead', url: `${front.origin}/l/dead`, tags: [] }];
  writeFileSync(join(dir, 'fleet.yaml'), inventoryYaml(vms));

  const run = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', sim.trustDir, '--retries', '2', '--json', join(dir, 'report.json')]);
  assert.equal(run.code, 1, run.stderr + run.stdout);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as AuditReport;
  const byName = new Map(report.results.map((r) => [r.name!, r]));
  const outcome = (name: string) => [byName.get(name)!.verdict, byName.get(name)!.attempts, front.hits.get(`/l/${name}`)];
  assert.deepEqual(outcome('vm-0001'), ['trusted', 2, 2], 'a 503 first, then trusted');
  assert.deepEqual(outcome('vm-0002'), ['trusted', 2, 2], 'a reset first, then trusted');
  assert.deepEqual(outcome('vm-0003'), ['not-trusted', 1, 1], 'a bad signature is never retried');
  assert.equal(byName.get('vm-0003')!.error?.code, 'QUOTE_BAD_SIGNATURE');
  assert.deepEqual(outcome('vm-0004'), ['trusted', 1, 1]);
  assert.deepEqual(outcome('dead'), ['incomplete', 3, 3], 'unreachable after 1 + 2 attempts');
  assert.equal(byName.get('dead')!.error?.code, 'TRANSPORT_HTTP_STATUS');
  assert.match(run.stdout, /9 attempt\(s\), 3 VM\(s\) retried/);

  // without the VM that fails verification: 3 (unreachable), or 0 with --unreachable-ok; --retries 0 asks once
  writeFileSync(join(dir, 'no-failure.yaml'), inventoryYaml(vms.filter((v) => v.name !== 'vm-0003')));
  front.hits.clear();
  const unreachable = await runCli(['audit', join(dir, 'no-failure.yaml'), '--trust', sim.trustDir, '--retries', '0', '--json']);
  assert.equal(unreachable.code, 3, unreachable.stderr);
  assert.equal(unreachable.json?.error?.code, 'AUDIT_UNREACHABLE');
  assert.equal(front.hits.get('/l/dead'), 1);
  assert.deepEqual(unreachable.json?.result.failures.map((f: { name: string; verdict: string; attempts: number }) => [f.name, f.verdict, f.attempts]), [
    ['vm-0001', 'incomplete', 1],
    ['vm-0002', 'incomplete', 1],
    ['dead', 'incomplete', 1],
  ]);
  const ok = await runCli(['audit', join(dir, 'no-failure.yaml'), '--trust', sim.trustDir, '--unreachable-ok', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.json?.ok, true);
  assert.equal(ok.json?.result.summary.unreachable, 1);
});

test('backoff: doubles per attempt from the base, with jitter in [0.5, 1), capped', () => {
  assert.equal(retryDelay(2, 250, 5000, () => 0), 125);
  assert.equal(retryDelay(2, 250, 5000, () => 0.999999) < 250, true);
  assert.equal(retryDelay(3, 250, 5000, () => 0), 250);
  assert.equal(retryDelay(4, 250, 5000, () => 0), 500);
  assert.equal(retryDelay(20, 250, 5000, () => 0), 2500);
});

test('every layer behind a misbehaving front: a VMM failing once is retried with its VM (trusted); one that stalls costs each of its VMs 1 + --retries requests, each cut at the timeout; a body reset half way is retried; garbage is asked once', async (t) => {
  // The platform's layer URLs (in the AK certificates too) name the front, so the VMMs and hosts below the VMs are behind it.
  const service = await SimulatorService.listen({});
  t.after(() => service.close());
  const { origin, hits } = await countingFront(t, service.origin, (path, n, req, res) => {
    if (path === '/l/vmm-001' && n === 1) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"busy"}');
    } else if (path === '/l/vmm-002') {
      // accepts and never answers
    } else if (path === '/l/vm-0005') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('this is not evidence');
    } else if (path === '/l/vm-0006' && n === 1) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
      res.write('{"version":1,', () => req.socket.resetAndDestroy());
    } else return false;
    return true;
  });
  const platform = buildPlatform({ topology: { hosts: 3, vmmsPerHost: 1, vmsPerVmm: 2 }, origin });
  service.attach(platform);
  const dir = tempDir(t, 'vtpm-retries-layers-');
  await writeTrustAnchors(join(dir, 'trust'), platform.trustAnchors());
  writeFileSync(join(dir, 'fleet.yaml'), inventoryYaml(platform.inventory()));

  const run = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', join(dir, 'trust'), '--retries', '1', '--timeout', '400', '--json', join(dir, 'report.json')]);
  assert.equal(run.code, 1, run.stderr + run.stdout);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as AuditReport;
  const outcome = new Map(report.results.map((r) => [r.name!, [r.verdict, r.attempts, r.error?.code, r.layers.findIndex((l) => l.status !== 'trusted')]]));
  // vm-0001 and vm-0002 share vmm-001: whichever asked first met the 503 and was attested again, from its own layer down
  const once = ['vm-0001', 'vm-0002'].filter((name) => outcome.get(name)![1] === 2);
  assert.equal(once.length, 1, JSON.stringify([...outcome]));
  assert.deepEqual(outcome.get(once[0]!), ['trusted', 2, undefined, -1]);
  assert.equal(hits.get(`/l/${once[0]}`), 2);
  assert.equal(hits.get('/l/vmm-001'), 3);
  for (const name of ['vm-0003', 'vm-0004']) {
    assert.deepEqual(outcome.get(name), ['incomplete', 2, 'TRANSPORT_TIMEOUT', 1], name);
    assert.equal(hits.get(`/l/${name}`), 2, name);
  }
  assert.equal(hits.get('/l/vmm-002'), 4, 'each of its 2 VMs asked it 1 + 1 times');
  assert.equal(hits.get('/l/host-002'), undefined, 'nothing below the stalled VMM was asked');
  assert.deepEqual(outcome.get('vm-0005'), ['not-trusted', 1, 'EVIDENCE_JSON', 0]);
  assert.equal(hits.get('/l/vm-0005'), 1, 'evidence that is not evidence is a finding: never asked again');
  assert.deepEqual(outcome.get('vm-0006'), ['trusted', 2, undefined, -1], 'a reset half way through the body is retried');
  assert.equal(hits.get('/l/vm-0006'), 2);
  assert.deepEqual(report.summary.failureCodes, [
    { code: 'TRANSPORT_TIMEOUT', count: 2 },
    { code: 'EVIDENCE_JSON', count: 1 },
  ]);
  // each stalled VM's attempt was cut at the 400 ms timeout: the result's own time (its last attempt) says so
  for (const name of ['vm-0003', 'vm-0004']) {
    const r = report.results.find((x) => x.name === name)!;
    const ms = Date.parse(r.finishedAt) - Date.parse(r.startedAt);
    assert.ok(ms >= 390 && ms < 5_000, `${name}: ${ms} ms`);
  }
});
