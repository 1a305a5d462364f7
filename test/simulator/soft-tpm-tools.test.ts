// The soft TPM's output judged by the reference tools: tpm2_checkquote
// accepts its quotes (signature, nonce, PCR digest), tpm2_print decodes its
// TPMS_ATTEST and TPM2B_PUBLIC to the expected fields, and a real TPM
// (swtpm) verifies its RSA-PSS signatures, which tpm2_checkquote 5.4 cannot
// (tpm2-software/tpm2-tools#3283: it fails on genuine swtpm RSAPSS quotes too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SoftTpm, type AkSpec } from '../../src/simulator/soft-tpm.js';
import type { PcrSelectionSpec } from '../../src/simulator/marshal.js';
import { ToolDir, printedFields, requireTools } from '../helpers/tpm2-tools.js';
import { Swtpm, requireSwtpm } from '../helpers/swtpm.js';

const NONCE = createHash('sha256').update('vtpm-verify soft TPM test nonce').digest();
const SELECTION: PcrSelectionSpec = [
  { bank: 'sha256', pcrs: [23, 0, 10] },
  { bank: 'sha1', pcrs: [7, 0] },
];
// tpm2_checkquote -l for SELECTION, and the order in which it reads -f values
const SELECTION_ARG = 'sha256:0,10,23+sha1:0,7';

function pcrValuesFile(tpm: SoftTpm): Buffer {
  return Buffer.concat([0, 10, 23].map((i) => tpm.readPcr('sha256', i)).concat([0, 7].map((i) => tpm.readPcr('sha1', i))));
}

function measuredTpm(ak: AkSpec): SoftTpm {
  const tpm = SoftTpm.create({ ak });
  tpm.extendData(0, Buffer.from('firmware'));
  tpm.extendData(7, Buffer.from('secure boot'));
  tpm.extendData(10, Buffer.from('ima'));
  tpm.extend('sha256', 23, createHash('sha256').update('vplatform').digest());
  return tpm;
}

/** Runs tpm2_checkquote on a soft-TPM quote; returns the tool's exit status and stderr. */
function checkquote(dir: ToolDir, tpm: SoftTpm, q: { message: Uint8Array; signature: Uint8Array }, opts: { nonce?: Uint8Array; pcrs?: Uint8Array } = {}) {
  const args = ['-u', dir.file('ak.pem', tpm.akPublicPem()), '-m', dir.file('q.msg', q.message), '-s', dir.file('q.sig', q.signature)];
  args.push('-q', Buffer.from(opts.nonce ?? NONCE).toString('hex'), '-g', tpm.signing.hash);
  if (opts.pcrs) args.push('-f', dir.file('pcrs.bin', opts.pcrs), '-l', SELECTION_ARG);
  return dir.run('tpm2_checkquote', args);
}

const CHECKQUOTE_CASES: Array<[string, AkSpec]> = [
  ['ECDSA P-256', { type: 'ecc' }],
  ['ECDSA P-384 (SHA-384)', { type: 'ecc', curve: 'p384' }],
  ['RSASSA RSA-2048', { type: 'rsa', bits: 2048, scheme: 'rsassa' }],
];

for (const [name, ak] of CHECKQUOTE_CASES) {
  test(`tpm2_checkquote accepts a soft-TPM quote: ${name}, signature + nonce + PCR digest`, (t) => {
    if (!requireTools(t, 'tpm2_checkquote')) return;
    const dir = new ToolDir();
    try {
      const tpm = measuredTpm(ak);
      const q = tpm.quote(NONCE, SELECTION);
      const ok = checkquote(dir, tpm, q, { pcrs: pcrValuesFile(tpm) });
      assert.equal(ok.status, 0, ok.stderr);
      // The same tool rejects a wrong nonce and wrong PCR values: the acceptance above means something.
      const wrongNonce = checkquote(dir, tpm, q, { nonce: Buffer.alloc(32, 1) });
      assert.notEqual(wrongNonce.status, 0);
      tpm.extendData(10, Buffer.from('one more file'));
      const wrongPcrs = checkquote(dir, tpm, q, { pcrs: pcrValuesFile(tpm) });
      assert.notEqual(wrongPcrs.status, 0);
    } finally {
      dir.remove();
    }
  });
}

test('high-S ECDSA signatures appear (TPMs do not normalize s) and tpm2_checkquote accepts one', (t) => {
  if (!requireTools(t, 'tpm2_checkquote')) return;
  const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const tpm = measuredTpm({ type: 'ecc' });
  let highS: { message: Buffer; signature: Buffer } | undefined;
  let lowS = 0;
  for (let i = 0; i < 200 && !highS; i++) {
    const q = tpm.quote(NONCE, SELECTION);
    // TPMT_SIGNATURE: sigAlg u16, hash u16, r TPM2B, s TPM2B
    const rLen = q.signature.readUInt16BE(4);
    assert.equal(rLen, 32, 'r is padded to the curve size');
    const sLen = q.signature.readUInt16BE(6 + rLen);
    assert.equal(sLen, 32, 's is padded to the curve size');
    const s = BigInt(`0x${q.signature.subarray(8 + rLen).toString('hex')}`);
    if (s > n / 2n) highS = q;
    else lowS++;
  }
  assert.ok(highS, 'no high-S signature in 200 quotes (probability 2^-200)');
  const dir = new ToolDir();
  try {
    const r = checkquote(dir, tpm, highS, { pcrs: pcrValuesFile(tpm) });
    assert.equal(r.status, 0, r.stderr);
  } finally {
    dir.remove();
  }
  t.diagnostic(`first high-S signature after ${lowS} low-S one(s)`);
});

