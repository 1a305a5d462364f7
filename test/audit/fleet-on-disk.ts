// A simulated fleet for the audit tests that run the real CLI: the simulator
// serving it (closed after the test), a temporary folder, and the fleet's
// inventory written there as YAML.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { inventoryYaml } from '../../src/simulator/fleet.js';
import { startSimulator, type RunningSimulator, type StartSimulatorOptions } from '../../src/simulator/start.js';
import { tempDir } from '../helpers/tmp.js';

export async function fleetOnDisk(t: TestContext, options: StartSimulatorOptions, prefix = 'vtpm-audit-'): Promise<{ sim: RunningSimulator; dir: string; inventory: string }> {
  const sim = await startSimulator(options);
  t.after(() => sim.close());
  const dir = tempDir(t, prefix);
  const inventory = join(dir, 'fleet.yaml');
  writeFileSync(inventory, inventoryYaml(sim.inventory()));
  return { sim, dir, inventory };
}
