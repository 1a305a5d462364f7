// HTTPS to real TLS servers on 127.0.0.1, with certificates made by openssl
// for this run: a CA bundle, unknown CAs, wrong names, mutual TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodeTls from 'node:tls';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { HttpClient } from '../../src/transport/http-client.js';
import { readTlsFiles } from '../../src/transport/tls-files.js';
import type { EvidenceRequest } from '../../src/transport/evidence.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { makeTlsFixture, sampleEvidenceJson, sendJson, startHttps, startTcp, type TestServer, type TlsFixture } from './servers.js';

const REQUEST: EvidenceRequest = { nonce: Buffer.alloc(32, 7), pcrs: [{ bank: 'sha256', pcrs: [23] }] };
const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

let tls: TlsFixture;
let plain: TestServer; // server certificate only
let mutual: TestServer; // requires a client certificate from our CA
const clients: EvidenceClient[] = [];
function client(options: ConstructorParameters<typeof EvidenceClient>[0]): EvidenceClient {
  const c = new EvidenceClient({ connectTimeoutMs: 10_000, timeoutMs: 10_000, ...options });
  clients.push(c);
  return c;
}

before(async () => {
  if (!hasOpenssl) return;
  tls = makeTlsFixture();
  const serve = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => sendJson(res, 200, sampleEvidenceJson());
  plain = await startHttps({ key: tls.serverKey, cert: tls.serverCert }, serve);
  mutual = await startHttps({ key: tls.serverKey, cert: tls.serverCert, ca: tls.caPem, requestCert: true, rejectUnauthorized: true }, serve);
});

after(async () => {
  clients.forEach((c) => c.close());
  if (!hasOpenssl) return;
  await plain.close();
  await mutual.close();
  tls.remove();
});

test('HTTPS with the right CA bundle succeeds; connections are reused', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const c = client({ tls: { ca: tls.caPem } });
  const got = await c.fetch(plain.url, REQUEST, { layer: 1 });
  assert.equal(got.evidence.version, 1);
  const before = plain.connections;
  await c.fetch(plain.url, REQUEST);
  await c.fetch(plain.url, REQUEST);
  assert.equal(plain.connections, before, 'no new TLS handshake for later requests');
});

test('a server certificate from an unknown CA fails: TRANSPORT_TLS', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const err = await assertRejectsCode(client({ tls: { ca: tls.otherCaPem } }).fetch(plain.url, REQUEST, { layer: 2 }), 'TRANSPORT_TLS');
  assert.equal(err.details['layer'], 2);
  assert.match(String(err.details['cause']), /CERT|SIGNATURE|ISSUER/);
  // the system roots do not know our test CA either
  await assertRejectsCode(client({}).fetch(plain.url, REQUEST), 'TRANSPORT_TLS');
});

test('a certificate for another name fails: TRANSPORT_TLS', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  // the certificate names IP 127.0.0.1, not "localhost"
  const err = await assertRejectsCode(client({ tls: { ca: tls.caPem } }).fetch(`https://localhost:${plain.port}`, REQUEST), 'TRANSPORT_TLS');
  assert.equal(err.details['cause'], 'ERR_TLS_CERT_ALTNAME_INVALID');
});

test('mutual TLS: with the client certificate it passes', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const got = await client({ tls: { ca: tls.caPem, cert: tls.clientCert, key: tls.clientKey } }).fetch(mutual.url, REQUEST);
  assert.equal(got.evidence.version, 1);
});

test('mutual TLS: without a client certificate it fails: TRANSPORT_TLS', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const err = await assertRejectsCode(client({ tls: { ca: tls.caPem } }).fetch(mutual.url, REQUEST, { layer: 1 }), 'TRANSPORT_TLS');
  assert.equal(err.details['layer'], 1);
});

test('mutual TLS: a client certificate the server does not trust fails: TRANSPORT_TLS', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  // the server certificate used as a client certificate: same CA, but the server wants clientAuth
  const selfIssued = makeTlsFixture();
  try {
    await assertRejectsCode(
      client({ tls: { ca: tls.caPem, cert: selfIssued.clientCert, key: selfIssued.clientKey } }).fetch(mutual.url, REQUEST),
      'TRANSPORT_TLS',
    );
  } finally {
    selfIssued.remove();
  }
});

