// Interop with a real TPM: a fresh swtpm, AKs from tpm2_createak (ECC P-256,
// RSA-2048 RSASSA, RSA-2048 RSAPSS), extended PCRs, quotes over a random
// nonce, single-bank and multi-bank. Each quote is accepted; each tampering is
// rejected with its code; and on every case our verdict equals
// tpm2_checkquote's. One swtpm serves the whole file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Swtpm, requireSwtpm } from '../helpers/swtpm.js';
import { createAk, createEk, extendPcrs, flipByte, makeQuote, type AkKind, type TestAk, type TestQuote } from '../helpers/tpm-quotes.js';
import { loadAttestationKey } from '../../src/verify/ak.js';
import { verifyQuote } from '../../src/verify/quote.js';
import { parseSerializedPcrs } from '../../src/tpm/pcr-formats.js';
import { parseTpmtSignature } from '../../src/tpm/signature.js';

const SINGLE = 'sha256:0,1,2,3,7,10';
const MULTI = 'sha1:0,7+sha256:0,1,2,3,7,10';

interface Case {
  name: string;
  ak: string;
  akPem: string;
  msg: string;
  sig: string;
  pcrs: string;
  nonce: string;
  /** null: must verify */
  code: string | null;
}

/** Our verdict (in process, AK as TPM2B_PUBLIC) and tpm2_checkquote's (AK as PEM) on one case. */
function verdicts(tpm: Swtpm, c: Case): { ours: string; tool: string } {
  const v = verifyQuote({
    ak: loadAttestationKey(readFileSync(c.ak)),
    message: readFileSync(c.msg),
    signature: readFileSync(c.sig),
    nonce: Buffer.from(c.nonce, 'hex'),
    pcrs: parseSerializedPcrs(readFileSync(c.pcrs)).values,
  });
  const tool = spawnSync('tpm2_checkquote', ['-u', c.akPem, '-m', c.msg, '-s', c.sig, '-f', c.pcrs, '-g', 'sha256', '-q', c.nonce], { env: tpm.env, encoding: 'utf8' });
  return { ours: v.ok ? 'valid' : v.failure.code, tool: tool.status === 0 ? 'valid' : 'invalid' };
}

/** openssl dgst over the raw RSA-PSS signature bytes (TPMT_SIGNATURE minus its 6-byte header). */
function opensslPssVerdict(c: Case): 'valid' | 'invalid' {
  const sig = parseTpmtSignature(readFileSync(c.sig));
  if (sig.scheme !== 'rsapss') return 'invalid';
  const raw = `${c.sig}.raw`;
  writeFileSync(raw, sig.sig);
  const r = spawnSync('openssl', ['dgst', '-sha256', '-verify', c.akPem, '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:auto', '-signature', raw, c.msg], { encoding: 'utf8' });
  return r.status === 0 ? 'valid' : 'invalid';
}

function base(q: TestQuote): Omit<Case, 'name' | 'code'> {
  return { ak: q.ak.tpm2b, akPem: q.ak.pem, msg: q.msg, sig: q.sig, pcrs: q.pcrs, nonce: q.nonce };
}

