// Parsing certificates and their containers: typed errors for every kind of
// malformed input, PEM bundles as vendors ship them, and a fuzz run showing
// that no mutation of a real certificate crashes the parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { VtpmError } from '../../src/errors.js';
import { parseCertificate, MAX_CERTIFICATE_BYTES } from '../../src/x509/certificate.js';
import { splitDerOrPem, toPem } from '../../src/x509/pem.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { validatePath } from '../../src/x509/validate.js';
import { AT, makeCert, makeChain, x509 } from '../helpers/pki.js';
import { TrustStore } from '../../src/x509/trust-store.js';
import { OID } from '../../src/x509/oids.js';
import { encodeName, encodeTbs, extension, nodeSigner, serialFor, signTbs } from '../../src/simulator/pki.js';
import { boolean, sequence } from '../../src/simulator/der.js';
import { subjectPublicKeyInfo } from '../../src/simulator/spki.js';

test('a generated certificate parses to what node (OpenSSL) sees', async () => {
  const { leaf } = await makeChain({ leaf: { eku: ['2.23.133.8.3'] } });
  const node = new X509Certificate(leaf.der);
  const c = leaf.cert;
  assert.equal(c.fingerprint, node.fingerprint256.replace(/:/g, '').toLowerCase());
  assert.equal(c.serial, node.serialNumber.toLowerCase().padStart(c.serial.length, '0'));
  assert.equal(c.notBefore, Date.parse(node.validFrom));
  assert.equal(c.notAfter, Date.parse(node.validTo));
  assert.deepEqual(c.ext.extKeyUsage, node.keyUsage);
  assert.equal(c.version, 3);
  assert.equal(c.derDeviations.length, 0);
});

test("a certificate valid from Go's zero time (GeneralizedTime 00010101000000Z) parses and validates", () => {
  // Go's x509 writes time.Time{} as the year 1; @peculiar/x509 cannot write it, the simulator's writer can.
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const name = encodeName([['CN', 'Zero Time Root']]);
  const tbs = encodeTbs({
    serial: serialFor('zero-time'),
    issuerName: name,
    subjectName: name,
    spki: subjectPublicKeyInfo(publicKey),
    notBefore: new Date('0001-01-01T00:00:00Z'),
    notAfter: new Date('9999-12-31T23:59:59Z'),
    extensions: [extension(OID.basicConstraints, true, sequence(boolean(true)))],
  });
  const der = signTbs(tbs, nodeSigner(privateKey));
  assert.ok(der.includes(Buffer.from('00010101000000Z')), 'written as a GeneralizedTime of the year 1');
  const cert = parseCertificate(der);
  assert.equal(new Date(cert.notBefore).toISOString(), '0001-01-01T00:00:00.000Z');
  assert.match(new X509Certificate(der).validFrom, /^Jan {2}1 00:00:00 1 GMT$/, 'OpenSSL reads the year 1 too');
  const r = validatePath(cert, [], TrustStore.fromCertificates([{ certificate: cert, origin: 'zero-time' }]), { at: AT });
  assert.ok(r.valid, r.valid ? '' : r.message);
});

test('container: PEM bundles with comments, blocks glued without a newline, DER with a trailing newline', async () => {
  const a = await makeCert({ subject: 'CN=A', ca: true });
  const b = await makeCert({ subject: 'CN=B', ca: true });
  const glued = `# header comment\n${toPem(a.der).trimEnd()}${toPem(b.der).trimEnd()}`;
  const split = splitDerOrPem(Buffer.from(glued), 'glued.pem');
  assert.deepEqual(
    split.ders.map((d) => parseCertificate(d).subject.text),
    ['CN=A', 'CN=B'],
  );
  const withKey = `${toPem(a.der)}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`;
  assert.deepEqual(splitDerOrPem(Buffer.from(withKey), 'x').otherBlocks.map((o) => o.label), ['PRIVATE KEY']);
  const derNl = Buffer.concat([a.der, Buffer.from('\n')]);
  assert.equal(parseCertificate(splitDerOrPem(derNl, 'x').ders[0]!).fingerprint, a.cert.fingerprint);
  const derJunk = Buffer.concat([a.der, Buffer.from([0x00])]);
  assertThrowsCode(() => parseCertificate(splitDerOrPem(derJunk, 'x').ders[0]!), 'CERT_MALFORMED');
});