test('a TLS handshake that never completes: TRANSPORT_CONNECT_TIMEOUT', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const silent = await startTcp(() => {}); // accepts TCP, never speaks TLS
  try {
    const c = client({ tls: { ca: tls.caPem }, connectTimeoutMs: 100, timeoutMs: 60_000 });
    await assertRejectsCode(c.fetch(`https://127.0.0.1:${silent.port}`, REQUEST), 'TRANSPORT_CONNECT_TIMEOUT');
  } finally {
    await silent.close();
  }
});

test('plain HTTP spoken to an HTTPS port fails as TLS', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const c = client({ tls: { ca: tls.caPem } });
  const err = await c.fetch(`http://127.0.0.1:${plain.port}`, REQUEST).catch((e: unknown) => e as { code: string });
  // the TLS server closes on a plaintext request; either way no evidence
  assert.ok(['TRANSPORT_RESET', 'TRANSPORT_PROTOCOL', 'TRANSPORT_HTTP_STATUS'].includes((err as { code: string }).code), String((err as { code: string }).code));
});

test('unusable TLS options are TRANSPORT_TLS_CONFIG (input, exit 2)', (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const e1 = assertThrowsCode(() => new HttpClient({ tls: { ca: 'not a PEM' } }), 'TRANSPORT_TLS_CONFIG');
  assert.equal(e1.kind, 'input');
  assertThrowsCode(() => new HttpClient({ tls: { cert: tls.clientCert } }), 'TRANSPORT_TLS_CONFIG');
  const mismatch = assertThrowsCode(() => new HttpClient({ tls: { cert: tls.clientCert, key: tls.serverKey } }), 'TRANSPORT_TLS_CONFIG');
  // OpenSSL's reason, not its error string with code and library (details.reason keeps that)
  assert.match(mismatch.message, /: key values mismatch$/);
  assert.match(String(mismatch.details['reason']), /^error:[0-9A-F]{8}:/);
});

test('TLS options from files, as --ca --cert --key give them', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const caFile = join(tls.dir, 'bundle.pem');
  writeFileSync(caFile, Buffer.concat([tls.otherCaPem, tls.caPem]));
  const options = readTlsFiles({ ca: caFile, cert: join(tls.dir, 'client.pem'), key: join(tls.dir, 'client.key') });
  const got = await client({ tls: options }).fetch(mutual.url, REQUEST);
  assert.equal(got.evidence.version, 1);
  assertThrowsCode(() => readTlsFiles({ cert: join(tls.dir, 'client.pem') }), 'USAGE');
  assertThrowsCode(() => readTlsFiles({ ca: join(tls.dir, 'missing.pem') }), 'FILE_UNREADABLE');
});

test('a CA bundle with a PEM block cut short is TRANSPORT_TLS_CONFIG, not certificates silently left out', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  // OpenSSL stops reading a bundle at a block without its END line: our CA, after it, would be dropped and every
  // connection would fail as TRANSPORT_TLS (exit 3) instead of the bundle being refused (exit 2)
  const cut = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIBkTCCATegAwIBAgIU\n');
  for (const ca of [Buffer.concat([cut, tls.caPem]), Buffer.concat([tls.otherCaPem, cut, tls.caPem]), Buffer.concat([tls.caPem, tls.otherCaPem.subarray(0, 200)])]) {
    const err = assertThrowsCode(() => new HttpClient({ tls: { ca } }), 'TRANSPORT_TLS_CONFIG');
    assert.equal(err.kind, 'input');
    assert.match(err.message, /no END line/);
  }
  const keyCut = Buffer.from(tls.clientKey.toString().split('\n').slice(0, 2).join('\n') + '\n');
  assertThrowsCode(() => new HttpClient({ tls: { ca: [tls.otherCaPem, Buffer.concat([keyCut, tls.caPem])] } }), 'TRANSPORT_TLS_CONFIG');
  // complete blocks of other kinds and text between blocks are skipped by OpenSSL, and still accepted
  const mixed = Buffer.concat([Buffer.from('# bundle\n'), tls.clientKey, tls.otherCaPem, Buffer.from('note\n'), tls.caPem]);
  const got = await client({ tls: { ca: mixed } }).fetch(plain.url, REQUEST);
  assert.equal(got.evidence.version, 1);
});

