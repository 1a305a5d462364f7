// Loading trust anchors from folders and bundles: labels from --trust
// LABEL=PATH and from ek-ca/ ak-ca/ vplatform-ca/ subfolders, intermediates/,
// and every unusable file reported (never skipped silently).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCrls, loadTrustStore, parseTrustSpec } from '../../src/cli/trust-files.js';
import { ValidationCache } from '../../src/x509/cache.js';
import { toPem } from '../../src/x509/pem.js';
import { buildTrustStore, TrustStore } from '../../src/x509/trust-store.js';
import { validatePath } from '../../src/x509/validate.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { corpusPath } from '../helpers/paths.js';
import { AT, makeChain, makeCert, makeCrl, tempDir, writeTemp } from '../helpers/pki.js';

test('--trust syntax: [LABEL=]PATH', () => {
  assert.deepEqual(parseTrustSpec('ek-ca=/etc/vtpm/ek'), { label: 'ek-ca', path: '/etc/vtpm/ek' });
  assert.deepEqual(parseTrustSpec('/etc/vtpm/roots.pem'), { path: '/etc/vtpm/roots.pem' });
  assert.deepEqual(parseTrustSpec('./a=b.pem'), { path: './a=b.pem' });
  assertThrowsCode(() => parseTrustSpec('EK_CA=/x'), 'TRUST_LABEL_INVALID');
});

test('a trust folder: label subfolders, intermediates/, an explicit label for the rest, problems and ignored files listed', async () => {
  const physical = await makeChain({ leaf: { eku: ['2.23.133.8.1'] } });
  const virtual = await makeChain({ root: { subject: 'CN=vPlatform Root' }, intermediate: { subject: 'CN=vPlatform Issuing CA' } });
  const other = await makeCert({ subject: 'CN=Unlabelled Root', ca: true });
  const dir = tempDir();
  mkdirSync(join(dir, 'ek-ca'));
  mkdirSync(join(dir, 'vplatform-ca', 'nested'), { recursive: true });
  mkdirSync(join(dir, 'intermediates'));
  writeFileSync(join(dir, 'ek-ca', 'vendor-root.pem'), physical.root.pem);
  writeFileSync(join(dir, 'vplatform-ca', 'nested', 'vp-root.der'), virtual.root.der);
  // Two intermediates glued without a newline between them, as keylime's files concatenate.
  writeFileSync(join(dir, 'intermediates', 'bundle.pem'), physical.intermediate.pem.trimEnd() + virtual.intermediate.pem.trimEnd());
  writeFileSync(join(dir, 'other-root.crt'), other.pem);
  writeFileSync(join(dir, 'README.md'), '# not a certificate');
  writeFileSync(join(dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  writeFileSync(join(dir, 'key.pem'), `${toPem(other.der)}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`);
  writeFileSync(join(dir, '.hidden.pem'), other.pem);

  const loaded = loadTrustStore([`fleet-root=${dir}`]);
  const labelsOf = (subject: string): readonly string[] | undefined => loaded.store.anchors.find((a) => a.certificate.subject.text === subject)?.labels;
  assert.deepEqual(labelsOf('CN=Test Root CA, O=vtpm-verify tests'), ['ek-ca']);
  assert.deepEqual(labelsOf('CN=vPlatform Root'), ['vplatform-ca']);
  assert.deepEqual(labelsOf('CN=Unlabelled Root'), ['fleet-root']);
  assert.equal(loaded.store.anchors.length, 3, 'key.pem repeats other-root: merged');
  assert.equal(loaded.store.intermediates.length, 2);
  assert.deepEqual(
    loaded.problems.map((p) => [p.origin.replace(dir, ''), p.code]).sort(),
    [
      ['/broken.pem', 'CERT_MALFORMED'],
      ['/key.pem#1', 'CERT_NO_CERTIFICATE'],
    ],
  );
  assert.deepEqual(loaded.ignored.map((p) => p.replace(dir, '')).sort(), ['/.hidden.pem', '/README.md']);
  // The store's intermediates complete paths, and labels steer them.
  const r = validatePath(physical.leaf.cert, [], loaded.store, { at: AT, requireEku: 'ek', allowedLabels: ['ek-ca'] });
  assert.ok(r.valid, r.valid ? '' : r.message);
  const v = validatePath(virtual.leaf.cert, [], loaded.store, { at: AT, allowedLabels: ['ek-ca'] });
  assert.equal(v.valid ? 'valid' : v.code, 'CHAIN_ANCHOR_NOT_ALLOWED');
});

test('the same anchor under two labels carries both; without a label: unlabelled', async () => {
  const chain = await makeChain();
  const dir = tempDir();
  const file = join(dir, 'root.pem');
  writeFileSync(file, chain.root.pem);
  const loaded = loadTrustStore([`ek-ca=${file}`, `ak-ca=${file}`, file]);
  assert.equal(loaded.store.anchors.length, 1);
  assert.deepEqual(loaded.store.anchors[0]!.labels, ['ek-ca', 'ak-ca', 'unlabelled']);
  assert.deepEqual(loaded.store.labels(), ['ak-ca', 'ek-ca', 'unlabelled']);
});

test('unusable trust configuration: missing path, no anchors, an unreadable file in a folder', async (t) => {
  const dir = tempDir();
  assertThrowsCode(() => loadTrustStore([join(dir, 'nope.pem')]), 'FILE_UNREADABLE');
  writeFileSync(join(dir, 'junk.pem'), 'junk');
  const err = assertThrowsCode(() => loadTrustStore([dir]), 'TRUST_NO_ANCHORS');
  assert.equal((err.details['problems'] as unknown[]).length, 1);
  const root = await makeCert({ subject: 'CN=R', ca: true });
  writeFileSync(join(dir, 'root.pem'), root.pem);
  // A dangling symlink cannot be read, whoever runs the test.
  symlinkSync(join(dir, 'gone.pem'), join(dir, 'dangling.pem'));
  const loaded = loadTrustStore([dir]);
  assert.equal(loaded.store.anchors.length, 1);
  assert.ok(loaded.problems.some((p) => p.origin.endsWith('dangling.pem') && p.code === 'FILE_UNREADABLE'), JSON.stringify(loaded.problems));
  if (process.getuid?.() === 0) {
    t.diagnostic('running as root: permissions cannot make a file unreadable; the chmod case is skipped');
    return;
  }
  writeFileSync(join(dir, 'secret.pem'), root.pem);
  chmodSync(join(dir, 'secret.pem'), 0);
  assert.ok(loadTrustStore([dir]).problems.some((p) => p.origin.endsWith('secret.pem') && p.code === 'FILE_UNREADABLE'));
});

test('CRL files: PEM and DER, a broken one is CRL_MALFORMED', async () => {
  const chain = await makeChain();
  const crl = await makeCrl({ issuer: chain.intermediate, revoked: [{ serial: chain.leaf.serial }] });
  const dir = tempDir();
  writeFileSync(join(dir, 'a.crl'), crl.der);
  writeFileSync(join(dir, 'b.pem'), toPem(crl.der, 'X509 CRL'));
  writeFileSync(join(dir, 'bad.crl'), Buffer.from([0x30, 0x03, 0x02, 0x01]));
  assert.equal(loadCrls([join(dir, 'a.crl'), join(dir, 'b.pem')]).length, 2);
  assertThrowsCode(() => loadCrls([join(dir, 'bad.crl')]), 'CRL_MALFORMED');
  writeFileSync(join(dir, 'cert.pem'), chain.root.pem);
  assertThrowsCode(() => loadCrls([join(dir, 'cert.pem')]), 'CRL_MALFORMED');
});

test('a broken CRL file is named once in the message, whether DER or PEM', () => {
  const dir = tempDir();
  const der = writeTemp(dir, 'bad.crl', Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]));
  const junk = writeTemp(dir, 'junk.crl', 'not a CRL\n');
  const b64 = writeTemp(dir, 'b64.crl', '-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n');
  for (const path of [der, junk, b64]) {
    const err = assertThrowsCode(() => loadCrls([path]), 'CRL_MALFORMED');
    assert.equal(err.message.split(path).length - 1, 1, err.message);
    assert.ok(err.message.startsWith(`${path}: `), err.message);
  }
});

