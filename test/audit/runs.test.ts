// A fleet's trend in the state file: each `audit --state` is an audit run,
// and `history --runs` lists the runs with their counts, exit code and
// failure codes, and the VMs whose verdict changed since the run before of
// the same inventory (worse, better, no longer audited); `history --run ID`
// lists one run's results. Two real audits of a simulated fleet through a
// front on 127.0.0.1 that makes one VM unreachable in the first run and
// tampers with another's evidence in the second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { inventoryYaml } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/start.js';
import type { AuditRunSummary } from '../../src/state/index.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

type Behaviour = 'proxy' | 'unreachable' | 'tamper';

/** Forwards to the simulator; per VM path, answers 503 or changes a PCR value in the evidence (the quote then disagrees). */
async function front(target: string, behaviour: (path: string) => Behaviour): Promise<{ origin: string; close(): Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const how = behaviour((req.url ?? '').split('?')[0]!.replace(/\/v1\/evidence$/, ''));
    if (how === 'unreachable') {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"down"}');
      return;
    }
    const up = http.request(`${target}${req.url}`, { agent }, (answer) => {
      const parts: Buffer[] = [];
      answer.on('data', (d: Buffer) => parts.push(d));
      answer.on('end', () => {
        let body = Buffer.concat(parts);
        if (how === 'tamper') {
          const doc = JSON.parse(body.toString('utf8')) as { pcrs: Record<string, Record<string, string>> };
          const bank = Object.values(doc.pcrs)[0]!;
          const index = Object.keys(bank)[0]!;
          bank[index] = bank[index]!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
          body = Buffer.from(JSON.stringify(doc));
        }
        res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      });
    });
    up.on('error', () => res.destroy());
    up.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      agent.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A run as `history --runs --json` lists it. */
type RunJson = AuditRunSummary;

