// The verdict's reason names the deciding layer once: a transport error's
// message starts with "layer N (uri): " already, and the reason said it twice
// ("layer 2 (URL) could not be attested: TRANSPORT_REFUSED: layer 2 (URL): connection refused").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideVerdict, type LayerResult } from '../../src/verify/result.js';

const uri = 'https://host-7.prod.example:9443';
const layer = (position: number, status: LayerResult['status'], error?: LayerResult['error']): LayerResult => ({ position, uri: position === 2 ? uri : `https://l${position}.example`, status, nonce: '00', checks: [], rules: [], ...(error ? { error } : {}) });

test('the reason names the deciding layer once, whether or not its error message starts by naming it', () => {
  const unreachable = decideVerdict([layer(0, 'trusted'), layer(1, 'trusted'), layer(2, 'unreachable', { code: 'TRANSPORT_CONNECT_TIMEOUT', message: `layer 2 (${uri}): not connected within 5000 ms` })], []);
  assert.equal(unreachable.verdict, 'incomplete');
  assert.equal(unreachable.reason, `layer 2 (${uri}) could not be attested: TRANSPORT_CONNECT_TIMEOUT: not connected within 5000 ms`);
  assert.equal(unreachable.error?.message, `layer 2 (${uri}): not connected within 5000 ms`, 'the error itself is as it was');
  const refused = decideVerdict([layer(0, 'trusted'), layer(1, 'trusted'), layer(2, 'not-trusted', { code: 'EVIDENCE_JSON', message: `layer 2 (${uri}): evidence: not JSON` })], []);
  assert.equal(refused.reason, `layer 2 (${uri}): EVIDENCE_JSON: evidence: not JSON`);
  // another layer's name in the message, or none, is left as it is
  const other = decideVerdict([layer(0, 'not-trusted', { code: 'POLICY_PCR_VALUE', message: `layer 2 (${uri}): said by layer 0` })], []);
  assert.equal(other.reason, `layer 0 (https://l0.example): POLICY_PCR_VALUE: layer 2 (${uri}): said by layer 0`);
});
