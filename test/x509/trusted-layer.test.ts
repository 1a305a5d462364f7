// The TrustedLayer extension (protocol.md section 4): our encoder and decoder
// against each other, against openssl's ASN1 config generator in both
// directions, every LAYER_EXT_ code, and "verify before follow" by types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import { parseCertificate, findExtension } from '../../src/x509/certificate.js';
import { splitDerOrPem } from '../../src/x509/pem.js';
import { TrustStore } from '../../src/x509/trust-store.js';
import { checkLayerUri, decodeTrustedLayer, defaultInstanceId, TRUSTED_LAYER_OID } from '../../src/x509/trusted-layer.js';
import { encodeTrustedLayer, encodeTrustedLayerExtension, type TrustedLayerInput } from '../../src/x509/trusted-layer-encode.js';
import { validatePath } from '../../src/x509/validate.js';
import { layerInfo } from '../../src/x509/layer-info.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { AT, makeChain, makeCert, tempDir, x509 } from '../helpers/pki.js';

const INSTANCE = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const VIRTUAL: TrustedLayerInput = {
  kind: 'virtual',
  instanceId: INSTANCE,
  deepAttestation: 'https://vmm-7.example.net:8443/da',
  migrationService: 'http://migration.example.net/',
};

function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

function openssl(args: string[], cwd: string): string {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('encode then decode gives the values back; the DER is exactly what the ASN.1 says', () => {
  const der = encodeTrustedLayer(VIRTUAL);
  const back = decodeTrustedLayer(der);
  assert.equal(back.kind, 'virtual');
  assert.equal(Buffer.from(back.instanceId!).toString('hex'), INSTANCE);
  assert.equal(back.deepAttestation, VIRTUAL.deepAttestation);
  assert.equal(back.migrationService, VIRTUAL.migrationService);
  assert.deepEqual(back.ignoredFields, []);
  // SEQUENCE { ENUMERATED 1, [0] 32 bytes, [1] ..., [2] ... }
  assert.equal(Buffer.from(der.subarray(0, 7)).toString('hex'), `30${(der.length - 2).toString(16)}0a0101802000`.slice(0, 14));
  const physical = encodeTrustedLayer({ kind: 'physical' });
  assert.equal(Buffer.from(physical).toString('hex'), '30030a0100');
  assert.deepEqual({ ...decodeTrustedLayer(physical) }, { kind: 'physical', ignoredFields: [] });
  // asn1js, an independent decoder, reads our encoding the same way.
  const parsed = asn1js.fromBER(der);
  assert.notEqual(parsed.offset, -1);
  const seq = parsed.result as asn1js.Sequence;
  assert.equal((seq.valueBlock.value[0] as asn1js.Enumerated).valueBlock.valueDec, 1);
  assert.equal(seq.valueBlock.value[2]!.idBlock.tagNumber, 1);
  // The whole Extension is non-critical.
  const ext = asn1js.fromBER(encodeTrustedLayerExtension(VIRTUAL)).result as asn1js.Sequence;
  assert.equal(ext.valueBlock.value.length, 2, 'extnID and extnValue only: critical defaults to FALSE');
});

test('openssl (ASN1 config) and our encoder produce the same extension bytes, and each side decodes the other', async (t) => {
  if (!hasOpenssl()) return t.skip('openssl not installed; skipping');
  const dir = tempDir();
  writeFileSync(
    join(dir, 'ext.cnf'),
    `[ ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = 2.23.133.8.3
${TRUSTED_LAYER_OID} = ASN1:SEQUENCE:trusted_layer

[ trusted_layer ]
kind = ENUMERATED:1
instanceId = IMPLICIT:0,FORMAT:HEX,OCTETSTRING:${INSTANCE}
deepAttestation = IMPLICIT:1,IA5STRING:${VIRTUAL.deepAttestation}
migrationService = IMPLICIT:2,IA5STRING:${VIRTUAL.migrationService}
`,
  );
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=vPlatform CA', '-days', '3650',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ak.key', '-subj', '/CN=vm-1 AK', '-out', 'ak.csr'], dir);
  openssl(['x509', '-req', '-in', 'ak.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '7', '-days', '365', '-extfile', 'ext.cnf', '-extensions', 'ext', '-out', 'ak.pem'], dir);

  const ak = parseCertificate(splitDerOrPem(readFileSync(join(dir, 'ak.pem')), 'ak.pem').ders[0]!);
  const ca = parseCertificate(splitDerOrPem(readFileSync(join(dir, 'ca.pem')), 'ca.pem').ders[0]!);
  const ext = findExtension(ak, TRUSTED_LAYER_OID)!;
  assert.equal(ext.critical, false);
  // Our encoder's bytes are openssl's bytes.
  assert.equal(Buffer.from(ext.value).toString('hex'), Buffer.from(encodeTrustedLayer(VIRTUAL)).toString('hex'));
  // openssl's certificate validates, and the verified path yields the layer.
  const store = TrustStore.fromCertificates([{ certificate: ca, label: 'vplatform-ca', origin: 'ca.pem' }]);
  const r = validatePath(ak, [], store, { at: new Date(), requireEku: 'ak', allowedLabels: ['vplatform-ca'] });
  assert.ok(r.valid, r.valid ? '' : r.message);
  const info = layerInfo(r);
  assert.equal(info.layer?.kind, 'virtual');
  assert.equal(Buffer.from(info.layer!.instanceId!).toString('hex'), INSTANCE);
  assert.equal(info.layer?.deepAttestation, VIRTUAL.deepAttestation);
  assert.equal(info.layer?.migrationService, VIRTUAL.migrationService);
  assert.equal(info.layer?.certificateFingerprint, ak.fingerprint);
  assert.deepEqual(info.anchorLabels, ['vplatform-ca']);
  // And openssl decodes our encoding field by field.
  writeFileSync(join(dir, 'ours.der'), encodeTrustedLayer(VIRTUAL));
  const parsed = openssl(['asn1parse', '-inform', 'DER', '-in', 'ours.der'], dir);
  assert.match(parsed, /ENUMERATED\s+:01/);
  assert.match(parsed, /cont \[ 0 \]/);
  assert.match(parsed, /cont \[ 1 \]/);
  assert.match(parsed, /cont \[ 2 \]/);
});

test('createCertificateWithTrustedLayer mints an AK certificate whose verified path carries the layer; openssl agrees', async (t) => {
  for (const kind of ['p256', 'rsa', 'rsa-pss'] as const) {
    const chain = await makeChain({ kind, label: 'vplatform-ca', leaf: { eku: ['2.23.133.8.3'], layer: VIRTUAL } });
    const r = validatePath(chain.leaf.cert, [chain.intermediate.cert], chain.store, { at: AT, requireEku: 'ak', allowedLabels: ['vplatform-ca'] });
    assert.ok(r.valid, `${kind}: ${r.valid ? '' : r.message}`);
    assert.equal(r.layer?.deepAttestation, VIRTUAL.deepAttestation);
    assert.equal(r.checks.find((c) => c.id === 'layer.extension')?.status, 'pass');
    if (!hasOpenssl()) continue;
    // The re-signed certificate verifies with openssl too, and openssl sees the OID.
    const dir = tempDir();
    writeFileSync(join(dir, 'root.pem'), chain.root.pem);
    writeFileSync(join(dir, 'inter.pem'), chain.intermediate.pem);
    writeFileSync(join(dir, 'ak.pem'), chain.leaf.pem);
    assert.match(openssl(['verify', '-attime', String(AT.getTime() / 1000), '-CAfile', 'root.pem', '-untrusted', 'inter.pem', 'ak.pem'], dir), /ak\.pem: OK/);
    assert.match(openssl(['x509', '-in', 'ak.pem', '-noout', '-text'], dir), new RegExp(TRUSTED_LAYER_OID.replace(/\./g, '\\.')));
  }
  t.diagnostic('ECDSA, RSA PKCS#1 and RSA-PSS re-signing checked');
});

test('why the helper exists: @peculiar/x509 turns the UUID OID into 2.25 when given a plain Extension', async () => {
  const naive = await makeCert({ subject: 'CN=naive', extensions: [new x509.Extension(TRUSTED_LAYER_OID, false, encodeTrustedLayer(VIRTUAL))] });
  assert.ok(!naive.cert.extensions.some((e) => e.oid === TRUSTED_LAYER_OID));
  assert.ok(naive.cert.extensions.some((e) => e.oid === '2.25'));
});

test('verify before follow: an unverified path never yields a VerifiedTrustedLayer', async () => {
  const chain = await makeChain({ leaf: { layer: VIRTUAL } });
  const stranger = TrustStore.fromCertificates([{ certificate: (await makeCert({ subject: 'CN=Stranger', ca: true })).cert, origin: 'x' }]);
  const r = validatePath(chain.leaf.cert, [chain.intermediate.cert], stranger, { at: AT });
  assert.equal(r.valid, false);
  assert.ok(!('layer' in r) || (r as { layer: unknown }).layer === null);
  // For display only, typed as a claim.
  assert.equal(r.valid ? null : r.unverifiedLayer?.deepAttestation, VIRTUAL.deepAttestation);
  if (false as boolean) {
    // @ts-expect-error layerInfo takes a ValidPath only: an unchecked result cannot be followed.
    layerInfo(r);
  }
});

test('a validly signed certificate with a malformed TrustedLayer does not validate', async () => {
  const chain = await makeChain({ leaf: { layerValue: Buffer.from('30030a0102', 'hex') } });
  const r = validatePath(chain.leaf.cert, [chain.intermediate.cert], chain.store, { at: AT });
  assert.equal(r.valid ? 'valid' : r.code, 'LAYER_EXT_BAD_KIND');
  assert.equal(r.valid ? null : r.certificate?.index, 0);
});

test('decoder: every malformation has its LAYER_EXT_ code', () => {
  const cases: [string, string][] = [
    ['LAYER_EXT_MALFORMED', '0403 0a0100'.replace(' ', '')],
    ['LAYER_EXT_MALFORMED', '30030a0100 00'.replace(' ', '')],
    ['LAYER_EXT_MALFORMED', '30800a010000 00'.replace(' ', '')],
    ['LAYER_EXT_MALFORMED', '30040a020001'],
    ['LAYER_EXT_MALFORMED', '30050a01000500'],
    ['LAYER_EXT_MALFORMED', '3000'],
    ['LAYER_EXT_BAD_KIND', '30030a0102'],
    ['LAYER_EXT_BAD_KIND', '30030a01ff'],
    ['LAYER_EXT_INSTANCE_ID', `30240a0101801f${'11'.repeat(31)}`],
    ['LAYER_EXT_INSTANCE_ID', `30260a01018021${'11'.repeat(33)}`],
  ];
  for (const [code, hex] of cases) assertThrowsCode(() => decodeTrustedLayer(Buffer.from(hex, 'hex')), code);
  const uri = (s: string, tag = '81'): string => `${tag}${s.length.toString(16).padStart(2, '0')}${Buffer.from(s, 'latin1').toString('hex')}`;
  const id = `8020${'22'.repeat(32)}`;
  const seq = (...parts: string[]): Buffer => {
    const body = parts.join('');
    return Buffer.from(`30${(body.length / 2).toString(16).padStart(2, '0')}${body}`, 'hex');
  };
  assertThrowsCode(() => decodeTrustedLayer(seq('0a0101', id)), 'LAYER_EXT_MISSING_FIELD');
  assertThrowsCode(() => decodeTrustedLayer(seq('0a0101', uri('https://h/'))), 'LAYER_EXT_MISSING_FIELD');
  assertThrowsCode(() => decodeTrustedLayer(seq('0a0100', uri('https://h/'))), 'LAYER_EXT_INCONSISTENT');
  for (const bad of ['ftp://h/', 'file:///etc/passwd', 'not a uri', 'https://user:pw@h/', 'https://h/\u00e9', 'javascript:alert(1)']) {
    assertThrowsCode(() => decodeTrustedLayer(seq('0a0101', id, uri(bad))), bad.includes('\u00e9') ? 'LAYER_EXT_MALFORMED' : 'LAYER_EXT_BAD_URI');
  }
  assertThrowsCode(() => decodeTrustedLayer(seq('0a0101', id, uri('https://h/'), uri('gopher://m/', '82'))), 'LAYER_EXT_BAD_URI');
  // parser differentials and dead ends: a backslash (WHATWG and RFC 3986 parsers name different hosts), port 0,
  // and a Migration Controller URI setting a parameter the challenger adds to its evidence request
  // and no authority where RFC 3986 reads a path (WHATWG makes h the host of each)
  for (const bad of ['http://good.example\\@evil.example/', 'http://h\\x/', 'https://h:0/', 'http://h:00/l', 'http:h/', 'https:/h/', 'HTTP:///h/', 'http://?x=1']) {
    assertThrowsCode(() => decodeTrustedLayer(seq('0a0101', id, uri(bad))), 'LAYER_EXT_BAD_URI');
  }
  // an IPv4 address WHATWG reads from what RFC 3986 calls a registered name (hex, octal, one number, fewer parts,
  // percent-encoded): the CA that checked "0x7f.1" saw a DNS name, the challenger would connect to 127.0.0.1
  for (const bad of ['http://0x7f.1/', 'http://2130706433/', 'https://127.1:8443/', 'http://010.0.0.1/', 'http://%31.2.3.4/', 'http://1.2.3.4./']) {
    assertThrowsCode(() => decodeTrustedLayer(seq('0a0101', id, uri(bad))), 'LAYER_EXT_BAD_URI');
  }
  // the message says how to write it, except where a leading zero leaves the address meant unclear (010 is 8 to node)
  assert.match(assertThrowsCode(() => checkLayerUri('http://2130706433/', 'deepAttestation'), 'LAYER_EXT_BAD_URI').message, /write the address as 127\.0\.0\.1$/);
  const octal = assertThrowsCode(() => checkLayerUri('http://010.0.0.1/', 'deepAttestation'), 'LAYER_EXT_BAD_URI').message;
  assert.match(octal, /a part with a leading zero is octal to URL parsers \(010 is 8\), so the address meant is unclear$/);
  assert.doesNotMatch(octal, /write the address as 8\.0\.0\.1/);
  // percent-encoded too: %30%31%30 and 0%31%30 are 010 to the URL parser, not a plain 8
  for (const written of ['http://%30%31%30.0.0.1/', 'http://0%31%30.0.0.1/', 'http://%3010.0.0.1/']) {
    const message = assertThrowsCode(() => checkLayerUri(written, 'deepAttestation'), 'LAYER_EXT_BAD_URI').message;
    assert.match(message, /a part with a leading zero is octal to URL parsers \(010 is 8\), so the address meant is unclear$/, written);
  }
  // written as RFC 3986 writes one, an address is taken
  for (const good of ['http://10.0.0.1/', 'https://192.168.1.20:8443/l/vm-1', 'http://[::1]:8080/', 'http://Host.Example/']) checkLayerUri(good, 'deepAttestation');
  for (const bad of ['https://m/?nonce=00', 'https://m/?pcrs=sha256:0', 'https://m/?instance=ab']) {
    assertThrowsCode(() => decodeTrustedLayer(seq('0a0101', id, uri('https://h/'), uri(bad, '82'))), 'LAYER_EXT_BAD_URI');
  }
  assert.equal(decodeTrustedLayer(seq('0a0101', id, uri('https://h:8443/l?zone=a'), uri('https://m:1/?zone=b', '82'))).migrationService, 'https://m:1/?zone=b');
  // Fields out of order or repeated.
  assertThrowsCode(() => decodeTrustedLayer(seq('0a0101', uri('https://h/'), id)), 'LAYER_EXT_MALFORMED');
  assertThrowsCode(() => decodeTrustedLayer(seq('0a0101', id, id, uri('https://h/'))), 'LAYER_EXT_MALFORMED');
  // Forward compatibility: later optional context fields are skipped and listed.
  const future = decodeTrustedLayer(seq('0a0101', id, uri('https://h/'), '830101', 'a5020500'));
  assert.deepEqual(future.ignoredFields, [3, 5]);
  assert.equal(future.deepAttestation, 'https://h/');
});

test('encoder: refuses what the decoder would refuse, with the same codes', () => {
  assertThrowsCode(() => encodeTrustedLayer({ kind: 'virtual', instanceId: INSTANCE }), 'LAYER_EXT_MISSING_FIELD');
  assertThrowsCode(() => encodeTrustedLayer({ kind: 'virtual', deepAttestation: 'https://h/' }), 'LAYER_EXT_MISSING_FIELD');
  assertThrowsCode(() => encodeTrustedLayer({ ...VIRTUAL, instanceId: new Uint8Array(31) }), 'LAYER_EXT_INSTANCE_ID');
  assertThrowsCode(() => encodeTrustedLayer({ ...VIRTUAL, deepAttestation: 'ftp://h/' }), 'LAYER_EXT_BAD_URI');
  assertThrowsCode(() => encodeTrustedLayer({ kind: 'physical', deepAttestation: 'https://h/' }), 'LAYER_EXT_INCONSISTENT');
  assertThrowsCode(() => encodeTrustedLayer({ kind: 'guest' as 'virtual' }), 'LAYER_EXT_BAD_KIND');
  assertThrowsCode(() => encodeTrustedLayer({ ...VIRTUAL, instanceId: 'zz' }), 'HEX_INVALID');
});

test('defaultInstanceId is SHA-256 of the EK SubjectPublicKeyInfo (protocol.md section 5)', async () => {
  const ek = await makeCert({ subject: 'CN=vTPM EK', kind: 'rsa' });
  const id = defaultInstanceId(ek.cert.publicKey.der);
  // Independently: node exports the certificate's key as SPKI DER.
  const spki = new X509Certificate(ek.der).publicKey.export({ format: 'der', type: 'spki' });
  assert.equal(Buffer.from(id).toString('hex'), createHash('sha256').update(spki).digest('hex'));
  assert.equal(decodeTrustedLayer(encodeTrustedLayer({ kind: 'virtual', instanceId: id, deepAttestation: 'https://h/' })).instanceId!.length, 32);
});
