// A bootApplications.forbidden list written in another bank than SHA-256
// (a revoked shim's SHA-1 or SHA-384 Authenticode hash): the simulated VM
// boots that very shim, measured in all three of its banks. The walker asks
// for PCR 4 in the banks the list names, so the revoked image is found; and
// evidence with no verified digest in the list's bank (a bundle saved with a
// SHA-256-only quote) cannot pass the rule it cannot check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../src/simulator/start.js';
import { imageDigest } from '../../src/simulator/firmware.js';
import { runCli } from '../helpers/cli.js';

const SHIM = 'shim 15.8 (shimx64.efi)';

test('bootApplications.forbidden in the SHA-1 or SHA-384 bank is checked, never silently passed', async () => {
  const sim = await startSimulator({ topology: { layers: 2 } });
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-forbid-'));
  try {
    const policyFile = (bank: 'sha1' | 'sha384', digest: string): string => {
      const file = join(dir, `forbid-${bank}-${digest.slice(0, 8)}.yaml`);
      writeFileSync(file, `apiVersion: vtpm-verify/v1\nname: forbid\nlayers:\n  - name: vm\n    select: { position: 0 }\n    eventLog:\n      bootApplications:\n        forbidden:\n          ${bank}: ["${digest}"]\n`);
      return file;
    };
    for (const bank of ['sha1', 'sha384'] as const) {
      const revoked = policyFile(bank, imageDigest(bank, SHIM).toString('hex'));
      const r = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--policy', revoked, '--json']);
      assert.equal(r.code, 1, `${bank}: ${r.stdout}`);
      assert.equal(r.json?.error?.code, 'POLICY_BOOT_APP_FORBIDDEN', bank);
      assert.match(r.json?.error?.message ?? '', /1 forbidden boot application\(s\): \\EFI\\BOOT\\BOOTX64\.EFI/, bank);
      const other = policyFile(bank, '00'.repeat(bank === 'sha1' ? 20 : 48));
      assert.equal((await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--policy', other, '--json'])).code, 0, bank);
    }
    // a bundle saved under the baseline: its quotes cover the SHA-256 bank only
    const bundle = join(dir, 'b.json');
    assert.equal((await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--save', bundle, '--json'])).code, 0);
    const v = await runCli(['verify', bundle, '--trust', sim.trustDir, '--policy', policyFile('sha1', '00'.repeat(20)), '--json']);
    assert.equal(v.code, 1, v.stdout);
    assert.equal(v.json?.error?.code, 'POLICY_BOOT_APP_FORBIDDEN');
    assert.match(v.json?.error?.message ?? '', /no verified sha1 digest.*cannot be checked/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sim.close();
  }
});
