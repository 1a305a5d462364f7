// Every injectable fault, over real HTTP: the test walk (project verification
// functions only) finds the code FAULTS documents, on the layer the fault was
// put on, and nothing on the layers above it; the platform's own expectation
// (expectedOutcome) says the same. Transport faults are bounded by the
// client's timeout and size cap.
import { test, after } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { loadTrustStore } from '../../src/cli/trust-files.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { FAULTS, FAULT_NAMES, parseTamper, type FaultName } from '../../src/simulator/faults.js';
import { startSimulator } from '../../src/simulator/start.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { attestChain, failures } from './attest-chain.js';

// Small bounds for the hostile layers; honest ones answer in milliseconds.
const client = new EvidenceClient({ timeoutMs: 2_000, maxResponseBytes: 1024 * 1024 });
after(() => client.close());

interface Case {
  tamper: string;
  depth: number;
  /** the code the walk sees when it differs from FAULTS (the mode decides it) */
  code?: string;
}

const CASES: Case[] = [
  { tamper: 'pcr@0', depth: 3 },
  { tamper: 'pcr@2', depth: 3 },
  { tamper: 'log-event@0', depth: 3 },
  { tamper: 'log-event@1', depth: 3 },
  { tamper: 'signature@0', depth: 2 },
  { tamper: 'signature@2', depth: 3 },
  { tamper: 'certificate@0', depth: 3 },
  { tamper: 'certificate@1', depth: 3 },
  { tamper: 'certificate@2', depth: 3 },
  { tamper: 'nonce@0', depth: 3 },
  { tamper: 'nonce@3', depth: 5 },
  { tamper: 'not-hosted@1', depth: 3 },
  { tamper: 'not-hosted@3', depth: 5 },
  { tamper: 'relayed@1', depth: 3 },
  { tamper: 'relayed@1', depth: 2 },
  { tamper: 'relayed@2', depth: 5 },
  { tamper: 'relayed-top', depth: 3 },
  { tamper: 'relayed-top@0', depth: 5 },
  { tamper: 'stale-binding@1', depth: 3 },
  { tamper: 'stale-binding@4', depth: 5 },
  { tamper: 'foreign-issuer@1', depth: 3 },
  { tamper: 'foreign-issuer@2', depth: 3 },
  { tamper: 'unreachable@1', depth: 3 },
  { tamper: 'unreachable:reset@2', depth: 3, code: 'TRANSPORT_RESET' },
  { tamper: 'unreachable@0', depth: 3 },
  { tamper: 'slow@1', depth: 3 },
  { tamper: 'slow:delay@0', depth: 2 },
  { tamper: 'huge@1', depth: 3 },
  { tamper: 'huge:declared@2', depth: 3 },
  { tamper: 'eventlog-missing@1', depth: 3 },
  { tamper: 'ima-tamper@0', depth: 3 },
];

test('README\'s faults table lists every fault with the code FAULTS gives, and nothing else', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('<!-- faults-table:start -->'), readme.indexOf('<!-- faults-table:end -->'));
  // | `fault` | the simulator | code | also | status |
  const rows = table.split('\n').filter((l) => /^\| `[a-z-]+` \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
  assert.deepEqual(rows.map((r) => r[1]!.slice(1, -1)), FAULT_NAMES);
  for (const r of rows) {
    const name = r[1]!.slice(1, -1) as FaultName;
    assert.ok(r[3]!.startsWith(`\`${FAULTS[name].code}\``), `${name}: ${r[3]}`);
    for (const also of FAULTS[name].alsoCodes) assert.ok(r[4]!.includes(`\`${also}\``), `${name}: ${r[4]}`);
    assert.ok(r[5]!.startsWith(FAULTS[name].status), `${name}: ${r[5]}`);
  }
});

test('every fault of FAULTS has a case below', () => {
  assert.deepEqual(new Set(CASES.map((c) => parseTamper(c.tamper).fault.fault)), new Set(FAULT_NAMES));
});