test('history --runs: each audit run with its counts, and the VMs whose verdict changed since the run before', async (t) => {
  const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 6 } });
  t.after(() => sim.close());
  let round = 1;
  // round 1: vm-0003 is down; round 2: vm-0003 is back and vm-0002's evidence is tampered with
  const fr = await front(sim.origin, (p) => (round === 1 && p === '/l/vm-0003' ? 'unreachable' : round === 2 && p === '/l/vm-0002' ? 'tamper' : 'proxy'));
  t.after(() => fr.close());
  const dir = tempDir(t, 'vtpm-runs-');
  const inventory = join(dir, 'fleet.yaml');
  const vms = sim.inventory().map((e) => ({ ...e, url: e.url.replace(sim.origin, fr.origin) }));
  const url = (name: string) => `${fr.origin}/l/${name}`;
  const state = join(dir, 'state.db');
  const audit = (json = true, file = inventory) => runCli(['audit', file, '--trust', sim.trustDir, '--state', state, '--retries', '0', ...(json ? ['--json'] : [])]);

  writeFileSync(inventory, inventoryYaml(vms));
  const first = await audit();
  assert.equal(first.code, 3, first.stderr);
  const firstRun = first.json?.result.state.runId as number;
  assert.ok(Number.isSafeInteger(firstRun) && firstRun > 0);
  assert.equal(first.json?.result.state.since, null, 'the first run of this inventory');

  // the second run, on a terminal as cron mails it: vm-0006 no longer in the inventory
  round = 2;
  writeFileSync(inventory, inventoryYaml(vms.filter((v) => v.name !== 'vm-0006')));
  const second = await runCli(['audit', inventory, '--trust', sim.trustDir, '--state', state, '--retries', '0', '--json', join(dir, 'report.json'), '--html', join(dir, 'report.html')]);
  assert.equal(second.code, 1, second.stderr);
  // the reports carry the same: the JSON report's run.state, the HTML page's section
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { run: { state: { runId: number; since: { runId: number; worse: number; better: number } } } };
  assert.deepEqual([report.run.state.since.runId, report.run.state.since.worse, report.run.state.since.better], [firstRun, 1, 1]);
  const page = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.match(page, new RegExp(`<h2>Since the previous run \\(${firstRun}\\)</h2>`));
  assert.ok(page.indexOf(url('vm-0002')) < page.indexOf(url('vm-0003')), 'worse before better');
  assert.match(second.stdout, new RegExp(`Since the previous run \\(${firstRun}\\): 1 worse, 1 better, 1 no longer audited`));
  assert.match(second.stdout, new RegExp(`worse\\s+${url('vm-0002')}\\s+trusted → not-trusted\\n\\s+better\\s+${url('vm-0003')}\\s+incomplete → trusted`), 'worse listed first');

  const listed = await runCli(['history', '--runs', '--state', state, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const runs = listed.json?.result.runs as RunJson[];
  const [now, before] = runs as [RunJson, RunJson];
  const secondRun = now.id;
  assert.deepEqual(runs.map((r) => r.id), [secondRun, firstRun], 'two runs');
  assert.ok(secondRun > firstRun, 'newest first');
  assert.deepEqual(
    [before.planned, before.recorded, before.trusted, before.notTrusted, before.unreachable, before.exitCode, before.interrupted, before.since],
    [6, 6, 5, 0, 1, 3, null, null],
  );
  assert.equal(before.inventory, inventory);
  assert.equal(before.shard, null);
  assert.deepEqual(before.failureCodes, [{ code: 'TRANSPORT_HTTP_STATUS', count: 1 }]);
  assert.deepEqual([now.planned, now.recorded, now.trusted, now.notTrusted, now.unreachable, now.exitCode], [5, 5, 4, 1, 0, 1]);
  assert.equal(now.failureCodes?.length, 1);
  assert.equal(now.failureCodes?.[0]?.count, 1);
  assert.deepEqual(
    { ...now.since, changes: undefined },
    { runId: firstRun, worse: 1, better: 1, other: 0, added: 0, gone: 1, changes: undefined },
    'vm-0002 went bad, vm-0003 came back, vm-0006 was not audited again',
  );
  assert.deepEqual(now.since?.changes, [
    { target: url('vm-0002'), before: 'trusted', now: 'not-trusted' },
    { target: url('vm-0003'), before: 'incomplete', now: 'trusted' },
  ]);

  // the same on a terminal
  const human = await runCli(['history', '--runs', '--state', state]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`^${secondRun}\\s.*\\b5\\s+4\\s+1\\s+0\\s+1\\s.*1 worse, 1 better, 1 not audited \\(since run ${firstRun}\\)`, 'm'));
  assert.match(human.stdout, new RegExp(`worse\\s+${url('vm-0002')}\\s+trusted → not-trusted`));
  assert.match(human.stdout, new RegExp(`better\\s+${url('vm-0003')}\\s+incomplete → trusted`));
  assert.match(human.stdout, new RegExp(`^${firstRun}\\s.*\\bfirst run$`, 'm'));

  // one run's results
  const one = await runCli(['history', '--run', String(secondRun), '--state', state, '--json', '--limit', '100']);
  assert.equal(one.code, 0, one.stderr);
  const entries = one.json?.result.entries as { runId: number; target: string; verdict: string }[];
  assert.equal(entries.length, 5);
  assert.ok(entries.every((e) => e.runId === secondRun));
  assert.deepEqual(entries.filter((e) => e.verdict !== 'trusted').map((e) => e.target), [url('vm-0002')]);

  // a third run, nothing changed: the envelope says so. The inventory named by a relative
  // path this time: the same file, so the same series of runs.
  const third = await audit(true, relative(REPO_ROOT, inventory));
  assert.equal(third.code, 1, third.stderr);
  assert.deepEqual(third.json?.result.state.since, { runId: secondRun, worse: 0, better: 0, other: 0, added: 0, gone: 0, changes: [] });
  const plain = await audit(false);
  assert.match(plain.stdout, new RegExp(`Since the previous run \\(${third.json?.result.state.runId}\\): no verdict changed`));

  // another inventory in the same state file: a series of its own, and --inventory picks one series
  const other = join(dir, 'other.yaml');
  writeFileSync(other, inventoryYaml(vms.slice(0, 1)));
  const solo = await audit(true, other);
  assert.equal(solo.code, 0, solo.stderr);
  assert.equal(solo.json?.result.state.since, null, 'the first run of that inventory');
  const series = await runCli(['history', '--runs', '--inventory', relative(REPO_ROOT, inventory), '--state', state, '--json']);
  assert.equal(series.code, 0, series.stderr);
  assert.deepEqual(
    (series.json?.result.runs as RunJson[]).map((r) => r.inventory),
    [inventory, inventory, inventory, inventory],
    'the four runs of fleet.yaml, by its absolute path, none of other.yaml',
  );
  const alone = await runCli(['history', '--inventory', inventory, '--state', state]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--inventory selects audit runs: use it with --runs/);

  // what does not go together, and what is not a run id
  const mixed = await runCli(['history', '--runs', '--instance', 'ab', '--state', state, '--json']);
  assert.equal(mixed.code, 2);
  assert.equal(mixed.json?.error?.code, 'USAGE');
  const bad = await runCli(['history', '--run', 'latest', '--state', state]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--run: expected an audit run id/);
  // a run the file does not hold is a wrong id, not an empty run
  const missing = await runCli(['history', '--run', '999', '--state', state, '--json']);
  assert.equal(missing.code, 2, missing.stdout);
  assert.equal(missing.json?.error?.code, 'STATE_RUN_NOT_FOUND');
  assert.equal(missing.json?.error?.details?.run, 999);
  const missingText = await runCli(['history', '--run', '999', '--state', state]);
  assert.equal(missingText.code, 2);
  assert.match(missingText.stderr, /no audit run 999 in .*history --runs lists the runs/);
});
