// The TPM structure writers, byte for byte against structures a real TPM
// produced (swtpm 0.7.1 / libtpms, via tpm2-tools 5.4 in this project's
// development session), and against annotated hex.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import {
  TpmWriter,
  akPublicArea,
  encodeCertifyAttest,
  encodePcrSelection,
  encodePublic,
  encodePublic2b,
  encodeQuoteAttest,
  encodeSignature,
  keyComponents,
  objectName,
  AK_ATTRIBUTES,
  EK_ATTRIBUTES,
} from '../../src/simulator/marshal.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

// tpm2_createak -G ecc -g sha256 -s ecdsa -f tss: the AK's TPM2B_PUBLIC, and `-n` its Name.
const SWTPM_AK_PUBLIC = hex(
  [
    '0058', // TPM2B_PUBLIC.size
    '0023', // type TPM_ALG_ECC
    '000b', // nameAlg SHA-256
    '00050072', // objectAttributes fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|sign
    '0000', // authPolicy (empty)
    '0010', // symmetric TPM_ALG_NULL
    '0018000b', // scheme ECDSA with SHA-256
    '0003', // curveID NIST P-256
    '0010', // kdf TPM_ALG_NULL
    '00202631fd4e4730e4a0f3cefc8a2566bfffbb1e8f75e13f813a39c4240a1c24b927', // unique.x
    '00205a4fbc710394aba3cdbfa8093474d66cdf6b9fef9c67fbc5531cd821a0a9cfe3', // unique.y
  ].join(''),
);
const SWTPM_AK_NAME = hex('000b0a3f344e5371dbef5ae9760e1dc37fae1891c2a948f76f2c70eab8ee3bcc4a79');

// tpm2_quote -l sha256:0,1,23+sha1:7 -q 0011..eeff0011..eeff -m / -s with that TPM's AK (a high-S signature).
const SWTPM_QUOTE = hex(
  'ff54434780180022000b91eb6775e5726c56018cc25ee2e3609ad4f5bf20715711ae8ef75f79e560ce6c002000112233445566778899aabbccddeeff00112233445566778899aabbccddeeff' +
    '0000000000001120000000010000000001201910230016363600000002000b0303008000040380000000205b517952cbe9c4c147bc3f3434f9d82409e76d09ea58905aefe7fb5415912d9a',
);
const SWTPM_SIGNATURE = hex(
  '0018000b00200b882cd92450fd6e5013123eb3e2bfbc80dd797dcc4ce942de14537532addbd50020ffc484c63b0f8daf6377a36d593fe4eadc13654623fa02636222c2959e5a505f',
);

test('TPM2B_PUBLIC and the Name of an ECC AK equal what swtpm produced', () => {
  const x = SWTPM_AK_PUBLIC.subarray(24, 56);
  const y = SWTPM_AK_PUBLIC.subarray(58, 90);
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: x.toString('base64url'), y: y.toString('base64url') }, format: 'jwk' });
  const area = akPublicArea(key, { scheme: 'ecdsa', hash: 'sha256' });
  assert.equal(area.attributes, AK_ATTRIBUTES);
  assert.equal(AK_ATTRIBUTES, 0x00050072);
  assert.equal(EK_ATTRIBUTES, 0x000300b2);
  assert.equal(encodePublic2b(area).toString('hex'), SWTPM_AK_PUBLIC.toString('hex'));
  assert.equal(objectName('sha256', encodePublic(area)).toString('hex'), SWTPM_AK_NAME.toString('hex'));
});

test('TPMS_ATTEST (quote) and TPMT_SIGNATURE equal what swtpm produced from the same fields', () => {
  const msg = encodeQuoteAttest({
    qualifiedSigner: hex('000b91eb6775e5726c56018cc25ee2e3609ad4f5bf20715711ae8ef75f79e560ce6c'),
    extraData: hex('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'),
    clockInfo: { clock: 4384n, resetCount: 1, restartCount: 0, safe: true },
    firmwareVersion: 0x2019102300163636n,
    pcrSelection: [
      { bank: 'sha256', pcrs: [0, 1, 23] },
      { bank: 'sha1', pcrs: [7] },
    ],
    pcrDigest: hex('5b517952cbe9c4c147bc3f3434f9d82409e76d09ea58905aefe7fb5415912d9a'),
  });
  assert.equal(msg.toString('hex'), SWTPM_QUOTE.toString('hex'));
  const sig = encodeSignature({
    scheme: 'ecdsa',
    hash: 'sha256',
    r: SWTPM_SIGNATURE.subarray(6, 38),
    s: SWTPM_SIGNATURE.subarray(40),
  });
  assert.equal(sig.toString('hex'), SWTPM_SIGNATURE.toString('hex'));
});

