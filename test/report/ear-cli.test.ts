// attest --ear-key as a relying party sees it: the token verifies with jose and
// the public key; a key that cannot sign is refused before the walk (exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';
import { startSimulator } from '../../src/simulator/start.js';

test('attest --ear-key: the JWT verifies with jose and the public key; a JWK whose d is not the key of its x, y is EAR_KEY_INVALID, exit 2, before the walk', async (t) => {
  const dir = tempDir(t, 'vtpm-ear-cli-');
  const sim = await startSimulator({ topology: { layers: 2 } });
  t.after(() => sim.close());
  const { privateKey, publicKey } = freshKeyPair('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const good = join(dir, 'ear.jwk');
  writeFileSync(good, JSON.stringify(jwk));
  const r = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--ear-key', good]);
  assert.equal(r.code, 0, r.stderr);
  const { jwtVerify, decodeProtectedHeader } = await import('jose');
  const token = r.stdout.trim();
  assert.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', typ: 'JWT' });
  const { payload } = await jwtVerify(token, publicKey, { algorithms: ['ES256'] });
  assert.equal(payload['eat_profile'], 'tag:github.com,2023:veraison/ear');
  for (const s of Object.values(payload['submods'] as Record<string, { 'ear.status': string }>)) assert.equal(s['ear.status'], 'affirming');

  const other = freshKeyPair('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  for (const [name, d] of [['mismatched', other.d!], ['zero', Buffer.alloc(32).toString('base64url')]] as const) {
    const bad = join(dir, `${name}.jwk`);
    writeFileSync(bad, JSON.stringify({ ...jwk, d }));
    const before = sim.stats.connections;
    const b = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--ear-key', bad]);
    assert.equal(b.code, 2, `${name}: ${b.stderr}`);
    assert.match(b.stderr, /EAR_KEY_INVALID/, name);
    assert.doesNotMatch(b.stderr, /INTERNAL_ERROR/, name);
    assert.equal(b.stdout, '', name);
    assert.equal(sim.stats.connections, before, `${name}: refused before the walk, nothing fetched`);
  }
});

test('attest/verify --ear, a VMM whose quote fails: the submod is layer1-host (its kind is read only from a verified quote), nothing below it; verify --ear with another challenge prints no EAR', async (t) => {
  const dir = tempDir(t, 'vtpm-ear-cli-');
  const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ fault: 'pcr', layer: 1 }] });
  t.after(() => sim.close());
  const challenge = 'ab'.repeat(32);
  const bundle = join(dir, 'b.json');
  const r = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--ear', '--challenge', challenge, '--save', bundle]);
  assert.equal(r.code, 1, r.stderr);
  const claims = JSON.parse(r.stdout) as { eat_nonce: string; submods: Record<string, { 'ear.status': string; 'ear.trustworthiness-vector': Record<string, number>; 'vtpm-verify.layer': { code?: string } }> };
  assert.deepEqual(Object.keys(claims.submods), ['layer0-vm', 'layer1-host']);
  assert.equal(claims.submods['layer1-host']!['vtpm-verify.layer'].code, 'QUOTE_PCR_DIGEST_MISMATCH');
  assert.equal(claims.submods['layer1-host']!['ear.trustworthiness-vector']['executables'], 99);
  assert.equal(claims.submods['layer0-vm']!['ear.status'], 'contraindicated');
  assert.equal(claims.eat_nonce, Buffer.from(challenge, 'hex').toString('base64url'));

  const v = await runCli(['verify', bundle, '--trust', sim.trustDir, '--ear', '--challenge', challenge]);
  assert.equal(v.code, 1, v.stderr);
  assert.deepEqual(Object.keys((JSON.parse(v.stdout) as typeof claims).submods), ['layer0-vm', 'layer1-host']);
  const w = await runCli(['verify', bundle, '--trust', sim.trustDir, '--ear', '--challenge', 'cd'.repeat(32)]);
  assert.equal(w.code, 1);
  assert.equal(w.stdout, '');
  assert.match(w.stderr, /BUNDLE_CHALLENGE_MISMATCH/);
});
