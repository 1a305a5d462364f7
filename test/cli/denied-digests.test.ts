// ima.denied with digests of another algorithm than the VM's IMA list (a list
// of SHA-1 indicators against the simulated VM's SHA-256 ima-ng list): the
// file it names was run, and the rule must not pass for want of a comparable
// digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../src/simulator/start.js';
import { simFileContent } from '../../src/simulator/firmware.js';
import { runCli } from '../helpers/cli.js';

test('ima.denied in another digest algorithm than the IMA list fails instead of passing unchecked', async () => {
  const sim = await startSimulator({ topology: { layers: 2 } });
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-denied-'));
  try {
    const attest = async (digest: string) => {
      const file = join(dir, `deny-${digest.length}.yaml`);
      writeFileSync(file, `apiVersion: vtpm-verify/v1\nname: deny\nlayers:\n  - name: vm\n    select: { position: 0 }\n    ima:\n      denied: ["${digest}"]\n`);
      return runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--policy', file, '--json']);
    };
    const ls = simFileContent('/usr/bin/ls');
    const sha256 = await attest(createHash('sha256').update(ls).digest('hex'));
    assert.equal(sha256.code, 1, sha256.stdout);
    assert.match(sha256.json?.error?.message ?? '', /1 measured file\(s\) with a denied digest \(first: \/usr\/bin\/ls\)/);
    const sha1 = await attest(createHash('sha1').update(ls).digest('hex'));
    assert.equal(sha1.code, 1, sha1.stdout);
    assert.equal(sha1.json?.error?.code, 'POLICY_IMA_DENIED');
    assert.match(sha1.json?.error?.message ?? '', /have a sha256 digest, and the denied list has no digest of that algorithm \(only sha1\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sim.close();
  }
});