test('TPMT_SIGNATURE for RSA schemes and TPMS_ATTEST for CERTIFY, against annotated hex', () => {
  assert.equal(encodeSignature({ scheme: 'rsapss', hash: 'sha384', signature: hex('aabbcc') }).toString('hex'), '0016000c0003aabbcc');
  assert.equal(encodeSignature({ scheme: 'rsassa', hash: 'sha1', signature: hex('01') }).toString('hex'), '001400040001' + '01');
  const certify = encodeCertifyAttest({
    qualifiedSigner: hex('000b11'),
    extraData: hex('00ff55aa'),
    clockInfo: { clock: 0x0102030405060708n, resetCount: 2, restartCount: 3, safe: false },
    firmwareVersion: 1n,
    name: hex('000b22'),
    qualifiedName: hex('000b33'),
  });
  assert.equal(
    certify.toString('hex'),
    [
      'ff544347', // magic
      '8017', // TPM_ST_ATTEST_CERTIFY
      '0003000b11', // qualifiedSigner
      '000400ff55aa', // extraData
      '0102030405060708', // clock
      '00000002', // resetCount
      '00000003', // restartCount
      '00', // safe NO
      '0000000000000001', // firmwareVersion
      '0003000b22', // name
      '0003000b33', // qualifiedName
    ].join(''),
  );
});

test('TPML_PCR_SELECTION: bitmaps of sizeofSelect 3, PCR order and duplicates do not matter', () => {
  assert.equal(
    encodePcrSelection([
      { bank: 'sha256', pcrs: [23, 0, 8, 8] },
      { bank: 'sha384', pcrs: [] },
    ]).toString('hex'),
    '00000002' + '000b' + '03' + '010180' + '000c' + '03' + '000000',
  );
  assertThrowsCode(() => encodePcrSelection([{ bank: 'sha256', pcrs: [24] }]), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => encodePcrSelection([{ bank: 'md5' as 'sha1', pcrs: [1] }]), 'SIM_INVALID_ARGUMENT');
});

test('RSA public areas: keyBits from the key, exponent 0 for 65537 and kept otherwise; mismatched schemes refused', () => {
  const k2048 = freshKeyPair('rsa', { modulusLength: 2048 }).publicKey;
  const area = akPublicArea(k2048, { scheme: 'rsassa', hash: 'sha256' });
  assert.ok(area.type === 'rsa' && area.keyBits === 2048 && area.exponent === 0 && area.modulus.length === 256);
  const bytes = encodePublic(area);
  // type, nameAlg, attributes, authPolicy, symmetric, scheme+hash, keyBits, exponent, modulus
  assert.equal(bytes.subarray(0, 22).toString('hex'), '0001' + '000b' + '00050072' + '0000' + '0010' + '0014000b' + '0800' + '00000000');
  assert.equal(bytes.readUInt16BE(22), 256);
  const e3 = freshKeyPair('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey;
  const c3 = keyComponents(e3);
  assert.ok(c3.type === 'rsa' && c3.exponent === 3);
  assertThrowsCode(() => akPublicArea(k2048, { scheme: 'ecdsa', hash: 'sha256' }), 'SIM_INVALID_ARGUMENT');
  const ec = freshKeyPair('ec', { namedCurve: 'prime256v1' }).publicKey;
  assertThrowsCode(() => akPublicArea(ec, { scheme: 'rsapss', hash: 'sha256' }), 'SIM_INVALID_ARGUMENT');
  const p521 = freshKeyPair('ec', { namedCurve: 'secp521r1' }).publicKey;
  assertThrowsCode(() => keyComponents(p521), 'SIM_INVALID_ARGUMENT');
  const small = freshKeyPair('rsa', { modulusLength: 1024 }).publicKey;
  assertThrowsCode(() => keyComponents(small), 'SIM_INVALID_ARGUMENT');
});

test('TpmWriter grows, fills TPM2B sizes afterwards, and refuses values that do not fit', () => {
  const w = new TpmWriter(1);
  w.u8(1).u16(0x0203).u32(0x04050607).u64(0x08090a0b0c0d0e0fn);
  w.sized((inner) => inner.bytes(hex('aabb')).tpm2b(hex('cc')));
  assert.equal(w.finish().toString('hex'), '01' + '0203' + '04050607' + '08090a0b0c0d0e0f' + '0005' + 'aabb' + '0001cc');
  assert.equal(w.length, 22);
  assertThrowsCode(() => new TpmWriter().u8(256), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => new TpmWriter().u16(-1), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => new TpmWriter().u32(2 ** 32), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => new TpmWriter().u32(1.5), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => new TpmWriter().u64(2n ** 64n), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => new TpmWriter().tpm2b(new Uint8Array(0x10000)), 'SIM_INVALID_ARGUMENT');
});
