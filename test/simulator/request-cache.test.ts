// The service's query cache parses exactly as parseEvidenceQuery does: the
// same requests for the same queries, the same errors, whatever came before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseEvidenceQuery } from '../../src/transport/evidence.js';
import { EvidenceQueryCache } from '../../src/simulator/request-cache.js';

type Outcome = { ok: true; request: unknown } | { ok: false; code: string; message: string };

function outcome(parse: () => unknown): Outcome {
  try {
    return { ok: true, request: parse() };
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code ?? String(err), message: (err as Error).message };
  }
}

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
/** Parameters as challengers send them, and the near misses a hostile one could. */
const param = fc.oneof(
  hex64.map((h) => `nonce=${h}`),
  hex64.map((h) => `nonce=${h.toUpperCase()}`),
  hex64.map((h) => `%6Eonce=${h}`),
  hex64.map((h) => `instance=${h}`),
  hex64.map((h) => `instance=${h.slice(2)}`),
  fc.constantFrom(
    'pcrs=sha256:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23',
    'pcrs=sha256:0,7,23',
    'pcrs=sha1:0,7,10',
    'pcrs=sha256%3A1',
    'pcrs=sha256:1,1',
    'pcrs=sha256:24',
    'pcrs=md5:1',
    'pcrs=',
    'other=1',
    '',
    'nonce=',
    '+nonce=00',
  ),
);
const query = fc.array(param, { minLength: 0, maxLength: 5 }).map((ps) => ps.join('&'));
/** Mostly queries that lead with a good nonce, the cache's fast path. */
const leading = fc.tuple(hex64, query).map(([h, rest]) => `nonce=${h}&${rest}`);

test('the query cache gives what parseEvidenceQuery gives, requests and errors alike, across any sequence of queries', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(leading, leading, query), { minLength: 1, maxLength: 30 }), (queries) => {
      const cache = new EvidenceQueryCache();
      // each query twice: the second time from what the first one kept, under another nonce
      for (const q of queries.flatMap((q) => [q, q.replace(/^nonce=[0-9a-f]{64}/, `nonce=${'ab'.repeat(32)}`)])) {
        assert.deepEqual(outcome(() => cache.parse(q)), outcome(() => parseEvidenceQuery(new URLSearchParams(q))), q);
      }
    }),
    { numRuns: 300 },
  );
});

test('a kept query answers with the nonce of the request at hand, and its own selection and instance', () => {
  const cache = new EvidenceQueryCache();
  const rest = `pcrs=sha256:0,23&instance=${'11'.repeat(32)}`;
  const a = cache.parse(`nonce=${'01'.repeat(32)}&${rest}`);
  const b = cache.parse(`nonce=${'02'.repeat(32)}&${rest}`);
  assert.deepEqual(a.nonce, Buffer.alloc(32, 1));
  assert.deepEqual(b.nonce, Buffer.alloc(32, 2));
  assert.deepEqual(b.pcrs, [{ bank: 'sha256', pcrs: [0, 23] }]);
  assert.deepEqual(b.instance, Buffer.alloc(32, 0x11));
  assert.equal(b.pcrs, a.pcrs, 'the second request used what the first one kept');
});
