// Interop beyond quote-swtpm.test.ts's P-256/RSA-2048 AKs: a fresh swtpm,
// AKs of other sizes, hashes and hierarchies (RSA-3072 RSASSA-SHA384, P-384
// ECDSA-SHA384, RSA-2048 RSASSA-SHA1 under the EK, a restricted P-256 primary
// of the owner hierarchy), three banks with every PCR, nonces of 0 and 64
// bytes, quotes sent as raw TPM2_Quote commands (an empty PCR selection, the
// largest qualifyingData a TPM takes: 66 bytes, more than tpm2_quote -q
// accepts), and the clockInfo counters across a TPM Restart and Reset. Each
// genuine quote verifies, each altered one fails, and where tpm2_checkquote
// can read the files its verdict agrees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Swtpm, requireSwtpm } from '../helpers/swtpm.js';
import { loadAttestationKey, type AttestationKey } from '../../src/verify/ak.js';
import { verifyQuote, type QuoteInput } from '../../src/verify/quote.js';
import { parseSerializedPcrs } from '../../src/tpm/pcr-formats.js';
import { formatPcrSelection } from '../../src/tpm/pcr-selection.js';

interface Ak {
  label: string;
  ctx: string;
  pem: string;
  ak: AttestationKey;
  scheme: string;
  hash: string;
}

function akOf(tpm: Swtpm, label: string, ctx: string, scheme: string, hash: string): Ak {
  const pem = tpm.path(`${label}.pem`);
  const tss = tpm.path(`${label}.tpm2b`);
  tpm.must('tpm2_readpublic', ['-c', ctx, '-o', pem, '-f', 'pem']);
  tpm.must('tpm2_readpublic', ['-c', ctx, '-o', tss, '-f', 'tss']);
  return { label, ctx, pem, ak: loadAttestationKey(readFileSync(tss)), scheme, hash };
}

function checkquote(tpm: Swtpm, ak: Ak, msg: string, sig: string, nonce: string, pcrs?: string): 'valid' | 'invalid' {
  const args = ['-u', ak.pem, '-m', msg, '-s', sig, '-g', ak.hash, ...(nonce ? ['-q', nonce] : []), ...(pcrs ? ['-f', pcrs] : [])];
  return spawnSync('tpm2_checkquote', args, { env: tpm.env, stdio: 'ignore' }).status === 0 ? 'valid' : 'invalid';
}

function flipped(path: string, at: number): Buffer {
  const b = Buffer.from(readFileSync(path));
  b[at < 0 ? b.length + at : at]! ^= 0x01;
  return b;
}

/** TPM2_Quote as raw bytes (tpm2_send), password session: the selection and qualifyingData exactly as given. */
function rawQuote(tpm: Swtpm, handle: number, nonce: Buffer, selections: [number, number[]][]): { message: Buffer; signature: Buffer } {
  const u16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);
  const u32 = (v: number) => Buffer.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  const sels = selections.flatMap(([hash, bytes]) => [u16(hash), Buffer.from([bytes.length, ...bytes])]);
  const body = Buffer.concat([u32(handle), u32(9), u32(0x40000009), u16(0), Buffer.from([0]), u16(0), u16(nonce.length), nonce, u16(0x0010), u32(selections.length), ...sels]);
  const cmd = Buffer.concat([u16(0x8002), u32(10 + body.length), u32(0x158), body]);
  let resp = spawnSync('tpm2_send', [], { env: tpm.env, input: cmd }).stdout;
  // TPM_RC_RETRY: the first command after a Startup may be asked again (tpm2_send, unlike ESAPI, does not retry)
  for (let i = 0; i < 5 && resp.length >= 10 && resp.readUInt32BE(6) === 0x922; i++) resp = spawnSync('tpm2_send', [], { env: tpm.env, input: cmd }).stdout;
  assert.equal(resp.readUInt32BE(6), 0, `TPM2_Quote response code 0x${resp.readUInt32BE(6).toString(16)}`);
  const size = resp.readUInt16BE(14);
  const message = Buffer.from(resp.subarray(16, 16 + size));
  let o = 16 + size + 4; // sigAlg, hash
  o += 2 + resp.readUInt16BE(o); // r (ECDSA)
  o += 2 + resp.readUInt16BE(o); // s
  return { message, signature: Buffer.from(resp.subarray(16 + size, o)) };
}