test('CA bundle lines as OpenSSL reads them: a marker mentioned inside a comment is text; a run-on or indented BEGIN/END line is TRANSPORT_TLS_CONFIG', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  // OpenSSL takes BEGIN and END only as whole lines: a mention elsewhere leaves the bundle as it is
  const commented = Buffer.concat([Buffer.from('# paste -----BEGIN CERTIFICATE----- blocks below\n'), tls.otherCaPem, tls.caPem]);
  assert.equal((await client({ tls: { ca: commented } }).fetch(plain.url, REQUEST)).evidence.version, 1);
  const crlfBlanks = Buffer.from(tls.caPem.toString().replace(/-----\n/g, '-----  \r\n'));
  assert.equal((await client({ tls: { ca: crlfBlanks } }).fetch(plain.url, REQUEST)).evidence.version, 1);
  // `cat other.pem ca.pem` with other.pem lacking its final newline: OpenSSL silently drops both certificates
  const noNewline = Buffer.from(tls.otherCaPem.toString().replace(/\n$/, ''));
  for (const ca of [Buffer.concat([noNewline, tls.caPem]), Buffer.concat([Buffer.from(tls.caPem.toString().replace(/\n$/, '')), tls.otherCaPem]), Buffer.concat([Buffer.from('  '), tls.caPem])]) {
    const err = assertThrowsCode(() => new HttpClient({ tls: { ca } }), 'TRANSPORT_TLS_CONFIG');
    assert.match(err.message, /more on it than its marker/);
  }
});

test('an encrypted client key: TRANSPORT_TLS_CONFIG saying it is encrypted, not a bare "bad decrypt"', (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const encrypted = join(tls.dir, 'client-encrypted.key');
  execFileSync('openssl', ['pkey', '-in', join(tls.dir, 'client.key'), '-aes-128-cbc', '-passout', 'pass:secret', '-out', encrypted], { stdio: ['ignore', 'ignore', 'pipe'] });
  // as --cert/--key and the inventory give it: no passphrase
  const options = readTlsFiles({ cert: join(tls.dir, 'client.pem'), key: encrypted });
  const err = assertThrowsCode(() => new HttpClient({ tls: options }), 'TRANSPORT_TLS_CONFIG');
  assert.equal(err.kind, 'input');
  assert.match(err.message, /client key is encrypted and no passphrase was given/);
  // a wrong passphrase says so too; the right one works
  const wrong = assertThrowsCode(() => new HttpClient({ tls: { ...options, passphrase: 'wrong' } }), 'TRANSPORT_TLS_CONFIG');
  assert.match(wrong.message, /passphrase/);
  new HttpClient({ tls: { ...options, passphrase: 'secret' } }).close();
});

/** A TLS server asking for a client certificate without requiring one, recording the client certificates it was sent. */
async function certificateCollector(t: import('node:test').TestContext, options: import('node:tls').TlsOptions): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = nodeTls.createServer({ ...options, requestCert: true, rejectUnauthorized: false }, (socket) => {
    const peer = socket.getPeerCertificate();
    seen.push(String(peer.subject?.CN ?? 'none'));
    socket.destroy();
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.after(() => new Promise<void>((done) => server.close(() => done())));
  return { port: (server.address() as import('node:net').AddressInfo).port, seen };
}

test('the client certificate never reaches a server whose certificate does not verify (another CA, another name, TLS 1.2)', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const other = makeTlsFixture();
  t.after(() => other.remove());
  const mtls = { ca: tls.caPem, cert: tls.clientCert, key: tls.clientKey };
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    // a certificate from an unknown CA; one from our CA for 127.0.0.1 asked as "localhost"
    for (const [server, host] of [[other, '127.0.0.1'], [tls, 'localhost']] as const) {
      const collector = await certificateCollector(t, { key: server.serverKey, cert: server.serverCert, maxVersion });
      await assertRejectsCode(client({ tls: mtls }).fetch(`https://${host}:${collector.port}`, REQUEST), 'TRANSPORT_TLS');
      assert.deepEqual(collector.seen, [], `${maxVersion}, ${host}: no client certificate sent`);
    }
  }
  // with a client certificate TLS 1.3 is required, even from a server that verifies
  const tls12 = await certificateCollector(t, { key: tls.serverKey, cert: tls.serverCert, maxVersion: 'TLSv1.2' });
  const refused = await assertRejectsCode(client({ tls: mtls }).fetch(`https://127.0.0.1:${tls12.port}`, REQUEST), 'TRANSPORT_TLS');
  assert.match(refused.message, /no TLS version in common: .*only TLS 1\.3 where it presents a client certificate/);
  assert.deepEqual(tls12.seen, []);
  // without one, TLS 1.2 is fine
  const plain12 = await startHttps({ key: tls.serverKey, cert: tls.serverCert, maxVersion: 'TLSv1.2' }, (_req, res) => sendJson(res, 200, sampleEvidenceJson()));
  t.after(() => plain12.close());
  assert.equal((await client({ tls: { ca: tls.caPem } }).fetch(plain12.url, REQUEST)).evidence.version, 1);
  // and nothing below TLS 1.2, whatever node's defaults
  const tls11 = await startHttps({ key: tls.serverKey, cert: tls.serverCert, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, (_req, res) => sendJson(res, 200, sampleEvidenceJson()));
  t.after(() => tls11.close());
  await assertRejectsCode(client({ tls: { ca: tls.caPem } }).fetch(tls11.url, REQUEST), 'TRANSPORT_TLS');
});

