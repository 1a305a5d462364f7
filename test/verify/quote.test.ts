// verifyQuote on a real swtpm quote held as annotated fixtures, and on
// structures signed here with node:crypto keys to reach the cases a TPM
// rarely produces (31-byte r, bad magic, unrestricted keys, NULL signatures).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, sign, type KeyObject } from 'node:crypto';
import { bytesOf, type Field } from '../helpers/fields.js';
import { ECC_AK_FIELDS, QUOTE_FIELDS, QUOTE_PCRS_JSON, QUOTE_SIGNATURE_FIELDS } from '../fixtures/tpm-fields.js';
import { akFromKeyObject, akFromSpki, akFromTpmPublic, loadAttestationKey } from '../../src/verify/ak.js';
import { computePcrDigest, qualifiedName, verifyQuote, verifyQuoteAsync, type QuoteInput } from '../../src/verify/quote.js';
import { verifyAttestSignature, verifySignedAttest } from '../../src/verify/attest-signature.js';
import { parseJsonPcrs } from '../../src/tpm/pcr-formats.js';
import { parsePcrSelectionText } from '../../src/tpm/pcr-selection.js';
import { parseTpmtPublic, tpmObjectName } from '../../src/tpm/public.js';
import { hashByName } from '../../src/tpm/constants.js';
import { toHex } from '../../src/util/bytes.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

const message = bytesOf(QUOTE_FIELDS);
const signature = bytesOf(QUOTE_SIGNATURE_FIELDS);
const akPublic = bytesOf(ECC_AK_FIELDS);
const nonce = Buffer.from('0011223344', 'hex');
const pcrs = () => parseJsonPcrs(JSON.stringify(QUOTE_PCRS_JSON)).values;

function codeOf(input: QuoteInput): string {
  const v = verifyQuote(input);
  return v.ok ? 'valid' : v.failure.code;
}

test('a real swtpm quote verifies: every check listed, in order, with verified fields', () => {
  const ak = loadAttestationKey(akPublic);
  const v = verifyQuote({ ak, message, signature, nonce, pcrs: pcrs() });
  assert.ok(v.ok, v.ok ? '' : v.failure.message);
  assert.deepEqual(
    v.checks.map((c) => `${c.id}:${c.status}`),
    ['quote.key-type:pass', 'quote.signature:pass', 'quote.ak-attributes:pass', 'quote.magic:pass', 'quote.type:pass', 'quote.nonce:pass', 'quote.signer:pass', 'quote.pcr-selection:pass', 'quote.pcr-digest:pass'],
  );
  assert.equal(v.clockInfo.resetCount, 1);
  assert.equal(v.firmwareVersion, 0x2019102300163636n);
  assert.equal(v.signatureHash.name, 'sha256');
  assert.equal(v.pcrs!.get('sha256')!.size, 6);
});

test('without PCR values the PCR checks are reported as skipped, not passed', () => {
  const v = verifyQuote({ ak: loadAttestationKey(akPublic), message, signature, nonce });
  assert.ok(v.ok);
  assert.deepEqual(v.checks.filter((c) => c.status === 'skip').map((c) => c.id), ['quote.pcr-selection', 'quote.pcr-digest']);
  assert.equal(v.pcrs, undefined);
});

test('each tampering gets its own code, with expected and actual', () => {
  const ak = loadAttestationKey(akPublic);
  const flipped = Buffer.from(message);
  flipped[flipped.length - 1]! ^= 1;
  assert.equal(codeOf({ ak, message: flipped, signature, nonce, pcrs: pcrs() }), 'QUOTE_BAD_SIGNATURE');
  const wrongNonce = verifyQuote({ ak, message, signature, nonce: Buffer.from('0011223345', 'hex'), pcrs: pcrs() });
  assert.ok(!wrongNonce.ok);
  assert.equal(wrongNonce.failure.code, 'QUOTE_NONCE_MISMATCH');
  assert.deepEqual([wrongNonce.failure.details['expected'], wrongNonce.failure.details['actual']], ['0011223345', '0011223344']);
  assert.ok(wrongNonce.attest, 'fields of a signed quote are returned with a later failure');
  const tampered = pcrs();
  tampered.get('sha256')!.set(7, new Uint8Array(32));
  assert.equal(codeOf({ ak, message, signature, nonce, pcrs: tampered }), 'QUOTE_PCR_DIGEST_MISMATCH');
  const extra = pcrs();
  extra.get('sha256')!.set(11, new Uint8Array(32));
  const sel = verifyQuote({ ak, message, signature, nonce, pcrs: extra });
  assert.ok(!sel.ok);
  assert.equal(sel.failure.code, 'QUOTE_PCR_SELECTION_MISMATCH');
  assert.equal(sel.failure.details['expected'], 'sha1:0,7+sha256:0,1,2,3,7,10');
  assert.equal(sel.failure.details['actual'], 'sha1:0,7+sha256:0,1,2,3,7,10,11');
  const missing = pcrs();
  missing.delete('sha1');
  assert.equal(codeOf({ ak, message, signature, nonce, pcrs: missing }), 'QUOTE_PCR_SELECTION_MISMATCH');
  const rsa = akFromKeyObject(freshKeyPair('rsa', { modulusLength: 2048 }).publicKey);
  assert.equal(codeOf({ ak: rsa, message, signature, nonce }), 'QUOTE_KEY_TYPE_MISMATCH');
  const otherEc = akFromKeyObject(freshKeyPair('ec', { namedCurve: 'P-256' }).publicKey);
  assert.equal(codeOf({ ak: otherEc, message, signature, nonce }), 'QUOTE_BAD_SIGNATURE');
});

