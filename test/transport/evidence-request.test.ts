import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evidenceUrl,
  formatPcrSelection,
  parseEvidenceQuery,
  parsePcrSelection,
  type EvidenceRequest,
} from '../../src/transport/evidence.js';
import { joinEndpoint, parseEndpointUrl } from '../../src/transport/url.js';
import { assertThrowsCode } from '../helpers/assert.js';

const NONCE = Buffer.alloc(32, 0xa5);
const INSTANCE = Buffer.alloc(32, 0x0f);
const REQUEST: EvidenceRequest = {
  nonce: NONCE,
  pcrs: [
    { bank: 'sha256', pcrs: [7, 0, 1, 2, 1] },
    { bank: 'sha1', pcrs: [0, 7] },
  ],
  instance: INSTANCE,
};
const QUERY = `nonce=${'a5'.repeat(32)}&pcrs=sha256:0,1,2,7&pcrs=sha1:0,7&instance=${'0f'.repeat(32)}`;

test('the request URL follows protocol section 2 exactly', () => {
  assert.equal(evidenceUrl('http://127.0.0.1:8080', REQUEST).href, `http://127.0.0.1:8080/v1/evidence?${QUERY}`);
  const noInstance = evidenceUrl('https://vmm.example', { nonce: NONCE, pcrs: [{ bank: 'sha256', pcrs: [23] }] });
  assert.equal(noInstance.href, `https://vmm.example/v1/evidence?nonce=${'a5'.repeat(32)}&pcrs=sha256:23`);
});

test('joining is safe for a base URI with a path, trailing slashes, a query or a fragment', () => {
  const cases: [string, string][] = [
    ['http://h:1/', `http://h:1/v1/evidence?${QUERY}`],
    ['http://h:1/attest', `http://h:1/attest/v1/evidence?${QUERY}`],
    ['http://h:1/attest/', `http://h:1/attest/v1/evidence?${QUERY}`],
    ['http://h:1/attest//', `http://h:1/attest/v1/evidence?${QUERY}`],
    ['http://h:1/a/b/../c', `http://h:1/a/c/v1/evidence?${QUERY}`],
    ['http://h:1/attest?tenant=blue', `http://h:1/attest/v1/evidence?tenant=blue&${QUERY}`],
    ['http://h:1/attest/#frag', `http://h:1/attest/v1/evidence?${QUERY}`],
    ['HTTP://H:1', `http://h:1/v1/evidence?${QUERY}`],
  ];
  for (const [base, expected] of cases) assert.equal(evidenceUrl(base, REQUEST).href, expected, base);
});

test('a base URI that sets a reserved parameter is rejected', () => {
  const err = assertThrowsCode(() => evidenceUrl('http://h/?nonce=00', REQUEST, 'layer-x'), 'TRANSPORT_BAD_URL');
  assert.equal(err.details['parameter'], 'nonce');
  assert.equal(err.details['layer'], 'layer-x');
  assertThrowsCode(() => evidenceUrl('http://h/?pcrs=sha1:0', REQUEST), 'TRANSPORT_BAD_URL');
});

test('a base URI that sets instance is rejected even for a request without one (the top layer)', () => {
  const top: EvidenceRequest = { nonce: REQUEST.nonce, pcrs: REQUEST.pcrs };
  assert.ok(!evidenceUrl('http://h/a', top).search.includes('instance='));
  const err = assertThrowsCode(() => evidenceUrl('http://h/a?instance=ab', top, 0), 'TRANSPORT_BAD_URL');
  assert.equal(err.details['parameter'], 'instance');
  // another parameter of the base's own stays
  assert.match(evidenceUrl('http://h/a?tenant=blue', top).href, /\?tenant=blue&nonce=/);
});