test('a server proving its identity with a weak key (RSA-1024) is refused: TRANSPORT_TLS; RSA-2048 from the same CA passes', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: tls.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const served: Record<string, TestServer> = {};
  for (const bits of [1024, 2048]) {
    ossl('req', '-newkey', `rsa:${bits}`, '-nodes', '-keyout', `rsa${bits}.key`, '-out', `rsa${bits}.csr`, '-subj', `/CN=rsa${bits}`);
    ossl('x509', '-req', '-in', `rsa${bits}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `rsa${bits}.pem`, '-days', '2', '-extfile', 'server.ext');
    const read = (f: string): Buffer => readFileSync(join(tls.dir, f));
    served[bits] = await startHttps({ key: read(`rsa${bits}.key`), cert: read(`rsa${bits}.pem`) }, (_req, res) => sendJson(res, 200, sampleEvidenceJson()));
    t.after(() => served[bits]!.close());
  }
  const err = await assertRejectsCode(client({ tls: { ca: tls.caPem } }).fetch(served[1024]!.url, REQUEST, { layer: 2 }), 'TRANSPORT_TLS');
  assert.equal(err.details['cause'], 'ERR_TLS_WEAK_SERVER_KEY');
  assert.match(err.message, /RSA-1024 key \(CN=rsa1024\)/);
  assert.equal(err.details['layer'], 2);
  assert.equal((await client({ tls: { ca: tls.caPem } }).fetch(served[2048]!.url, REQUEST)).evidence.version, 1);
  // node's own host-name check still runs first
  const named = await assertRejectsCode(client({ tls: { ca: tls.caPem } }).fetch(`https://localhost:${served[2048]!.port}`, REQUEST), 'TRANSPORT_TLS');
  assert.equal(named.details['cause'], 'ERR_TLS_CERT_ALTNAME_INVALID');
});

test('key sizes of every type are checked: an RSA-PSS-1024 server key and a DSA-1024 intermediate are refused; RSA-PSS-2048 and Ed25519 pass', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: tls.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const read = (f: string): Buffer => readFileSync(join(tls.dir, f));
  const leaf = (name: string, key: string, ca: string): void => {
    ossl('req', '-new', '-key', key, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'server.ext');
  };
  ossl('genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', 'pss1024.key');
  ossl('genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'pss2048.key');
  ossl('genpkey', '-algorithm', 'ed25519', '-out', 'ed25519.key');
  for (const name of ['pss1024', 'pss2048', 'ed25519']) leaf(name, `${name}.key`, 'ca');
  // a DSA-1024 intermediate (OpenSSL's level 1 accepts it) between our CA and an RSA-2048 server key
  ossl('genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:1024', '-out', 'dsa.param');
  ossl('genpkey', '-paramfile', 'dsa.param', '-out', 'dsaca.key');
  ossl('req', '-new', '-key', 'dsaca.key', '-out', 'dsaca.csr', '-subj', '/CN=dsaca');
  writeFileSync(join(tls.dir, 'dsaca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
  ossl('x509', '-req', '-in', 'dsaca.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'dsaca.pem', '-days', '2', '-extfile', 'dsaca.ext');
  ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'underdsa.key');
  leaf('underdsa', 'underdsa.key', 'dsaca');
  const serve = async (name: string, chain: string[] = []): Promise<TestServer> => {
    const s = await startHttps({ key: read(`${name}.key`), cert: Buffer.concat([read(`${name}.pem`), ...chain.map(read)]) }, (_req, res) => sendJson(res, 200, sampleEvidenceJson()));
    t.after(() => s.close());
    return s;
  };
  const weak = await assertRejectsCode(client({ tls: { ca: tls.caPem } }).fetch((await serve('pss1024')).url, REQUEST), 'TRANSPORT_TLS');
  assert.equal(weak.details['cause'], 'ERR_TLS_WEAK_SERVER_KEY');
  assert.match(weak.message, /RSA-PSS-1024 key \(CN=pss1024\)/);
  const dsa = await assertRejectsCode(client({ tls: { ca: tls.caPem } }).fetch((await serve('underdsa', ['dsaca.pem'])).url, REQUEST), 'TRANSPORT_TLS');
  assert.equal(dsa.details['cause'], 'ERR_TLS_WEAK_SERVER_KEY');
  assert.match(dsa.message, /DSA-1024 key \(CN=dsaca\)/);
  for (const name of ['pss2048', 'ed25519']) assert.equal((await client({ tls: { ca: tls.caPem } }).fetch((await serve(name)).url, REQUEST)).evidence.version, 1, name);
});

test('a server chain longer than 16 certificates is refused (ERR_TLS_CHAIN_TOO_LONG), not judged by its first 16; 16 pass', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: tls.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const read = (f: string): Buffer => readFileSync(join(tls.dir, f));
  writeFileSync(join(tls.dir, 'long-ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
  // the fixture's CA, then intermediates long-1 .. long-16, each signed by the one before (P-256: quick to make)
  let issuer = 'ca';
  for (let i = 1; i <= 16; i++) {
    const name = `long-${i}`;
    ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
    ossl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'long-ca.ext');
    issuer = name;
  }
  // a server under `under`: the chain the client verifies is the server, the intermediates down to long-1, and the CA
  const serve = async (under: number): Promise<TestServer> => {
    const name = `leaf-under-${under}`;
    ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
    ossl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `long-${under}.pem`, '-CAkey', `long-${under}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'server.ext');
    const chain = [];
    for (let i = under; i >= 1; i--) chain.push(read(`long-${i}.pem`));
    const s = await startHttps({ key: read(`${name}.key`), cert: Buffer.concat([read(`${name}.pem`), ...chain]) }, (_req, res) => sendJson(res, 200, sampleEvidenceJson()));
    t.after(() => s.close());
    return s;
  };
  // 14 intermediates: 16 certificates with the server's and the CA's
  assert.equal((await client({ tls: { ca: tls.caPem } }).fetch((await serve(14)).url, REQUEST)).evidence.version, 1);
  const err = await assertRejectsCode(client({ tls: { ca: tls.caPem } }).fetch((await serve(15)).url, REQUEST), 'TRANSPORT_TLS');
  assert.equal(err.details['cause'], 'ERR_TLS_CHAIN_TOO_LONG');
  assert.match(err.message, /longer than 16 certificates/);
});

test('the retry after dropped kept-alive TLS connections is a new connection with the same CA bundle and client certificate', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const perSocket = new WeakMap<object, number>();
  const dropping = await startHttps({ key: tls.serverKey, cert: tls.serverCert, ca: tls.caPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n > 1) req.socket.destroy();
    else sendJson(res, 200, sampleEvidenceJson());
  });
  try {
    const c = client({ tls: { ca: tls.caPem, cert: tls.clientCert, key: tls.clientKey } });
    await Promise.all([c.fetch(dropping.url, REQUEST), c.fetch(dropping.url, REQUEST), c.fetch(dropping.url, REQUEST)]);
    assert.equal(dropping.connections, 3);
    const got = await c.fetch(dropping.url, REQUEST, { layer: 1 });
    assert.equal(got.evidence.version, 1);
    assert.equal(dropping.connections, 4, 'the retry made a TLS connection of its own, verified and with the client certificate');
    assert.equal(dropping.requests.length, 5);
  } finally {
    await dropping.close();
  }
});