test('tpm2_print decodes the soft TPM\'s TPMS_ATTEST to the expected fields', (t) => {
  if (!requireTools(t, 'tpm2_print')) return;
  let now = 1_000;
  const tpm = SoftTpm.create({ now: () => now, clock: 5_000, resetCount: 3, restartCount: 2, firmwareVersion: 0x2019102300163636n });
  now += 1_234;
  const q = tpm.quote(NONCE, SELECTION);
  const dir = new ToolDir();
  try {
    const r = dir.run('tpm2_print', ['-t', 'TPMS_ATTEST', dir.file('q.msg', q.message)]);
    assert.equal(r.status, 0, r.stderr);
    const f = printedFields(r.stdout);
    assert.equal(f.get('magic'), 'ff544347');
    assert.equal(f.get('type'), '8018');
    assert.equal(f.get('qualifiedSigner'), tpm.akQualifiedName.toString('hex'));
    assert.equal(f.get('extraData'), NONCE.toString('hex'));
    assert.equal(f.get('clockInfo.clock'), '6234');
    assert.equal(f.get('clockInfo.resetCount'), '3');
    assert.equal(f.get('clockInfo.restartCount'), '2');
    assert.equal(f.get('clockInfo.safe'), '1');
    // tpm2_print shows firmwareVersion's bytes in host (little-endian) order, as it does for swtpm quotes.
    assert.equal(f.get('firmwareVersion'), '3636160023101920');
    assert.equal(f.get('attested.quote.pcrSelect.count'), '2');
    assert.equal(f.get('attested.quote.pcrSelect.pcrSelections.0.hash'), '11 (sha256)');
    assert.equal(f.get('attested.quote.pcrSelect.pcrSelections.0.sizeofSelect'), '3');
    assert.equal(f.get('attested.quote.pcrSelect.pcrSelections.0.pcrSelect'), '010480'); // PCRs 0, 10, 23
    assert.equal(f.get('attested.quote.pcrSelect.pcrSelections.1.hash'), '4 (sha1)');
    assert.equal(f.get('attested.quote.pcrSelect.pcrSelections.1.pcrSelect'), '810000'); // PCRs 0, 7
    assert.equal(f.get('attested.quote.pcrDigest'), q.pcrDigest.toString('hex'));
  } finally {
    dir.remove();
  }
});

const PUBLIC_CASES: Array<[string, AkSpec, Record<string, string>]> = [
  ['ECC P-256', { type: 'ecc' }, { 'type.value': 'ecc', 'curve-id.value': 'NIST p256', 'scheme.value': 'ecdsa', 'scheme-halg.value': 'sha256' }],
  ['ECC P-384', { type: 'ecc', curve: 'p384' }, { 'type.value': 'ecc', 'curve-id.value': 'NIST p384', 'scheme.value': 'ecdsa', 'scheme-halg.value': 'sha384' }],
  ['RSA-2048 RSASSA', { type: 'rsa', scheme: 'rsassa' }, { 'type.value': 'rsa', bits: '2048', exponent: '65537', 'scheme.value': 'rsassa' }],
  ['RSA-3072 RSAPSS', { type: 'rsa', bits: 3072, scheme: 'rsapss' }, { 'type.value': 'rsa', bits: '3072', exponent: '65537', 'scheme.value': 'rsapss' }],
  ['RSA-4096 RSASSA SHA-384', { type: 'rsa', bits: 4096, scheme: 'rsassa', hash: 'sha384' }, { 'type.value': 'rsa', bits: '4096', 'scheme-halg.value': 'sha384' }],
];

