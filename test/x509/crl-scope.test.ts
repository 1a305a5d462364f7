// CRLs partitioned by distribution point (RFC 5280 5.2.5, 6.3.3 (b)(2)(i)):
// a CRL whose issuingDistributionPoint names a distribution point covers only
// the certificates whose cRLDistributionPoints carry a matching name. Real
// certificates and CRLs from @peculiar/x509, the two extensions written byte
// by byte so that every shape (and every malformed one) can be given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeName } from '../../src/simulator/pki.js';
import { boolean, oid, sequence, tlv, utf8String } from '../../src/simulator/der.js';
import { validatePath, type PathValidation } from '../../src/x509/validate.js';
import type { Crl } from '../../src/x509/crl.js';
import { AT, makeChain, makeCert, makeCrl, x509, type Chain, type Issued } from '../helpers/pki.js';
import { assertRejectsCode } from '../helpers/assert.js';

const A = 'http://crl.example.test/partition-a.crl';
const B = 'http://crl.example.test/partition-b.crl';

const uri = (s: string): Buffer => tlv(0x86, Buffer.from(s, 'latin1'));
const dirName = (nameDer: Uint8Array): Buffer => tlv(0xa4, nameDer);
/** DistributionPointName fullName [0] GeneralNames */
const fullName = (...names: Uint8Array[]): Buffer => tlv(0xa0, ...names);
/** DistributionPointName nameRelativeToCRLIssuer [1] RelativeDistinguishedName */
const relativeName = (cn: string): Buffer => tlv(0xa1, sequence(oid('2.5.4.3'), utf8String(cn)));
/** DistributionPoint { distributionPoint [0] EXPLICIT DistributionPointName } */
const point = (dpName: Uint8Array): Buffer => sequence(tlv(0xa0, dpName));
const cdp = (...points: Uint8Array[]): x509.Extension => new x509.Extension('2.5.29.31', false, sequence(...points));
/** IssuingDistributionPoint { distributionPoint [0] EXPLICIT DistributionPointName, ... } */
const idp = (dpName: Uint8Array, ...rest: Uint8Array[]): x509.Extension => new x509.Extension('2.5.29.28', true, sequence(tlv(0xa0, dpName), ...rest));

function leafIn(chain: Chain, ...extensions: x509.Extension[]): Promise<Issued> {
  return makeCert({ subject: 'CN=Partitioned AK, O=vtpm-verify tests', issuer: chain.intermediate, ca: false, extensions });
}

function partitionCrl(chain: Chain, dpName: Uint8Array | null, revoked: string[] = []): Promise<Crl> {
  return makeCrl({ issuer: chain.intermediate, revoked: revoked.map((serial) => ({ serial })), extensions: dpName ? [idp(dpName)] : [] });
}

function validate(chain: Chain, leaf: Issued, crls: Crl[]): PathValidation {
  return validatePath(leaf.cert, [chain.intermediate.cert], chain.store, { at: AT, crls });
}

function revocationCheck(r: PathValidation, index = 0) {
  const check = r.checks.find((c) => c.id === `chain.revocation.${index}`);
  assert.ok(check, `chain.revocation.${index} ran`);
  return check;
}

function assertRevoked(r: PathValidation): void {
  if (r.valid) assert.fail('expected CHAIN_REVOKED, the path is valid');
  assert.equal(r.code, 'CHAIN_REVOKED', r.message);
  assert.equal(r.certificate?.index, 0);
}

test('cRLDistributionPoints decode: fullName, cRLIssuer, reasons, a name relative to the CRL issuer', async () => {
  const chain = await makeChain();
  const issuerName = chain.intermediate.cert.subject.der;
  const leaf = await leafIn(
    chain,
    cdp(point(fullName(uri(A), uri(B))), sequence(tlv(0xa2, dirName(issuerName))), sequence(tlv(0xa0, relativeName('part 7')), tlv(0x81, Buffer.from([0x06, 0x40])))),
  );
  const points = leaf.cert.ext.crlDistributionPoints;
  assert.ok(points);
  assert.equal(points.length, 3);
  assert.deepEqual(points[0], { someReasons: false, name: { fullName: [{ type: 'uniformResourceIdentifier', value: A }, { type: 'uniformResourceIdentifier', value: B }] } });
  assert.equal(points[1]!.name, undefined);
  assert.equal(points[1]!.crlIssuer?.[0]?.type, 'directoryName');
  assert.equal(points[2]!.someReasons, true);
  assert.ok(points[2]!.name && 'relativeName' in points[2]!.name);
});