test('the corpus vendor-ca folder loads whole (PEMs without trailing newline, DER with one, bundles with comments)', (t) => {
  const dir = corpusPath(t, 'certs', 'vendor-ca');
  if (!dir) return;
  const cache = new ValidationCache();
  const loaded = loadTrustStore([`ek-ca=${dir}`], { cache });
  assert.deepEqual(loaded.problems, []);
  // 26 + 143 in the bundles, plus single files (many duplicates of bundle entries merge).
  assert.ok(loaded.store.anchors.length > 169, `${loaded.store.anchors.length} anchors`);
  assert.ok(loaded.store.anchors.every((a) => a.labels.includes('ek-ca')));
  // Parsed anchors are cached: loading again parses nothing.
  const misses = cache.stats.parseMisses;
  loadTrustStore([`ek-ca=${dir}`], { cache });
  assert.equal(cache.stats.parseMisses, misses);
});

test('buildTrustStore (pure) reports bad sources and keeps the good ones', async () => {
  const root = await makeCert({ subject: 'CN=Pure Root', ca: true });
  const { store, problems } = buildTrustStore([
    { origin: 'good', bytes: root.der, role: 'anchor', label: 'ak-ca' },
    { origin: 'empty', bytes: new Uint8Array(0), role: 'anchor' },
    { origin: 'text', bytes: Buffer.from('hello'), role: 'intermediate' },
  ]);
  assert.equal(store.anchors.length, 1);
  assert.deepEqual(
    problems.map((p) => [p.origin, p.code]),
    [
      ['empty', 'CERT_NO_CERTIFICATE'],
      ['text', 'CERT_NO_CERTIFICATE'],
    ],
  );
  assertThrowsCode(() => TrustStore.fromCertificates([{ certificate: root.cert, label: 'Bad Label', origin: 'x' }]), 'TRUST_LABEL_INVALID');
});

