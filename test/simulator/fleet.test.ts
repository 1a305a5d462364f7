// Fleets (issue #8): the counts asked for, the inventory, fault plans (files,
// the seeded generator) and, over real HTTP, every VM's attestation matching
// what the plan says about it, VM by VM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { loadTrustStore } from '../../src/cli/trust-files.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { FAULTS } from '../../src/simulator/faults.js';
import { faultPlanText, generateFaultPlan, inventoryYaml, parseFaultPlan, parseFleetFile, PLAN_KINDS, type FaultPlan } from '../../src/simulator/fleet.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { normalizeTopology, walkTopology } from '../../src/simulator/topology.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { attestChain, type WalkedLayer } from './attest-chain.js';

const client = new EvidenceClient({ timeoutMs: 5_000, maxResponseBytes: 1024 * 1024 });
after(() => client.close());

/** The walk's failures in the plan's terms: [position, code], the issuer code a relay brings along left out. */
function observed(walk: readonly WalkedLayer[]): [number, string][] {
  return walk.flatMap((l) => (l.codes.length ? [[l.position, l.codes[0]!] as [number, string]] : []));
}

async function checkAgainstPlan(sim: RunningSimulator, names: readonly string[]): Promise<void> {
  const { store } = loadTrustStore([sim.trustDir]);
  const inventory = new Map(sim.inventory().map((e) => [e.name, e]));
  await Promise.all(
    names.map(async (name) => {
      const expected = sim.expected(name);
      const entry = inventory.get(name)!;
      // the instance expected at each URL, as the inventory says: a relay at a VM's URL shows only so
      const walk = await attestChain(client, entry.url, store, entry.instanceId !== undefined ? { expectInstanceId: entry.instanceId } : {});
      assert.deepEqual(observed(walk), expected.faults.map((f) => [f.position, f.code]), `${name}: ${JSON.stringify(expected.faults)}`);
    }),
  );
}

test('a fleet of 1,000 VMs on 50 VMMs on 50 hosts: the counts, tables and inventory; a generated plan applies exactly', async () => {
  const topology = { hosts: 50, vmmsPerHost: 1, vmsPerVmm: 20 };
  const plan = generateFaultPlan(topology, { seed: 'fleet test' });
  const sim = await startSimulator({ topology, faultPlan: plan });
  try {
    const roles = { physical: 0, vmm: 0, vm: 0 };
    for (const l of sim.layers) roles[l.role]++;
    assert.deepEqual(roles, { physical: 50, vmm: 50, vm: 1000 });
    assert.equal(sim.urls.length, 1000);
    const vmm = [...sim.platform.layers.values()].find((l) => l.role === 'vmm' && l.faults.length === 0)!;
    assert.equal(vmm.host!.name, `host-${vmm.name.slice(4)}`);
    assert.equal(vmm.guests.length, 20);
    assert.deepEqual(new Set(vmm.hostedNow()), new Set(vmm.guests.map((g) => g.instanceIdHex)));

    const inventory = sim.inventory();
    assert.equal(inventory.length, 1000);
    assert.deepEqual(inventory[0], { name: 'vm-0001', url: `${sim.origin}/l/vm-0001`, instanceId: sim.platform.layer('vm-0001').instanceIdHex, tags: ['sim', 'host=host-001', 'vmm=vmm-001'] });
    assert.equal(new Set(inventory.map((e) => e.instanceId)).size, 1000, 'every VM has its own instance id');
    assert.deepEqual((parseYaml(inventoryYaml(inventory)) as { vms: unknown[] }).vms, inventory);

    // the plan: a few percent faulty in varied ways, some unreachable, one VMM down; at most one fault on any VM's walk
    const outcomes = sim.platform.tops().map((t) => sim.platform.expectedOutcome(t));
    const faulty = outcomes.filter((o) => o.verdict === 'not-trusted');
    const incomplete = outcomes.filter((o) => o.verdict === 'incomplete');
    assert.equal(faulty.length, 40);
    assert.equal(incomplete.length, 10 + 20, '10 unreachable VMs and the 20 VMs of the VMM that is down');
    assert.ok(outcomes.every((o) => o.faults.length <= 1));
    assert.deepEqual(new Set(faulty.map((o) => o.faults[0]!.fault)), new Set(PLAN_KINDS));
    // attest every VM with a fault, and clean ones next to them, and compare with the plan
    const clean = outcomes.filter((o) => o.verdict === 'trusted').slice(0, 30);
    await checkAgainstPlan(sim, [...faulty, ...incomplete, ...clean].map((o) => o.top));
  } finally {
    await sim.close();
  }
});

