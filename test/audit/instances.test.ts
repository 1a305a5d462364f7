// One vTPM instance answers at one address: in an audit, a VM answering as an
// instance another VM owns (the inventory names it for that VM, or that VM
// answered as it first) is AUDIT_DUPLICATE_INSTANCE. The registry alone, then
// an audit of a simulated fleet whose VM URLs are partly relays (relayed-top),
// over the real CLI, with and without instanceIds in the inventory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TopInstanceRegistry } from '../../src/audit/instances.js';
import { inventoryYaml } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/start.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const X = 'aa'.repeat(32);
const Y = 'bb'.repeat(32);
const vm = (key: string) => ({ key, url: `http://h.example/l/${key}` });

test('the registry: the first clean claim owns an instance, a second VM is refused naming the owner, the owner again (a retry) passes', () => {
  const r = new TopInstanceRegistry();
  assert.equal(r.claim(X, vm('a'), true)?.status, 'pass');
  assert.equal(r.claim(X, vm('a'), true)?.status, 'pass', 'a retry of the same VM');
  const dup = r.claim(X, vm('b'), true)!;
  assert.equal(dup.status, 'fail');
  assert.equal(dup.code, 'AUDIT_DUPLICATE_INSTANCE');
  assert.match(dup.message, /VM a \(http:\/\/h\.example\/l\/a\) answered as it earlier in this audit: one of the two URLs serves the other VM's evidence/);
  assert.deepEqual(dup.actual, { instanceId: X, alsoAnsweredBy: 'a', url: 'http://h.example/l/a', pinnedByInventory: false });
  // a layer with a failed check claims nothing (its certificate is public: only a verified quote shows the key is held)
  assert.equal(r.claim(Y, vm('c'), false), undefined);
  assert.equal(r.claim(Y, vm('d'), true)?.status, 'pass', 'c never owned Y');
  assert.equal(r.claim(Y, vm('c'), true)?.code, 'AUDIT_DUPLICATE_INSTANCE');
});

test('the registry: an instance the inventory names for a VM is that VM\'s from the start, whoever answers first', () => {
  const r = new TopInstanceRegistry([{ instanceId: X, ...vm('owner') }]);
  const first = r.claim(X, vm('other'), true)!;
  assert.equal(first.code, 'AUDIT_DUPLICATE_INSTANCE');
  assert.match(first.message, /the inventory names it for VM owner .*: this VM's URL serves the other VM's evidence/);
  assert.equal(r.claim(X, vm('owner'), true)?.status, 'pass');
  assert.match(r.claim(X, vm('owner'), true)!.message, /the inventory names this vTPM instance for this VM/);
});

/** VM name -> [verdict, code of the first failing layer, its position] */
function findings(reportFile: string): Map<string, [string, string | null, number | null]> {
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { results: AttestationResult[] };
  return new Map(
    report.results.map((r) => {
      const l = r.layers.find((x) => x.status === 'not-trusted' || x.status === 'unreachable');
      return [r.name!, [r.verdict, l?.error?.code ?? null, l?.position ?? null]];
    }),
  );
}

test('an audit of a fleet with relays at VM URLs: with instanceIds each relay is TARGET_INSTANCE_MISMATCH; without, one of each pair answering as one instance is AUDIT_DUPLICATE_INSTANCE', async (t) => {
  const topology = { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 4 };
  const sim = await startSimulator({ topology, faults: [{ layer: 'vm-0001', fault: 'relayed-top' }, { layer: 'vm-0006', fault: 'relayed-top' }] });
  t.after(() => sim.close());
  const dir = tempDir(t, 'vtpm-instances-');
  const decoyOf = (name: string) => sim.expected(name).path[0]!;
  const pairs = ['vm-0001', 'vm-0006'].map((relay) => [relay, decoyOf(relay)] as const);
  for (const [relay, decoy] of pairs) assert.ok(sim.inventory().some((e) => e.name === decoy), `${relay} relays ${decoy}, a VM of the fleet`);

  // the inventory names each VM's instance: the relays fail their own check, nobody else is accused
  const pinned = join(dir, 'pinned.yaml');
  writeFileSync(pinned, inventoryYaml(sim.inventory()));
  const a = await runCli(['audit', pinned, '--trust', sim.trustDir, '--json', join(dir, 'a.json')]);
  assert.equal(a.code, 1, a.stderr);
  const fa = findings(join(dir, 'a.json'));
  for (const [name, f] of fa) {
    const relay = pairs.some(([r]) => r === name);
    assert.deepEqual(f, relay ? ['not-trusted', 'TARGET_INSTANCE_MISMATCH', 0] : ['trusted', null, null], name);
  }

  // no instanceIds: the audit still sees two VMs answer as one instance, and refuses one of them, naming the other
  const bare = join(dir, 'bare.yaml');
  writeFileSync(bare, inventoryYaml(sim.inventory().map(({ instanceId: _, ...e }) => e)));
  const b = await runCli(['audit', bare, '--trust', sim.trustDir, '--json', join(dir, 'b.json'), '--concurrency', '1']);
  assert.equal(b.code, 1, b.stderr);
  const fb = findings(join(dir, 'b.json'));
  const report = JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8')) as { results: AttestationResult[] };
  for (const [relay, decoy] of pairs) {
    const flagged = [relay, decoy].filter((n) => fb.get(n)![1] === 'AUDIT_DUPLICATE_INSTANCE');
    assert.equal(flagged.length, 1, `one of ${relay} and ${decoy}: ${JSON.stringify([fb.get(relay), fb.get(decoy)])}`);
    const other = flagged[0] === relay ? decoy : relay;
    assert.deepEqual(fb.get(other), ['trusted', null, null]);
    const check = report.results.find((r) => r.name === flagged[0])!.layers[0]!.checks.find((c) => c.id === 'audit.unique-instance')!;
    assert.equal((check.actual as { alsoAnsweredBy: string }).alsoAnsweredBy, other);
  }
  const flaggedNames = new Set(pairs.flat().filter((n) => fb.get(n)![1] === 'AUDIT_DUPLICATE_INSTANCE'));
  for (const [name, f] of fb) if (!flaggedNames.has(name)) assert.deepEqual(f, ['trusted', null, null], name);
  assert.match(b.stdout, /AUDIT_DUPLICATE_INSTANCE/);
  // the report reader, which derives each verdict from the result's own layers and checks again, takes it as it is
  const again = await runCli(['report', join(dir, 'b.json'), '--inventory', bare, '--junit', join(dir, 'b.xml'), '--json']);
  assert.equal(again.code, 1, again.stdout);
  assert.equal(again.json?.error?.code, 'AUDIT_NOT_TRUSTED');
  assert.match(readFileSync(join(dir, 'b.xml'), 'utf8'), /type="AUDIT_DUPLICATE_INSTANCE"/);

  // one VM of a pair pinned: the other is the one refused, whatever the order
  for (const [relay, decoy] of pairs) {
    const mixed = join(dir, `mixed-${relay}.yaml`);
    writeFileSync(mixed, inventoryYaml(sim.inventory().map((e) => (e.name === decoy ? e : (({ instanceId: _, ...rest }) => rest)(e)))));
    const m = await runCli(['audit', mixed, '--trust', sim.trustDir, '--json', join(dir, `m-${relay}.json`)]);
    assert.equal(m.code, 1, m.stderr);
    const fm = findings(join(dir, `m-${relay}.json`));
    assert.deepEqual(fm.get(relay), ['not-trusted', 'AUDIT_DUPLICATE_INSTANCE', 0]);
    assert.deepEqual(fm.get(decoy), ['trusted', null, null]);
  }
});
