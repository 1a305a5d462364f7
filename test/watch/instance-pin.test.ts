// The instance a watch follows, against a relay at the watched URL that first
// forwards to the VM and then to a physical machine (whose verified AK
// certificate names no vTPM instance). The simulated platform on 127.0.0.1, a
// real HTTP relay, live attestations through a real SQLite state file. The
// interval fires when the test says; waits are on printed lines, never on time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createWatchDeps } from '../../src/cli/actions/watch.js';
import { setupVerifier } from '../../src/cli/verifier-setup.js';
import { startSimulator } from '../../src/simulator/start.js';
import { openState } from '../../src/state/index.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { watch } from '../../src/watch/watcher.js';
import { tempDir } from '../state/tmp.js';
import { LineLog } from './live-watch.js';

test('a watched VM replaced at its URL by a physical machine (a relay): WATCH_INSTANCE_CHANGED, not "trusted"', { timeout: 60_000 }, async (t) => {
  const sim = await startSimulator({});
  t.after(() => sim.close());
  const vm = sim.layers.find((l) => l.kind === 'virtual' && l.url === sim.topUrl)!;
  const physical = sim.layers.find((l) => l.kind === 'physical')!;
  let upstream = vm.url;
  const relay = createServer((req, res) => {
    const fwd = httpRequest(`${upstream}${req.url!.replace(/^\/vm/, '')}`, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  t.after(() => relay.close());
  const target = `http://127.0.0.1:${(relay.address() as AddressInfo).port}/vm`;

  const store = await openState(join(tempDir(t), 'state.db'));
  const client = new EvidenceClient({ timeoutMs: 15_000 });
  t.after(() => client.close());
  const lines = new LineLog();
  const setup = await setupVerifier({ trust: [sim.trustDir] });
  const real = await createWatchDeps({ url: target, setup, client, store, emit: lines.push, stream: { sleep: async () => {}, random: () => 0 } });
  const ticks: (() => void)[] = [];
  const deps = {
    ...real,
    sleep: (_ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
        ticks.push(resolve);
      }),
  };
  const ac = new AbortController();
  const done = watch({ target, intervalMs: 60_000, exitOnFailure: false, reattestOnNotification: true, requireTrustedController: false }, deps, ac.signal);

  const first = await lines.attested(1);
  assert.deepEqual([first.verdict, first.instance], ['trusted', vm.instanceId], 'the VM, through the relay');

  // the relay now forwards to the physical machine: a genuine, trusted platform, but not the watched VM
  upstream = physical.url;
  await lines.until(() => ticks.length > 0);
  ticks.shift()!();
  const second = await lines.attested(2);
  assert.deepEqual([second.verdict, second.instance], ['trusted', null], 'its own result says what it is');
  const findings = lines.of('finding').map((f) => [f.code, f.status]);
  assert.deepEqual(findings, [['WATCH_INSTANCE_CHANGED', 'fail']]);
  assert.match(lines.of('finding')[0]!.message, new RegExp(`names no vTPM instance, not ${vm.instanceId}`));
  ac.abort();
  const { summary } = await done;
  store.close();
  assert.deepEqual([summary.failures, summary.instance, summary.firstFailure?.error?.code], [1, vm.instanceId, 'WATCH_INSTANCE_CHANGED']);
});

test('watch --instance: a VM answering as another instance is not trusted from the first attestation on (TARGET_INSTANCE_MISMATCH, WATCH_INSTANCE_CHANGED); the expected one is', { timeout: 60_000 }, async (t) => {
  const sim = await startSimulator({});
  t.after(() => sim.close());
  const vm = sim.layers.find((l) => l.kind === 'virtual' && l.url === sim.topUrl)!;
  const client = new EvidenceClient({ timeoutMs: 15_000 });
  t.after(() => client.close());
  const setup = await setupVerifier({ trust: [sim.trustDir] });
  const run = async (expected: string) => {
    const store = await openState(join(tempDir(t), 'state.db'));
    const lines = new LineLog();
    const deps = await createWatchDeps({ url: vm.url, setup, client, store, instance: Buffer.from(expected, 'hex'), emit: lines.push, stream: { sleep: async () => {}, random: () => 0 } });
    const ac = new AbortController();
    const done = watch({ target: vm.url, intervalMs: 60_000, exitOnFailure: false, reattestOnNotification: true, requireTrustedController: false, expectInstance: expected }, deps, ac.signal);
    const first = await lines.attested(1);
    ac.abort();
    const { summary } = await done;
    store.close();
    return { first, findings: lines.of('finding'), summary };
  };
  const other = 'ab'.repeat(32);
  const wrong = await run(other);
  assert.equal(wrong.first.verdict, 'not-trusted');
  assert.equal(wrong.first.instance, vm.instanceId, 'what answers there');
  assert.deepEqual(wrong.findings.map((f) => [f.code, f.status]), [['WATCH_INSTANCE_CHANGED', 'fail']]);
  assert.match(wrong.findings[0]!.message, new RegExp(`as instance ${vm.instanceId}, not ${other}, the instance --instance expects`));
  assert.match(JSON.stringify(wrong.first), /TARGET_INSTANCE_MISMATCH/, 'the attestation itself says why');
  const right = await run(vm.instanceId);
  assert.equal(right.first.verdict, 'trusted');
  assert.deepEqual(right.findings, []);
  assert.equal(right.summary.failures, 0);
});
