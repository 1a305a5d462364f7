import { test } from 'node:test';
import assert from 'node:assert/strict';

import { bytesOf } from '../helpers/fields.js';
import { ECC_AK_FIELDS } from '../fixtures/tpm-fields.js';
import { akFromPem, loadAttestationKey } from '../../src/verify/ak.js';
import { toHex } from '../../src/util/bytes.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

const tpmt = bytesOf(ECC_AK_FIELDS);
const tpm2b = Buffer.concat([Buffer.of(0, tpmt.length), tpmt]);

test('an AK loads from TPMT_PUBLIC, TPM2B_PUBLIC, PEM and DER SPKI: the same key, Name only from TPM forms', () => {
  const a = loadAttestationKey(tpmt);
  const b = loadAttestationKey(tpm2b);
  assert.equal(a.source, 'tpmt-public');
  assert.equal(b.source, 'tpm2b-public');
  assert.equal(a.description, 'ecc-p256');
  assert.equal(toHex(a.name!), '000bda17ef8188b9c30f43c525984368d3d245778db90a64c524f210e0afd3de0b69');
  const der = a.key.export({ format: 'der', type: 'spki' });
  const pem = a.key.export({ format: 'pem', type: 'spki' }) as string;
  const c = loadAttestationKey(der);
  const d = loadAttestationKey(Buffer.from(`\n${pem}`));
  assert.equal(c.source, 'spki');
  assert.equal(d.source, 'spki');
  assert.equal(c.name, undefined);
  assert.ok(c.key.equals(a.key) && d.key.equals(a.key));
  // text before the armour, as `openssl ec -pubin -text` writes it
  assert.ok(loadAttestationKey(Buffer.from(`Public-Key: (256 bit)\nASN1 OID: prime256v1\n${pem}`)).key.equals(a.key));
});

test('loading the same bytes twice returns the cached AK (one KeyObject per AK)', () => {
  assert.equal(loadAttestationKey(Buffer.from(tpm2b)), loadAttestationKey(Buffer.from(tpm2b)));
});

test('an RSA key with an exponent no TPM key has (1, even) is AK_INVALID: with e = 1 anyone could forge a signature', async () => {
  const { createPublicKey } = await import('node:crypto');
  const { akFromTpmPublic } = await import('../../src/verify/ak.js');
  const { parseTpmtPublic } = await import('../../src/tpm/public.js');
  const n = freshKeyPair('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }).n!;
  for (const e of [1, 2, 65536]) {
    const eB64 = Buffer.from(e.toString(16).padStart(e > 255 ? 6 : 2, '0'), 'hex').toString('base64url');
    const spki = createPublicKey({ key: { kty: 'RSA', n, e: eB64 }, format: 'jwk' }).export({ format: 'der', type: 'spki' });
    assert.match(assertThrowsCode(() => loadAttestationKey(spki), 'AK_INVALID').message, new RegExp(`exponent ${e} is not one a TPM key has`));
    // the same from a TPM public area (exponent field, 0 meaning 65537)
    const area = Buffer.concat([Buffer.from('0001000b00050072000000100014000b08000000', 'hex').subarray(0, 16), Buffer.from('0800', 'hex'), Buffer.alloc(4), Buffer.from('0100', 'hex'), Buffer.from(n, 'base64url')]);
    area.writeUInt32BE(e, 18);
    assertThrowsCode(() => akFromTpmPublic(parseTpmtPublic(area)), 'AK_INVALID');
  }
  const ok = Buffer.concat([Buffer.from('0001000b00050072000000100014000b0800', 'hex'), Buffer.alloc(4), Buffer.from('0100', 'hex'), Buffer.from(n, 'base64url')]);
  assert.equal(akFromTpmPublic(parseTpmtPublic(ok)).description, 'rsa-2048', 'exponent 0 is 65537');
});

test('certificates give their subject key; RSA sizes and curves outside the AK set are AK_UNSUPPORTED', () => {
  const small = freshKeyPair('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }) as string;
  assertThrowsCode(() => akFromPem(small), 'AK_UNSUPPORTED');
  const p521 = freshKeyPair('ec', { namedCurve: 'P-521' }).publicKey.export({ format: 'der', type: 'spki' });
  assertThrowsCode(() => loadAttestationKey(p521), 'AK_UNSUPPORTED');
  const ed = freshKeyPair('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  assertThrowsCode(() => loadAttestationKey(ed), 'AK_UNSUPPORTED');
  const rsa = loadAttestationKey(freshKeyPair('rsa', { modulusLength: 3072 }).publicKey.export({ format: 'der', type: 'spki' }));
  assert.equal(rsa.description, 'rsa-3072');
});

test('garbage is AK_INVALID; a malformed TPM public area keeps its TPM parse code', () => {
  assertThrowsCode(() => loadAttestationKey(Buffer.from('hello')), 'AK_INVALID');
  assertThrowsCode(() => loadAttestationKey(Buffer.from('3003020100', 'hex')), 'AK_INVALID');
  assertThrowsCode(() => loadAttestationKey(Buffer.from('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')), 'AK_INVALID');
  assertThrowsCode(() => loadAttestationKey(tpmt.subarray(0, 20)), 'TPM_TRUNCATED');
  // a template: no point
  const template = Buffer.concat([tpmt.subarray(0, tpmt.length - 68), Buffer.from('00000000', 'hex')]);
  assertThrowsCode(() => loadAttestationKey(template), 'AK_INVALID');
  // a point not on the curve
  const offCurve = Buffer.from(tpmt);
  offCurve[offCurve.length - 1]! ^= 1;
  assertThrowsCode(() => loadAttestationKey(offCurve), 'AK_INVALID');
});
