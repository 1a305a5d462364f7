// The cRLDistributionPoints extension, decoded strictly. Real certificates
// from @peculiar/x509, the extension written byte by byte so that every shape
// (and every malformed one) can be given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boolean, oid, sequence, tlv, utf8String } from '../../src/simulator/der.js';
import { makeChain, makeCert, x509, type Chain, type Issued } from '../helpers/pki.js';
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

function leafIn(chain: Chain, ...extensions: x509.Extension[]): Promise<Issued> {
  return makeCert({ subject: 'CN=Partitioned AK, O=vtpm-verify tests', issuer: chain.intermediate, ca: false, extensions });
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
