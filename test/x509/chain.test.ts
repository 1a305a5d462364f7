// Path validation over generated chains: a valid path, then one defect at a
// time, each of which must fail with its own code naming the right certificate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, generateKeyPairSync, sign, webcrypto, type KeyObject } from 'node:crypto';
import { parseCertificate, type Certificate } from '../../src/x509/certificate.js';
import { DerReader, derContext } from '../../src/x509/der.js';
import { OID } from '../../src/x509/oids.js';
import { keyStrengthBits, publicKeyObject, readSpki, type PublicKeyInfo } from '../../src/x509/public-key.js';
import { readSignatureAlgorithm, verifySignature } from '../../src/x509/signature.js';
import { bitStringBytes, boolean, oid, sequence, tlv, unsignedInteger } from '../../src/simulator/der.js';
import { encodeName, encodeTbs, extension, nodeSigner, serialFor, signTbs } from '../../src/simulator/pki.js';
import { subjectPublicKeyInfo } from '../../src/simulator/spki.js';
import { TrustStore } from '../../src/x509/trust-store.js';
import { validateChain, validateChainAsync, validatePath, type PathValidation, type ValidationOptions } from '../../src/x509/validate.js';
import { ValidationCache } from '../../src/x509/cache.js';
import { PathValidationMemo } from '../../src/x509/path-memo.js';
import { layerInfo } from '../../src/x509/layer-info.js';
import { AT, flipByte, makeChain, makeCert, makeCrl, makeRawCrl, x509, type Chain } from '../helpers/pki.js';

const EK = '2.23.133.8.1';
const AK = '2.23.133.8.3';

function validate(chain: Pick<Chain, 'leaf' | 'intermediate' | 'store'>, options: Partial<ValidationOptions> = {}): PathValidation {
  return validatePath(chain.leaf.cert, [chain.intermediate.cert], chain.store, { at: AT, ...options });
}

function assertFails(r: PathValidation, code: string, index?: number): void {
  if (r.valid) assert.fail(`expected ${code}, the path is valid`);
  assert.equal(r.code, code, `expected ${code}, got ${r.code}: ${r.message}`);
  if (index !== undefined) assert.equal(r.certificate?.index, index, `the failure names certificate ${index}: ${r.message}`);
}

test('a 3-certificate ECDSA chain validates, with every check listed', async () => {
  const chain = await makeChain({ leaf: { eku: [AK] } });
  const r = validate(chain, { requireEku: 'ak', allowedLabels: ['ek-ca'] });
  assert.ok(r.valid, r.valid ? '' : r.message);
  assert.deepEqual(r.path.map((c) => c.subject.text), ['CN=Test AK, O=vtpm-verify tests', 'CN=Test Intermediate CA, O=vtpm-verify tests']);
  assert.equal(r.anchor.certificate.fingerprint, chain.root.cert.fingerprint);
  const ids = r.checks.map((c) => c.id);
  for (const id of ['chain.signature.0', 'chain.signature.1', 'chain.name.0', 'chain.key-id.1', 'chain.validity.2', 'chain.ca.2', 'chain.pathlen.1', 'chain.key-usage.1', 'chain.eku', 'chain.anchor-label']) {
    assert.ok(ids.includes(id), `check ${id} ran`);
  }
  assert.equal(r.checks.filter((c) => c.status === 'fail').length, 0);
});

test('RSA PKCS#1, RSA-PSS and P-384 chains validate', async () => {
  for (const kind of ['rsa', 'rsa-pss', 'p384'] as const) {
    const r = validate(await makeChain({ kind }));
    assert.ok(r.valid, `${kind}: ${r.valid ? '' : r.message}`);
  }
});

test('intermediates are found in any order, and from the trust store', async () => {
  const chain = await makeChain();
  const other = await makeCert({ subject: 'CN=Unrelated CA', ca: true });
  const r1 = validatePath(chain.leaf.cert, [other.cert, chain.intermediate.cert], chain.store, { at: AT });
  assert.ok(r1.valid);
  const store = TrustStore.fromCertificates([{ certificate: chain.root.cert, origin: 'root' }], [chain.intermediate.cert]);
  const r2 = validatePath(chain.leaf.cert, [], store, { at: AT });
  assert.ok(r2.valid);
  assert.deepEqual(r2.valid && r2.anchor.labels, ['unlabelled']);
});

test('CHAIN_UNTRUSTED_ROOT: issuer unknown, and a self-signed certificate that is not an anchor', async () => {
  const chain = await makeChain();
  const otherRoot = await makeCert({ subject: 'CN=Other Root', ca: true });
  const store = TrustStore.fromCertificates([{ certificate: otherRoot.cert, origin: 'other' }]);
  const r = validatePath(chain.leaf.cert, [chain.intermediate.cert], store, { at: AT });
  assertFails(r, 'CHAIN_UNTRUSTED_ROOT', 1);
  assert.match(r.valid ? '' : r.message, /Test Root CA/);
  // The evidence brings its own root: still not an anchor.
  const r2 = validatePath(chain.leaf.cert, [chain.intermediate.cert, chain.root.cert], store, { at: AT });
  assertFails(r2, 'CHAIN_UNTRUSTED_ROOT', 2);
  assert.match(r2.valid ? '' : r2.message, /self-issued .* is not a trust anchor/);
});

test('CHAIN_TOO_LONG: the depth cap bounds the path', async () => {
  const chain = await makeChain();
  const r = validate(chain, { maxDepth: 1 });
  assertFails(r, 'CHAIN_TOO_LONG');
});