for (const [name, ak, expected] of PUBLIC_CASES) {
  test(`tpm2_print decodes the AK's TPM2B_PUBLIC: ${name}, restricted signing attributes`, (t) => {
    if (!requireTools(t, 'tpm2_print')) return;
    const tpm = SoftTpm.create({ ak });
    const dir = new ToolDir();
    try {
      const r = dir.run('tpm2_print', ['-t', 'TPM2B_PUBLIC', dir.file('ak.pub', tpm.akPublic2b)]);
      assert.equal(r.status, 0, r.stderr);
      const f = printedFields(r.stdout);
      assert.equal(f.get('name-alg.value'), 'sha256');
      assert.equal(f.get('attributes.value'), 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign');
      assert.equal(f.get('attributes.raw'), '0x50072');
      assert.equal(f.get('sym-alg.value'), 'null');
      for (const [k, v] of Object.entries(expected)) assert.equal(f.get(k), v, k);
      const jwk = tpm.akPublicKey.export({ format: 'jwk' });
      if (jwk.kty === 'EC') {
        assert.equal(f.get('x'), Buffer.from(jwk.x!, 'base64url').toString('hex'));
        assert.equal(f.get('y'), Buffer.from(jwk.y!, 'base64url').toString('hex'));
      } else {
        assert.equal(f.get('rsa'), Buffer.from(jwk.n!, 'base64url').toString('hex'));
      }
    } finally {
      dir.remove();
    }
  });
}

test('RSA-PSS quotes: salt = digest size like libtpms; openssl and a real TPM (swtpm) verify them', async (t) => {
  if (!requireTools(t, 'openssl', 'tpm2_print')) return;
  const tpm = measuredTpm({ type: 'rsa', scheme: 'rsapss' });
  const q = tpm.quote(NONCE, SELECTION);
  assert.equal(q.signature.readUInt16BE(0), 0x0016, 'sigAlg TPM_ALG_RSAPSS');
  const dir = new ToolDir();
  try {
    const pem = dir.file('ak.pem', tpm.akPublicPem());
    const msg = dir.file('q.msg', q.message);
    const raw = dir.file('q.raw', q.signature.subarray(6)); // TPMT_SIGNATURE header (alg, hash, size) stripped
    const verify = (salt: string) =>
      dir.run('openssl', ['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', `rsa_pss_saltlen:${salt}`, '-verify', pem, '-signature', raw, msg]);
    assert.equal(verify('32').status, 0, 'salt length 32 (the digest size)');
    assert.notEqual(verify('222').status, 0, 'not the maximum salt length');
    if (!requireSwtpm(t)) return;
    const swtpm = await Swtpm.start();
    try {
      swtpm.must('tpm2_loadexternal', ['-C', 'o', '-G', 'rsa', '-u', pem, '-c', swtpm.path('ak.ctx')], { flush: false });
      const verifyInTpm = (sig: Uint8Array) =>
        swtpm.run('tpm2_verifysignature', ['-c', swtpm.path('ak.ctx'), '-g', 'sha256', '-m', msg, '-s', dir.file('q.sig', sig), '-t', swtpm.path('ticket')], { flush: false });
      const good = verifyInTpm(q.signature);
      assert.equal(good.status, 0, good.stderr);
      const flipped = Buffer.from(q.signature);
      flipped[flipped.length - 1]! ^= 0x01;
      assert.notEqual(verifyInTpm(flipped).status, 0, 'a flipped bit fails in the TPM');
    } finally {
      await swtpm.stop();
    }
  } finally {
    dir.remove();
  }
});

test('the EK and AK public areas, Names and Qualified Names equal what a real TPM (swtpm) makes for the same keys', async (t) => {
  if (!requireSwtpm(t)) return;
  const { akPublicArea, ekPublicArea, encodePublic, encodePublic2b, objectName, qualifiedName, handleName, TPM_RH } = await import('../../src/simulator/marshal.js');
  const { createPublicKey } = await import('node:crypto');
  const { readFileSync } = await import('node:fs');
  const swtpm = await Swtpm.start();
  try {
    swtpm.must('tpm2_createek', ['-c', swtpm.path('ek.ctx'), '-G', 'ecc', '-u', swtpm.path('ek.pub')]);
    swtpm.must('tpm2_createak', ['-C', swtpm.path('ek.ctx'), '-c', swtpm.path('ak.ctx'), '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', swtpm.path('ak.pub'), '-f', 'tss']);
    const akInfo = swtpm.must('tpm2_readpublic', ['-c', swtpm.path('ak.ctx'), '-f', 'pem', '-o', swtpm.path('ak.pem')]);
    const ekInfo = swtpm.must('tpm2_readpublic', ['-c', swtpm.path('ek.ctx'), '-f', 'pem', '-o', swtpm.path('ek.pem')]);
    const field = (text: string, key: string) => new RegExp(`^${key}: ([0-9a-f]+)$`, 'm').exec(text)?.[1];

    const ek = ekPublicArea(createPublicKey(readFileSync(swtpm.path('ek.pem'))));
    assert.equal(encodePublic2b(ek).toString('hex'), readFileSync(swtpm.path('ek.pub')).toString('hex'), 'EK TPM2B_PUBLIC');
    const ekName = objectName('sha256', encodePublic(ek));
    assert.equal(ekName.toString('hex'), field(ekInfo, 'name'));
    const ekQn = qualifiedName('sha256', handleName(TPM_RH.ENDORSEMENT), ekName);
    assert.equal(ekQn.toString('hex'), field(ekInfo, 'qualified name'));

    const ak = akPublicArea(createPublicKey(readFileSync(swtpm.path('ak.pem'))), { scheme: 'ecdsa', hash: 'sha256' });
    assert.equal(encodePublic2b(ak).toString('hex'), readFileSync(swtpm.path('ak.pub')).toString('hex'), 'AK TPM2B_PUBLIC');
    const akName = objectName('sha256', encodePublic(ak));
    assert.equal(akName.toString('hex'), field(akInfo, 'name'));
    assert.equal(qualifiedName('sha256', ekQn, akName).toString('hex'), field(akInfo, 'qualified name'));
  } finally {
    await swtpm.stop();
  }
});