test("partition A's CRL revokes a certificate of partition A", async () => {
  const chain = await makeChain();
  const leaf = await leafIn(chain, cdp(point(fullName(uri(A)))));
  assertRevoked(validate(chain, leaf, [await partitionCrl(chain, fullName(uri(A)), [leaf.serial])]));
  // One of several names of the IDP, one of several names and points of the certificate, is enough.
  const many = await leafIn(chain, cdp(point(fullName(uri('ldap://x.test/cn=a'))), point(fullName(uri('http://other.test/x.crl'), uri(A)))));
  assertRevoked(validate(chain, many, [await partitionCrl(chain, fullName(uri('http://mirror.test/a.crl'), uri(A)), [many.serial])]));
});

test("partition A's CRL does not cover a certificate of partition B: revocation not checked, and the check says why", async () => {
  const chain = await makeChain();
  const leaf = await leafIn(chain, cdp(point(fullName(uri(B)))));
  const crlA = await partitionCrl(chain, fullName(uri(A)));
  const r = validate(chain, leaf, [crlA]);
  assert.ok(r.valid, r.valid ? '' : r.message);
  const check = revocationCheck(r);
  assert.equal(check.status, 'skip');
  assert.equal(
    check.message,
    `[0] leaf "CN=Partitioned AK, O=vtpm-verify tests": none of its issuer's 1 CRL(s) covers it (distribution point URI:${A}, not among its cRLDistributionPoints URI:${B}); revocation not checked`,
  );
  // Both partitions given: B's CRL decides, whichever order.
  const crlB = await partitionCrl(chain, fullName(uri(B)), [leaf.serial]);
  assertRevoked(validate(chain, leaf, [crlA, crlB]));
  assertRevoked(validate(chain, leaf, [crlB, crlA]));
  const cleanB = await partitionCrl(chain, fullName(uri(B)));
  const ok = validate(chain, leaf, [crlA, cleanB]);
  assert.ok(ok.valid);
  assert.equal(revocationCheck(ok).status, 'pass');
  assert.match(revocationCheck(ok).message, /not revoked \(1 CRL\(s\) from its issuer checked; 1 other CRL\(s\) of its issuer do not cover it\)/);
});

test('a CRL without an IDP distribution point still covers every certificate of its issuer', async () => {
  const chain = await makeChain();
  const inB = await leafIn(chain, cdp(point(fullName(uri(B)))));
  assertRevoked(validate(chain, inB, [await partitionCrl(chain, null, [inB.serial])]));
  const noCdp = await leafIn(chain);
  assertRevoked(validate(chain, noCdp, [await partitionCrl(chain, null, [noCdp.serial])]));
  // An IDP with only a scope flag is not a distribution-point partition either.
  const userOnly = await makeCrl({ issuer: chain.intermediate, revoked: [{ serial: inB.serial }], extensions: [new x509.Extension('2.5.29.28', true, sequence(tlv(0x81, Buffer.from([0xff]))))] });
  assertRevoked(validate(chain, inB, [userOnly]));
});