test('a small fleet with many faults, nested VMMs and VMs on a host: every VM attests as its plan says', async () => {
  const topology = parseFleetFile(`
hosts:
  - name: rack1-h1
    vms: [bare-1, { name: bare-2, tags: [metal] }]
    vmms:
      - name: r1h1-kvm
        vms: [web-1, web-2, web-3]
        vmms:
          - name: r1h1-nested
            vms: [ci-1, ci-2]
  - name: rack1-h2
    vmms:
      - name: r1h2-kvm
        vms: [db-1, db-2, db-3, db-4]
  - name: rack2-h1
    vmms:
      - { name: r2h1-kvm, vms: [api-1, api-2, api-3] }
      - { name: r2h1-kvm2, vms: [api-4, api-5, api-6] }
`);
  const plan = generateFaultPlan(topology, { seed: 'small', faultyFraction: 0.5, unreachableFraction: 0.1, downVmms: 0 });
  const sim = await startSimulator({ topology, faultPlan: plan });
  try {
    assert.equal(sim.urls.length, 17);
    assert.deepEqual(sim.platform.pathOf(sim.platform.layer('ci-1')).map((l) => l.name), ['ci-1', 'r1h1-nested', 'r1h1-kvm', 'rack1-h1']);
    assert.deepEqual(sim.inventory().find((e) => e.name === 'bare-2')!.tags, ['metal']);
    await checkAgainstPlan(sim, sim.inventory().map((e) => e.name));
    assert.ok(sim.platform.tops().filter((t) => sim.platform.expectedOutcome(t).verdict !== 'trusted').length >= 9);
  } finally {
    await sim.close();
  }
});

test('a plan file (YAML or JSON) is read strictly; a plan naming a missing layer is refused', async () => {
  const yaml = `
version: 1
faults:
  - { layer: vm-0001, fault: pcr }
  - { layer: vmm-001, fault: not-hosted, upper: vm-0002 }
  - layer: host-002
    fault: unreachable
    mode: reset
`;
  const plan = parseFaultPlan(yaml);
  assert.deepEqual(plan, {
    version: 1,
    faults: [
      { layer: 'vm-0001', fault: 'pcr' },
      { layer: 'vmm-001', fault: 'not-hosted', upper: 'vm-0002' },
      { layer: 'host-002', fault: 'unreachable', mode: 'reset' },
    ],
  });
  assert.deepEqual(parseFaultPlan(faultPlanText(plan)), plan);
  const sim = await startSimulator({ topology: { hosts: 2, vmsPerVmm: 2 }, faultPlan: plan });
  try {
    assert.deepEqual(
      sim.platform.tops().map((t) => [t.name, sim.platform.expectedOutcome(t).faults.map((f) => `${f.position}:${f.code}`)]),
      [
        ['vm-0001', ['0:QUOTE_PCR_DIGEST_MISMATCH']],
        ['vm-0002', ['1:VPLATFORM_INSTANCE_LEFT']],
        ['vm-0003', ['2:TRANSPORT_RESET']],
        ['vm-0004', ['2:TRANSPORT_RESET']],
      ],
    );
  } finally {
    await sim.close();
  }
  for (const bad of ['faults: {}', 'faults: [{layer: vm-1, fault: melt}]', 'faults: [{layer: vm-1, fault: pcr, colour: red}]', 'version: 2', 'faults: [{fault: pcr}]', 'faults: [{layer: vm-1, fault: slow, mode: reset}]', '{{', 'faults: [{layer: a, fault: pcr}]\nfaults: []']) {
    assertThrowsCode(() => parseFaultPlan(bad), 'SIM_FAULT_PLAN_INVALID');
  }
  // keys equal once read as text repeat too (7 and "7"), with the line
  assert.match(assertThrowsCode(() => parseFleetFile('hosts: 2\nvmsPerVmm: 1\n"hosts": 3\n'), 'SIM_TOPOLOGY_INVALID').message, /line 3: a key repeats/);
  await assertRejectsCode(() => startSimulator({ topology: { hosts: 1, vmsPerVmm: 1 }, faultPlan: parseFaultPlan('faults: [{layer: vm-9999, fault: pcr}]') }), 'SIM_FAULT_INVALID');
});