test('CHAIN_BAD_SIGNATURE names the certificate whose signature fails', async () => {
  const chain = await makeChain();
  const tampered = parseCertificate(flipByte(chain.leaf.der, -1));
  const r = validatePath(tampered, [chain.intermediate.cert], chain.store, { at: AT });
  assertFails(r, 'CHAIN_BAD_SIGNATURE', 0);
  // Signed by another key under the right name and key identifier.
  const impostor = await makeCert({ subject: 'CN=Impostor', issuer: chain.intermediate, signingKey: (await makeChain()).intermediate.keys.privateKey });
  assertFails(validatePath(impostor.cert, [chain.intermediate.cert], chain.store, { at: AT }), 'CHAIN_BAD_SIGNATURE', 0);
});

test('CHAIN_UNSUPPORTED_ALGORITHM: an unknown signature algorithm', async () => {
  const chain = await makeChain();
  // ecdsa-with-SHA256 (...04 03 02) -> ...04 03 09, in the tbs and the outer copy.
  const der = Buffer.from(chain.leaf.der);
  const oid = Buffer.from('2a8648ce3d040302', 'hex');
  let at = der.indexOf(oid);
  while (at >= 0) {
    der[at + oid.length - 1] = 0x09;
    at = der.indexOf(oid, at + 1);
  }
  const r = validatePath(parseCertificate(der), [chain.intermediate.cert], chain.store, { at: AT });
  assertFails(r, 'CHAIN_UNSUPPORTED_ALGORITHM', 0);
});

test('CHAIN_WEAK_ALGORITHM: a SHA-1 signature is accepted with a warning', async () => {
  const chain = await makeChain({ kind: 'rsa-sha1' });
  const r = validate(chain);
  assert.ok(r.valid);
  assert.deepEqual(
    r.warnings.map((w) => [w.code, w.certificate?.index]),
    [
      ['CHAIN_WEAK_ALGORITHM', 0],
      ['CHAIN_WEAK_ALGORITHM', 1],
    ],
  );
  // so is a CRL signed with SHA-1 that the certificate's revocation is judged on
  const withCrl = validate(chain, { crls: [await makeCrl({ issuer: chain.intermediate })] });
  assert.ok(withCrl.valid);
  const crlWarning = withCrl.warnings.find((w) => w.id === 'chain.revocation-algorithm.0');
  assert.equal(crlWarning?.code, 'CHAIN_WEAK_ALGORITHM');
  assert.match(crlWarning?.message ?? '', /judged on 1 CRL\(s\) signed with SHA-1/);
});

