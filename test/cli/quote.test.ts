// `vtpm-verify quote` end to end: the real binary on quotes a fresh swtpm made,
// in every PCR file format and both signature formats; exit codes and the
// --json envelope for valid, invalid and unusable input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { Swtpm, requireSwtpm } from '../helpers/swtpm.js';
import { createAk, createEk, extendPcrs, flipByte, makeQuote } from '../helpers/tpm-quotes.js';
import { parseSerializedPcrs } from '../../src/tpm/pcr-formats.js';
import { pcrValuesToJson } from '../../src/tpm/pcrs.js';

const SEL = 'sha1:0,7+sha256:0,1,2,3,7,10';

/** The marshaled form of a serialized PCR file (test-side encoder: TPML_PCR_SELECTION, count, TPML_DIGEST[]). */
function toMarshaled(serialized: Buffer): Buffer {
  const f = parseSerializedPcrs(serialized);
  const parts: Buffer[] = [];
  const u32 = (n: number) => Buffer.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const u16 = (n: number) => Buffer.of(n >> 8, n & 0xff);
  parts.push(u32(f.selection.banks.length));
  const digests: Uint8Array[] = [];
  for (const b of f.selection.banks) {
    parts.push(u16(b.hash.id), Buffer.of(b.select.length), Buffer.from(b.select));
    for (const p of b.pcrs) digests.push(f.values.get(b.hash.name)!.get(p)!);
  }
  const lists: Uint8Array[][] = [];
  for (let i = 0; i < digests.length; i += 8) lists.push(digests.slice(i, i + 8));
  parts.push(u32(lists.length));
  for (const l of lists) {
    parts.push(u32(l.length));
    for (const d of l) parts.push(u16(d.length), Buffer.from(d));
  }
  return Buffer.concat(parts);
}