test('the Keylime weakness: PCR values re-labeled to another selection of the same size are rejected', () => {
  // Same digests in the same order, claimed for sha256:...,11 instead of ...,10: a verifier that maps
  // by the unsigned selection would hash the same composite and accept.
  const relabeled = pcrs();
  const bank = relabeled.get('sha256')!;
  bank.set(11, bank.get(10)!);
  bank.delete(10);
  assert.equal(codeOf({ ak: loadAttestationKey(akPublic), message, signature, nonce, pcrs: relabeled }), 'QUOTE_PCR_SELECTION_MISMATCH');
});

test('bare digests ("values" format without a selection) are mapped by the signed selection only', () => {
  const ak = loadAttestationKey(akPublic);
  const json = QUOTE_PCRS_JSON;
  const bytes = Buffer.from([json.sha1['0'], json.sha1['7'], ...['0', '1', '2', '3', '7', '10'].map((k) => json.sha256[k as '0'])].join(''), 'hex');
  const v = verifyQuote({ ak, message, signature, nonce, pcrs: { kind: 'digests', bytes } });
  assert.ok(v.ok);
  assert.equal(toHex(v.pcrs!.get('sha256')!.get(7)!), json.sha256['7']);
  assert.equal(codeOf({ ak, message, signature, nonce, pcrs: { kind: 'digests', bytes: bytes.subarray(1) } }), 'QUOTE_PCR_SELECTION_MISMATCH');
});

test('qualifiedSigner with a given parent Qualified Name must match exactly', () => {
  const ak = loadAttestationKey(akPublic);
  const wrongParent = verifyQuote({ ak, message, signature, nonce, signerParentQualifiedName: Buffer.from('000b' + '00'.repeat(32), 'hex') });
  assert.equal(wrongParent.ok ? 'valid' : wrongParent.failure.code, 'QUOTE_SIGNER_MISMATCH');
  // the swtpm AK is a child of the EK; tpm2_readpublic printed the EK's Qualified Name
  const ekQn = Buffer.from('000bee47705f4992023bc2b7cb6c80f39e8ab5d680ccb7bd69a0d6102f137b5737c4', 'hex');
  const v = verifyQuote({ ak, message, signature, nonce, signerParentQualifiedName: ekQn });
  assert.ok(v.ok, v.ok ? '' : v.failure.message);
});

// ---- node-signed structures ----

const EC_PUB_TEMPLATE = (x: string, y: string, attrs = '00050072'): Field[] => [
  ['0023', 'ECC'],
  ['000b', 'nameAlg sha256'],
  [attrs, 'objectAttributes'],
  ['0000', 'authPolicy'],
  ['0010', 'symmetric NULL'],
  ['0018', 'scheme ECDSA'],
  ['000b', 'scheme hash sha256'],
  ['0003', 'P-256'],
  ['0010', 'kdf NULL'],
  ['0020', 'x.size'],
  [x, 'x'],
  ['0020', 'y.size'],
  [y, 'y'],
];

