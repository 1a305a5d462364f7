// The certs command, run as users run it: exit codes, the --json envelope,
// and the human rendering of the path, TCG attributes and layer extension.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../../src/x509/pem.js';
import { parseTimeArgument } from '../../src/cli/time-argument.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { runCli } from '../helpers/cli.js';
import { corpusPath } from '../helpers/paths.js';
import { makeCert, makeChain, makeCrl, tempDir } from '../helpers/pki.js';

const LAYER = { kind: 'virtual' as const, instanceId: 'ab'.repeat(32), deepAttestation: 'https://vmm-3.example/da' };

async function fixture(): Promise<{ dir: string; ak: string; expired: string; badLayer: string; badLayerRoot: string; stranger: string; trust: string; crl: string }> {
  const dir = tempDir('vtpm-certs-cli-');
  const good = await makeChain({ leaf: { eku: ['2.23.133.8.3'], layer: LAYER } });
  const old = await makeCert({ subject: 'CN=Old AK', issuer: good.intermediate, notAfter: new Date('2025-03-01T00:00:00Z') });
  const badLayer = await makeChain({ root: { subject: 'CN=Other Root' }, leaf: { layerValue: Buffer.from('30030a0107', 'hex') } });
  const crl = await makeCrl({ issuer: good.intermediate, revoked: [{ serial: good.leaf.serial }] });
  const file = (name: string, content: string | Uint8Array): string => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  return {
    dir,
    trust: file('root.pem', good.root.pem),
    // Each file carries its intermediate after the target, as evidence does.
    ak: file('ak.pem', good.leaf.pem + good.intermediate.pem),
    expired: file('expired.pem', old.pem + good.intermediate.pem),
    badLayer: file('badlayer.pem', badLayer.leaf.pem + badLayer.intermediate.pem),
    badLayerRoot: file('badlayer-root.pem', badLayer.root.pem),
    stranger: file('stranger.pem', (await makeCert({ subject: 'CN=Stranger Root', ca: true })).pem),
    crl: file('revoked.crl', toPem(crl.der, 'X509 CRL')),
  };
}

const at = ['--at', '2025-06-01T00:00:00Z'];

