// A bundle's time is read as attest writes it: ISO 8601 with a zone. Date.parse alone also took "1", "Sat Nov 28
// 2026 12:00:00" and times without a zone, which it reads in the verifier's own time zone: the same bundle (its
// time string bound into the top nonce, so it verified) was judged at instants hours apart on machines in
// different zones, and its certificates and freshness rule with them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertThrowsCode } from '../helpers/assert.js';
import { parseBundle } from '../../src/verify/bundle.js';

function bundleAt(time: string): string {
  return JSON.stringify({
    format: 'vtpm-verify/evidence-bundle',
    version: 2,
    tool: 'test',
    target: 'http://127.0.0.1:1/l/vm',
    time,
    random: '00'.repeat(32),
    layers: [{ position: 0, uri: 'http://127.0.0.1:1/l/vm', nonce: '11'.repeat(32), pcrs: ['sha256:0,1'] }],
  });
}

test('a bundle time is ISO 8601 with a zone, of a real date: nothing read in the verifier\'s time zone or rolled over', () => {
  for (const time of ['2026-11-28T11:58:18.631Z', '2026-11-28T11:58:18Z', '2026-11-28T12:58:18.631+01:00', '+010000-01-01T00:00:00.000Z']) {
    assert.equal(parseBundle(bundleAt(time)).time, time, time);
  }
  for (const time of ['2026-11-28T12:00:00', '2026-11-28 12:00:00Z', '1', 'Sat Nov 28 2026 12:00:00', 'Sat Nov 28 2026 12:00:00 GMT', '2026-11-28', '2026-02-30T00:00:00Z', '2026-11-28T24:00:00Z', ' 2026-11-28T11:58:18Z']) {
    assert.match(assertThrowsCode(() => parseBundle(bundleAt(time)), 'BUNDLE_INVALID').message, /^evidence bundle: time: not an ISO 8601 time with a zone/, time);
  }
});
