// How node's socket and TLS errors map to transport codes, for the failures a
// loopback test cannot produce (no route to host, a temporary DNS failure,
// an unknown system error). The others are produced for real in
// evidence-client.test.ts and tls.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransportError } from '../../src/errors.js';
import { mapNetworkError, sanitizeServerText } from '../../src/transport/errors.js';

function sysError(code: string, message = code): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

const ctx = { layer: 2, url: 'https://vmm.example/v1/evidence' };
const idle = { inTlsHandshake: false };

test('system error codes map to their transport codes, with layer, url and cause', () => {
  const cases: [string, string][] = [
    ['ENOTFOUND', 'TRANSPORT_DNS'],
    ['EAI_AGAIN', 'TRANSPORT_DNS'],
    ['ECONNREFUSED', 'TRANSPORT_REFUSED'],
    ['EHOSTUNREACH', 'TRANSPORT_UNREACHABLE'],
    ['ENETUNREACH', 'TRANSPORT_UNREACHABLE'],
    ['ECONNRESET', 'TRANSPORT_RESET'],
    ['EPIPE', 'TRANSPORT_RESET'],
    ['HPE_INVALID_CONSTANT', 'TRANSPORT_PROTOCOL'],
    ['EMFILE', 'TRANSPORT_NETWORK'],
    ['CERT_HAS_EXPIRED', 'TRANSPORT_TLS'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'TRANSPORT_TLS'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'TRANSPORT_TLS'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'TRANSPORT_TLS'],
  ];
  for (const [sys, code] of cases) {
    const err = mapNetworkError(sysError(sys), ctx, idle);
    assert.ok(err instanceof TransportError, sys);
    assert.equal(err.code, code, sys);
    assert.equal(err.details['layer'], 2);
    assert.equal(err.details['url'], ctx.url);
    assert.equal(err.details['cause'], sys);
    assert.ok(err.message.startsWith('layer 2: '), err.message);
  }
});

test('a reset during a TLS handshake, or before a fresh TLS connection has answered, is a TLS failure', () => {
  assert.equal(mapNetworkError(sysError('ECONNRESET'), ctx, { inTlsHandshake: true }).code, 'TRANSPORT_TLS');
  assert.equal(mapNetworkError(sysError('ECONNRESET'), ctx, { inTlsHandshake: false, tlsUnconfirmed: true }).code, 'TRANSPORT_TLS');
  assert.equal(mapNetworkError(sysError('ECONNRESET'), ctx, { inTlsHandshake: false, tlsUnconfirmed: false }).code, 'TRANSPORT_RESET');
  // refused and DNS keep their own codes whatever the phase
  assert.equal(mapNetworkError(sysError('ECONNREFUSED'), ctx, { inTlsHandshake: true }).code, 'TRANSPORT_REFUSED');
});

test("OpenSSL's error text is shown as its reason, on one line; details.reason keeps it whole", () => {
  const raw = 'write EPROTO 80DC461CE97F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n';
  const err = mapNetworkError(sysError('EPROTO', raw), ctx, { inTlsHandshake: true });
  assert.equal(err.code, 'TRANSPORT_TLS');
  assert.equal(err.message, 'layer 2: TLS failed: wrong version number');
  assert.equal(err.details['reason'], raw.trim());
  const alert = '80CC1F6FED7F0000:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 70\n';
  const versions = mapNetworkError(sysError('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', alert), ctx, idle);
  assert.match(versions.message, /^layer 2: TLS failed: tlsv1 alert protocol version \(no TLS version in common/);
  assert.doesNotMatch(versions.message, /\n|deps\/openssl/);
  // node's own messages are kept as they are
  assert.equal(mapNetworkError(sysError('CERT_HAS_EXPIRED', 'certificate has expired'), ctx, idle).message, 'layer 2: TLS failed: certificate has expired');
});

test('our own errors pass through unchanged', () => {
  const own = new TransportError('TRANSPORT_TIMEOUT', 'x');
  assert.equal(mapNetworkError(own, ctx, idle), own);
});

test('server text is stripped of control characters and truncated', () => {
  assert.equal(sanitizeServerText('a\u001b[31mb\r\nc\u0085d\u2028'), 'a [31mb  c d ');
  assert.equal(sanitizeServerText('x'.repeat(500), 10), `${'x'.repeat(10)}...`);
});