test('certs: a valid AK chain exits 0 with path, anchor label and the verified layer in the envelope', async () => {
  const f = await fixture();
  const r = await runCli(['certs', f.ak, '--trust', `vplatform-ca=${f.trust}`, ...at, '--require-eku', 'ak', '--allow-label', 'vplatform-ca', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.json?.ok, true);
  assert.equal(r.json?.error, null);
  const res = r.json!.result.results[0];
  assert.equal(res.valid, true);
  assert.deepEqual(res.path.map((c: { subject: string }) => c.subject), ['CN=Test AK, O=vtpm-verify tests', 'CN=Test Intermediate CA, O=vtpm-verify tests']);
  assert.deepEqual(res.anchor.labels, ['vplatform-ca']);
  assert.deepEqual(res.layer, { kind: 'virtual', instanceId: LAYER.instanceId, deepAttestation: LAYER.deepAttestation });
  assert.equal(r.json!.result.at, '2025-06-01T00:00:00.000Z');
  // Human output.
  const h = await runCli(['certs', f.ak, '--trust', `vplatform-ca=${f.trust}`, ...at]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /ak\.pem: VALID at 2025-06-01/);
  assert.match(h.stdout, /\[2\] anchor\s+CN=Test Root CA, O=vtpm-verify tests \[vplatform-ca\]/);
  assert.match(h.stdout, /TrustedLayer: kind virtual, instanceId abab.*deepAttestation https:\/\/vmm-3\.example\/da/);
});

test('certs: an invalid certificate exits 1 with the failing check code naming the certificate', async () => {
  const f = await fixture();
  const r = await runCli(['certs', f.ak, f.expired, '--trust', f.trust, ...at, '--json']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.equal(r.json?.ok, false);
  assert.equal(r.json?.error?.code, 'CHAIN_EXPIRED');
  assert.equal(r.json?.error?.details.certificate.index, 0);
  assert.deepEqual(r.json!.result.results.map((x: { valid: boolean }) => x.valid), [true, false]);
  const revoked = await runCli(['certs', f.ak, '--trust', f.trust, '--crl', f.crl, ...at, '--json']);
  assert.equal(revoked.code, 1);
  assert.equal(revoked.json?.error?.code, 'CHAIN_REVOKED');
  const eku = await runCli(['certs', f.ak, '--trust', f.trust, ...at, '--require-eku', 'ek']);
  assert.equal(eku.code, 1);
  assert.match(eku.stdout, /INVALID CHAIN_EKU/);
  const label = await runCli(['certs', f.ak, '--trust', `ek-ca=${f.trust}`, '--trust', `vplatform-ca=${f.stranger}`, ...at, '--allow-label', 'vplatform-ca', '--json']);
  assert.equal(label.code, 1);
  assert.equal(label.json?.error?.code, 'CHAIN_ANCHOR_NOT_ALLOWED');
  // a label no anchor carries (a typo) is bad usage, not a verdict on the chain
  const typo = await runCli(['certs', f.ak, '--trust', `ek-ca=${f.trust}`, ...at, '--allow-label', 'vplatfrom-ca', '--json']);
  assert.equal(typo.code, 2, typo.stdout + typo.stderr);
  assert.equal(typo.json?.error?.code, 'USAGE');
  assert.deepEqual(typo.json?.error?.details, { unknown: ['vplatfrom-ca'], labels: ['ek-ca'] });
  // The layer of an untrusted path is shown as unverified, never as the layer.
  const untrusted = await runCli(['certs', f.ak, '--trust', f.stranger, ...at, '--json']);
  assert.equal(untrusted.json?.error?.code, 'CHAIN_UNTRUSTED_ROOT');
  assert.equal(untrusted.json?.result.results[0].layer, null);
  assert.equal(untrusted.json?.result.results[0].unverifiedLayer.deepAttestation, LAYER.deepAttestation);
});

test('certs: a superseded CRL given next to the current one does not fail the path (as openssl verify -crl_check_all)', async () => {
  const dir = tempDir('vtpm-certs-cli-');
  const chain = await makeChain();
  const current = await makeCrl({ issuer: chain.intermediate });
  const superseded = await makeCrl({ issuer: chain.intermediate, thisUpdate: new Date('2025-01-01T00:00:00Z'), nextUpdate: new Date('2025-02-01T00:00:00Z') });
  writeFileSync(join(dir, 'root.pem'), chain.root.pem);
  writeFileSync(join(dir, 'leaf.pem'), chain.leaf.pem + chain.intermediate.pem);
  writeFileSync(join(dir, 'current.crl'), toPem(current.der, 'X509 CRL'));
  writeFileSync(join(dir, 'superseded.crl'), toPem(superseded.der, 'X509 CRL'));
  const args = ['certs', join(dir, 'leaf.pem'), '--trust', join(dir, 'root.pem'), ...at, '--json'];
  const both = await runCli([...args, '--crl', join(dir, 'superseded.crl'), '--crl', join(dir, 'current.crl')]);
  assert.equal(both.code, 0, both.stdout + both.stderr);
  const alone = await runCli([...args, '--crl', join(dir, 'superseded.crl')]);
  assert.equal(alone.code, 1, alone.stdout + alone.stderr);
  assert.equal(alone.json?.error?.code, 'CRL_EXPIRED');
});

test('certs: bad input exits 2 (malformed certificate, malformed layer, no trust, bad options)', async () => {
  const f = await fixture();
  writeFileSync(join(f.dir, 'junk.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const cases: [string[], string][] = [
    [['certs', join(f.dir, 'junk.pem'), '--trust', f.trust], 'CERT_MALFORMED'],
    [['certs', f.badLayer, '--trust', f.badLayerRoot, ...at], 'LAYER_EXT_BAD_KIND'],
    [['certs', f.ak], 'USAGE'],
    [['certs', f.ak, '--trust', join(f.dir, 'junk.pem')], 'TRUST_NO_ANCHORS'],
    [['certs', f.ak, '--trust', f.trust, '--at', 'yesterday'], 'USAGE'],
    // Date.parse would take these as 2024-03-01 and 2024-06-02: not the time asked for
    [['certs', f.ak, '--trust', f.trust, '--at', '2024-02-30'], 'USAGE'],
    [['certs', f.ak, '--trust', f.trust, '--at', '2024-06-01T24:00:00Z'], 'USAGE'],
    [['certs', f.ak, '--trust', f.trust, '--require-eku', 'signing'], 'USAGE'],
    [['certs', f.ak, '--trust', f.trust, '--allow-label', 'Bad_Label'], 'TRUST_LABEL_INVALID'],
    [['certs', join(f.dir, 'missing.pem'), '--trust', f.trust], 'FILE_UNREADABLE'],
    [['certs', f.ak, '--trust', f.trust, '--crl', f.ak], 'CRL_MALFORMED'],
  ];
  for (const [args, code] of cases) {
    const r = await runCli([...args, '--json']);
    assert.equal(r.code, 2, `${code}: ${r.stdout}${r.stderr}`);
    assert.equal(r.json?.error?.code, code, r.stdout);
  }
});

test('certs --at: ISO 8601 times of real dates only', () => {
  assert.equal(parseTimeArgument('2024-06-01', '--at'), Date.UTC(2024, 5, 1));
  assert.equal(parseTimeArgument('2024-02-29T23:59:59Z', '--at'), Date.UTC(2024, 1, 29, 23, 59, 59));
  assert.equal(parseTimeArgument('2024-06-01T02:00:00+02:00', '--at'), Date.UTC(2024, 5, 1));
  assert.equal(parseTimeArgument('0001-01-01T00:00:00Z', '--at'), Date.parse('0001-01-01T00:00:00Z'));
  for (const bad of ['2024-02-30', '2023-02-29', '2024-04-31T00:00:00Z', '2024-06-01T24:00:00Z', '2024-06-01T23:60Z', '2024-06-01T12:00:60Z', '2024-13-01', '2024-06-01T12:00:00+24:00', 'yesterday']) {
    const err = assertThrowsCode(() => parseTimeArgument(bad, '--at'), 'USAGE');
    assert.equal(err.details['option'], '--at');
  }
});

test('certs: the real Nuvoton EK, human output with TCG attributes and the non-DER warning', async (t) => {
  const ek = corpusPath(t, 'certs', 'ek-ak', 'keylime_nuvoton_npct75x_ek_rsa_nonder.der');
  const root = corpusPath(t, 'certs', 'vendor-ca', 'keylime_NUVO_2111.pem');
  if (!ek || !root) return;
  const r = await runCli(['certs', ek, '--trust', `ek-ca=${root}`, '--at', '2024-06-01', '--require-eku', 'ek']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /VALID/);
  assert.match(r.stdout, /TPM: manufacturer Nuvoton Technology \(id:4E544300\), model NPCT75x, version 7\.2 \(id:00070002\)/);
  assert.match(r.stdout, /warning CERT_NON_DER: .*set-order in issuer/);
  assert.match(r.stdout, /TrustedLayer: none/);
});