test('swtpm interop: quotes from ECC P-256, RSA-2048 RSASSA and RSAPSS AKs verify, tampering is rejected, verdicts agree with tpm2_checkquote', async (t) => {
  if (!requireSwtpm(t)) return;
  const tpm = await Swtpm.start();
  try {
    const ek = createEk(tpm);
    const aks = new Map<AkKind, TestAk>((['ecc', 'rsassa', 'rsapss'] as const).map((k) => [k, createAk(tpm, ek, k)]));
    // a second AK of each kind: "signed by another AK" must fail on the signature, not on the scheme
    const others = new Map<AkKind, TestAk>((['ecc', 'rsassa', 'rsapss'] as const).map((k) => [k, createAk(tpm, ek, k, `${k}-other`)]));
    extendPcrs(tpm);
    // PCR data for another selection of the same size (PCR 11 instead of 10): the Keylime pcrblob weakness
    const otherSel = tpm.path('other-selection.pcrs');
    tpm.must('tpm2_pcrread', ['-o', otherSel, '-F', 'serialized', 'sha1:0,7+sha256:0,1,2,3,7,11']);
    const otherSelSingle = tpm.path('other-selection-single.pcrs');
    tpm.must('tpm2_pcrread', ['-o', otherSelSingle, '-F', 'serialized', 'sha256:0,1,2,3,7,11']);

    for (const [kind, ak] of aks) {
      for (const selection of [SINGLE, MULTI]) {
        await t.test(`${kind} ${selection}`, () => {
          const q = makeQuote(tpm, ak, selection);
          const byOther = makeQuote(tpm, others.get(kind)!, selection, q.nonce);
          const mismatchedKey = kind === 'ecc' ? aks.get('rsassa')! : aks.get('ecc')!;
          const cases: Case[] = [
            { name: 'genuine quote', ...base(q), code: null },
            { name: 'genuine quote, AK as PEM', ...base(q), ak: q.ak.pem, code: null },
            // the last byte of the message is inside the signed pcrDigest
            // RSA opens the signature to its encoded message: well formed, so this AK signed other bytes; ECDSA cannot tell
            { name: 'one flipped message byte', ...base(q), msg: flipByte(tpm, q.msg, -1, `flip-${kind}-${selection.length}.msg`), code: kind === 'ecc' ? 'QUOTE_BAD_SIGNATURE' : 'QUOTE_MESSAGE_ALTERED' },
            { name: 'wrong nonce', ...base(q), nonce: `${q.nonce.slice(0, -2)}${q.nonce.endsWith('00') ? '01' : '00'}`, code: 'QUOTE_NONCE_MISMATCH' },
            // offset 142: first byte of the first digest in a serialized PCR file (132 + 4 + 4 + 2)
            { name: 'tampered PCR value', ...base(q), pcrs: flipByte(tpm, q.pcrs, 142, `tamper-${kind}-${selection.length}.pcrs`), code: 'QUOTE_PCR_DIGEST_MISMATCH' },
            { name: 'PCR data for a different selection', ...base(q), pcrs: selection === SINGLE ? otherSelSingle : otherSel, code: 'QUOTE_PCR_SELECTION_MISMATCH' },
            { name: 'signature by another AK', ...base(byOther), ak: q.ak.tpm2b, akPem: q.ak.pem, code: 'QUOTE_BAD_SIGNATURE' },
            { name: 'mismatched key type', ...base(q), ak: mismatchedKey.tpm2b, akPem: mismatchedKey.pem, code: 'QUOTE_KEY_TYPE_MISMATCH' },
          ];
          for (const c of cases) {
            const { ours, tool } = verdicts(tpm, c);
            assert.equal(ours, c.code ?? 'valid', `${kind} ${selection}: ${c.name}: our verdict`);
            const expectedTool = c.code ? 'invalid' : 'valid';
            if (tool !== expectedTool && kind === 'rsapss' && expectedTool === 'valid') {
              // tpm2_checkquote 5.4 rejects genuine RSA-PSS quotes from libtpms (salt length = hash
              // length); OpenSSL with the PSS salt length recovered from the signature is the arbiter.
              assert.equal(opensslPssVerdict(c), 'valid', `${kind} ${selection}: ${c.name}: openssl's verdict`);
              t.diagnostic(`${kind} ${selection}: ${c.name}: tpm2_checkquote says invalid, openssl (PSS, auto salt) and vtpm-verify say valid`);
              continue;
            }
            assert.equal(tool, expectedTool, `${kind} ${selection}: ${c.name}: tpm2_checkquote's verdict`);
          }
        });
      }
    }

    await t.test('RSAPSS AK signs RSAPSS, RSASSA AK signs RSASSA (the schemes are really exercised)', () => {
      for (const kind of ['rsassa', 'rsapss'] as const) {
        const q = makeQuote(tpm, aks.get(kind)!, SINGLE);
        assert.equal(parseTpmtSignature(readFileSync(q.sig)).scheme, kind);
      }
    });

    await t.test('high-S ECDSA quotes (TPMs do not normalize S) verify', () => {
      // P-256 group order: about half of all genuine quotes have s > n/2.
      const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
      let highS = 0;
      for (let i = 0; i < 12 && highS < 1; i++) {
        const q = makeQuote(tpm, aks.get('ecc')!, SINGLE);
        const sig = parseTpmtSignature(readFileSync(q.sig));
        assert.equal(sig.scheme, 'ecdsa');
        if (sig.scheme !== 'ecdsa') return;
        if (BigInt(`0x${Buffer.from(sig.s).toString('hex')}`) <= n / 2n) continue;
        highS++;
        const c: Case = { name: 'high-S', ...base(q), code: null };
        assert.deepEqual(verdicts(tpm, c), { ours: 'valid', tool: 'valid' });
      }
      assert.equal(highS, 1, 'no high-S signature in 12 quotes (probability 2^-12)');
    });
  } finally {
    await tpm.stop();
  }
});