test('swtpm interop matrix: RSA-3072, P-384, SHA-1 and owner-hierarchy AKs, three full banks, empty selection, 66-byte nonce, restart and reset counters', async (t) => {
  if (!requireSwtpm(t)) return;
  const tpm = await Swtpm.start();
  try {
    const ek = tpm.path('ek.ctx');
    tpm.must('tpm2_createek', ['-c', ek, '-G', 'rsa', '-u', tpm.path('ek.pub')]);
    const aks: Ak[] = [];
    for (const [G, s, g] of [['rsa3072', 'rsassa', 'sha384'], ['ecc384', 'ecdsa', 'sha384'], ['rsa2048', 'rsassa', 'sha1']] as const) {
      const ctx = tpm.path(`ak-${G}.ctx`);
      tpm.must('tpm2_createak', ['-C', ek, '-c', ctx, '-G', G, '-g', g, '-s', s]);
      aks.push(akOf(tpm, `ak-${G}-${s}-${g}`, ctx, s, g));
    }
    const ownerCtx = tpm.path('owner-primary.ctx');
    tpm.must('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc256:ecdsa-sha256:null', '-a', 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth', '-c', ownerCtx]);
    aks.push(akOf(tpm, 'owner-primary-ecc256', ownerCtx, 'ecdsa', 'sha256'));
    tpm.must('tpm2_pcrextend', [`16:sha1=${randomBytes(20).toString('hex')},sha256=${randomBytes(32).toString('hex')},sha384=${randomBytes(48).toString('hex')}`]);

    await t.test('tpm2_quote: every PCR of three banks, nonces of 0 and 64 bytes', () => {
      for (const ak of aks) {
        for (const nonce of ['', randomBytes(64).toString('hex')]) {
          const [msg, sig, pcrs] = ['msg', 'sig', 'pcrs'].map((x) => tpm.path(`${ak.label}-${nonce.length}.${x}`)) as [string, string, string];
          tpm.must('tpm2_quote', ['-c', ak.ctx, '-l', 'sha1:all+sha256:all+sha384:all', ...(nonce ? ['-q', nonce] : []), '-m', msg, '-s', sig, '-o', pcrs, '-g', ak.hash, '--scheme', ak.scheme]);
          const values = parseSerializedPcrs(readFileSync(pcrs)).values;
          const input: QuoteInput = { ak: ak.ak, message: readFileSync(msg), signature: readFileSync(sig), nonce: Buffer.from(nonce, 'hex'), pcrs: values };
          const v = verifyQuote(input);
          assert.ok(v.ok, `${ak.label}: ${v.ok ? '' : v.failure.message}`);
          const all = Array.from({ length: 24 }, (_, i) => i).join(',');
          assert.equal(formatPcrSelection(v.selection), `sha1:${all}+sha256:${all}+sha384:${all}`);
          assert.equal(checkquote(tpm, ak, msg, sig, nonce, pcrs), 'valid', `${ak.label}: tpm2_checkquote`);
          const codeOf = (x: Partial<QuoteInput>) => {
            const r = verifyQuote({ ...input, ...x });
            return r.ok ? 'valid' : r.failure.code;
          };
          assert.match(codeOf({ message: flipped(msg, -1) }), /^QUOTE_(BAD_SIGNATURE|MESSAGE_ALTERED)$/);
          assert.equal(codeOf({ signature: flipped(sig, -1) }), 'QUOTE_BAD_SIGNATURE');
          assert.equal(codeOf({ nonce: Buffer.from(nonce ? `${nonce.slice(0, -2)}${nonce.endsWith('00') ? '01' : '00'}` : '00', 'hex') }), 'QUOTE_NONCE_MISMATCH');
          assert.equal(codeOf({ pcrs: parseSerializedPcrs(flipped(pcrs, 142)).values }), 'QUOTE_PCR_DIGEST_MISMATCH');
        }
      }
    });

    await t.test('raw TPM2_Quote: an empty selection and a 66-byte qualifyingData (sizeof TPMT_HA) verify', () => {
      tpm.must('tpm2_evictcontrol', ['-C', 'o', '-c', aks[1]!.ctx, '0x81000100']);
      const ak = aks[1]!;
      for (const [label, nonce, sels] of [
        ['no selection', randomBytes(8), []],
        ['a bank with no PCR', randomBytes(8), [[0x000b, [0, 0, 0]]]],
        ['66-byte nonce', randomBytes(66), [[0x000c, [0, 0, 1]]]],
      ] as [string, Buffer, [number, number[]][]][]) {
        const q = rawQuote(tpm, 0x81000100, nonce, sels);
        const v = verifyQuote({ ak: ak.ak, message: q.message, signature: q.signature, nonce });
        assert.ok(v.ok, `${label}: ${v.ok ? '' : v.failure.message}`);
        assert.equal(v.attest.extraData.length, nonce.length);
        if (nonce.length <= 64) {
          writeFileSync(tpm.path('raw.msg'), q.message);
          writeFileSync(tpm.path('raw.sig'), q.signature);
          assert.equal(checkquote(tpm, ak, tpm.path('raw.msg'), tpm.path('raw.sig'), nonce.toString('hex')), 'valid', label);
        }
      }
      // a TPM takes no more than sizeof(TPMT_HA): 67 bytes are refused (TPM_RC_SIZE), so no quote has them
      const cmdTooLong = spawnSync('tpm2_quote', ['-c', '0x81000100', '-l', 'sha256:0', '-q', randomBytes(67).toString('hex'), '-m', tpm.path('x.msg'), '-s', tpm.path('x.sig')], { env: tpm.env });
      assert.notEqual(cmdTooLong.status, 0);
    });

    await t.test('clockInfo after TPM Restart and Reset: the counters the signed quote carries', () => {
      const ak = aks[1]!; // under the EK: counters are not obfuscated in the endorsement hierarchy
      const clockAfter = (ops: (() => void)[]) => {
        for (const op of ops) op();
        const nonce = randomBytes(16);
        const q = rawQuote(tpm, 0x81000100, nonce, [[0x000b, [1, 0, 0]]]);
        const v = verifyQuote({ ak: ak.ak, message: q.message, signature: q.signature, nonce });
        assert.ok(v.ok);
        return v.clockInfo;
      };
      const init = () => assert.equal(spawnSync('swtpm_ioctl', ['--tcp', `127.0.0.1:${tpm.port + 1}`, '-i']).status, 0);
      const tool = (name: string, args: string[]) => () => tpm.must(name, args, { flush: false });
      const before = clockAfter([]);
      const restart = clockAfter([tool('tpm2_shutdown', []), init, tool('tpm2_startup', ['-c'])]);
      assert.deepEqual([restart.resetCount, restart.restartCount, restart.safe], [before.resetCount, before.restartCount + 1, true]);
      const reset = clockAfter([tool('tpm2_shutdown', ['-c']), init, tool('tpm2_startup', ['-c'])]);
      assert.deepEqual([reset.resetCount, reset.restartCount, reset.safe], [before.resetCount + 1, 0, true]);
      // no orderly shutdown: the clock may have gone back, so safe is NO
      const disorderly = clockAfter([init, tool('tpm2_startup', ['-c'])]);
      assert.deepEqual([disorderly.resetCount, disorderly.restartCount, disorderly.safe], [before.resetCount + 2, 0, false]);
    });
  } finally {
    await tpm.stop();
  }
});
