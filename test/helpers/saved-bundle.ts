// A real evidence bundle to tamper with: a simulated platform attested with `attest --save`, in a temporary
// folder removed (and the platform stopped) after the test.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { runCli } from './cli.js';
import { tempDir } from './tmp.js';

export interface SavedBundle {
  sim: RunningSimulator;
  dir: string;
  /** the bundle as saved */
  file: string;
  /** the saved bundle, parsed (a fresh copy each call) */
  read(): any;
  /** writes `bundle` (as JSON) beside the saved one; returns its path */
  write(name: string, bundle: unknown): string;
}

export async function savedBundle(t: TestContext, layers: number): Promise<SavedBundle> {
  const dir = tempDir(t, 'vtpm-bundle-');
  const sim = await startSimulator({ topology: { layers } });
  t.after(() => sim.close());
  const file = join(dir, 'vm.bundle.json');
  const saved = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--save', file, '--json']);
  assert.equal(saved.code, 0, saved.stderr.slice(0, 300));
  return {
    sim,
    dir,
    file,
    read: () => JSON.parse(readFileSync(file, 'utf8')),
    write: (name, bundle) => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(bundle));
      return path;
    },
  };
}