async function rsaKeys(modulusLength: number): Promise<webcrypto.CryptoKeyPair> {
  const gen = { name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  return (await webcrypto.subtle.generateKey(gen, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/** A P-256 leaf under a self-signed root with a key on `curve`, written field by field (@peculiar/x509 knows only P-256/384/521). */
function ecRootedLeaf(curve: string): { leaf: Certificate; store: TrustStore } {
  const root = generateKeyPairSync('ec', { namedCurve: curve });
  const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rootName = encodeName([['CN', `Root on ${curve}`]]);
  const cert = (subject: Buffer, key: KeyObject, ca: boolean): Buffer =>
    signTbs(
      encodeTbs({ serial: serialFor(`${curve}/${ca}`), issuerName: rootName, subjectName: subject, spki: subjectPublicKeyInfo(key), extensions: [extension(OID.basicConstraints, true, ca ? sequence(boolean(true)) : sequence())] }),
      nodeSigner(root.privateKey),
    );
  const anchor = parseCertificate(cert(rootName, root.publicKey, true));
  return { leaf: parseCertificate(cert(encodeName([['CN', 'Leaf']]), leafKey.publicKey, false)), store: TrustStore.fromCertificates([{ certificate: anchor, origin: curve }]) };
}

test('CHAIN_WEAK_KEY: an RSA issuing key under 1024 bits fails the path; under 2048 bits it is a CHAIN_WEAK_ALGORITHM warning', async () => {
  // An RSA-512 anchor signing the target directly.
  const weakRoot = await makeCert({ subject: 'CN=Weak Root', kind: 'rsa', keys: await rsaKeys(512), ca: true });
  const leaf = await makeCert({ subject: 'CN=Leaf', issuer: weakRoot, kind: 'p256', ca: false });
  const store = TrustStore.fromCertificates([{ certificate: weakRoot.cert, label: 'ak-ca', origin: 'weak' }]);
  const r = validatePath(leaf.cert, [], store, { at: AT });
  assertFails(r, 'CHAIN_WEAK_KEY', 1);
  assert.match(r.valid ? '' : r.message, /a 512-bit RSA key issues certificates: under 1024 bits/);
  // An RSA-1024 intermediate under an RSA-2048 root: valid, with a warning naming the intermediate only.
  const chain = await makeChain({ kind: 'rsa', intermediate: { keys: await rsaKeys(1024) } });
  const ok = validate(chain);
  assert.ok(ok.valid, ok.valid ? '' : ok.message);
  assert.deepEqual(ok.warnings.map((w) => [w.id, w.code, w.certificate?.index, w.actual]), [['chain.key-size.1', 'CHAIN_WEAK_ALGORITHM', 1, 1024]]);
  // RSA-2048 and up: nothing to say.
  const strong = validate(await makeChain({ kind: 'rsa' }));
  assert.ok(strong.valid);
  assert.deepEqual(strong.warnings, []);
});

test('CHAIN_WEAK_KEY: EC issuing keys on curves under 160 bits fail; under 256 bits (P-192, P-224) warn', () => {
  for (const [curve, bits] of [['secp112r1', 112], ['secp128r1', 128]] as const) {
    const { leaf, store } = ecRootedLeaf(curve);
    const r = validatePath(leaf, [], store, { at: AT });
    assertFails(r, 'CHAIN_WEAK_KEY', 1);
    assert.equal(r.valid ? undefined : r.failure.actual, bits);
  }
  for (const [curve, bits] of [['secp160r1', 160], ['prime192v1', 192], ['secp224r1', 224]] as const) {
    const { leaf, store } = ecRootedLeaf(curve);
    const r = validatePath(leaf, [], store, { at: AT });
    assert.ok(r.valid, `${curve}: ${r.valid ? '' : r.message}`);
    assert.deepEqual(r.warnings.filter((w) => w.id.startsWith('chain.key-size')).map((w) => [w.code, w.actual]), [['CHAIN_WEAK_ALGORITHM', bits]], curve);
  }
  for (const curve of ['P-256', 'secp256k1', 'brainpoolP256r1']) {
    const { leaf, store } = ecRootedLeaf(curve);
    const r = validatePath(leaf, [], store, { at: AT });
    assert.ok(r.valid, `${curve}: ${r.valid ? '' : r.message}`);
    assert.ok(!r.warnings.some((w) => w.id.startsWith('chain.key-size')), curve);
  }
});

test('an RSA-PSS key (id-RSASSA-PSS SPKI) has its modulus size read for the key-size check', () => {
  const spki = generateKeyPairSync('rsa-pss', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' });
  const info = readSpki(new DerReader(spki, derContext('test', { malformed: 'CERT_MALFORMED', notDer: 'CERT_NOT_DER' })), 'spki');
  assert.equal(info.algorithm, 'rsa-pss');
  assert.equal(keyStrengthBits(info), 1024);
});

test('CHAIN_NAME_MISMATCH: the key identifier leads to an issuer of another name', async () => {
  const chain = await makeChain();
  const leaf = await makeCert({ subject: 'CN=Misnamed', issuer: chain.intermediate, issuerName: 'CN=Somebody Else' });
  const r = validatePath(leaf.cert, [chain.intermediate.cert], chain.store, { at: AT });
  assertFails(r, 'CHAIN_NAME_MISMATCH', 0);
});

test('CHAIN_KEY_ID_MISMATCH: the name matches but the AKI is not the issuer SKI', async () => {
  const chain = await makeChain();
  const leaf = await makeCert({ subject: 'CN=Wrong AKI', issuer: chain.intermediate, authorityKeyId: '00112233445566778899aabbccddeeff00112233' });
  const r = validatePath(leaf.cert, [chain.intermediate.cert], chain.store, { at: AT });
  assertFails(r, 'CHAIN_KEY_ID_MISMATCH', 0);
});

test('CHAIN_EXPIRED and CHAIN_NOT_YET_VALID, with inclusive bounds', async () => {
  const notBefore = new Date('2025-01-01T00:00:00Z');
  const notAfter = new Date('2025-12-31T23:59:59Z');
  const chain = await makeChain({ leaf: { notBefore, notAfter } });
  assert.ok(validate(chain, { at: notBefore }).valid, 'valid at exactly notBefore');
  assert.ok(validate(chain, { at: notAfter }).valid, 'valid at exactly notAfter');
  assertFails(validate(chain, { at: notAfter.getTime() + 1000 }), 'CHAIN_EXPIRED', 0);
  assertFails(validate(chain, { at: notBefore.getTime() - 1000 }), 'CHAIN_NOT_YET_VALID', 0);
  // An expired intermediate, and an expired anchor, are named too.
  const old = await makeChain({ intermediate: { notAfter: new Date('2025-03-01T00:00:00Z') } });
  assertFails(validate(old), 'CHAIN_EXPIRED', 1);
  const oldRoot = await makeChain({ root: { notAfter: new Date('2025-03-01T00:00:00Z') } });
  assertFails(validate(oldRoot), 'CHAIN_EXPIRED', 2);
});

test('CHAIN_NOT_CA: an issuer without basicConstraints, or with cA false', async () => {
  for (const ca of ['omit', false] as const) {
    const chain = await makeChain({ intermediate: { ca, keyUsage: x509.KeyUsageFlags.keyCertSign } });
    const r = validate(chain);
    assertFails(r, 'CHAIN_NOT_CA', 1);
  }
});

test('CHAIN_PATHLEN: a CA with pathLen 0 above another intermediate CA', async () => {
  const root = await makeCert({ subject: 'CN=PL Root', ca: true });
  const upper = await makeCert({ subject: 'CN=PL Upper', issuer: root, ca: 0 });
  const lower = await makeCert({ subject: 'CN=PL Lower', issuer: upper, ca: true });
  const leaf = await makeCert({ subject: 'CN=PL Leaf', issuer: lower });
  const store = TrustStore.fromCertificates([{ certificate: root.cert, origin: 'root' }]);
  const r = validatePath(leaf.cert, [lower.cert, upper.cert], store, { at: AT });
  assertFails(r, 'CHAIN_PATHLEN', 2);
  // The anchor's pathLen counts too.
  const strictRoot = await makeCert({ subject: 'CN=PL Strict Root', ca: 0 });
  const mid = await makeCert({ subject: 'CN=PL Mid', issuer: strictRoot, ca: true });
  const leaf2 = await makeCert({ subject: 'CN=PL Leaf2', issuer: mid });
  const r2 = validatePath(leaf2.cert, [mid.cert], TrustStore.fromCertificates([{ certificate: strictRoot.cert, origin: 'r' }]), { at: AT });
  assertFails(r2, 'CHAIN_PATHLEN', 2);
});

test('CHAIN_KEY_USAGE: an issuer without keyCertSign; an AK without digitalSignature', async () => {
  const chain = await makeChain({ intermediate: { keyUsage: x509.KeyUsageFlags.digitalSignature } });
  assertFails(validate(chain), 'CHAIN_KEY_USAGE', 1);
  const ak = await makeChain({ leaf: { eku: [AK], keyUsage: x509.KeyUsageFlags.keyEncipherment } });
  assertFails(validate(ak, { requireEku: 'ak' }), 'CHAIN_KEY_USAGE', 0);
  assert.ok(validate(ak).valid, 'without the AK role the key usage is not judged');
});

test('CHAIN_KEY_USAGE: requireKeyUsage (what the walker asks) judges the target\'s keyUsage without an EKU requirement, and a memo keeps the two apart', async () => {
  const ak = await makeChain({ leaf: { eku: [AK], keyUsage: x509.KeyUsageFlags.keyEncipherment } });
  assertFails(validate(ak, { requireKeyUsage: 'digitalSignature' }), 'CHAIN_KEY_USAGE', 0);
  const noKeyUsage = await makeChain({ leaf: { keyUsage: 'omit' } });
  assert.ok(validate(noKeyUsage, { requireKeyUsage: 'digitalSignature' }).valid, 'no keyUsage: no restriction');
  const memo = new PathValidationMemo();
  const chain = [ak.leaf.der, ak.intermediate.der];
  for (let i = 0; i < 3; i++) assert.ok(validateChain(chain, ak.store, { at: AT, memo }).valid);
  assertFails(validateChain(chain, ak.store, { at: AT, memo, requireKeyUsage: 'digitalSignature' }), 'CHAIN_KEY_USAGE', 0);
});

test('CHAIN_CRITICAL_EXTENSION: an unknown critical extension; the TCG critical SAN is accepted', async () => {
  const unknown = new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([0x05, 0x00]));
  const chain = await makeChain({ leaf: { extensions: [unknown] } });
  const r = validate(chain);
  assertFails(r, 'CHAIN_CRITICAL_EXTENSION', 0);
  assert.match(r.valid ? '' : r.message, /1\.3\.6\.1\.4\.1\.99999\.1/);
  const nonCritical = await makeChain({ leaf: { extensions: [new x509.Extension('1.3.6.1.4.1.99999.1', false, new Uint8Array([0x05, 0x00]))] } });
  assert.ok(validate(nonCritical).valid);
});

test('CHAIN_CRITICAL_EXTENSION: an intermediate\'s name constraints bind whatever their criticality, and are not processed', async () => {
  // NameConstraints { permittedSubtrees [0] { GeneralSubtree { dNSName "example.com" } } }
  const constraints = (critical: boolean) => new x509.Extension('2.5.29.30', critical, Buffer.concat([Buffer.from('3011a00f300d820b', 'hex'), Buffer.from('example.com')]));
  for (const critical of [true, false]) {
    const r = validate(await makeChain({ intermediate: { extensions: [constraints(critical)] } }));
    assertFails(r, 'CHAIN_CRITICAL_EXTENSION', 1);
    assert.match(r.valid ? '' : r.message, /nameConstraints/);
  }
  // on the leaf it constrains nothing below it
  assert.ok(validate(await makeChain({ leaf: { extensions: [constraints(false)] } })).valid);
});

test('CHAIN_CRITICAL_EXTENSION: a critical TrustedLayer extension on an intermediate is not processed (only the target\'s is read)', () => {
  const root = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rootName = encodeName([['CN', 'TL Root']]);
  const caName = encodeName([['CN', 'TL Intermediate']]);
  const caExt = [extension(OID.basicConstraints, true, sequence(boolean(true))), extension(OID.keyUsage, true, bitStringBytes(Buffer.from([0x06])))];
  const cert = (serial: string, issuerName: Buffer, subjectName: Buffer, key: KeyObject, signer: KeyObject, extensions: Buffer[]): Certificate =>
    parseCertificate(signTbs(encodeTbs({ serial: serialFor(serial), issuerName, subjectName, spki: subjectPublicKeyInfo(key), extensions }), nodeSigner(signer)));
  const anchor = cert('tl-root', rootName, rootName, root.publicKey, root.privateKey, caExt);
  const store = TrustStore.fromCertificates([{ certificate: anchor, origin: 'tl' }]);
  const leaf = cert('tl-leaf', caName, encodeName([['CN', 'TL AK']]), leafKey.publicKey, ca.privateKey, [extension(OID.basicConstraints, true, sequence())]);
  // TrustedLayer { kind physical }, well formed, and a value that is not a TrustedLayer at all
  for (const value of [sequence(tlv(0x0a, Buffer.from([0]))), sequence()]) {
    for (const critical of [true, false]) {
      const intermediate = cert(`tl-ca-${critical}-${value.length}`, rootName, caName, ca.publicKey, root.privateKey, [...caExt, extension(OID.trustedLayer, critical, value)]);
      const r = validatePath(leaf, [intermediate], store, { at: AT });
      if (critical) {
        assertFails(r, 'CHAIN_CRITICAL_EXTENSION', 1);
        assert.match(r.valid ? '' : r.message, /critical extension\(s\) not processed: trustedLayer/);
      } else {
        assert.ok(r.valid, r.valid ? '' : r.message);
      }
    }
  }
  // on the target, a critical TrustedLayer is read (and a well-formed one passes)
  const intermediate = cert('tl-ca-plain', rootName, caName, ca.publicKey, root.privateKey, caExt);
  const target = cert('tl-leaf-crit', caName, encodeName([['CN', 'TL AK']]), leafKey.publicKey, ca.privateKey, [extension(OID.trustedLayer, true, sequence(tlv(0x0a, Buffer.from([0]))))]);
  const ok = validatePath(target, [intermediate], store, { at: AT });
  assert.ok(ok.valid, ok.valid ? '' : ok.message);
  assert.equal(ok.layer?.kind, 'physical');
});

test('CHAIN_EKU: the required EKU is missing', async () => {
  const chain = await makeChain({ leaf: { eku: [EK] } });
  assert.ok(validate(chain, { requireEku: 'ek' }).valid);
  const r = validate(chain, { requireEku: 'ak' });
  assertFails(r, 'CHAIN_EKU', 0);
  assert.deepEqual(r.valid ? null : r.failure.expected, AK);
  const none = await makeChain();
  assertFails(validate(none, { requireEku: 'ek' }), 'CHAIN_EKU', 0);
});

test('CHAIN_ANCHOR_NOT_ALLOWED: the path ends at an anchor with another label', async () => {
  const chain = await makeChain({ label: 'ek-ca' });
  const r = validate(chain, { allowedLabels: ['vplatform-ca'] });
  assertFails(r, 'CHAIN_ANCHOR_NOT_ALLOWED', 2);
  assert.ok(validate(chain, { allowedLabels: ['vplatform-ca', 'ek-ca'] }).valid);
});

test('CHAIN_REVOKED from a CRL the issuer signed; revocation after the validation time does not count', async () => {
  const chain = await makeChain();
  const crl = await makeCrl({ issuer: chain.intermediate, revoked: [{ serial: chain.leaf.serial, date: new Date('2025-05-15T00:00:00Z'), reason: x509.X509CrlReason.keyCompromise }] });
  const r = validate(chain, { crls: [crl] });
  assertFails(r, 'CHAIN_REVOKED', 0);
  assert.match(r.valid ? '' : r.message, /keyCompromise/);
  assert.ok(validate(chain, { crls: [crl], at: new Date('2025-05-10T00:00:00Z') }).valid, 'not yet revoked on May 10');
  const later = await makeCrl({ issuer: chain.intermediate, revoked: [{ serial: chain.leaf.serial, date: new Date('2025-06-15T00:00:00Z') }] });
  assert.ok(validate(chain, { crls: [later] }).valid, 'revoked after the validation time');
  const clean = await makeCrl({ issuer: chain.intermediate, revoked: [{ serial: 'abcd' }] });
  const ok = validate(chain, { crls: [clean] });
  assert.ok(ok.valid);
  assert.equal(ok.checks.find((c) => c.id === 'chain.revocation.0')?.status, 'pass');
  assert.equal(ok.checks.find((c) => c.id === 'chain.revocation.1')?.status, 'skip', 'no CRL from the root');
});

test('a serial a CRL lists twice is revoked from its earliest revocation date, in either order', async () => {
  const chain = await makeChain();
  // @peculiar/x509 refuses to write a serial twice: the CRL is written field by field.
  const early = { serial: chain.leaf.cert.serial, date: new Date('2025-05-15T00:00:00Z') };
  const late = { serial: chain.leaf.cert.serial, date: new Date('2026-01-01T00:00:00Z') };
  for (const revoked of [[early, late], [late, early]]) {
    const crl = makeRawCrl({ issuer: chain.intermediate, revoked });
    assert.equal(crl.revoked.get(chain.leaf.cert.serial)?.date, early.date.getTime());
    const r = validate(chain, { crls: [crl] });
    assertFails(r, 'CHAIN_REVOKED', 0);
    assert.match(r.valid ? '' : r.message, /revoked at 2025-05-15T00:00:00\.000Z/);
  }
});

test('CRL_BAD_SIGNATURE, CRL_EXPIRED, CRL_NOT_YET_VALID, CRL_UNSUPPORTED', async () => {
  const chain = await makeChain();
  const forger = await makeChain();
  // Same issuer name and key identifier, signed by another key.
  const forged = await makeCrl({ issuer: chain.intermediate, signingKey: forger.intermediate.keys.privateKey });
  assertFails(validate(chain, { crls: [forged] }), 'CRL_BAD_SIGNATURE', 0);
  // Another CA of the same name (its own key identifier): its CRL is about other certificates.
  const namesake = await makeCrl({ issuer: forger.intermediate, revoked: [{ serial: chain.leaf.serial }] });
  assert.ok(validate(chain, { crls: [namesake] }).valid);
  const stale = await makeCrl({ issuer: chain.intermediate, thisUpdate: new Date('2025-01-01T00:00:00Z'), nextUpdate: new Date('2025-02-01T00:00:00Z') });
  assertFails(validate(chain, { crls: [stale] }), 'CRL_EXPIRED', 0);
  const future = await makeCrl({ issuer: chain.intermediate, thisUpdate: new Date('2025-07-01T00:00:00Z'), nextUpdate: new Date('2025-08-01T00:00:00Z') });
  assertFails(validate(chain, { crls: [future] }), 'CRL_NOT_YET_VALID', 0);
  const delta = await makeCrl({ issuer: chain.intermediate, extensions: [new x509.Extension('2.5.29.27', true, new Uint8Array([0x02, 0x01, 0x01]))] });
  assertFails(validate(chain, { crls: [delta] }), 'CRL_UNSUPPORTED', 0);
  // A CRL issuer without cRLSign.
  const noCrlSign = await makeChain({ intermediate: { keyUsage: x509.KeyUsageFlags.keyCertSign } });
  const crl2 = await makeCrl({ issuer: noCrlSign.intermediate });
  assertFails(validate(noCrlSign, { crls: [crl2] }), 'CHAIN_KEY_USAGE', 0);
});

test("a superseded CRL or a namesake key's CRL next to a current one is left out; it decides only when no CRL can be used", async () => {
  const chain = await makeChain();
  const current = await makeCrl({ issuer: chain.intermediate });
  const superseded = await makeCrl({ issuer: chain.intermediate, thisUpdate: new Date('2025-01-01T00:00:00Z'), nextUpdate: new Date('2025-02-01T00:00:00Z') });
  const next = await makeCrl({ issuer: chain.intermediate, thisUpdate: new Date('2025-07-01T00:00:00Z'), nextUpdate: new Date('2025-08-01T00:00:00Z') });
  // The same name, no AKI, signed by the key the CA had before it rolled over.
  const rolledOver = await makeChain();
  const oldKey = await makeCrl({ issuer: chain.intermediate, signingKey: rolledOver.intermediate.keys.privateKey, omitAuthorityKeyId: true });
  for (const crls of [[current, superseded], [superseded, current], [oldKey, current], [next, superseded, oldKey, current]]) {
    const r = validate(chain, { crls });
    assert.ok(r.valid, r.valid ? '' : r.message);
    const check = r.checks.find((c) => c.id === 'chain.revocation.0')!;
    assert.equal(check.status, 'pass');
    assert.match(check.message, /not revoked \(1 CRL\(s\) from its issuer checked; left out: /);
  }
  // A usable CRL that lists the serial revokes, whatever else is given; so does an older one still current.
  const revoking = await makeCrl({ issuer: chain.intermediate, thisUpdate: new Date('2025-05-20T00:00:00Z'), revoked: [{ serial: chain.leaf.serial }] });
  assertFails(validate(chain, { crls: [superseded, oldKey, revoking] }), 'CHAIN_REVOKED', 0);
  assertFails(validate(chain, { crls: [revoking, current] }), 'CHAIN_REVOKED', 0);
  // No usable CRL: the issuer's own CRL says what is missing before another key's signature does.
  assertFails(validate(chain, { crls: [oldKey, superseded] }), 'CRL_EXPIRED', 0);
  assertFails(validate(chain, { crls: [next, superseded] }), 'CRL_EXPIRED', 0);
  assertFails(validate(chain, { crls: [next] }), 'CRL_NOT_YET_VALID', 0);
  assertFails(validate(chain, { crls: [oldKey] }), 'CRL_BAD_SIGNATURE', 0);
  const r = validate(chain, { crls: [oldKey, superseded] });
  assert.match(r.valid ? '' : r.message, /no other of its issuer's 2 CRLs can be used/);
  // A current CRL of the issuer that cannot be read is never left out.
  const delta = await makeCrl({ issuer: chain.intermediate, extensions: [new x509.Extension('2.5.29.27', true, new Uint8Array([0x02, 0x01, 0x01]))] });
  assertFails(validate(chain, { crls: [current, delta] }), 'CRL_UNSUPPORTED', 0);
  assertFails(validate(chain, { crls: [delta, revoking] }), 'CHAIN_REVOKED', 0);
  // A CRL of the issuer's name whose AKI is another key's is not the issuer's (even listing the serial); the skip says why.
  const namesake = await makeCrl({ issuer: rolledOver.intermediate, revoked: [{ serial: chain.leaf.serial }] });
  assert.equal(namesake.issuer.key, current.issuer.key);
  const skipped = validate(chain, { crls: [namesake] });
  assert.ok(skipped.valid, skipped.valid ? '' : skipped.message);
  const skip = skipped.checks.find((c) => c.id === 'chain.revocation.0')!;
  assert.equal(skip.status, 'skip');
  assert.match(skip.message, /no CRL from its issuer given \(1 CRL\(s\) of its issuer's name are for another key: their authority key identifier is not the issuer's\); revocation not checked/);
  // Unless the issuer's key signed it: that is the issuer's own CRL with a wrong identifier, and its revocations count.
  const misnamed = await makeCrl({
    issuer: chain.intermediate,
    omitAuthorityKeyId: true,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(rolledOver.intermediate.keys.publicKey)],
    revoked: [{ serial: chain.leaf.serial }],
  });
  assertFails(validate(chain, { crls: [misnamed] }), 'CHAIN_REVOKED', 0);
  assertFails(validate(chain, { crls: [namesake, misnamed, current] }), 'CHAIN_REVOKED', 0);
});

test('a non-self-signed anchor ends the path: nothing above it is looked for', async () => {
  const chain = await makeChain();
  const store = TrustStore.fromCertificates([{ certificate: chain.intermediate.cert, label: 'ek-ca', origin: 'ica' }]);
  const r = validatePath(chain.leaf.cert, [], store, { at: AT });
  assert.ok(r.valid);
  assert.equal(r.valid && r.anchor.certificate.subject.text, 'CN=Test Intermediate CA, O=vtpm-verify tests');
  assert.equal(r.path.length, 1);
});

test('a target that is itself an anchor is valid with an empty path', async () => {
  const chain = await makeChain();
  const r = validatePath(chain.root.cert, [], chain.store, { at: AT });
  assert.ok(r.valid);
  assert.equal(r.path.length, 0);
});

test('of two candidate paths, the valid one wins (a re-keyed intermediate of the same name)', async () => {
  const chain = await makeChain();
  const expiredTwin = await makeCert({ subject: chain.intermediate.name, issuer: chain.root, ca: 0, keys: chain.intermediate.keys, notAfter: new Date('2025-02-01T00:00:00Z') });
  const r = validatePath(chain.leaf.cert, [expiredTwin.cert, chain.intermediate.cert], chain.store, { at: AT });
  assert.ok(r.valid, r.valid ? '' : r.message);
  assert.equal(r.valid && r.path[1]!.fingerprint, chain.intermediate.cert.fingerprint);
});

test('a non-DER name (multi-valued RDN out of order) validates with a CERT_NON_DER warning', async () => {
  const root = await makeCert({ subject: 'CN=Multi Root+O=Vendor+C=TW', ca: true });
  const leaf = await makeCert({ subject: 'CN=Multi Leaf', issuer: root });
  assert.ok(leaf.cert.derDeviations.some((d) => d.kind === 'set-order' && d.field === 'issuer'));
  const r = validatePath(leaf.cert, [], TrustStore.fromCertificates([{ certificate: root.cert, origin: 'r' }]), { at: AT });
  assert.ok(r.valid);
  assert.ok(r.warnings.some((w) => w.code === 'CERT_NON_DER' && w.certificate?.index === 0));
});

test('layerInfo gives the certified key and the issuer certificate hash of a valid path', async () => {
  const chain = await makeChain({ leaf: { eku: [AK] } });
  const r = validate(chain, { requireEku: 'ak' });
  assert.ok(r.valid);
  const info = layerInfo(r);
  assert.equal(info.layer, null);
  assert.deepEqual(info.anchorLabels, ['ek-ca']);
  assert.equal(info.issuerCertificateSha256, chain.intermediate.cert.fingerprint);
  assert.equal(info.certificateFingerprint, chain.leaf.cert.fingerprint);
  assert.equal(info.publicKey?.asymmetricKeyType, 'ec');
  assert.deepEqual(Buffer.from(info.spki), Buffer.from(chain.leaf.cert.publicKey.der));
});

test('validateChainAsync (signatures on the thread pool) gives exactly what validateChain gives', async () => {
  const view = (r: PathValidation) => JSON.stringify({ valid: r.valid, checks: r.checks, code: r.valid ? null : r.code, path: r.path.map((c) => c.fingerprint) });
  const cases: [string, Uint8Array[], TrustStore][] = [];
  for (const kind of ['p256', 'rsa', 'rsa-pss', 'p384'] as const) {
    const c = await makeChain({ kind });
    cases.push([`valid ${kind}`, [c.leaf.der, c.intermediate.der], c.store]);
  }
  const chain = await makeChain();
  cases.push(['leaf signature tampered', [flipByte(chain.leaf.der, -1), chain.intermediate.der], chain.store]);
  const impostor = await makeCert({ subject: 'CN=Impostor', issuer: chain.intermediate, signingKey: (await makeChain()).intermediate.keys.privateKey });
  cases.push(['signed by another key under the right name', [impostor.der, chain.intermediate.der], chain.store]);
  cases.push(['intermediates out of order', [chain.leaf.der, (await makeCert({ subject: 'CN=Unrelated CA', ca: true })).der, chain.intermediate.der], chain.store]);
  cases.push(['no intermediate', [chain.leaf.der], chain.store]);
  const codes = new Set<string>();
  for (const [name, ders, store] of cases) {
    const sync = validateChain(ders, store, { at: AT });
    const async = await validateChainAsync(ders, store, { at: AT });
    assert.equal(view(async), view(sync), name);
    codes.add(sync.valid ? 'valid' : sync.code);
  }
  assert.deepEqual([...codes].sort(), ['CHAIN_BAD_SIGNATURE', 'CHAIN_UNTRUSTED_ROOT', 'valid']);

  // With a cache: the first validation verifies (and records the link), the next says "(cached)", both ways.
  const cache = new ValidationCache();
  const first = await validateChainAsync([chain.leaf.der, chain.intermediate.der], chain.store, { at: AT, cache });
  assert.ok(first.valid);
  assert.doesNotMatch(first.checks.find((c) => c.id === 'chain.signature.0')!.message, /cached/);
  const again = await validateChainAsync([chain.leaf.der, chain.intermediate.der], chain.store, { at: AT, cache });
  assert.match(again.checks.find((c) => c.id === 'chain.signature.0')!.message, /\(cached\)/);
});

test('RSA issuing keys with an exponent no RSA key should have, or a modulus over 8192 bits, are never used: e = 1 (the padded message is its own signature), e over 256 bits (~80 times slower to verify), even, negative', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const n = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
  const spkiWith = (e: Uint8Array, modulus: Uint8Array = unsignedInteger(n)): PublicKeyInfo => {
    const der = sequence(sequence(oid(OID.rsaEncryption), Buffer.from([0x05, 0x00])), bitStringBytes(sequence(modulus, tlv(0x02, e))));
    return readSpki(new DerReader(der, derContext('test', { malformed: 'CERT_MALFORMED', notDer: 'CERT_NOT_DER' })), 'spki');
  };
  const sha256WithRsa = readSignatureAlgorithm(new DerReader(sequence(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00])), derContext('test', { malformed: 'CERT_MALFORMED', notDer: 'CERT_NOT_DER' })), 'alg');
  // the PKCS#1 v1.5 encoding of SHA-256("tbs"): with e = 1 it verifies as a "signature" made without any private key
  const tbs = Buffer.from('tbs');
  const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(tbs).digest()]);
  const encoded = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo]);
  const huge = Buffer.alloc(33, 0xff); // 264 bits
  huge[0] = 0x7f;
  for (const [e, why] of [
    [Buffer.from([1]), /public exponent 1 is not an odd number of at least 3/],
    [huge, /public exponent has 263 bits \(at most 256 are accepted\)/],
    [Buffer.from([1, 0, 0]), /public exponent 65536 is not an odd number/],
    [Buffer.from([0xff]), /public exponent is a negative number/],
  ] as const) {
    const info = spkiWith(e);
    assert.equal(info.jwk, undefined);
    assert.equal(publicKeyObject(info), null);
    const check = verifySignature(sha256WithRsa, tbs, encoded, info);
    assert.equal(check.ok, false, `e = ${e.toString('hex')}`);
    assert.equal(check.ok ? '' : check.code, 'CHAIN_UNSUPPORTED_ALGORITHM');
    assert.match(check.ok ? '' : check.reason, why);
  }
  // a modulus over 8192 bits (each signature it checks costs 4 times an 8192-bit one's), whatever its exponent
  const bigModulus = Buffer.concat([Buffer.from([0x00, 0xc0]), Buffer.alloc(1024, 0x5b)]); // 8200 bits
  assert.match(spkiWith(Buffer.from([1, 0, 1]), tlv(0x02, bigModulus)).unusable ?? '', /its RSA modulus has 8200 bits \(at most 8192 are accepted\)/);
  assert.equal(spkiWith(Buffer.from([1, 0, 1]), tlv(0x02, Buffer.concat([Buffer.from([0x00, 0xc0]), Buffer.alloc(1023, 0x5b)]))).unusable, undefined); // 8192
  // a modulus written without its leading zero octet is negative
  assert.match(spkiWith(Buffer.from([1, 0, 1]), tlv(0x02, n)).unusable ?? '', /modulus is a negative number/);
  // 3 and 65537 are used as before
  for (const e of [Buffer.from([3]), Buffer.from([1, 0, 1])]) assert.notEqual(publicKeyObject(spkiWith(e)), null);
});