test('container errors: no certificate, broken PEM', () => {
  assertThrowsCode(() => splitDerOrPem(Buffer.from('hello'), 'x'), 'CERT_NO_CERTIFICATE');
  assertThrowsCode(() => splitDerOrPem(Buffer.alloc(0), 'x'), 'CERT_NO_CERTIFICATE');
  assertThrowsCode(() => splitDerOrPem(Buffer.from('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'), 'x'), 'CERT_NO_CERTIFICATE');
  assertThrowsCode(() => splitDerOrPem(Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n'), 'x'), 'CERT_PEM_INVALID');
  assertThrowsCode(() => splitDerOrPem(Buffer.from('-----BEGIN CERTIFICATE-----\nMI*B\n-----END CERTIFICATE-----'), 'x'), 'CERT_PEM_INVALID');
  assertThrowsCode(() => splitDerOrPem(Buffer.from('-----BEGIN CERTIFICATE'), 'x'), 'CERT_PEM_INVALID');
});

test('malformed certificates: each with its code', async () => {
  const { leaf } = await makeChain();
  const der = Buffer.from(leaf.der);
  assertThrowsCode(() => parseCertificate(der.subarray(0, der.length - 5)), 'CERT_MALFORMED');
  assertThrowsCode(() => parseCertificate(Buffer.concat([der, Buffer.from([5, 0])])), 'CERT_MALFORMED');
  assertThrowsCode(() => parseCertificate(Buffer.alloc(MAX_CERTIFICATE_BYTES + 1, 0x30)), 'CERT_TOO_LARGE');
  assertThrowsCode(() => parseCertificate(Buffer.from('3000', 'hex')), 'CERT_MALFORMED');
  // Indefinite outer length: BER, not DER.
  const indefinite = Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(4), Buffer.from([0, 0])]);
  assertThrowsCode(() => parseCertificate(indefinite), 'CERT_NOT_DER');
});

test('duplicate extensions are malformed (two TrustedLayer extensions could send two readers two ways)', async () => {
  const ext = new x509.Extension('2.25.328412993189898150595886742112143934701', false, new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x00]));
  const err = await makeCert({ subject: 'CN=dup', extensions: [ext, ext] }).then(
    () => assert.fail('parsing should fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof VtpmError);
  assert.equal(err.code, 'CERT_MALFORMED');
  assert.match(err.message, /duplicate extension/);
});

test('a known extension that does not decode is CERT_EXTENSION_MALFORMED', async () => {
  const badBc = new x509.Extension('2.5.29.19', true, new Uint8Array([0x30, 0x03, 0x02, 0x01, 0xff]));
  await assert.rejects(makeCert({ subject: 'CN=bad bc', ca: 'omit', extensions: [badBc] }), (e: unknown) => e instanceof VtpmError && e.code === 'CERT_EXTENSION_MALFORMED');
});

test('fuzz: no mutation of a certificate escapes parsing or validation as anything but a typed error', async () => {
  const { leaf, intermediate, store } = await makeChain({ leaf: { eku: ['2.23.133.8.1'], layer: { kind: 'physical' } } });
  const base = leaf.der;
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(base.length), (edits, cut) => {
      const bytes = Uint8Array.from(base);
      for (const [i, v] of edits) bytes[i] = v;
      const input = cut % 7 === 0 ? bytes.subarray(0, cut) : bytes;
      let cert;
      try {
        cert = parseCertificate(input);
      } catch (err) {
        if (!(err instanceof VtpmError) || err.kind !== 'input') throw err;
        return;
      }
      // Whatever parsed must validate to a verdict without throwing.
      const r = validatePath(cert, [intermediate.cert], store, { at: AT, requireEku: 'ak' });
      assert.equal(typeof r.valid, 'boolean');
    }),
    { numRuns: 3000, seed: 4 },
  );
});
