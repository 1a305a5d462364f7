// The validation cache: a repeated validation reuses parsed certificates and
// verified links, but never serves a "verified" for different bytes or a
// different issuer, and never skips the time-dependent checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationCache } from '../../src/x509/cache.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { validateChain, validatePath } from '../../src/x509/validate.js';
import { AT, flipByte, makeChain, makeCert } from '../helpers/pki.js';

test('a repeated validation hits the parse and link caches and gives the same verdict', async () => {
  const chain = await makeChain();
  const cache = new ValidationCache();
  const first = validateChain([chain.leaf.pem, chain.intermediate.der], chain.store, { at: AT, cache });
  assert.ok(first.valid);
  assert.deepEqual(cache.stats, { parseHits: 0, parseMisses: 2, linkHits: 0, linkMisses: 2 });
  const second = validateChain([chain.leaf.pem, chain.intermediate.der], chain.store, { at: AT, cache });
  assert.ok(second.valid);
  assert.deepEqual(cache.stats, { parseHits: 2, parseMisses: 2, linkHits: 2, linkMisses: 2 });
  assert.match(second.checks.find((c) => c.id === 'chain.signature.0')!.message, /\(cached\)/);
  assert.equal(second.target, first.target, 'the same parsed certificate object');
});

test('a cached link is never reused for other bytes or another issuer', async () => {
  const chain = await makeChain();
  const cache = new ValidationCache();
  assert.ok(validatePath(chain.leaf.cert, [chain.intermediate.cert], chain.store, { at: AT, cache }).valid);
  const tampered = parseCertificate(flipByte(chain.leaf.der, -1));
  const r = validatePath(tampered, [chain.intermediate.cert], chain.store, { at: AT, cache });
  assert.equal(r.valid ? 'valid' : r.code, 'CHAIN_BAD_SIGNATURE');
  // An intermediate of the same name with another key: no hit either.
  const twin = await makeCert({ subject: chain.intermediate.name, issuer: chain.root, ca: 0, keys: (await makeChain()).intermediate.keys });
  const r2 = validatePath(chain.leaf.cert, [twin.cert], chain.store, { at: AT, cache });
  assert.equal(r2.valid ? 'valid' : r2.code, 'CHAIN_BAD_SIGNATURE');
});

test('with a warm cache, validity and policy checks still run', async () => {
  const chain = await makeChain({ leaf: { notAfter: new Date('2025-07-01T00:00:00Z') } });
  const cache = new ValidationCache();
  assert.ok(validatePath(chain.leaf.cert, [chain.intermediate.cert], chain.store, { at: AT, cache }).valid);
  const later = validatePath(chain.leaf.cert, [chain.intermediate.cert], chain.store, { at: new Date('2025-08-01T00:00:00Z'), cache });
  assert.equal(later.valid ? 'valid' : later.code, 'CHAIN_EXPIRED');
  const eku = validatePath(chain.leaf.cert, [chain.intermediate.cert], chain.store, { at: AT, cache, requireEku: 'ak' });
  assert.equal(eku.valid ? 'valid' : eku.code, 'CHAIN_EKU');
  assert.ok(cache.stats.linkHits >= 4);
});

test('the cache is bounded (least recently used entries go first)', async () => {
  const cache = new ValidationCache({ maxEntries: 16 });
  const certs = await Promise.all(Array.from({ length: 20 }, (_, i) => makeCert({ subject: `CN=c${i}`, ca: true })));
  for (const c of certs) cache.parseCertificate(c.der);
  assert.equal(cache.size.certificates, 16);
  cache.parseCertificate(certs[19]!.der);
  assert.equal(cache.stats.parseHits, 1);
  cache.parseCertificate(certs[0]!.der);
  assert.equal(cache.stats.parseHits, 1, 'the oldest was evicted');
});
