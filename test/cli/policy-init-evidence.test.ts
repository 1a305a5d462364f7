// policy init from raw evidence: a saved bundle of the simulated platform is
// verified into facts, and the golden policy made from it accepts that very
// bundle (verify --policy); evidence that does not verify is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../src/simulator/start.js';
import { runCli } from '../helpers/cli.js';
import { corpusPath } from '../helpers/paths.js';

test('policy init --from a saved bundle: the golden policy accepts that evidence; an edited bundle is refused', async () => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-init-'));
  try {
    const bundle = join(dir, 'known-good.bundle.json');
    const saved = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--save', bundle, '--json']);
    assert.equal(saved.code, 0, saved.stdout);
    const golden = join(dir, 'golden.yaml');
    const init = await runCli(['policy', 'init', '--from', bundle, '--trust', sim.trustDir, '-o', golden, '--json']);
    assert.equal(init.code, 0, init.stdout + init.stderr);
    assert.equal(init.json?.result.layers, 3);
    assert.match(readFileSync(golden, 'utf8'), /bootApplications:/);
    assert.equal((await runCli(['policy', 'check', golden])).code, 0);
    const verified = await runCli(['verify', bundle, '--trust', sim.trustDir, '--policy', golden, '--json']);
    assert.equal(verified.code, 0, verified.stdout);
    assert.equal(verified.json?.result.verdict, 'trusted');
    // The golden policy pins the firmware version: a live attestation of the same platform passes too.
    const live = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--policy', golden, '--json']);
    assert.equal(live.code, 0, live.stdout);

    const b = JSON.parse(readFileSync(bundle, 'utf8'));
    b.layers[0].evidence.pcrs.sha256['4'] = '11'.repeat(32);
    const edited = join(dir, 'edited.bundle.json');
    writeFileSync(edited, JSON.stringify(b));
    const refused = await runCli(['policy', 'init', '--from', edited, '--trust', sim.trustDir, '--json']);
    assert.equal(refused.code, 1, refused.stdout);
    assert.equal(refused.json?.error?.code, 'QUOTE_PCR_DIGEST_MISMATCH');
    const noTrust = await runCli(['policy', 'init', '--from', bundle, '--json']);
    assert.equal(noTrust.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sim.close();
  }
});

test('policy init --ak: a real quote made with no nonce (GCE COS 85) is taken with --nonce "", and the policy accepts its log; no --nonce at all is bad usage', async (t) => {
  const set = corpusPath(t, 'quotes', 'gotpmtools_gce-cos-85-no-nonce');
  if (!set) return;
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-init-'));
  try {
    const quoted = (JSON.parse(readFileSync(join(set, 'pcrs.json'), 'utf8')) as { quotes: { bank: string; pcrs: Record<string, string> }[] }).quotes.find((q) => q.bank === 'sha256')!;
    const pcrs = join(dir, 'pcrs.json');
    writeFileSync(pcrs, JSON.stringify({ sha256: quoted.pcrs }));
    const args = ['policy', 'init', '--ak', join(set, 'ak_public.bin'), '--message', join(set, 'quote_sha256.attest'), '--signature', join(set, 'quote_sha256.sig'), '--pcrs', pcrs, '--pcrs-format', 'json', '--eventlog', join(set, '..', '..', 'eventlogs', 'gotpmtools_gce-cos-85-no-nonce.bin')];
    const init = await runCli([...args, '--nonce', '', '--json']);
    assert.equal(init.code, 0, init.stdout + init.stderr);
    const missing = await runCli([...args, '--json']);
    assert.equal(missing.code, 2);
    assert.match(missing.json?.error?.message ?? '', /--ak needs --nonce too/);
    const wrong = await runCli([...args, '--nonce', '9009', '--json']);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.json?.error?.code, 'QUOTE_NONCE_MISMATCH');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
