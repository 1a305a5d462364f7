// Output files that cannot be written whole (a full disk, here a file size
// limit: EFBIG as ENOSPC would be) leave nothing half-written, from a review:
// attest --save, policy init -o and simulate --inventory-out wrote in place,
// so a full disk left a truncated bundle, an empty policy or an empty
// inventory where the last good one had been. They are now written beside
// and renamed into place. A bundle that cannot be saved does not hide the
// verdict either: the result is printed, and exit 1 stands over the I/O error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator } from '../../src/simulator/start.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/** A bundle of a 3-layer chain is ~50 KB: 16 KiB cannot hold it. */
const LIMIT_KIB = 16;

test('attest --save that cannot write the bundle leaves the earlier one intact, prints the result, and keeps a not-trusted verdict its exit 1', async (t) => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  t.after(() => sim.close());
  const dir = tempDir(t, 'vtpm-outfiles-');
  const bundle = join(dir, 'vm.bundle.json');
  writeFileSync(bundle, 'the bundle saved yesterday\n');

  const trusted = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--save', bundle, '--json'], { fileSizeLimitKiB: LIMIT_KIB });
  assert.equal(trusted.code, 3, trusted.stderr);
  assert.equal(trusted.json?.error?.code, 'IO_ERROR');
  assert.match(trusted.json!.error!.message, /--save: cannot write .*vm\.bundle\.json: EFBIG/);
  assert.equal(trusted.json?.result?.verdict, 'trusted', 'the result is printed all the same');
  assert.match(trusted.stderr, /error: --save: cannot write/);
  assert.equal(readFileSync(bundle, 'utf8'), 'the bundle saved yesterday\n', 'not truncated');
  assert.deepEqual(readdirSync(dir), ['vm.bundle.json'], 'no temporary file left');

  // a VM that is not trusted: that is the verdict to act on, not "could not complete"
  const other = 'ab'.repeat(32);
  const notTrusted = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--instance', other, '--save', bundle, '--json'], { fileSizeLimitKiB: LIMIT_KIB });
  assert.equal(notTrusted.code, 1, notTrusted.stderr);
  assert.equal(notTrusted.json?.error?.code, 'TARGET_INSTANCE_MISMATCH');
  assert.match(notTrusted.stderr, /error: --save: cannot write/);
  assert.equal(readFileSync(bundle, 'utf8'), 'the bundle saved yesterday\n');

  // with room, it is written whole
  const saved = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--save', bundle, '--json']);
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal(JSON.parse(readFileSync(bundle, 'utf8')).format, 'vtpm-verify/evidence-bundle');
});

test('policy init -o and simulate --inventory-out that cannot write leave the earlier files intact and no temporary file', async (t) => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  t.after(() => sim.close());
  const dir = tempDir(t, 'vtpm-outfiles-');
  const bundle = join(dir, 'known-good.bundle.json');
  const saved = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--save', bundle]);
  assert.equal(saved.code, 0, saved.stderr);
  const policy = join(dir, 'golden.yaml');
  writeFileSync(policy, '# the golden policy of last month\n');

  const init = await runCli(['policy', 'init', '--from', bundle, '--trust', sim.trustDir, '-o', policy, '--force', '--json'], { fileSizeLimitKiB: LIMIT_KIB });
  assert.equal(init.code, 3, init.stderr);
  assert.equal(init.json?.error?.code, 'IO_ERROR');
  assert.equal(readFileSync(policy, 'utf8'), '# the golden policy of last month\n', 'not emptied');
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);

  const inventory = join(dir, 'fleet.yaml');
  writeFileSync(inventory, '# the inventory of yesterday\n');
  const simulate = await runCli(['simulate', '--hosts', '2', '--vms-per-vmm', '200', '--inventory-out', inventory, '--json'], { fileSizeLimitKiB: LIMIT_KIB });
  assert.equal(simulate.code, 3, simulate.stderr);
  assert.equal(simulate.json?.error?.code, 'IO_ERROR');
  assert.equal(readFileSync(inventory, 'utf8'), '# the inventory of yesterday\n');
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('simulate and demo whose trust anchors cannot be written ($TMPDIR missing, a full disk) fail with IO_ERROR, exit 3, not INTERNAL_ERROR', async (t) => {
  const dir = tempDir(t, 'vtpm-outfiles-');
  const missing = join(dir, 'no-such-folder');
  for (const args of [['simulate', '--json'], ['demo', '--json']]) {
    const r = await runCli(args, { env: { TMPDIR: missing } });
    assert.equal(r.code, 3, `${args[0]}: ${r.stderr}`);
    assert.equal(r.json?.error?.code, 'IO_ERROR', `${args[0]}: ${r.stdout}`);
    assert.match(r.json!.error!.message, /simulator: cannot write the trust anchors in .*no-such-folder.*\(\$TMPDIR\): ENOENT/);
  }
  const full = await runCli(['simulate', '--trust-out', join(dir, 'trust'), '--json'], { fileSizeLimitKiB: 0 });
  assert.equal(full.code, 3, full.stderr);
  assert.equal(full.json?.error?.code, 'IO_ERROR');
  assert.match(full.json!.error!.message, /cannot write the trust anchors in .*trust: EFBIG/);
});