for (const c of CASES) {
  test(`${c.tamper} at depth ${c.depth}: ${FAULTS[parseTamper(c.tamper).fault.fault].code} on that layer, layers above clean`, async () => {
    const spec = parseTamper(c.tamper);
    const name: FaultName = spec.fault.fault;
    const position = spec.layer as number;
    const sim = await startSimulator({ topology: { layers: c.depth }, faults: [{ ...spec.fault, layer: position }] });
    try {
      const expected = sim.expected();
      assert.equal(expected.faults.length, 1);
      assert.equal(expected.faults[0]!.position, position);
      assert.equal(expected.faults[0]!.fault, name);
      assert.equal(expected.faults[0]!.code, c.code ?? FAULTS[name].code);
      assert.equal(expected.verdict, FAULTS[name].status === 'unreachable' ? 'incomplete' : 'not-trusted');

      const { store } = loadTrustStore([sim.trustDir]);
      // the challenger knows which VM it asks (as an audit inventory says): a relay at its URL shows only so
      const walk = await attestChain(client, sim.topUrl, store, { expectInstanceId: sim.inventory()[0]!.instanceId! });
      for (const l of walk.slice(0, position)) assert.deepEqual(l.codes, [], `layer ${l.position} above the fault is clean`);
      const hit = walk[position]!;
      if (name === 'eventlog-missing') {
        assert.equal(hit.evidence!.eventLog, undefined);
        assert.deepEqual(hit.codes, ['EVENTLOG_ABSENT'], 'nothing else fails: the policy decides (POLICY_EVENTLOG_MISSING)');
      } else {
        assert.equal(hit.codes[0], c.code ?? FAULTS[name].code, `codes at ${position}: ${hit.codes.join(', ')}`);
        for (const code of hit.codes) assert.ok(code === (c.code ?? FAULTS[name].code) || (FAULTS[name].alsoCodes as readonly string[]).includes(code), `unexpected ${code} at ${position}`);
      }
      // the walk stops where nothing verified can be followed, and otherwise goes on to the physical layer, clean below
      if (FAULTS[name].status === 'unreachable' || name === 'certificate') assert.equal(walk.length, position + 1);
      else {
        assert.equal(walk.length, c.depth);
        for (const l of walk.slice(position + 1)) assert.deepEqual(l.codes, [], `layer ${l.position} below the fault is clean`);
      }
      if (name === 'not-hosted') assert.equal(hit.hostedActual, 'migrate-out');
      if (name === 'relayed-top') {
        assert.deepEqual(hit.codes, ['TARGET_INSTANCE_MISMATCH']);
        assert.ok(expected.path[0]!.startsWith('other-'), 'the answering VM is the decoy');
        const unpinned = await attestChain(client, sim.topUrl, store);
        assert.deepEqual(unpinned.flatMap((l) => l.codes), [], 'without knowing the instance, the relayed evidence verifies in every respect');
      }
      if (name === 'relayed') {
        assert.equal(hit.hostedActual, 'absent', 'a relayed platform never recorded the instance');
        assert.deepEqual(hit.codes, ['VPLATFORM_INSTANCE_NOT_HOSTED', 'VPLATFORM_ISSUER_NOT_RECORDED']);
        assert.notEqual(hit.instanceId ?? hit.kind, undefined);
        assert.ok(expected.path[position]!.startsWith('other-'), 'the answering platform is the decoy');
      }
    } finally {
      await sim.close();
    }
  });
}

test('a stale binding still lists the upper instance: only the replay fails', async () => {
  const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ fault: 'stale-binding', layer: 1 }] });
  try {
    const { store } = loadTrustStore([sim.trustDir]);
    const walk = await attestChain(client, sim.topUrl, store);
    const served = walk[1]!.evidence!.vplatformLog!;
    const vm = sim.platform.layer('vm');
    assert.ok(served.some((e) => e.op === 'create' && e.instance === Buffer.from(vm.instanceId).toString('hex')));
    assert.equal(served.length, sim.platform.layer('vmm').vplatformLog().length - 1);
  } finally {
    await sim.close();
  }
});

test('faults that cannot apply where they are put are refused before anything serves', async () => {
  const bad: [string, number][] = [
    ['ima-tamper@1', 3],
    ['not-hosted@0', 3],
    ['relayed@0', 3],
    ['stale-binding@1', 1],
    ['pcr@3', 3],
    ['pcr@-4', 3],
  ];
  for (const [t, depth] of bad) {
    const spec = parseTamper(t);
    await assertRejectsCode(() => startSimulator({ topology: { layers: depth }, faults: [{ ...spec.fault, layer: spec.layer }] }), 'SIM_FAULT_INVALID');
  }
  await assertRejectsCode(() => startSimulator({ topology: { layers: 3 }, vplatformCa: 'provider', faults: [{ fault: 'foreign-issuer', layer: 1 }] }), 'SIM_FAULT_INVALID');
  await assertRejectsCode(() => startSimulator({ topology: { hosts: 2, vmsPerVmm: 2 }, faults: [{ fault: 'pcr', layer: 0 }] }), 'SIM_FAULT_INVALID');
  await assertRejectsCode(() => startSimulator({ topology: { hosts: 2, vmsPerVmm: 2 }, faults: [{ fault: 'not-hosted', layer: 'vmm-001' }] }), 'SIM_FAULT_INVALID');
  await assertRejectsCode(() => startSimulator({ topology: { layers: 3 }, faults: [{ fault: 'log-event', pcr: 12, layer: 0 }] }), 'SIM_FAULT_INVALID');
  for (const t of ['bogus@0', 'pcr@', 'unreachable:slowly@1', 'pcr:reset@0', '']) assertThrowsCode(() => parseTamper(t), 'SIM_FAULT_INVALID');
  assert.deepEqual(parseTamper('not-hosted'), { fault: { fault: 'not-hosted' }, layer: 1 });
  assert.deepEqual(parseTamper('slow:delay@vmm'), { fault: { fault: 'slow', mode: 'delay' }, layer: 'vmm' });
  assert.deepEqual(parseTamper('pcr@-1'), { fault: { fault: 'pcr' }, layer: -1 });
});

test('a position counted from the bottom names the same layer', async () => {
  const sim = await startSimulator({ topology: { layers: 4 }, faults: [{ fault: 'signature', layer: -1 }] });
  try {
    assert.deepEqual(sim.expected().faults.map((f) => [f.position, f.layer]), [[3, 'host']]);
    const { store } = loadTrustStore([sim.trustDir]);
    assert.deepEqual(failures(await attestChain(client, sim.topUrl, store)), [[3, 'QUOTE_BAD_SIGNATURE']]);
  } finally {
    await sim.close();
  }
});