test('a trust folder with symbolic link loops is walked once per folder, in linear time, with capped lists', async () => {
  const root = await makeCert({ subject: 'CN=Loop Root', ca: true });
  const dir = tempDir();
  writeFileSync(join(dir, 'root.pem'), toPem(root.der));
  // 30 links to "." : without loop detection 30^5 folders are visited (heap exhaustion).
  for (let i = 0; i < 30; i++) symlinkSync('.', join(dir, `s${i}`));
  const loaded = loadTrustStore([dir]);
  assert.equal(loaded.store.anchors.length, 1);
  assert.equal(loaded.store.anchors[0]!.origins.length, 1);
  assert.ok(loaded.problems.length <= 1001);
  assert.ok(loaded.problems.some((p) => p.message.includes('already read')));
});

// (the quadratic merge took minutes here: the timeout is a hang guard, not a speed measurement)
test('one certificate repeated in many bundles merges in linear time', { timeout: 60_000 }, async () => {
  const root = await makeCert({ subject: 'CN=Dup Root', ca: true });
  const dir = tempDir();
  const text = toPem(root.der).repeat(4096);
  for (let i = 0; i < 30; i++) writeFileSync(join(dir, `b${i}.pem`), text);
  const loaded = loadTrustStore([dir]);
  assert.equal(loaded.store.anchors.length, 1);
  assert.equal(loaded.store.anchors[0]!.origins.length, 30 * 4096);
});

test('one folder named twice under different labels is read for each (only a revisit for the same label is a loop)', async () => {
  const root = await makeCert({ subject: 'CN=Twice Root', ca: true });
  const dir = tempDir();
  writeFileSync(join(dir, 'root.pem'), toPem(root.der));
  const loaded = loadTrustStore([`ak-ca=${dir}`, `vplatform-ca=${dir}`]);
  assert.deepEqual([...loaded.store.anchors[0]!.labels].sort(), ['ak-ca', 'vplatform-ca']);
  assert.equal(loaded.problems.some((p) => p.message.includes('already read')), false);
});

test('past 1,000 ignored files the rest are counted in a last entry, not dropped silently', () => {
  const dir = tempDir();
  for (let i = 0; i < 1005; i++) writeFileSync(join(dir, `note-${i}.txt`), 'x');
  assert.throws(() => loadTrustStore([dir]), (err: { code?: string }) => err.code === 'TRUST_NO_ANCHORS');
  // with one anchor beside them
  const ok = tempDir();
  for (let i = 0; i < 1005; i++) writeFileSync(join(ok, `note-${i}.txt`), 'x');
  return makeCert({ subject: 'CN=Count Root', ca: true }).then((root) => {
    writeFileSync(join(ok, 'root.pem'), toPem(root.der));
    const loaded = loadTrustStore([ok]);
    assert.equal(loaded.ignored.length, 1001);
    assert.equal(loaded.ignored[1000], '... and 5 more ignored file(s) not listed');
  });
});

test('the bytes read from all trust files together are capped: past the cap the load is refused (USAGE), not listed as a problem', async () => {
  const root = await makeCert({ subject: 'CN=Total Root', ca: true });
  const dir = tempDir();
  const pem = toPem(root.der);
  for (let i = 0; i < 5; i++) writeFileSync(join(dir, `r${i}.pem`), pem);
  const cap = pem.length * 4 + 10;
  // four files fit, the fifth passes the cap: inside a folder too, the load stops there
  assertThrowsCode(() => loadTrustStore([dir], { maxTotalBytes: cap }), 'USAGE');
  assert.equal(loadTrustStore([dir], { maxTotalBytes: pem.length * 5 }).store.anchors.length, 1);
  // intermediates count against the same total
  const inter = tempDir();
  writeFileSync(join(inter, 'i.pem'), pem);
  assertThrowsCode(() => loadTrustStore([dir], { maxTotalBytes: pem.length * 5, intermediates: [inter] }), 'USAGE');
  // CRL files have a total of their own
  const crl = await makeCrl({ issuer: root });
  const crlFile = join(tempDir(), 'ca.crl');
  writeFileSync(crlFile, crl.der);
  assert.equal(loadCrls([crlFile, crlFile], crl.der.length * 2).length, 2);
  assertThrowsCode(() => loadCrls([crlFile, crlFile, crlFile], crl.der.length * 2), 'USAGE');
});