test('an IDP distribution point does not cover a certificate without cRLDistributionPoints', async () => {
  const chain = await makeChain();
  const leaf = await leafIn(chain);
  const r = validate(chain, leaf, [await partitionCrl(chain, fullName(uri(A)), [leaf.serial])]);
  assert.ok(r.valid, r.valid ? '' : r.message);
  const check = revocationCheck(r);
  assert.equal(check.status, 'skip');
  assert.match(check.message, /none of its issuer's 1 CRL\(s\) covers it \(distribution point URI:http:\/\/crl\.example\.test\/partition-a\.crl, and it has no cRLDistributionPoints\); revocation not checked$/);
});

test('a certificate distribution point with only a cRLIssuer is matched by its cRLIssuer names (directoryName by RFC 5280 7.1 rules)', async () => {
  const chain = await makeChain();
  const partition = encodeName([['O', 'vtpm-verify tests'], ['CN', 'Partition C']]);
  const leaf = await leafIn(chain, cdp(sequence(tlv(0xa2, dirName(partition)))));
  // Same name, other case and spacing: the same directoryName.
  const crlC = await partitionCrl(chain, fullName(dirName(encodeName([['O', 'VTPM-verify  tests'], ['CN', 'partition c']]))), [leaf.serial]);
  assertRevoked(validate(chain, leaf, [crlC]));
  const crlD = await partitionCrl(chain, fullName(dirName(encodeName([['O', 'vtpm-verify tests'], ['CN', 'Partition D']]))), [leaf.serial]);
  const r = validate(chain, leaf, [crlD]);
  assert.ok(r.valid, r.valid ? '' : r.message);
  assert.match(revocationCheck(r).message, /distribution point DirName:O=vtpm-verify tests, CN=Partition D, not among its cRLDistributionPoints cRLIssuer DirName:O=vtpm-verify tests, CN=Partition C\)/);
  // A URI of the same text is another type of name.
  const byUri = await leafIn(chain, cdp(sequence(tlv(0xa2, uri(A)))));
  assert.equal(revocationCheck(validate(chain, byUri, [await partitionCrl(chain, fullName(dirName(partition)), [byUri.serial])])).status, 'skip');
  // A distributionPoint, when present, is what is matched: not the cRLIssuer next to it.
  const both = await leafIn(chain, cdp(sequence(tlv(0xa0, fullName(uri(B))), tlv(0xa2, dirName(partition)))));
  assert.equal(revocationCheck(validate(chain, both, [await partitionCrl(chain, fullName(dirName(partition)), [both.serial])])).status, 'skip');
  assertRevoked(validate(chain, both, [await partitionCrl(chain, fullName(uri(B)), [both.serial])]));
});

test('an IDP distribution point named relative to the CRL issuer is CRL_UNSUPPORTED; one in a certificate matches no CRL', async () => {
  const chain = await makeChain();
  const leaf = await leafIn(chain, cdp(point(fullName(uri(A)))));
  const relative = await partitionCrl(chain, relativeName('partition a'));
  assert.deepEqual(relative.unsupported, ['distribution point named relative to the CRL issuer (nameRelativeToCRLIssuer)']);
  const r = validate(chain, leaf, [relative]);
  assert.equal(r.valid ? '' : r.code, 'CRL_UNSUPPORTED');
  // Never left out next to a usable CRL of the issuer.
  const r2 = validate(chain, leaf, [await partitionCrl(chain, fullName(uri(A))), relative]);
  assert.equal(r2.valid ? '' : r2.code, 'CRL_UNSUPPORTED');
  const relLeaf = await leafIn(chain, cdp(point(relativeName('partition a'))));
  const r3 = validate(chain, relLeaf, [await partitionCrl(chain, fullName(uri(A)), [relLeaf.serial])]);
  assert.ok(r3.valid);
  assert.match(revocationCheck(r3).message, /not among its cRLDistributionPoints a name relative to the CRL issuer\)/);
});

