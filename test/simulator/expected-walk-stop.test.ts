// The simulator's expectation (expectedOutcome) stops where the real walker
// stops. A quote that does not verify (signature, nonce, PCR digest) ends the
// walk on its layer, as an invalid certificate does: the next layer's nonce
// is chained from the verified quote. A fault on a layer below it is never
// seen, so the expectation must not list it, nor list that layer in the path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator } from '../../src/simulator/start.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { runCli } from '../helpers/cli.js';

for (const top of ['signature', 'nonce', 'pcr'] as const) {
  test(`${top}@0 with pcr@2 below: the expectation stops at layer 0, as attest does`, async () => {
    const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ fault: top, layer: 0 }, { fault: 'pcr', layer: 2 }] });
    try {
      const run = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--json']);
      assert.equal(run.code, 1, run.stderr);
      const result = (JSON.parse(run.stdout) as { result: AttestationResult }).result;
      const walked = result.layers.filter((l) => l.status !== 'not-reached');
      const failing = result.layers.filter((l) => l.status === 'not-trusted' || l.status === 'unreachable');

      const expected = sim.expected();
      assert.equal(expected.verdict, result.verdict);
      assert.deepEqual(expected.faults.map((f) => [f.position, f.code]), failing.map((l) => [l.position, l.error?.code]));
      assert.deepEqual(expected.path, ['vm']);
      assert.equal(walked.length, expected.path.length);
    } finally {
      await sim.close();
    }
  });
}

// Two faults on one layer, given in the opposite order to the walker's checks of a layer: the expectation
// lists them in the walker's order, so its first fault is the code attest reports for that layer.
for (const [first, second] of [
  ['pcr', 'certificate'],
  ['pcr', 'signature'],
  ['not-hosted', 'nonce'],
] as const) {
  test(`${first}@1 then ${second}@1: the expectation's first fault on the layer is the one attest reports`, async () => {
    const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ fault: first, layer: 1 }, { fault: second, layer: 1 }] });
    try {
      const run = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--json']);
      assert.equal(run.code, 1, run.stderr);
      const result = (JSON.parse(run.stdout) as { result: AttestationResult }).result;
      const layer1 = result.layers.find((l) => l.position === 1)!;
      const expected = sim.expected().faults.filter((f) => f.position === 1);
      assert.deepEqual(expected.map((f) => f.fault), [second, first]);
      assert.equal(layer1.error?.code, expected[0]!.code);
    } finally {
      await sim.close();
    }
  });
}