test('an RSASSA-PSS issuing key (RFC 4055 SPKI) with e = 1 is never used either: node imports it, and a PSS encoding made without any private key verified', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const n = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
  const ctx = derContext('test', { malformed: 'CERT_MALFORMED', notDer: 'CERT_NOT_DER' });
  const pssSpki = (e: Uint8Array): PublicKeyInfo =>
    readSpki(new DerReader(sequence(sequence(oid(OID.rsassaPss)), bitStringBytes(sequence(unsignedInteger(n), tlv(0x02, e)))), ctx), 'spki');
  const sha256 = sequence(oid('2.16.840.1.101.3.4.2.1'), Buffer.from([0x05, 0x00]));
  const pssAlg = readSignatureAlgorithm(
    new DerReader(sequence(oid(OID.rsassaPss), sequence(tlv(0xa0, sha256), tlv(0xa1, sequence(oid('1.2.840.113549.1.1.8'), sha256)), tlv(0xa2, tlv(0x02, Buffer.from([32]))))), ctx),
    'alg',
  );
  // EMSA-PSS-ENCODE(SHA-256("tbs"), salt 32) by hand: with e = 1 the encoding is its own signature
  const tbs = Buffer.from('tbs');
  const salt = Buffer.alloc(32, 7);
  const h = createHash('sha256').update(Buffer.concat([Buffer.alloc(8), createHash('sha256').update(tbs).digest(), salt])).digest();
  const db = Buffer.concat([Buffer.alloc(256 - 32 - 32 - 2), Buffer.from([1]), salt]);
  let mask = Buffer.alloc(0);
  for (let c = 0; mask.length < db.length; c++) mask = Buffer.concat([mask, createHash('sha256').update(Buffer.concat([h, Buffer.from([0, 0, 0, c])])).digest()]);
  const masked = Buffer.from(db.map((b, i) => b ^ mask[i]!));
  masked[0]! &= 0x7f;
  const encoded = Buffer.concat([masked, h, Buffer.from([0xbc])]);
  const weak = pssSpki(Buffer.from([1]));
  assert.match(weak.unusable ?? '', /public exponent 1 is not an odd number of at least 3/);
  assert.equal(publicKeyObject(weak), null);
  const check = verifySignature(pssAlg, tbs, encoded, weak);
  assert.equal(check.ok ? '' : check.code, 'CHAIN_UNSUPPORTED_ALGORITHM');
  // e = 65537 is used as before, and a real PSS signature verifies
  const good = pssSpki(Buffer.from([1, 0, 1]));
  assert.equal(good.unusable, undefined);
  const signature = sign('sha256', tbs, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  assert.deepEqual(verifySignature(pssAlg, tbs, signature, good), { ok: true });
});
