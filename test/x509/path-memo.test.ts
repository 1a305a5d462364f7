// The path-validation memo gives exactly what a fresh validation gives: for
// any time, across every validity boundary of the chain, the store and the
// CRLs (certificates expiring, not yet valid, a revocation taking effect, a
// CRL going stale); a chain seen once is never kept; other bytes, another
// store or other options never hit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PathValidationMemo } from '../../src/x509/path-memo.js';
import { TrustStore } from '../../src/x509/trust-store.js';
import { validateChain, type PathValidation, type ValidationOptions } from '../../src/x509/validate.js';
import { makeCert, makeChain, makeCrl } from '../helpers/pki.js';

const T = (iso: string) => Date.parse(iso);

/** What a validation says, time included. */
function summary(v: PathValidation) {
  return { valid: v.valid, at: v.at, code: v.valid ? null : v.code, checks: v.checks, path: v.path.map((c) => c.fingerprint), anchor: v.anchor?.certificate.fingerprint ?? null };
}

test('the memo gives what a fresh validation gives at any time, across every boundary', async () => {
  // leaf valid 2025-01-01 .. 2025-12-31; intermediate from 2024-06-01; root until 2030; the leaf revoked on 2025-09-01
  const chain = await makeChain({
    leaf: { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2025-12-31T23:59:59Z') },
    intermediate: { notBefore: new Date('2024-06-01T00:00:00Z') },
    root: { notAfter: new Date('2030-01-01T00:00:00Z') },
  });
  // a store anchor that expires mid-year: a boundary of the store, not of this chain
  const other = await makeCert({ subject: 'CN=Other Root', ca: true, notAfter: new Date('2025-04-01T00:00:00Z') });
  const store = TrustStore.fromCertificates([
    { certificate: chain.root.cert, label: 'ak-ca', origin: 'root' },
    { certificate: other.cert, label: 'ak-ca', origin: 'other' },
  ]);
  const crls = [
    await makeCrl({
      issuer: chain.intermediate,
      revoked: [{ serial: chain.leaf.serial, date: new Date('2025-09-01T00:00:00Z') }],
      thisUpdate: new Date('2025-02-01T00:00:00Z'),
      nextUpdate: new Date('2025-11-01T00:00:00Z'),
    }),
  ];
  const ders = [chain.leaf.der, chain.intermediate.der];
  const memo = new PathValidationMemo();
  const base = (at: number): ValidationOptions => ({ at, crls, requireEku: undefined });

  // seen once: not kept; seen twice: kept; then hits
  const t0 = T('2025-03-01T00:00:00Z');
  validateChain(ders, store, { ...base(t0), memo });
  validateChain(ders, store, { ...base(t0 + 1000), memo });
  assert.deepEqual(memo.stats, { hits: 0, misses: 2 });
  const hit = validateChain(ders, store, { ...base(t0 + 2000), memo });
  assert.deepEqual(memo.stats, { hits: 1, misses: 2 });
  assert.deepEqual(summary(hit), summary(validateChain(ders, store, base(t0 + 2000))));
  assert.equal(hit.at, t0 + 2000);

  // any time, in any order: the same as fresh
  const edges = [
    T('2024-06-01T00:00:00Z'),
    T('2025-01-01T00:00:00Z'),
    T('2025-02-01T00:00:00Z'),
    T('2025-04-01T00:00:00Z'),
    T('2025-09-01T00:00:00Z'),
    T('2025-11-01T00:00:00Z'),
    T('2025-12-31T23:59:59Z'),
  ];
  const times = fc.oneof(
    fc.integer({ min: T('2024-01-01T00:00:00Z'), max: T('2026-06-01T00:00:00Z') }),
    fc.constantFrom(...edges).chain((e) => fc.integer({ min: e - 2, max: e + 2 })),
  );
  fc.assert(
    fc.property(fc.array(times, { minLength: 1, maxLength: 30 }), (ats) => {
      for (const at of ats) assert.deepEqual(summary(validateChain(ders, store, { ...base(at), memo })), summary(validateChain(ders, store, base(at))), new Date(at).toISOString());
    }),
    { numRuns: 60 },
  );
  assert.ok(memo.stats.hits > 10, `the memo was used: ${JSON.stringify(memo.stats)}`);

  // the revocation taking effect and the leaf expiring are not hidden by a remembered result
  const valid = T('2025-08-31T23:59:59Z');
  for (let i = 0; i < 3; i++) assert.equal(validateChain(ders, store, { ...base(valid), memo }).valid, true);
  const revoked = validateChain(ders, store, { ...base(T('2025-09-01T00:00:00Z')), memo });
  assert.equal(revoked.valid ? null : revoked.code, 'CHAIN_REVOKED');
});

test('other bytes, another store, other CRLs or other options never hit', async () => {
  const chain = await makeChain();
  const twin = await makeChain();
  const memo = new PathValidationMemo();
  const at = T('2025-06-01T00:00:00Z');
  const ders = [chain.leaf.der, chain.intermediate.der];
  for (let i = 0; i < 3; i++) validateChain(ders, chain.store, { at, memo });
  assert.equal(memo.stats.hits, 1);
  const before = memo.stats.hits;
  // the same chain with another leaf: a miss, and not valid under this store
  const foreign = validateChain([twin.leaf.der, twin.intermediate.der], chain.store, { at, memo });
  assert.equal(foreign.valid, false);
  // an equal but other store object, other options, a CRL list: all misses
  const store2 = TrustStore.fromCertificates([{ certificate: chain.root.cert, label: 'ek-ca', origin: 'again' }]);
  validateChain(ders, store2, { at, memo });
  validateChain(ders, chain.store, { at, memo, allowedLabels: ['ak-ca'] });
  validateChain(ders, chain.store, { at, memo, requireEku: 'ak' });
  validateChain(ders, chain.store, { at, memo, crls: [] });
  assert.equal(memo.stats.hits, before);
  // a valid result is never given for a time outside its window, even long after
  assert.equal(validateChain(ders, chain.store, { at: T('2040-01-01T00:00:00Z'), memo }).valid, false);
});