function ecKey(): { priv: KeyObject; tpmPublic: Buffer } {
  const { privateKey, publicKey } = freshKeyPair('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const hex = (s: string | undefined) => Buffer.from(s!, 'base64url').toString('hex');
  return { priv: privateKey, tpmPublic: bytesOf(EC_PUB_TEMPLATE(hex(jwk.x), hex(jwk.y))) };
}

/** A quote body (test-side bytes) with a chosen magic, type, signer and extraData. */
function quoteBytes(opts: { magic?: string; type?: string; signer?: string; extraData?: string; digest?: string } = {}): Buffer {
  const signer = opts.signer ?? '000b' + '00'.repeat(32);
  const extra = opts.extraData ?? 'aa';
  const digest = opts.digest ?? '00'.repeat(32);
  return bytesOf([
    [opts.magic ?? 'ff544347', 'magic'],
    [opts.type ?? '8018', 'type'],
    [(signer.length / 2).toString(16).padStart(4, '0') + signer, 'qualifiedSigner'],
    [(extra.length / 2).toString(16).padStart(4, '0') + extra, 'extraData'],
    ['0000000000000001' + '00000000' + '00000000' + '01', 'clockInfo'],
    ['0000000000000000', 'firmwareVersion'],
    ['00000001000b03010000', 'pcrSelect sha256:0'],
    ['0020' + digest, 'pcrDigest'],
  ]);
}

/** TPMT_SIGNATURE ECDSA-SHA256 with r and s as given (TPM2B, possibly short). */
function ecdsaSig(r: Buffer, s: Buffer): Buffer {
  const tpm2b = (b: Buffer) => Buffer.concat([Buffer.of(b.length >> 8, b.length & 0xff), b]);
  return Buffer.concat([Buffer.from('0018000b', 'hex'), tpm2b(r), tpm2b(s)]);
}

test('ECDSA r or s shorter than the curve size (a TPM2B drops leading zeros) is left-padded and verifies', () => {
  const { priv, tpmPublic } = ecKey();
  const ak = akFromTpmPublic(parseTpmtPublic(tpmPublic));
  // about 1 in 128 signatures has a leading zero byte in r or s
  for (let i = 0; i < 4000; i++) {
    const msg = quoteBytes({ extraData: i.toString(16).padStart(8, '0') });
    const p1363 = sign('sha256', msg, { key: priv, dsaEncoding: 'ieee-p1363' });
    const r = p1363.subarray(0, 32);
    const s = p1363.subarray(32);
    if (r[0] !== 0 && s[0] !== 0) continue;
    const short = ecdsaSig(r[0] === 0 ? r.subarray(1) : r, s[0] === 0 ? s.subarray(1) : s);
    assert.equal(short.length, 71);
    const v = verifyAttestSignature(ak, msg, short);
    assert.equal(v.failure, undefined);
    return;
  }
  assert.fail('no signature with a leading zero in 4000 tries');
});

// A real swtpm quote (tpm2_createak -G rsa2048 -s rsassa; tpm2_quote -l sha256:0 -q 0102) whose RSASSA
// signature starts with a zero byte: the TPM keeps it (the TPM2B is the full 256 bytes). The 798th try.
const LZ_AK = Buffer.from(
  '01180001000b00050072000000100014000b0800000000000100c1f0766f891f595986a66a054555032480497d83b810637c7894db5af9f346510d5e4d2060b3d92ddd06411fde83dc4dd995c3420ed00d0460dc903d6234363dabc38aa9223e43fa10efb710519024cf695279e0bbe2101c08fda467b488af678d47185b59ab646c1c0979609acfee6418996637e1e34af159d61fdbadfec8a05f15c98417e52f1e0c60ff73d8ff4bf7d994f4d6ba50ce141fe1cab54c22fae50437cea23fefc20865c7b0e6154941e819b8c49288121d0594bee3a21973c1ed1ec2a027d47caeac567e807a6fc31b5e12f591129128f10b2d1c95a465e97bd2702cc8a474f4c4784bd134903d8d09b26ea534ed32c0ebb0d1a352302d87fdd9',
  'hex',
);
const LZ_MSG = Buffer.from(
  'ff54434780180022000bd2ba40752ed2c823e59c952523ecf27497b6b776474b13acab2cdcb9b41ded94000201020000000000011fd1000000010000000001201910230016363600000001000b03010000002066687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925',
  'hex',
);
const LZ_SIG = Buffer.from(
  '0014000b010000d0c7a42948bdcd99621e1c7ea543585c8f56f9c414cb02a3bfbd5e9b1c31b43e63c13eca520d0f8e36ac90eea81dd63e6ffa90324e41a12e52b9d126022de665a0e7723e290e87e5d7f898cab76ffbb67d6159baab09e592de2e48f1d46f2347dffc03fb8cf6e29e56246adb37dae9db5f18199ee8295ee7c17f800bdc7e1cf4fd1532aa02f276658a954d15ec8a444c42c6d4c1dca5bfb30f3813ca74afc84c239934ccd6b70b704ce860334b44e9c126ed2ae155f4ac346eb94f0cc9e2ce4ac6c9e6204c99ff8f1d9468fcc6a0ec4589b233361afc5952741bbfaf9b06e7735fe8f2ef68d90e31dc6680b8ea7ed425b8c65804f44f4e9c4dba7222a5838c',
  'hex',
);

test('an RSA signature stripped of its leading zero byte is a bad signature of the wrong length, not an altered message', async () => {
  const ak = loadAttestationKey(LZ_AK);
  const nonce = Buffer.of(1, 2);
  assert.equal(LZ_SIG[6], 0);
  assert.equal(codeOf({ ak, message: LZ_MSG, signature: LZ_SIG, nonce }), 'valid');
  // the same integer in 255 bytes, as a TPM2B and as plain bytes: the message is the one signed
  const stripped = LZ_SIG.subarray(7);
  const short = Buffer.concat([Buffer.from('0014000b00ff', 'hex'), stripped]);
  for (const signature of [short, { scheme: 'plain' as const, hash: hashByName('sha256')!, bytes: stripped }]) {
    for (const v of [verifyQuote({ ak, message: LZ_MSG, signature, nonce }), await verifyQuoteAsync({ ak, message: LZ_MSG, signature, nonce })]) {
      assert.equal(v.ok, false);
      assert.equal(v.ok ? '' : v.failure.code, 'QUOTE_BAD_SIGNATURE');
      const check = v.checks.find((c) => c.id === 'quote.signature')!;
      assert.equal(check.expected, '256 bytes');
      assert.equal(check.actual, '255 bytes');
      assert.match(check.message, /255 bytes/);
    }
  }
});

test('a signed message that is not TPM-made or not a quote: QUOTE_BAD_MAGIC, QUOTE_NOT_A_QUOTE', () => {
  const { priv, tpmPublic } = ecKey();
  const ak = akFromTpmPublic(parseTpmtPublic(tpmPublic));
  const signed = (msg: Buffer) => {
    const p = sign('sha256', msg, { key: priv, dsaEncoding: 'ieee-p1363' });
    return ecdsaSig(p.subarray(0, 32), p.subarray(32));
  };
  const bad = quoteBytes({ magic: 'deadbeef', extraData: 'aa' });
  assert.equal(codeOf({ ak, message: bad, signature: signed(bad), nonce: Buffer.of(0xaa) }), 'QUOTE_BAD_MAGIC');
  const notQuote = quoteBytes({ type: '8017' });
  assert.equal(codeOf({ ak, message: notQuote, signature: signed(notQuote), nonce: Buffer.of(0xaa) }), 'QUOTE_NOT_A_QUOTE');
  // A signed blob that is not even a structure is a verification failure, not a crash.
  const junk = Buffer.from('not a TPMS_ATTEST');
  assert.equal(codeOf({ ak, message: junk, signature: signed(junk), nonce: Buffer.of(0xaa) }), 'QUOTE_BAD_MAGIC');
  // qualifiedSigner with another nameAlg than the AK's
  const sha1Signer = quoteBytes({ signer: '0004' + '00'.repeat(20) });
  assert.equal(codeOf({ ak, message: sha1Signer, signature: signed(sha1Signer), nonce: Buffer.of(0xaa) }), 'QUOTE_SIGNER_MISMATCH');
  // the QN of a primary key in the owner hierarchy is recognized
  const qn = toHex(qualifiedName(hashByName('sha256')!, Buffer.from('40000001', 'hex'), tpmObjectName(parseTpmtPublic(tpmPublic))));
  const primary = quoteBytes({ signer: qn });
  const v = verifyQuote({ ak, message: primary, signature: signed(primary), nonce: Buffer.of(0xaa) });
  assert.ok(v.ok);
  assert.match(v.checks.find((c) => c.id === 'quote.signer')!.message, /owner hierarchy/);
  // a pcrDigest over the right values (computePcrDigest is what the TPM does)
  const values = parseJsonPcrs(JSON.stringify({ sha256: { '0': '42'.repeat(32) } })).values;
  const digest = computePcrDigest(hashByName('sha256')!, parsePcrSelectionText('sha256:0'), values).toString('hex');
  const withDigest = quoteBytes({ digest });
  assert.equal(codeOf({ ak, message: withDigest, signature: signed(withDigest), nonce: Buffer.of(0xaa), pcrs: values }), 'valid');
});

test('an AK that is not a restricted signing key proves nothing: QUOTE_AK_NOT_RESTRICTED', () => {
  const { priv } = ecKey();
  const jwk = priv.export({ format: 'jwk' });
  const hex = (s: string | undefined) => Buffer.from(s!, 'base64url').toString('hex');
  const unrestricted = bytesOf(EC_PUB_TEMPLATE(hex(jwk.x), hex(jwk.y), '00040072'));
  const ak = akFromTpmPublic(parseTpmtPublic(unrestricted));
  const msg = quoteBytes();
  const p = sign('sha256', msg, { key: priv, dsaEncoding: 'ieee-p1363' });
  assert.equal(codeOf({ ak, message: msg, signature: ecdsaSig(p.subarray(0, 32), p.subarray(32)), nonce: Buffer.of(0xaa) }), 'QUOTE_AK_NOT_RESTRICTED');
});

test('an AK public area no TPM would create, or whose key may live outside a TPM, proves nothing', () => {
  const { priv } = ecKey();
  const jwk = priv.export({ format: 'jwk' });
  const hex = (s: string | undefined) => Buffer.from(s!, 'base64url').toString('hex');
  const msg = quoteBytes();
  const verdict = (fields: Field[], hash = 'sha256') => {
    const ak = akFromTpmPublic(parseTpmtPublic(bytesOf(fields)));
    const p = sign(hash, msg, { key: priv, dsaEncoding: 'ieee-p1363' });
    const sig = Buffer.concat([Buffer.from(`0018${hash === 'sha1' ? '0004' : '000b'}0020`, 'hex'), p.subarray(0, 32), Buffer.from('0020', 'hex'), p.subarray(32)]);
    const v = verifyQuote({ ak, message: msg, signature: sig, nonce: Buffer.of(0xaa) });
    return v.ok ? 'valid' : `${v.failure.code}: ${v.failure.message}`;
  };
  const base = EC_PUB_TEMPLATE(hex(jwk.x), hex(jwk.y));
  assert.equal(verdict(base), 'valid');
  // restricted|sign|decrypt: a TPM refuses it
  assert.match(verdict(EC_PUB_TEMPLATE(hex(jwk.x), hex(jwk.y), '00070072')), /^QUOTE_AK_NOT_RESTRICTED: .*also decrypts/);
  // a NULL scheme (a TPM refuses it for a restricted signing key): a SHA-1 signature would otherwise pass unchecked
  const nullScheme = base.flatMap((f): Field[] => (f[1] === 'scheme ECDSA' ? [['0010', 'scheme NULL']] : f[1] === 'scheme hash sha256' ? [] : [f]));
  assert.match(verdict(nullScheme, 'sha1'), /^QUOTE_AK_NOT_RESTRICTED: .*no signing scheme/);
  // an ECDH scheme is no signing scheme: the signature's scheme differs from it first
  const ecdh = base.map((f): Field => (f[1] === 'scheme ECDSA' ? ['0019', 'scheme ECDH'] : f));
  assert.match(verdict(ecdh), /^QUOTE_SCHEME_MISMATCH: /);
  // restricted|sign|userWithAuth without fixedTPM, fixedParent, sensitiveDataOrigin: imported or duplicable
  // (the message names the attributes missing)
  for (const [attrs, missing] of [
    ['00050040', 'fixedTPM, fixedParent, sensitiveDataOrigin'],
    ['00050070', 'fixedTPM'],
    ['00050052', 'sensitiveDataOrigin'],
    ['00050062', 'fixedParent'],
  ] as const) {
    assert.match(verdict(EC_PUB_TEMPLATE(hex(jwk.x), hex(jwk.y), attrs)), new RegExp(`^QUOTE_AK_NOT_FIXED: .*\\(${missing} clear\\)`), attrs);
  }
});

test('scheme fixed by the AK: a signature with another hash is QUOTE_SCHEME_MISMATCH; NULL signature is QUOTE_BAD_SIGNATURE', () => {
  const { priv, tpmPublic } = ecKey();
  const ak = akFromTpmPublic(parseTpmtPublic(tpmPublic));
  const msg = quoteBytes();
  const p = sign('sha384', msg, { key: priv, dsaEncoding: 'ieee-p1363' });
  const sha384 = Buffer.concat([Buffer.from('0018000c0020', 'hex'), p.subarray(0, 32), Buffer.from('0020', 'hex'), p.subarray(32)]);
  assert.equal(codeOf({ ak, message: msg, signature: sha384, nonce: Buffer.of(0xaa) }), 'QUOTE_SCHEME_MISMATCH');
  // a plain signature names no scheme, but the hash it is checked with must be the key's
  const der = sign('sha384', msg, priv);
  assert.equal(codeOf({ ak, message: msg, signature: { scheme: 'plain', hash: hashByName('sha384')!, bytes: der }, nonce: Buffer.of(0xaa) }), 'QUOTE_SCHEME_MISMATCH');
  assert.equal(codeOf({ ak, message: msg, signature: { scheme: 'plain', hash: hashByName('sha256')!, bytes: sign('sha256', msg, priv) }, nonce: Buffer.of(0xaa) }), 'valid');
  // without the TPM public area nothing fixes the scheme: the same signature verifies
  const spki = akFromSpki(ak.key.export({ format: 'der', type: 'spki' }));
  assert.equal(codeOf({ ak: spki, message: msg, signature: sha384, nonce: Buffer.of(0xaa) }), 'valid');
  assert.equal(codeOf({ ak, message: msg, signature: Buffer.from('0010', 'hex'), nonce: Buffer.of(0xaa) }), 'QUOTE_BAD_SIGNATURE');
});

test('RSA: PKCS#1 v1.5 and PSS with either salt length; plain signatures; wrong-length signatures fail cleanly', () => {
  const { privateKey, publicKey } = freshKeyPair('rsa', { modulusLength: 2048 });
  const ak = akFromKeyObject(publicKey);
  const msg = quoteBytes();
  const rsaSig = (alg: string, sig: Buffer) => Buffer.concat([Buffer.from(alg + '000b0100', 'hex'), sig]);
  const pkcs1 = sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  assert.equal(codeOf({ ak, message: msg, signature: rsaSig('0014', pkcs1), nonce: Buffer.of(0xaa) }), 'valid');
  for (const saltLength of [32, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
    const pss = sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    assert.equal(codeOf({ ak, message: msg, signature: rsaSig('0016', pss), nonce: Buffer.of(0xaa) }), 'valid', `salt ${saltLength}`);
  }
  // a PKCS#1 signature presented as PSS does not verify
  assert.equal(codeOf({ ak, message: msg, signature: rsaSig('0016', pkcs1), nonce: Buffer.of(0xaa) }), 'QUOTE_BAD_SIGNATURE');
  // one changed message byte: this key signed other bytes (both paddings); another key's signature: not this key
  const altered = Buffer.from(msg);
  altered[altered.length - 1]! ^= 1;
  assert.equal(codeOf({ ak, message: altered, signature: rsaSig('0014', pkcs1), nonce: Buffer.of(0xaa) }), 'QUOTE_MESSAGE_ALTERED');
  // the failure names what differs: the digest PKCS#1 v1.5 signed (read from the signature) and the given message's
  const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  const alteredV = verifyQuote({ ak, message: altered, signature: rsaSig('0014', pkcs1), nonce: Buffer.of(0xaa) });
  assert.ok(!alteredV.ok);
  assert.equal(alteredV.failure.details['expected'], `sha256 ${sha256(msg)} (the digest this signature covers)`);
  assert.equal(alteredV.failure.details['actual'], `sha256 ${sha256(altered)} (the digest of the message given)`);
  const alteredCheck = alteredV.checks.find((c) => c.id === 'quote.signature')!;
  assert.deepEqual([alteredCheck.expected, alteredCheck.actual], [alteredV.failure.details['expected'], alteredV.failure.details['actual']]);
  for (const saltLength of [32, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
    const pss = sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    assert.equal(codeOf({ ak, message: altered, signature: rsaSig('0016', pss), nonce: Buffer.of(0xaa) }), 'QUOTE_MESSAGE_ALTERED', `pss salt ${saltLength}`);
    // PSS signs a salted hash of the digest: only the given message's digest can be named
    const v = verifyQuote({ ak, message: altered, signature: rsaSig('0016', pss), nonce: Buffer.of(0xaa) });
    assert.ok(!v.ok);
    assert.equal(v.failure.details['actual'], `sha256 ${sha256(altered)} (the digest of the message given)`);
    assert.match(String(v.failure.details['expected']), /RSA-PSS does not reveal its digest/);
  }
  const other = freshKeyPair('rsa', { modulusLength: 2048 }).privateKey;
  assert.equal(codeOf({ ak, message: msg, signature: rsaSig('0014', sign('sha256', msg, { key: other, padding: constants.RSA_PKCS1_PADDING })), nonce: Buffer.of(0xaa) }), 'QUOTE_BAD_SIGNATURE');
  assert.equal(
    codeOf({ ak, message: msg, signature: rsaSig('0016', sign('sha256', msg, { key: other, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })), nonce: Buffer.of(0xaa) }),
    'QUOTE_BAD_SIGNATURE',
  );
  assert.equal(codeOf({ ak, message: msg, signature: { scheme: 'plain', hash: hashByName('sha256')!, bytes: pkcs1 }, nonce: Buffer.of(0xaa) }), 'valid');
  const short = Buffer.concat([Buffer.from('0014000b0004', 'hex'), Buffer.from('01020304', 'hex')]);
  assert.equal(codeOf({ ak, message: msg, signature: short, nonce: Buffer.of(0xaa) }), 'QUOTE_BAD_SIGNATURE');
});

test('plain RSA signature with an SPKI AK: PSS verifies like PKCS#1 v1.5 (nothing fixes the padding); alteration and other keys still fail', async () => {
  const { privateKey, publicKey } = freshKeyPair('rsa', { modulusLength: 2048 });
  const ak = akFromKeyObject(publicKey);
  const msg = quoteBytes();
  const plain = (bytes: Buffer) => ({ scheme: 'plain' as const, hash: hashByName('sha256')!, bytes });
  const altered = Buffer.from(msg);
  altered[altered.length - 1]! ^= 1;
  for (const saltLength of [32, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
    const pss = sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    // before: QUOTE_BAD_SIGNATURE, a genuine `tpm2_quote -f plain` from an RSAPSS AK given as PEM called forged
    assert.equal(codeOf({ ak, message: msg, signature: plain(pss), nonce: Buffer.of(0xaa) }), 'valid', `salt ${saltLength}`);
    const v = await verifyQuoteAsync({ ak, message: msg, signature: plain(pss), nonce: Buffer.of(0xaa) });
    assert.ok(v.ok, `async, salt ${saltLength}`);
    assert.match(v.checks.find((c) => c.id === 'quote.signature')!.message, /^rsapss-sha256 \(plain\)/);
    assert.equal(codeOf({ ak, message: altered, signature: plain(pss), nonce: Buffer.of(0xaa) }), 'QUOTE_MESSAGE_ALTERED', `altered, salt ${saltLength}`);
    assert.equal((await verifyQuoteAsync({ ak, message: altered, signature: plain(pss), nonce: Buffer.of(0xaa) })).ok, false);
  }
  const pkcs1 = sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  assert.equal(codeOf({ ak, message: altered, signature: plain(pkcs1), nonce: Buffer.of(0xaa) }), 'QUOTE_MESSAGE_ALTERED');
  const other = freshKeyPair('rsa', { modulusLength: 2048 }).privateKey;
  const byOther = sign('sha256', msg, { key: other, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  assert.equal(codeOf({ ak, message: msg, signature: plain(byOther), nonce: Buffer.of(0xaa) }), 'QUOTE_BAD_SIGNATURE');
  // a TPMT_SIGNATURE names its scheme: a PSS signature labelled RSASSA still fails
  const pss = sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  assert.equal(codeOf({ ak, message: msg, signature: Buffer.concat([Buffer.from('0014000b0100', 'hex'), pss]), nonce: Buffer.of(0xaa) }), 'QUOTE_BAD_SIGNATURE');
});

test('plain signature with an AK whose TPM public area fixes SM2 or EC-Schnorr: unsupported input (as its TPMT_SIGNATURE is), not a bad signature', () => {
  const { priv, tpmPublic } = ecKey();
  const msg = quoteBytes();
  const der = sign('sha256', msg, priv);
  for (const scheme of ['001b', '001c']) {
    const pub = Buffer.from(tpmPublic);
    // scheme field of the template: after type, nameAlg, attributes, authPolicy size, symmetric (offset 12)
    assert.equal(pub.subarray(12, 14).toString('hex'), '0018');
    Buffer.from(scheme, 'hex').copy(pub, 12);
    const ak = akFromTpmPublic(parseTpmtPublic(pub));
    // before: QUOTE_BAD_SIGNATURE (the bytes were checked as ECDSA)
    assertThrowsCode(() => verifyQuote({ ak, message: msg, signature: { scheme: 'plain', hash: hashByName('sha256')!, bytes: der }, nonce: Buffer.of(0xaa) }), 'TPM_UNSUPPORTED_ALG');
  }
});

test('plain signature with an AK whose TPM public area fixes a scheme that signs nothing (ECDH): the AK is refused (exit 1), not unsupported input (exit 2)', () => {
  const { priv, tpmPublic } = ecKey();
  const msg = quoteBytes();
  const der = sign('sha256', msg, priv);
  const pub = Buffer.from(tpmPublic);
  assert.equal(pub.subarray(12, 14).toString('hex'), '0018');
  Buffer.from('0019', 'hex').copy(pub, 12); // ECDH
  const ak = akFromTpmPublic(parseTpmtPublic(pub));
  // the same AK with a TPMT_SIGNATURE is a verification failure too (QUOTE_SCHEME_MISMATCH)
  const v = verifyQuote({ ak, message: msg, signature: { scheme: 'plain', hash: hashByName('sha256')!, bytes: der }, nonce: Buffer.of(0xaa) });
  assert.equal(v.ok, false);
  assert.equal(v.ok ? '' : v.failure.code, 'QUOTE_AK_NOT_RESTRICTED');
});

test('verifySignedAttest: certify with expected extraData; wrong type and extraData have their codes', () => {
  const { priv, tpmPublic } = ecKey();
  const ak = akFromTpmPublic(parseTpmtPublic(tpmPublic));
  const certify = bytesOf([
    ['ff544347', 'magic'],
    ['8017', 'CERTIFY'],
    ['0000', 'qualifiedSigner empty'],
    ['000400ff55aa', 'extraData'],
    ['0000000000000001000000000000000001', 'clockInfo'],
    ['0000000000000000', 'firmwareVersion'],
    ['0002aaaa', 'name'],
    ['0002bbbb', 'qualifiedName'],
  ]);
  const p = sign('sha256', certify, { key: priv, dsaEncoding: 'ieee-p1363' });
  const sig = ecdsaSig(p.subarray(0, 32), p.subarray(32));
  const ok = verifySignedAttest(ak, certify, sig, { type: 'certify', extraData: Buffer.from('00ff55aa', 'hex') });
  assert.ok(ok.ok);
  assert.equal(ok.attest.kind, 'certify');
  const wrongType = verifySignedAttest(ak, certify, sig, { type: 'quote' });
  assert.equal(wrongType.ok ? 'ok' : wrongType.failure.code, 'ATTEST_WRONG_TYPE');
  const wrongExtra = verifySignedAttest(ak, certify, sig, { extraData: Buffer.of(1) });
  assert.equal(wrongExtra.ok ? 'ok' : wrongExtra.failure.code, 'ATTEST_EXTRA_DATA_MISMATCH');
  const bad = verifySignedAttest(ak, Buffer.concat([certify, Buffer.of(0)]), sig);
  assert.equal(bad.ok ? 'ok' : bad.failure.code, 'ATTEST_BAD_SIGNATURE');
});

test('a malformed signature is an input error (ParseError), not a verdict', () => {
  assertThrowsCode(() => verifyQuote({ ak: loadAttestationKey(akPublic), message, signature: Buffer.from('0018000b00', 'hex'), nonce }), 'TPM_TRUNCATED');
});

test('verifyQuoteAsync (signature on the thread pool) gives exactly what verifyQuote gives, for every outcome', async () => {
  const ecc = loadAttestationKey(akPublic);
  const flipped = Buffer.from(message);
  flipped[flipped.length - 1]! ^= 1;
  const { privateKey, publicKey } = freshKeyPair('rsa', { modulusLength: 2048 });
  const rsa = akFromKeyObject(publicKey);
  const msg = quoteBytes();
  const rsaSig = (alg: string, sig: Buffer) => Buffer.concat([Buffer.from(alg + '000b0100', 'hex'), sig]);
  const pkcs1 = sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  const pss = sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  const altered = Buffer.from(msg);
  altered[altered.length - 1]! ^= 1;
  const cases: [string, QuoteInput][] = [
    ['valid ECDSA', { ak: ecc, message, signature, nonce, pcrs: pcrs() }],
    ['flipped message byte', { ak: ecc, message: flipped, signature, nonce, pcrs: pcrs() }],
    ['wrong nonce', { ak: ecc, message, signature, nonce: Buffer.from('0011223345', 'hex'), pcrs: pcrs() }],
    ['another EC key', { ak: akFromKeyObject(freshKeyPair('ec', { namedCurve: 'P-256' }).publicKey), message, signature, nonce }],
    ['key type mismatch', { ak: rsa, message, signature, nonce }],
    ['valid RSASSA', { ak: rsa, message: msg, signature: rsaSig('0014', pkcs1), nonce: Buffer.of(0xaa) }],
    ['valid RSAPSS', { ak: rsa, message: msg, signature: rsaSig('0016', pss), nonce: Buffer.of(0xaa) }],
    ['RSA message altered', { ak: rsa, message: altered, signature: rsaSig('0014', pkcs1), nonce: Buffer.of(0xaa) }],
    ['PKCS#1 presented as PSS', { ak: rsa, message: msg, signature: rsaSig('0016', pkcs1), nonce: Buffer.of(0xaa) }],
    ['wrong-length RSA signature', { ak: rsa, message: msg, signature: Buffer.concat([Buffer.from('0014000b0004', 'hex'), Buffer.from('01020304', 'hex')]), nonce: Buffer.of(0xaa) }],
    ['plain RSA signature', { ak: rsa, message: msg, signature: { scheme: 'plain', hash: hashByName('sha256')!, bytes: pkcs1 }, nonce: Buffer.of(0xaa) }],
  ];
  const outcomes = new Set<string>();
  for (const [name, input] of cases) {
    const view = (v: ReturnType<typeof verifyQuote>) =>
      JSON.stringify({ ok: v.ok, checks: v.checks, failure: v.ok ? null : { code: v.failure.code, message: v.failure.message, details: v.failure.details } }, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
    const sync = view(verifyQuote(input));
    assert.equal(view(await verifyQuoteAsync(input)), sync, name);
    outcomes.add(JSON.parse(sync).failure?.code ?? 'valid');
  }
  // the cases reach every signature outcome, so the comparison means something
  assert.deepEqual([...outcomes].sort(), ['QUOTE_BAD_SIGNATURE', 'QUOTE_KEY_TYPE_MISMATCH', 'QUOTE_MESSAGE_ALTERED', 'QUOTE_NONCE_MISMATCH', 'valid']);
});