test('onlyContainsUserCerts and onlyContainsCACerts CRLs say so when they leave a certificate out', async () => {
  const chain = await makeChain();
  const caOnly = await makeCrl({ issuer: chain.intermediate, revoked: [{ serial: chain.leaf.serial }], extensions: [new x509.Extension('2.5.29.28', true, sequence(tlv(0x82, Buffer.from([0xff]))))] });
  const r = validate(chain, chain.leaf, [caOnly]);
  assert.ok(r.valid);
  assert.match(revocationCheck(r).message, /none of its issuer's 1 CRL\(s\) covers it \(a CRL of CA certificates only; this one is not a CA\); revocation not checked/);
});

test('a malformed cRLDistributionPoints is CERT_EXTENSION_MALFORMED', async () => {
  const chain = await makeChain();
  const cases: [string, Uint8Array][] = [
    ['empty list', sequence()],
    ['a point with only reasons', sequence(sequence(tlv(0x81, Buffer.from([0x07, 0x80]))))],
    ['an empty point', sequence(sequence())],
    ['an empty fullName', sequence(point(fullName()))],
    ['an empty cRLIssuer', sequence(sequence(tlv(0xa2)))],
    ['an empty DistributionPointName', sequence(sequence(tlv(0xa0)))],
    ['an unknown DistributionPointName choice', sequence(point(tlv(0xa2, uri(A))))],
    ['two DistributionPointName choices', sequence(sequence(tlv(0xa0, fullName(uri(A)), fullName(uri(B)))))],
    ['an empty nameRelativeToCRLIssuer', sequence(point(tlv(0xa1)))],
    ['an unknown GeneralName', sequence(point(fullName(tlv(0x89, Buffer.from('x')))))],
    ['a non-ASCII URI', sequence(point(fullName(tlv(0x86, Buffer.from([0x68, 0xff])))))],
    ['fields out of order', sequence(sequence(tlv(0xa2, uri(A)), tlv(0xa0, fullName(uri(A)))))],
    ['a bad reasons BIT STRING', sequence(sequence(tlv(0xa0, fullName(uri(A))), tlv(0x81, Buffer.from([0x09, 0x80]))))],
    ['trailing bytes', Buffer.concat([sequence(point(fullName(uri(A)))), Buffer.from([0x00])])],
    ['a primitive distributionPoint', sequence(sequence(tlv(0x80, uri(A))))],
    ['a point that is not a SEQUENCE', sequence(boolean(true))],
    ['too many points', sequence(...Array.from({ length: 257 }, () => point(fullName(uri(A)))))],
  ];
  for (const [what, value] of cases) {
    const err = await assertRejectsCode(leafIn(chain, new x509.Extension('2.5.29.31', false, value)), 'CERT_EXTENSION_MALFORMED');
    assert.match(err.message, /2\.5\.29\.31/, what);
  }
});

test('a malformed IDP distribution point is CRL_MALFORMED', async () => {
  const chain = await makeChain();
  for (const dpName of [fullName(), tlv(0xa2, uri(A)), tlv(0xa1), Buffer.concat([fullName(uri(A)), fullName(uri(B))])]) {
    await assertRejectsCode(partitionCrl(chain, dpName), 'CRL_MALFORMED');
  }
});

test('names from the certificate and the CRL are shown escaped and capped', async () => {
  const chain = await makeChain();
  const leaf = await leafIn(chain, cdp(point(fullName(uri(`http://b.test/\x1b[31mred${'x'.repeat(500)}`)))));
  const crl = await partitionCrl(chain, fullName(...Array.from({ length: 5 }, (_, i) => uri(`http://a${i}.test/`))));
  const message = revocationCheck(validate(chain, leaf, [crl])).message;
  assert.ok(!message.includes('\x1b'), message);
  assert.match(message, /\\u001b\[31mred/);
  assert.match(message, /URI:http:\/\/a2\.test\/, and 2 more, not among/);
  assert.ok(message.length < 600, `${message.length} characters`);
});

test('many CRLs out of scope: the skip message names a few of them', async () => {
  const chain = await makeChain();
  const leaf = await leafIn(chain, cdp(point(fullName(uri(B)))));
  const crls = await Promise.all(Array.from({ length: 6 }, (_, i) => partitionCrl(chain, fullName(uri(`http://p${i}.test/${'y'.repeat(150)}`)))));
  const message = revocationCheck(validate(chain, leaf, crls)).message;
  assert.match(message, /none of its issuer's 6 CRL\(s\) covers it \(.*; and 3 more\); revocation not checked$/);
  assert.ok(message.length < 1500, `${message.length} characters`);
});

test('distribution point URIs compare with their scheme and host case-insensitive (RFC 3986 6.2.2.1), the path as written', async () => {
  const chain = await makeChain();
  const leaf = await leafIn(chain, cdp(point(fullName(uri('HTTP://CRL.Example.TEST/partition-a.crl')))));
  assertRevoked(validate(chain, leaf, [await partitionCrl(chain, fullName(uri(A)), [leaf.serial])]));
  // another path is another distribution point
  const other = await leafIn(chain, cdp(point(fullName(uri('http://crl.example.test/PARTITION-A.crl')))));
  const r = validate(chain, other, [await partitionCrl(chain, fullName(uri(A)), [other.serial])]);
  assert.equal(revocationCheck(r).status, 'skip');
});