test('only absolute http(s) URIs without credentials are endpoints', () => {
  for (const bad of ['ftp://h/', 'file:///etc/passwd', 'javascript:alert(1)', 'data:text/plain,x', 'ws://h/', 'gopher://h:70/']) {
    const err = assertThrowsCode(() => parseEndpointUrl(bad, 3), 'TRANSPORT_BAD_SCHEME');
    assert.equal(err.details['layer'], 3);
    assert.equal(err.kind, 'transport');
  }
  for (const bad of ['', 'not a url', '/v1/evidence', 'http://', 'https://user:pw@h/', `http://h/${'a'.repeat(3000)}`]) {
    assertThrowsCode(() => parseEndpointUrl(bad), 'TRANSPORT_BAD_URL');
  }
  // credentials never appear in the error
  const err = assertThrowsCode(() => parseEndpointUrl('https://user:secret@h/x'), 'TRANSPORT_BAD_URL');
  assert.ok(!JSON.stringify(err.toJSON()).includes('secret'));
  const ftp = assertThrowsCode(() => parseEndpointUrl('ftp://user:secret@h/\u001b[2J'), 'TRANSPORT_BAD_SCHEME');
  assert.ok(!JSON.stringify(ftp.toJSON()).includes('secret'));
  assert.ok(!String(ftp.details['url']).includes('\u001b'), String(ftp.details['url']));
});

test('values outside the plain set are percent-encoded', () => {
  assert.equal(joinEndpoint('http://h', '/p', [['q', 'a b&c']]).href, 'http://h/p?q=a%20b%26c');
});

test('request checks: nonce 32 bytes, instance 32 bytes, known banks, PCRs 0..23, one selection per bank', () => {
  const bad = (r: Partial<EvidenceRequest>): void => {
    assertThrowsCode(() => evidenceUrl('http://h', { ...REQUEST, ...r }), 'EVIDENCE_REQUEST_INVALID');
  };
  bad({ nonce: Buffer.alloc(31) });
  bad({ nonce: Buffer.alloc(33) });
  bad({ instance: Buffer.alloc(20) });
  bad({ pcrs: [] });
  bad({ pcrs: [{ bank: 'sha256', pcrs: [] }] });
  bad({ pcrs: [{ bank: 'sha256', pcrs: [24] }] });
  bad({ pcrs: [{ bank: 'sha256', pcrs: [-1] }] });
  bad({ pcrs: [{ bank: 'sha256', pcrs: [1.5] }] });
  bad({ pcrs: [{ bank: 'md5' as 'sha1', pcrs: [0] }] });
  bad({ pcrs: [{ bank: 'sha1', pcrs: [0] }, { bank: 'sha1', pcrs: [1] }] });
});

test('PCR selections format sorted and parse strictly', () => {
  assert.equal(formatPcrSelection({ bank: 'sha256', pcrs: [10, 2, 2, 0] }), 'sha256:0,2,10');
  assert.deepEqual(parsePcrSelection('sha384:0,23'), { bank: 'sha384', pcrs: [0, 23] });
  for (const bad of ['sha256', 'sha256:', 'sha256:01', 'sha256:1,,2', 'sha256:24', 'SHA256:1', 'sha256:1,1', 'md5:1', 'sha256: 1']) {
    assertThrowsCode(() => parsePcrSelection(bad), 'EVIDENCE_REQUEST_INVALID');
  }
});

test('the service side parses what the challenger builds', () => {
  const url = evidenceUrl('http://h/base/', REQUEST);
  const parsed = parseEvidenceQuery(url.searchParams);
  assert.deepEqual([...parsed.nonce], [...NONCE]);
  assert.deepEqual([...parsed.instance!], [...INSTANCE]);
  assert.deepEqual(parsed.pcrs, [
    { bank: 'sha256', pcrs: [0, 1, 2, 7] },
    { bank: 'sha1', pcrs: [0, 7] },
  ]);
  const q = (s: string) => new URLSearchParams(s);
  const nonce = 'a5'.repeat(32);
  assert.equal(parseEvidenceQuery(q(`nonce=${nonce}&pcrs=sha256:23&extra=1`)).instance, undefined);
  for (const bad of [
    `pcrs=sha256:0`,
    `nonce=${nonce.toUpperCase()}&pcrs=sha256:0`,
    `nonce=${nonce}&nonce=${nonce}&pcrs=sha256:0`,
    `nonce=${nonce}`,
    `nonce=${nonce}&pcrs=sha256:0&pcrs=sha256:1`,
    `nonce=${nonce}&pcrs=sha256:0&instance=00`,
  ]) {
    assertThrowsCode(() => parseEvidenceQuery(q(bad)), 'EVIDENCE_REQUEST_INVALID');
  }
});
