// Fault plans that could not come true are refused (from a review): a delay
// longer than a Node timer holds (it would fire at once, and "slow" would be
// fast), delayMs where it means nothing, and a layer that does not answer
// given another fault as well (the audit could never see it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator } from '../../src/simulator/start.js';
import type { PlacedFault } from '../../src/simulator/platform.js';
import { parseFaultPlan, parseFleetFile } from '../../src/simulator/fleet.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const topology = { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 2 };

test('slow: delayMs only with mode delay, and at most 2^31 - 1 ms', async () => {
  for (const fault of [
    { layer: 'vm-0001', fault: 'slow', mode: 'delay', delayMs: 2 ** 31 },
    { layer: 'vm-0001', fault: 'slow', mode: 'delay', delayMs: 1e300 },
    { layer: 'vm-0001', fault: 'slow', mode: 'drip', delayMs: 1000 },
    { layer: 'vm-0001', fault: 'slow', delayMs: 1000 },
  ] as PlacedFault[]) {
    const err = await assertRejectsCode(startSimulator({ topology, faults: [fault] }), 'SIM_FAULT_INVALID');
    assert.match(err.message, /delayMs applies to slow with mode delay only/);
  }
  const ok = await startSimulator({ topology, faults: [{ layer: 'vm-0001', fault: 'slow', mode: 'delay', delayMs: 2 ** 31 - 1 } as PlacedFault] });
  await ok.close();
});

test('a layer that does not answer can have no other fault, in either order', async () => {
  for (const faults of [
    [{ layer: 'vm-0001', fault: 'unreachable' }, { layer: 'vm-0001', fault: 'pcr' }],
    [{ layer: 'vm-0001', fault: 'pcr' }, { layer: 'vm-0001', fault: 'slow' }],
    [{ layer: 'vm-0001', fault: 'huge' }, { layer: 'vm-0001', fault: 'unreachable' }],
    // another VM answers at a relayed top's URL: nothing of its own could show
    [{ layer: 'vm-0001', fault: 'relayed-top' }, { layer: 'vm-0001', fault: 'pcr' }],
    [{ layer: 'vm-0001', fault: 'ima-tamper' }, { layer: 'vm-0001', fault: 'relayed-top' }],
  ] as PlacedFault[][]) {
    const err = await assertRejectsCode(startSimulator({ topology, faults }), 'SIM_FAULT_INVALID');
    assert.match(err.message, /a layer that does not answer \(unreachable, slow, huge\) or whose URL a relay serves \(relayed-top\) can have no other fault/);
  }
  // verification faults together are fine: the audit reports the first
  const ok = await startSimulator({ topology, faults: [{ layer: 'vm-0001', fault: 'pcr' }, { layer: 'vm-0001', fault: 'nonce' }] as PlacedFault[] });
  await ok.close();
});

test('relayed-top applies to a VM at the top only: not to a VMM (with guests or, one the inventory does not list, without), nor to a physical layer', async () => {
  const withGuests = await assertRejectsCode(startSimulator({ topology, faults: [{ layer: 'vmm-001', fault: 'relayed-top' }] as PlacedFault[] }), 'SIM_FAULT_INVALID');
  assert.match(withGuests.message, /applies to a VM at the top .*vmm-001 is a vmm/);
  const physical = await assertRejectsCode(startSimulator({ topology: { layers: 1 }, faults: [{ layer: 0, fault: 'relayed-top' }] as PlacedFault[] }), 'SIM_FAULT_INVALID');
  assert.match(physical.message, /is a physical/);
  // an empty VMM beside VMs: no audit target, so a relay at its URL could never be found
  const empty = { hosts: [{ name: 'h', vmms: [{ name: 'busy', vms: ['a1'] }, { name: 'empty' }] }] };
  const guestless = await assertRejectsCode(startSimulator({ topology: empty, faults: [{ layer: 'empty', fault: 'relayed-top' }] as PlacedFault[] }), 'SIM_FAULT_INVALID');
  assert.match(guestless.message, /empty is a vmm/);
});

