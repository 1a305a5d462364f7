// The simulator's certificates: the DER writer's encodings, an AK certificate
// whose tbsCertificate is byte for byte what createCertificateWithTrustedLayer
// (@peculiar/x509) makes for the same inputs, and chains that our validator
// and openssl both accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x509 } from '../helpers/pki.js';
import { createCertificateWithTrustedLayer } from '../../src/x509/peculiar-extension.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { TrustStore } from '../../src/x509/trust-store.js';
import { validateChain, layerInfo } from '../../src/x509/index.js';
import { namedBits, oid, tlv, unsignedInteger, x509Time, directoryString } from '../../src/simulator/der.js';
import { serialFor, SimCa, simKey, SIM_NOT_AFTER, SIM_NOT_BEFORE } from '../../src/simulator/pki.js';
import { subjectPublicKeyInfo } from '../../src/simulator/spki.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('DER writer: OIDs with 128-bit arcs, minimal INTEGERs, named bits, long lengths, times, directory strings', () => {
  assert.equal(hex(oid('2.25.328412993189898150595886742112143934701')), '06146983ee9285acb098ca88d3b5dedfaff89790896d');
  assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
  assert.equal(hex(unsignedInteger(Buffer.from('000080', 'hex'))), '02020080');
  assert.equal(hex(unsignedInteger(Buffer.from('00007f', 'hex'))), '02017f');
  assert.equal(hex(unsignedInteger(Buffer.alloc(0))), '020100');
  assert.equal(hex(namedBits([0])), '03020780'); // digitalSignature
  assert.equal(hex(namedBits([5, 6])), '03020106'); // keyCertSign | cRLSign
  assert.equal(hex(tlv(0x04, Buffer.alloc(200)).subarray(0, 3)), '0481c8');
  assert.equal(hex(tlv(0x04, Buffer.alloc(300)).subarray(0, 4)), '0482012c');
  assert.equal(x509Time(new Date('2049-12-31T23:59:59Z')).toString('latin1').slice(2), '491231235959Z');
  assert.equal(x509Time(new Date('2050-01-01T00:00:00Z'))[0], 0x18);
  assert.equal(directoryString('vm-1 AK')[0], 0x13);
  assert.equal(directoryString('vm_1')[0], 0x0c, 'an underscore is not PrintableString');
  assert.throws(() => oid('1.40.1'));
});

test('SPKI of a P-256 key from its JWK equals OpenSSL\'s encoding; RSA keys go through OpenSSL', () => {
  for (const key of [simKey(Buffer.from('seed'), 'x'), freshKeyPair('ec', { namedCurve: 'prime256v1' }).privateKey, freshKeyPair('rsa', { modulusLength: 2048 }).publicKey]) {
    const pub = key.type === 'private' ? createPublicKey(key) : key;
    assert.deepEqual(subjectPublicKeyInfo(key), pub.export({ type: 'spki', format: 'der' }));
  }
});

async function cryptoKey(key: KeyObject, usage: 'sign' | 'verify'): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('jwk', key.export({ format: 'jwk' }), { name: 'ECDSA', namedCurve: 'P-256' }, true, [usage]);
}

test('an AK certificate has the same tbsCertificate as createCertificateWithTrustedLayer makes for the same inputs', async () => {
  const seed = Buffer.from('pki test');
  const caKey = simKey(seed, 'ca');
  const ca = SimCa.root('Test vPlatform CA', caKey);
  const akKey = simKey(seed, 'ak');
  const layer = { kind: 'virtual' as const, instanceId: Buffer.alloc(32, 7), deepAttestation: 'http://127.0.0.1:1234/l/vmm', migrationService: 'https://mig.example/' };
  const mine = ca.issueAk({ commonName: 'vm AK', publicKey: createPublicKey(akKey), layer, serialLabel: 'vm' });
  const pub = await cryptoKey(createPublicKey(akKey), 'verify');
  const theirs = await createCertificateWithTrustedLayer(
    {
      serialNumber: serialFor(`ak/${ca.subject}/vm`).toString('hex'),
      subject: 'O=vtpm-verify simulator, CN=vm AK',
      issuer: 'O=vtpm-verify simulator, CN=Test vPlatform CA',
      notBefore: SIM_NOT_BEFORE,
      notAfter: SIM_NOT_AFTER,
      publicKey: pub,
      signingKey: await cryptoKey(caKey, 'sign'),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(['2.23.133.8.3']),
        await x509.SubjectKeyIdentifierExtension.create(pub),
        new x509.AuthorityKeyIdentifierExtension(hex(ca.keyId)),
      ],
    },
    layer,
  );
  const a = parseCertificate(mine.der);
  const b = parseCertificate(new Uint8Array(theirs.rawData));
  assert.equal(hex(a.tbs), hex(b.tbs));
  assert.deepEqual(a.derDeviations, []);
});

test('root → per-host CA → AK validates (our validator, and openssl verify when installed); a forged AK certificate does not', (t) => {
  const seed = Buffer.from('chain test');
  const root = SimCa.root('Sim vPlatform Root CA', simKey(seed, 'root'));
  const host = root.issueCa('host-1 vPlatform CA', simKey(seed, 'host'));
  const akKey = simKey(seed, 'ak');
  const layer = { kind: 'virtual' as const, instanceId: Buffer.alloc(32, 1), deepAttestation: 'http://127.0.0.1:9/l/host-1' };
  const ak = host.issueAk({ commonName: 'vm-1 AK', publicKey: createPublicKey(akKey), layer, serialLabel: 'vm-1' });
  const forged = host.issueAk({ commonName: 'vm-1 AK', publicKey: createPublicKey(akKey), layer, serialLabel: 'vm-1', forgeWith: simKey(seed, 'forger') });
  const store = TrustStore.fromCertificates([{ certificate: parseCertificate(root.certificate.der), label: 'vplatform-ca', origin: 'test' }]);
  const chain = [ak.der, ...host.intermediates().map((c) => c.der)];
  const ok = validateChain(chain, store, { at: new Date(), requireEku: 'ak' });
  assert.equal(ok.valid, true, ok.valid ? '' : ok.message);
  if (ok.valid) {
    assert.deepEqual(Buffer.from(layerInfo(ok).layer!.instanceId!), Buffer.alloc(32, 1));
    assert.equal(layerInfo(ok).issuerCertificateSha256, host.certificate.sha256);
  }
  const bad = validateChain([forged.der, host.certificate.der], store, { at: new Date(), requireEku: 'ak' });
  assert.equal(bad.valid ? 'valid' : bad.code, 'CHAIN_BAD_SIGNATURE');

  if (spawnSync('sh', ['-c', 'command -v openssl'], { stdio: 'ignore' }).status !== 0) {
    t.skip('openssl not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sim-pki-'));
  try {
    writeFileSync(join(dir, 'root.pem'), root.certificate.pem);
    writeFileSync(join(dir, 'host.pem'), host.certificate.pem);
    writeFileSync(join(dir, 'ak.pem'), ak.pem);
    writeFileSync(join(dir, 'forged.pem'), forged.pem);
    const verify = (leaf: string) => spawnSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'host.pem'), join(dir, leaf)], { encoding: 'utf8' });
    const good = verify('ak.pem');
    assert.equal(good.status, 0, good.stdout + good.stderr);
    assert.notEqual(verify('forged.pem').status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
