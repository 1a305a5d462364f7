// Soft TPM semantics: PCR extend, clock, reboot/restart/resume, state
// export/import, seeded identities, faults. Signatures are checked here with
// node:crypto; test/simulator/soft-tpm-tools.test.ts has the reference tools.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, verify, type KeyObject } from 'node:crypto';
import { SoftTpm, NV_CLOCK_UPDATE_INTERVAL_MS, type SoftTpmState } from '../../src/simulator/soft-tpm.js';
import type { PcrSelectionSpec } from '../../src/simulator/marshal.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

const NONCE = Buffer.alloc(32, 0xab);
const SEL: PcrSelectionSpec = [{ bank: 'sha256', pcrs: [0, 10, 23] }];

/** Checks a TPMT_SIGNATURE over `message` with the AK public key, independently of the simulator's code. */
function signatureValid(key: KeyObject, message: Uint8Array, tpmtSignature: Buffer): boolean {
  const alg = tpmtSignature.readUInt16BE(0);
  const hash = ({ 0x04: 'sha1', 0x0b: 'sha256', 0x0c: 'sha384', 0x0d: 'sha512' } as Record<number, string>)[tpmtSignature.readUInt16BE(2)]!;
  if (alg === 0x0018) {
    const rLen = tpmtSignature.readUInt16BE(4);
    const r = tpmtSignature.subarray(6, 6 + rLen);
    const s = tpmtSignature.subarray(8 + rLen);
    return verify(hash, message, { key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([r, s]));
  }
  const sig = tpmtSignature.subarray(6);
  if (alg === 0x0016) return verify(hash, message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig);
  return verify(hash, message, key, sig);
}

/** The fields of a TPMS_ATTEST (quote) read by offset, independently of any parser in src/. */
function attestFields(m: Buffer) {
  let at = 6;
  const signerLen = m.readUInt16BE(at);
  const qualifiedSigner = m.subarray(at + 2, at + 2 + signerLen);
  at += 2 + signerLen;
  const extraLen = m.readUInt16BE(at);
  const extraData = m.subarray(at + 2, at + 2 + extraLen);
  at += 2 + extraLen;
  const clock = m.readBigUInt64BE(at);
  const resetCount = m.readUInt32BE(at + 8);
  const restartCount = m.readUInt32BE(at + 12);
  const safe = m[at + 16];
  return { magic: m.readUInt32BE(0), type: m.readUInt16BE(4), qualifiedSigner, extraData, clock, resetCount, restartCount, safe };
}

function sha(alg: string, ...parts: Uint8Array[]): Buffer {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return h.digest();
}

test('PCRs start at the PC Client values and extend as H(old || digest) in each bank', () => {
  const tpm = SoftTpm.create();
  assert.deepEqual(tpm.banks, ['sha1', 'sha256', 'sha384']);
  assert.equal(tpm.readPcr('sha256', 0).toString('hex'), '00'.repeat(32));
  assert.equal(tpm.readPcr('sha1', 17).toString('hex'), 'ff'.repeat(20), 'PCRs 17-22 start as all ones');
  assert.equal(tpm.readPcr('sha384', 23).toString('hex'), '00'.repeat(48));
  const d = sha('sha256', Buffer.from('x'));
  tpm.extend('sha256', 23, d);
  assert.deepEqual(tpm.readPcr('sha256', 23), sha('sha256', Buffer.alloc(32), d));
  const digests = tpm.extendData(4, Buffer.from('kernel'));
  assert.deepEqual(tpm.readPcr('sha1', 4), sha('sha1', Buffer.alloc(20), sha('sha1', Buffer.from('kernel'))));
  assert.deepEqual(digests.get('sha384'), sha('sha384', Buffer.from('kernel')));
  assert.equal(SoftTpm.create({ startupLocality: 3 }).readPcr('sha256', 0).toString('hex'), `${'00'.repeat(31)}03`);
});

test('refuses what a TPM refuses: unknown bank, PCR out of range, wrong digest size, oversized nonce', () => {
  const tpm = SoftTpm.create({ banks: ['sha256'] });
  assertThrowsCode(() => tpm.extend('sha1', 0, Buffer.alloc(20)), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => tpm.extend('sha256', 24, Buffer.alloc(32)), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => tpm.extend('sha256', 1, Buffer.alloc(20)), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => tpm.quote(Buffer.alloc(67), SEL), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => tpm.quote(NONCE, [{ bank: 'sha256', pcrs: [1] }, { bank: 'sha256', pcrs: [2] }]), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => tpm.quote(NONCE, [{ bank: 'sha256', pcrs: [-1] }]), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => SoftTpm.create({ banks: ['sm3_256'] }), 'SIM_INVALID_ARGUMENT');
});

test('a quote carries the nonce, the AK Qualified Name, the clock, and H(selected PCRs) in selection order', () => {
  const tpm = SoftTpm.create();
  tpm.extendData(10, Buffer.from('a'));
  tpm.extendData(0, Buffer.from('b'));
  const sel: PcrSelectionSpec = [
    { bank: 'sha256', pcrs: [10, 0] },
    { bank: 'sha1', pcrs: [10] },
  ];
  const q = tpm.quote(NONCE, sel);
  assert.ok(signatureValid(tpm.akPublicKey, q.message, q.signature));
  const f = attestFields(q.message);
  assert.equal(f.magic, 0xff544347);
  assert.equal(f.type, 0x8018);
  assert.deepEqual(f.extraData, NONCE);
  assert.deepEqual(f.qualifiedSigner, tpm.akQualifiedName);
  assert.notDeepEqual(tpm.akQualifiedName, tpm.akName);
  const expected = sha('sha256', tpm.readPcr('sha256', 0), tpm.readPcr('sha256', 10), tpm.readPcr('sha1', 10));
  assert.deepEqual(q.pcrDigest, expected);
  assert.ok(q.message.subarray(-32).equals(expected), 'pcrDigest is the last field');
  assert.deepEqual([...q.pcrs.get('sha256')!.keys()], [0, 10]);
});

test('quotes over one selection reuse its PCR part only while those PCRs are unchanged: extend, reboot, import and adopt show at once', () => {
  const tpm = SoftTpm.create();
  const pcrDigest = (q: { message: Buffer }) => q.message.subarray(-32);
  const fresh = () => sha('sha256', tpm.readPcr('sha256', 0), tpm.readPcr('sha256', 10), tpm.readPcr('sha256', 23));
  const a = tpm.quote(NONCE, SEL);
  const b = tpm.quote(Buffer.alloc(32, 1), SEL);
  assert.equal(b.snapshot, a.snapshot, 'unchanged PCRs: the same snapshot');
  assert.deepEqual(attestFields(b.message).extraData, Buffer.alloc(32, 1), 'the nonce is the new one');
  assert.ok(signatureValid(tpm.akPublicKey, b.message, b.signature));
  tpm.extendData(5, Buffer.from('not selected'));
  assert.equal(tpm.quote(NONCE, SEL).snapshot, a.snapshot, 'a PCR outside the selection changes nothing');
  const saved = tpm.exportState();
  tpm.extendData(10, Buffer.from('selected'));
  const c = tpm.quote(NONCE, SEL);
  assert.notEqual(c.snapshot, a.snapshot);
  assert.deepEqual(pcrDigest(c), fresh());
  assert.deepEqual(c.pcrs.get('sha256')!.get(10), tpm.readPcr('sha256', 10));
  // the same selection written otherwise (order, repeats) quotes the same PCRs
  assert.deepEqual(pcrDigest(tpm.quote(NONCE, [{ bank: 'sha256', pcrs: [23, 10, 0, 10] }])), fresh());
  tpm.importState(saved);
  assert.deepEqual(pcrDigest(tpm.quote(NONCE, SEL)), pcrDigest(a), 'a restored state quotes its own values');
  tpm.reboot();
  assert.deepEqual(pcrDigest(tpm.quote(NONCE, SEL)), sha('sha256', Buffer.alloc(32), Buffer.alloc(32), Buffer.alloc(32)));
  const other = SoftTpm.create();
  other.extendData(23, Buffer.from('other'));
  tpm.adoptPcrs(other);
  assert.deepEqual(pcrDigest(tpm.quote(NONCE, SEL)), fresh());
  // what a quote reports are copies: changing them changes neither the TPM nor later quotes
  const d = tpm.quote(NONCE, SEL);
  d.pcrs.get('sha256')!.get(23)!.fill(0);
  d.pcrDigest.fill(0);
  assert.deepEqual(tpm.quote(NONCE, SEL).pcrs.get('sha256')!.get(23), other.readPcr('sha256', 23));
  assert.deepEqual(pcrDigest(tpm.quote(NONCE, SEL)), fresh());
});

test('the instance id is SHA-256 of the EK SubjectPublicKeyInfo DER; an RSA EK is available', () => {
  const tpm = SoftTpm.create();
  assert.deepEqual(tpm.instanceId, sha('sha256', tpm.ekPublicKey.export({ type: 'spki', format: 'der' })));
  assert.equal(tpm.ekPublicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const rsa = SoftTpm.create({ ek: 'rsa-2048' });
  assert.equal(rsa.ekPublicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.deepEqual(rsa.instanceId, sha('sha256', rsa.ekPublicKey.export({ type: 'spki', format: 'der' })));
});

test('every AK kind signs quotes that verify: ECDSA P-256/P-384, RSASSA, RSAPSS (digest and max salt)', () => {
  for (const ak of [
    { type: 'ecc' },
    { type: 'ecc', curve: 'p384' },
    { type: 'ecc', hash: 'sha512' },
    { type: 'rsa', scheme: 'rsassa', hash: 'sha1' },
    { type: 'rsa', scheme: 'rsapss' },
    { type: 'rsa', scheme: 'rsapss', pssSalt: 'max' },
  ] as const) {
    const tpm = SoftTpm.create({ ak });
    const q = tpm.quote(NONCE, SEL);
    assert.ok(signatureValid(tpm.akPublicKey, q.message, q.signature), JSON.stringify(ak));
    assert.equal(q.pcrDigest.length, ({ sha1: 20, sha256: 32, sha384: 48, sha512: 64 } as Record<string, number>)[tpm.signing.hash], 'PCR digest uses the signing hash');
  }
});

test('Clock advances with the time source, never runs backwards, and advanceClock moves it on', () => {
  let now = 50;
  const tpm = SoftTpm.create({ now: () => now, clock: 1_000 });
  assert.equal(tpm.clockInfo.clock, 1_000n);
  now += 250.7;
  assert.equal(tpm.clockInfo.clock, 1_250n);
  now -= 100; // a time source going back does not move Clock back
  assert.equal(tpm.clockInfo.clock, 1_250n);
  tpm.advanceClock(60_000);
  now += 100;
  assert.equal(tpm.clockInfo.clock, 61_250n);
  const q1 = attestFields(tpm.quote(NONCE, SEL).message);
  now += 5;
  const q2 = attestFields(tpm.quote(NONCE, SEL).message);
  assert.equal(q2.clock - q1.clock, 5n);
  assertThrowsCode(() => tpm.advanceClock(-1), 'SIM_INVALID_ARGUMENT');
});

test('reboot: resetCount + 1, restartCount 0, PCRs reset, Clock continues; restart and resume count restarts', () => {
  let now = 0;
  const tpm = SoftTpm.create({ now: () => now, resetCount: 4 });
  tpm.extendData(10, Buffer.from('measured'));
  now += 1_000;
  tpm.resume();
  assert.deepEqual({ ...tpm.clockInfo }, { clock: 1_000n, resetCount: 4, restartCount: 1, safe: true });
  assert.notEqual(tpm.readPcr('sha256', 10).toString('hex'), '00'.repeat(32), 'resume keeps PCRs');
  now += 1_000;
  tpm.restart();
  assert.equal(tpm.clockInfo.restartCount, 2);
  assert.equal(tpm.readPcr('sha256', 10).toString('hex'), '00'.repeat(32), 'restart resets PCRs');
  tpm.extendData(10, Buffer.from('measured'));
  now += 1_000;
  tpm.reboot();
  assert.deepEqual({ ...tpm.clockInfo }, { clock: 3_000n, resetCount: 5, restartCount: 0, safe: true });
  assert.equal(tpm.readPcr('sha256', 10).toString('hex'), '00'.repeat(32));
  assert.equal(tpm.readPcr('sha256', 17).toString('hex'), 'ff'.repeat(32));
});

test('an unorderly reboot loses Clock back to its last NV save and reports safe = NO until the next save', () => {
  let now = 0;
  const interval = NV_CLOCK_UPDATE_INTERVAL_MS;
  const tpm = SoftTpm.create({ now: () => now, clock: interval * 3 + 12_345 });
  tpm.reboot({ orderly: false });
  assert.deepEqual({ ...tpm.clockInfo }, { clock: BigInt(interval * 3), resetCount: 1, restartCount: 0, safe: false });
  const q = attestFields(tpm.quote(NONCE, SEL).message);
  assert.equal(q.safe, 0);
  now += interval - 1;
  assert.equal(tpm.clockInfo.safe, false);
  now += 1;
  assert.equal(tpm.clockInfo.safe, true);
});

test('export/import: a clone has the same identity and state; a restored backup brings back the old Clock and resetCount', () => {
  let now = 0;
  const tpm = SoftTpm.create({ now: () => now, ak: { type: 'ecc' } });
  tpm.extendData(7, Buffer.from('boot'));
  now += 10_000;
  const backup = JSON.parse(JSON.stringify(tpm.exportState())) as SoftTpmState;
  now += 5_000;
  tpm.reboot();
  tpm.reboot();
  assert.equal(tpm.clockInfo.resetCount, 2);

  let cloneNow = 0;
  const clone = SoftTpm.fromState(backup, { now: () => cloneNow });
  assert.deepEqual(clone.akName, tpm.akName);
  assert.deepEqual(clone.akQualifiedName, tpm.akQualifiedName);
  assert.deepEqual(clone.instanceId, tpm.instanceId);
  assert.deepEqual(clone.readPcr('sha256', 7), SoftTpm.fromState(backup).readPcr('sha256', 7));
  assert.deepEqual({ ...clone.clockInfo }, { clock: 10_000n, resetCount: 0, restartCount: 0, safe: true });
  cloneNow += 7;
  const q = clone.quote(NONCE, SEL);
  assert.ok(signatureValid(tpm.akPublicKey, q.message, q.signature), 'the clone signs with the original AK');
  assert.equal(attestFields(q.message).clock, 10_007n);

  tpm.importState(backup);
  assert.deepEqual({ ...tpm.clockInfo }, { clock: 10_000n, resetCount: 0, restartCount: 0, safe: true });
  assert.notEqual(tpm.readPcr('sha256', 7).toString('hex'), '00'.repeat(32), 'PCRs come back with the backup');

  assertThrowsCode(() => tpm.importState(SoftTpm.create().exportState()), 'SIM_INVALID_ARGUMENT');
  const rsa = SoftTpm.create({ ak: { type: 'rsa', scheme: 'rsapss' } });
  const rsaClone = SoftTpm.fromState(JSON.parse(JSON.stringify(rsa.exportState())));
  assert.deepEqual(rsaClone.akName, rsa.akName);
  assert.deepEqual(rsaClone.signing, rsa.signing);
});

test('a malformed saved state is SIM_STATE_INVALID', () => {
  const good = SoftTpm.create().exportState();
  const p384Key = SoftTpm.create({ ak: { type: 'ecc', curve: 'p384' } }).exportState().ak.privateKey;
  const mutate = (f: (s: any) => void) => {
    const s = JSON.parse(JSON.stringify(good));
    f(s);
    return s;
  };
  const cases: Array<(s: any) => void> = [
    (s) => (s.format = 'other'),
    (s) => (s.version = 2),
    (s) => (s.ak.privateKey = 'not a key'),
    (s) => (s.ak.privateKey.d = 'AAAA'),
    (s) => delete s.ak.privateKey.d,
    (s) => (s.ak.scheme = 'rsassa2'),
    (s) => (s.clock.clock = '-1'),
    (s) => (s.clock.clock = 12),
    (s) => (s.clock.resetCount = 2 ** 32),
    (s) => (s.clock.safe = 'yes'),
    (s) => (s.pcrs.sha256 = s.pcrs.sha256.slice(1)),
    (s) => (s.pcrs.sha256[3] = 'zz'),
    (s) => (s.pcrs = {}),
    (s) => (s.pcrs.md5 = s.pcrs.sha1),
    (s) => (s.firmwareVersion = '18446744073709551616'),
    (s) => (s.startupLocality = 2),
    (s) => (s.ak.scheme = 'rsassa'), // an ECC key
    (s) => (s.ek.privateKey = p384Key), // not an EK template key
  ];
  for (const c of cases) assertThrowsCode(() => SoftTpm.fromState(mutate(c)), 'SIM_STATE_INVALID');
  assertThrowsCode(() => SoftTpm.fromState(null), 'SIM_STATE_INVALID');
  assertThrowsCode(() => SoftTpm.fromState([]), 'SIM_STATE_INVALID');
});

test('a seed gives a reproducible ECC identity; RSA keys cannot be seeded', () => {
  const a = SoftTpm.create({ seed: 'vm-1' });
  const b = SoftTpm.create({ seed: 'vm-1' });
  const c = SoftTpm.create({ seed: 'vm-2' });
  assert.deepEqual(a.akName, b.akName);
  assert.deepEqual(a.instanceId, b.instanceId);
  assert.notDeepEqual(a.akName, c.akName);
  assert.notDeepEqual(a.instanceId, c.instanceId);
  assert.notDeepEqual(a.akPublicKey.export({ format: 'jwk' }), a.ekPublicKey.export({ format: 'jwk' }), 'AK and EK are different keys');
  const q = a.quote(NONCE, SEL);
  assert.ok(signatureValid(b.akPublicKey, q.message, q.signature));
  assert.deepEqual(SoftTpm.create({ seed: 'vm-1', ak: { type: 'ecc', curve: 'p384' } }).instanceId, a.instanceId, 'the EK does not depend on the AK kind');
  assertThrowsCode(() => SoftTpm.create({ seed: 'x', ak: { type: 'rsa' } }), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => SoftTpm.create({ seed: 'x', ek: 'rsa-2048' }), 'SIM_INVALID_ARGUMENT');
});

test('faults are explicit per quote: a foreign signer, a wrong nonce, a wrong PCR digest, a corrupted signature', () => {
  const tpm = SoftTpm.create();
  const honest = tpm.quote(NONCE, SEL);
  assert.ok(signatureValid(tpm.akPublicKey, honest.message, honest.signature));

  const other = freshKeyPair('ec', { namedCurve: 'prime256v1' }).privateKey;
  const forged = tpm.quote(NONCE, SEL, { signingKey: other });
  assert.equal(signatureValid(tpm.akPublicKey, forged.message, forged.signature), false);

  const replayed = tpm.quote(NONCE, SEL, { extraData: Buffer.alloc(32, 1) });
  assert.ok(signatureValid(tpm.akPublicKey, replayed.message, replayed.signature), 'validly signed');
  assert.deepEqual(attestFields(replayed.message).extraData, Buffer.alloc(32, 1));

  const badDigest = tpm.quote(NONCE, SEL, { pcrDigest: Buffer.alloc(32) });
  assert.ok(badDigest.message.subarray(-32).equals(Buffer.alloc(32)));
  assert.notDeepEqual(badDigest.pcrDigest, Buffer.alloc(32), 'the result still reports the true digest');

  const corrupted = tpm.quote(NONCE, SEL, { corruptSignature: true });
  assert.equal(signatureValid(tpm.akPublicKey, corrupted.message, corrupted.signature), false);

  // No hidden state: the next quote without faults is honest again.
  const after = tpm.quote(NONCE, SEL);
  assert.ok(signatureValid(tpm.akPublicKey, after.message, after.signature));
  assert.deepEqual(attestFields(after.message).extraData, NONCE);
});