test('a fault plan file: every problem with an entry names the file, the line and the entry, whether found when reading it or when placing its faults', async () => {
  const text = (entries: string) => `version: 1\nfaults:\n  - { layer: vm-0001, fault: pcr }\n${entries}`;
  // read: an unknown fault kind, an unknown key, a layer that is not a name
  for (const [entry, pattern] of [
    ['  - { layer: vm-0002, fault: melt }\n', /unknown fault "melt"/],
    ['  - { layer: vm-0002, fault: pcr, colour: red }\n', /unknown key "colour"/],
    ['  - layer: 7\n    fault: pcr\n', /layer: the name of a layer/],
  ] as const) {
    const err = assertThrowsCode(() => parseFaultPlan(text(entry), 'plan.yaml'), 'SIM_FAULT_PLAN_INVALID');
    assert.match(err.message, /^plan\.yaml:4: faults\[1\]/);
    assert.match(err.message, pattern);
    assert.equal(err.details['file'], 'plan.yaml');
    assert.equal(err.details['line'], 4);
  }
  // placed: a layer the fleet does not have, the same fault twice, a VM both down and tampered
  for (const [entries, pattern] of [
    ['  - { layer: vm-9999, fault: pcr }\n', /no layer named vm-9999/],
    ['\n  - { layer: vm-0001, fault: pcr }\n', /given twice/],
    ['  - { layer: vm-0002, fault: pcr }\n  # down as well\n  - { layer: vm-0002, fault: unreachable }\n', /can have no other fault/],
  ] as const) {
    const plan = parseFaultPlan(text(entries), 'plan.yaml');
    const line = text(entries).split('\n').findLastIndex((l) => l.includes('- {')) + 1;
    const err = await assertRejectsCode(startSimulator({ topology, faultPlan: plan }), 'SIM_FAULT_INVALID');
    assert.match(err.message, new RegExp(`^plan\\.yaml:${line}: faults\\[${plan.faults.length - 1}\\]: `));
    assert.match(err.message, pattern);
    assert.equal(err.details['file'], 'plan.yaml');
    assert.equal(err.details['line'], line);
  }
  // a plan given as data (no text): the entry still, no line
  const data = parseFaultPlan({ faults: [{ layer: 'vm-9999', fault: 'pcr' }] }, 'plan');
  assert.match((await assertRejectsCode(startSimulator({ topology, faultPlan: data }), 'SIM_FAULT_INVALID')).message, /^plan: faults\[0\]: fault pcr: no layer named vm-9999/);
  // and its faults as written back are what was read (the source is not part of the plan)
  assert.deepEqual(JSON.parse(JSON.stringify(parseFaultPlan(text(''), 'plan.yaml'))), { version: 1, faults: [{ layer: 'vm-0001', fault: 'pcr' }] });
});

test('a fault plan or fleet file with block mappings nested on one line past the YAML parser\'s stack is refused as not well-formed, not a RangeError', () => {
  // as policies and inventories: the parser runs out of stack before it records an error of its own
  const deep = '634832ff74a9: '.repeat(20_000);
  const plan = assertThrowsCode(() => parseFaultPlan(`faults:\n  - layer: 1\n    fault: ${deep}x\n  - layer: 2\n`, 'plan.yaml'), 'SIM_FAULT_PLAN_INVALID');
  assert.match(plan.message, /^plan\.yaml: not well-formed YAML or JSON: nested too deeply/);
  const fleet = assertThrowsCode(() => parseFleetFile(`hosts:\n  - name: a\n    vms: ${deep}x\n  - name: c\n`, 'fleet.yaml'), 'SIM_TOPOLOGY_INVALID');
  assert.match(fleet.message, /^fleet\.yaml: not well-formed YAML or JSON: nested too deeply/);
});

test('CLI: a fleet file or fault plan with flow collections nested past the YAML parser\'s stack exits 2, not a V8 abort', async (t) => {
  // two lines of 2,000 "[": V8 aborted the process (RegExpCompiler Allocation failed, exit 134) inside the parser
  const dir = tempDir(t, 'vtpm-sim-deep-');
  const file = join(dir, 'deep.yaml');
  writeFileSync(file, `- ${'['.repeat(2000)}\n- ${'['.repeat(2000)}\n`);
  for (const [flag, code] of [['--fleet', 'SIM_TOPOLOGY_INVALID'], ['--fault-plan', 'SIM_FAULT_PLAN_INVALID']] as const) {
    const run = await runCli(['simulate', flag, file, '--json']);
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.equal(run.json!.error!.code, code);
    assert.match(run.json!.error!.message, /nested too deeply to read \(flow collections .* more than 64 deep\)/);
  }
});