test('vtpm-verify quote on real swtpm quotes', async (t) => {
  if (!requireSwtpm(t)) return;
  const tpm = await Swtpm.start();
  try {
    const ek = createEk(tpm);
    const ecc = createAk(tpm, ek, 'ecc');
    const rsa = createAk(tpm, ek, 'rsassa');
    const pss = createAk(tpm, ek, 'rsapss');
    extendPcrs(tpm);
    const q = makeQuote(tpm, ecc, SEL);
    const args = (over: Record<string, string> = {}, extra: string[] = []) => {
      const o = { '--ak': ecc.tpm2b, '--message': q.msg, '--signature': q.sig, '--nonce': q.nonce, '--pcrs': q.pcrs, ...over };
      return ['quote', ...Object.entries(o).flatMap(([k, v]) => [k, v]), ...extra];
    };

    await t.test('valid: exit 0, envelope ok, verified PCR values in the result', async () => {
      const r = await runCli(args({}, ['--json']));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json?.ok, true);
      assert.equal(r.json?.error, null);
      assert.equal(r.json?.result.valid, true);
      assert.equal(r.json?.result.quote.quote.pcrSelect, SEL);
      assert.equal(Object.keys(r.json?.result.pcrs.sha256).length, 6);
      assert.equal(r.json?.result.ak.type, 'ecc-p256');
      assert.ok(r.json?.result.checks.every((c: { status: string }) => c.status === 'pass'));
    });

    await t.test('a TPM2B_ATTEST message (u16 size first, as go-tpm writes it) is the same quote, not an altered one', async () => {
      const body = readFileSync(q.msg);
      const sized = `${q.msg}.tpm2b`;
      writeFileSync(sized, Buffer.concat([Buffer.of(body.length >> 8, body.length & 0xff), body]));
      const r = await runCli(args({ '--message': sized }, ['--json']));
      assert.equal(r.code, 0, r.stdout);
      assert.equal(r.json?.result.valid, true);
      // a size that does not match is not unwrapped: the bytes are not what was signed
      writeFileSync(sized, Buffer.concat([Buffer.of(body.length >> 8, (body.length + 1) & 0xff), body]));
      assert.equal((await runCli(args({ '--message': sized }, ['--json']))).code, 1);
    });

    await t.test('an empty message file is unusable input (exit 2), not a message altered after signing (exit 1)', async () => {
      const empty = tpm.path('empty.msg');
      writeFileSync(empty, Buffer.alloc(0));
      for (const ak of [ecc, rsa]) {
        const r = await runCli(args({ '--ak': ak.pem, '--message': empty }, ['--json']));
        assert.equal(r.code, 2, r.stdout);
        assert.equal(r.json?.error?.code, 'TPM_TRUNCATED');
        assert.match(String(r.json?.error?.message), /quote message: .*empty\.msg is empty \(0 bytes\)/);
      }
      // a file that is no TPMS_ATTEST at all (a JSON bundle or PCR file given as the message): still not verified
      // (exit 1, the signature's code), and the message says what the file starts with
      const json = tpm.path('bundle-as-message.json');
      writeFileSync(json, JSON.stringify({ version: 1, layers: [] }));
      for (const ak of [ecc, rsa]) {
        const r = await runCli(args({ '--ak': ak.pem, '--message': json, '--signature': ak === ecc ? q.sig : makeQuote(tpm, rsa, SEL).sig }, ['--json']));
        assert.equal(r.code, 1, r.stdout);
        assert.match(String(r.json?.error?.message), /does not start with TPM_GENERATED_VALUE \(0xff544347\) but with text \("\{"version":1/);
      }
    });

    await t.test('human output: VALID, --verbose lists passed checks', async () => {
      const quiet = await runCli(args());
      assert.equal(quiet.code, 0);
      assert.match(quiet.stdout, /quote VALID/);
      assert.doesNotMatch(quiet.stdout, /quote\.signature/);
      const verbose = await runCli(args({}, ['--verbose']));
      assert.match(verbose.stdout, /pass {2}quote\.signature/);
      assert.match(verbose.stdout, /verified PCR values:/);
    });

    await t.test('invalid: exit 1 with the failing check, expected and actual', async () => {
      const nonce = await runCli(args({ '--nonce': '00' }, ['--json']));
      assert.equal(nonce.code, 1);
      assert.equal(nonce.json?.ok, false);
      assert.equal(nonce.json?.error?.code, 'QUOTE_NONCE_MISMATCH');
      assert.equal(nonce.json?.error?.details.expected, '00');
      assert.equal(nonce.json?.error?.details.actual, q.nonce);
      const human = await runCli(args({ '--pcrs': flipByte(tpm, q.pcrs, 142, 'cli-tampered.pcrs') }));
      assert.equal(human.code, 1);
      assert.match(human.stdout, /quote INVALID: QUOTE_PCR_DIGEST_MISMATCH/);
      assert.match(human.stdout, /FAIL {2}quote\.pcr-digest/);
      assert.match(human.stdout, /expected:/);
      const keyType = await runCli(args({ '--ak': rsa.pem }, ['--json']));
      assert.equal(keyType.json?.error?.code, 'QUOTE_KEY_TYPE_MISMATCH');
      assert.equal(keyType.code, 1);
      const flipped = await runCli(args({ '--message': flipByte(tpm, q.msg, -1, 'cli-flipped.msg') }, ['--json']));
      assert.equal(flipped.json?.error?.code, 'QUOTE_BAD_SIGNATURE');
      assert.equal(flipped.json?.result.quote, null, 'nothing of an unverified message is reported as quote data');
    });

    await t.test('PCR formats: values (with and without --selection), marshaled, json', async () => {
      const vq = tpm.path('values.msg');
      const vs = tpm.path('values.sig');
      const vp = tpm.path('values.pcrs');
      tpm.must('tpm2_quote', ['-c', ecc.ctx, '-l', SEL, '-q', q.nonce, '-m', vq, '-s', vs, '-o', vp, '-F', 'values', '-g', 'sha256']);
      const base = { '--message': vq, '--signature': vs, '--pcrs': vp, '--pcrs-format': 'values' };
      assert.equal((await runCli(args(base))).code, 0);
      assert.equal((await runCli(args({ ...base, '--selection': SEL }))).code, 0);
      const other = await runCli(args({ ...base, '--selection': 'sha1:0,7+sha256:0,1,2,3,7,11' }, ['--json']));
      assert.equal(other.json?.error?.code, 'QUOTE_PCR_SELECTION_MISMATCH');
      const marshaled = tpm.path('q.marshaled');
      writeFileSync(marshaled, toMarshaled(readFileSync(q.pcrs)));
      assert.equal((await runCli(args({ '--pcrs': marshaled, '--pcrs-format': 'marshaled' }))).code, 0);
      const json = tpm.path('q.json');
      writeFileSync(json, JSON.stringify(pcrValuesToJson(parseSerializedPcrs(readFileSync(q.pcrs)).values)));
      assert.equal((await runCli(args({ '--pcrs': json, '--pcrs-format': 'json' }))).code, 0);
    });

    await t.test('plain signatures: DER ECDSA and raw RSA PKCS#1 v1.5 and PSS (tpm2_quote -f plain), AK as PEM and as TPM2B_PUBLIC', async () => {
      for (const ak of [ecc, rsa, pss]) {
        const m = tpm.path(`plain-${ak.kind}.msg`);
        const s = tpm.path(`plain-${ak.kind}.sig`);
        const p = tpm.path(`plain-${ak.kind}.pcrs`);
        // --scheme: tpm2_quote asks for RSASSA by default, which an RSAPSS-only key refuses
        tpm.must('tpm2_quote', ['-c', ak.ctx, '-l', SEL, '-q', q.nonce, '-m', m, '-s', s, '-o', p, '-f', 'plain', '-g', 'sha256', '--scheme', ak.kind === 'ecc' ? 'ecdsa' : ak.kind]);
        // the PEM names no padding: an RSAPSS AK's raw signature was once checked as PKCS#1 v1.5 only (QUOTE_BAD_SIGNATURE)
        for (const key of [ak.pem, ak.tpm2b]) {
          const r = await runCli(args({ '--ak': key, '--message': m, '--signature': s, '--pcrs': p, '--signature-format': 'plain', '--hash': 'sha256' }, ['--json']));
          assert.equal(r.code, 0, `${ak.kind} ${key}: ${r.stdout}`);
        }
        const altered = await runCli(args({ '--ak': ak.pem, '--message': flipByte(tpm, m, -1, `plain-${ak.kind}-flipped.msg`), '--signature': s, '--pcrs': p, '--signature-format': 'plain', '--hash': 'sha256' }, ['--json']));
        assert.equal(altered.code, 1, altered.stdout);
        assert.equal(altered.json?.error?.code, ak.kind === 'ecc' ? 'QUOTE_BAD_SIGNATURE' : 'QUOTE_MESSAGE_ALTERED');
        // the same plain signature without --signature-format plain: input error (exit 2) that says to add it
        const noFormat = await runCli(args({ '--ak': ak.pem, '--message': m, '--signature': s, '--pcrs': p }, ['--json']));
        assert.equal(noFormat.code, 2, noFormat.stdout);
        assert.match(String(noFormat.json?.error?.message), new RegExp(`look like a plain signature \\(${ak.kind === 'ecc' ? 'DER ECDSA' : 'raw RSA'}\\): add --signature-format plain`));
        // the message given as the signature (the two files swapped)
        const swapped = await runCli(args({ '--ak': ak.pem, '--message': m, '--signature': m, '--pcrs': p }, ['--json']));
        assert.equal(swapped.code, 2, swapped.stdout);
        assert.match(String(swapped.json?.error?.message), /this is a TPMS_ATTEST .*give it with --message/);
      }
    });

    await t.test('an SM2 AK (TPM2B_PUBLIC): unsupported input, exit 2, for its TPMT_SIGNATURE and for its plain signature alike', async (st) => {
      const algs = tpm.run('tpm2_getcap', ['algorithms']);
      if (!/^sm2:/m.test(algs.stdout)) {
        st.skip('this swtpm (libtpms) has no SM2; skipping');
        return;
      }
      const ctx = tpm.path('ak-sm2.ctx');
      const pub = tpm.path('ak-sm2.tpm2b');
      tpm.must('tpm2_createak', ['-C', ek, '-c', ctx, '-G', 'ecc256', '-g', 'sha256', '-s', 'sm2', '-u', tpm.path('ak-sm2.pem'), '-f', 'pem', '-n', tpm.path('ak-sm2.name')]);
      tpm.must('tpm2_readpublic', ['-c', ctx, '-o', pub, '-f', 'tss']);
      for (const format of ['tss', 'plain']) {
        const m = tpm.path(`sm2-${format}.msg`);
        const s = tpm.path(`sm2-${format}.sig`);
        const p = tpm.path(`sm2-${format}.pcrs`);
        tpm.must('tpm2_quote', ['-c', ctx, '-l', SEL, '-q', q.nonce, '-m', m, '-s', s, '-o', p, '-g', 'sha256', '--scheme', 'sm2', ...(format === 'plain' ? ['-f', 'plain'] : [])]);
        const extra: Record<string, string> = format === 'plain' ? { '--signature-format': 'plain', '--hash': 'sha256' } : {};
        const r = await runCli(args({ '--ak': pub, '--message': m, '--signature': s, '--pcrs': p, ...extra }, ['--json']));
        // plain was checked as ECDSA: QUOTE_BAD_SIGNATURE (exit 1), calling a genuine quote forged
        assert.equal(r.code, 2, `${format}: ${r.stdout}`);
        assert.equal(r.json?.error?.code, 'TPM_UNSUPPORTED_ALG', format);
      }
    });

    await t.test('unusable input: exit 2 with the input error code', async () => {
      const cases: [string[], string][] = [
        [args({ '--ak': tpm.path('missing.pub') }, ['--json']), 'FILE_UNREADABLE'],
        [args({ '--nonce': 'xyz' }, ['--json']), 'HEX_INVALID'],
        [args({ '--signature': q.msg }, ['--json']), 'TPM_UNSUPPORTED_ALG'],
        [args({ '--ak': q.msg }, ['--json']), 'AK_INVALID'],
        [args({ '--pcrs': q.msg }, ['--json']), 'TPM_SIZE_LIMIT'], // the magic read as a little-endian count
        [args({ '--selection': 'sha256:0' }, ['--json']), 'USAGE'],
        [args({ '--pcrs-format': 'yaml' }, ['--json']), 'USAGE'],
        [args({ '--signature-format': 'plain', '--hash': 'md5' }, ['--json']), 'USAGE'],
        [['quote', '--ak', ecc.pem, '--json'], 'USAGE'],
      ];
      for (const [argv, code] of cases) {
        const r = await runCli(argv);
        assert.equal(r.code, 2, `${code}: ${r.stdout}${r.stderr}`);
        assert.equal(r.json?.ok, false);
        assert.equal(r.json?.error?.code, code, argv.join(' '));
      }
    });
  } finally {
    await tpm.stop();
  }
});

test('vtpm-verify quote: a TPM 1.2 TPM_QUOTE_INFO, signed or not, is named as TPM 1.2 (exit 1, nothing verified)', async () => {
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-quote12-'));
  try {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // TPM_QUOTE_INFO: version 1.1.0.0, "QUOT", composite hash, nonce
    const info = Buffer.concat([Buffer.from([1, 1, 0, 0]), Buffer.from('QUOT'), Buffer.alloc(20, 1), Buffer.alloc(20, 2)]);
    writeFileSync(join(dir, 'ak.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'quote.msg'), info);
    writeFileSync(join(dir, 'good.sig'), sign('sha1', info, privateKey));
    writeFileSync(join(dir, 'bad.sig'), Buffer.alloc(256, 3));
    for (const [sig, code] of [['good.sig', 'QUOTE_BAD_MAGIC'], ['bad.sig', 'QUOTE_BAD_SIGNATURE']] as const) {
      const run = await runCli(['quote', '--ak', join(dir, 'ak.pem'), '--message', join(dir, 'quote.msg'), '--signature', join(dir, sig), '--signature-format', 'plain', '--hash', 'sha1', '--nonce', '', '--json']);
      assert.equal(run.code, 1, run.stdout);
      assert.equal(run.json!.error!.code, code);
      assert.match(run.json!.error!.message, /the --message file is a TPM 1\.2 TPM_QUOTE_INFO \(from TPM_Quote\): vtpm-verify verifies TPM 2\.0 quotes only/);
      assert.equal(run.json!.error!.details.tpmVersion, '1.2');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
