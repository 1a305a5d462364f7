import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeTpm12Structure } from '../../src/tpm/tpm12.js';
import { loadAttestationKey } from '../../src/verify/ak.js';
import type { VtpmError } from '../../src/errors.js';

/** A TPM 1.2 TPM_PUBKEY of an RSA key with the default exponent (exponentSize 0), as TPM_GetPubKey returns it. */
function tpmPubkey(modulusBytes: number): Buffer {
  const parms = Buffer.alloc(12);
  parms.writeUInt32BE(modulusBytes * 8, 0); // keyLength in bits
  parms.writeUInt32BE(2, 4); // numPrimes
  parms.writeUInt32BE(0, 8); // exponentSize: 65537
  const head = Buffer.alloc(12);
  head.writeUInt32BE(1, 0); // TPM_ALG_RSA
  head.writeUInt16BE(1, 4); // TPM_ES_NONE
  head.writeUInt16BE(2, 6); // TPM_SS_RSASSAPKCS1v15_SHA1
  head.writeUInt32BE(parms.length, 8);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(modulusBytes, 0);
  return Buffer.concat([head, parms, len, Buffer.alloc(modulusBytes, 0xc5)]);
}

function quoteInfo(): Buffer {
  return Buffer.concat([Buffer.from([1, 1, 0, 0]), Buffer.from('QUOT'), Buffer.alloc(20, 1), Buffer.alloc(20, 2)]);
}

test('TPM 1.2: TPM_PUBKEY, TPM_QUOTE_INFO and TPM_QUOTE_INFO2 are recognized; near misses are not', () => {
  assert.equal(describeTpm12Structure(tpmPubkey(256)), 'a TPM 1.2 TPM_PUBKEY (RSA-2048)');
  assert.equal(describeTpm12Structure(tpmPubkey(128)), 'a TPM 1.2 TPM_PUBKEY (RSA-1024)');
  assert.equal(describeTpm12Structure(quoteInfo()), 'a TPM 1.2 TPM_QUOTE_INFO (from TPM_Quote)');
  assert.equal(describeTpm12Structure(Buffer.concat([Buffer.from([0, 0x36]), Buffer.from('QUT2'), Buffer.alloc(20), Buffer.from([0, 3, 0xff, 0, 0, 1]), Buffer.alloc(20)])), 'a TPM 1.2 TPM_QUOTE_INFO2 (from TPM_Quote2)');
  // sizes that do not add up to the file: truncated, trailing bytes, a bit length that disagrees
  const key = tpmPubkey(256);
  assert.equal(describeTpm12Structure(key.subarray(0, key.length - 1)), undefined);
  assert.equal(describeTpm12Structure(Buffer.concat([key, Buffer.from([0])])), undefined);
  const wrongBits = Buffer.from(key);
  wrongBits.writeUInt32BE(1024, 12);
  assert.equal(describeTpm12Structure(wrongBits), undefined);
  assert.equal(describeTpm12Structure(quoteInfo().subarray(0, 47)), undefined);
  assert.equal(describeTpm12Structure(Buffer.alloc(0)), undefined);
  assert.equal(describeTpm12Structure(Buffer.alloc(3, 1)), undefined);
});

test('TPM 1.2: an AK given as a TPM_PUBKEY is AK_INVALID naming it, not the generic "not PEM, DER ..."', () => {
  assert.throws(
    () => loadAttestationKey(tpmPubkey(256)),
    (err: VtpmError) => err.code === 'AK_INVALID' && err.message === 'attestation key: this is a TPM 1.2 TPM_PUBKEY (RSA-2048): vtpm-verify verifies TPM 2.0 quotes only' && err.details['tpmVersion'] === '1.2',
  );
  assert.throws(
    () => loadAttestationKey(Buffer.alloc(284, 7)),
    (err: VtpmError) => err.code === 'AK_INVALID' && /not PEM, DER SubjectPublicKeyInfo/.test(err.message) && err.details['tpmVersion'] === undefined,
  );
});