test('the generator: the same seed and topology give the same plan; another seed another one; counts follow the fractions', () => {
  const topology = { hosts: 20, vmmsPerHost: 2, vmsPerVmm: 25 };
  const a = generateFaultPlan(topology, { seed: 'a', downHosts: 1 });
  assert.deepEqual(generateFaultPlan(topology, { seed: 'a', downHosts: 1 }), a);
  assert.notDeepEqual(generateFaultPlan(topology, { seed: 'b', downHosts: 1 }), a);
  const byFault = (p: FaultPlan) => p.faults.reduce<Record<string, number>>((m, f) => ((m[f.fault] = (m[f.fault] ?? 0) + 1), m), {});
  const counts = byFault(a);
  assert.equal(Object.entries(counts).filter(([k]) => k !== 'unreachable').reduce((n, [, v]) => n + v, 0), 40, '4% of 1,000 VMs');
  assert.equal(counts['unreachable'], 10 + 1 + 1, '1% of the VMs, a VMM and a host');
  for (const f of a.faults) if (FAULTS[f.fault].scope === 'binding') assert.ok(f.upper?.startsWith('vm-') && f.layer.startsWith('vmm-'));
  assert.equal(generateFaultPlan(topology, { seed: 'a', faultyFraction: 0, unreachableFraction: 0, downVmms: 0 }).faults.length, 0);
  assertThrowsCode(() => generateFaultPlan(topology, { seed: 'a', faultyFraction: 2 }), 'SIM_FAULT_PLAN_INVALID');
});

test('topologies: counts, explicit trees and fleet files are checked', () => {
  const names = (t: Parameters<typeof normalizeTopology>[0]) => walkTopology(normalizeTopology(t)).map((n) => `${n.role}:${n.name}`);
  assert.deepEqual(names({ layers: 1 }), ['physical:host']);
  assert.deepEqual(names({ layers: 2 }), ['physical:host', 'vm:vm']);
  assert.deepEqual(names({ hosts: 2, vmmsPerHost: 0, vmsPerVmm: 1 }), ['physical:host-001', 'vm:vm-0001', 'physical:host-002', 'vm:vm-0002']);
  assert.deepEqual(parseFleetFile('{"hosts": 3, "vmsPerVmm": 4}'), { hosts: 3, vmsPerVmm: 4 });
  for (const bad of [
    'hosts: 0\nvmsPerVmm: 1',
    'hosts: 2',
    'hosts: 1\nvmsPerVmm: 1\nextra: 1',
    'hosts: [{name: a, vms: [x]}, {name: b, vms: [x]}]',
    'hosts: [{name: "a b"}]',
    'hosts: [{name: a, vms: [{name: x, vms: [y]}]}]',
    'hosts: []',
    'layers: 17',
    'hosts: 10000\nvmmsPerHost: 100\nvmsPerVmm: 100',
  ]) {
    assertThrowsCode(() => parseFleetFile(bad), 'SIM_TOPOLOGY_INVALID');
  }
});
