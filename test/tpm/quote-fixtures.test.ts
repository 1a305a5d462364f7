// Real swtpm quotes saved in fixtures/swtpm-quote (how they were made:
// fixtures/README.md): verified by the CLI on every machine, swtpm or not;
// each part edited is refused with its own code; and tpm2_checkquote agrees
// where it is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTools, ToolDir } from '../helpers/tpm2-tools.js';

const NONCE = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const dirOf = (alg: string) => join(REPO_ROOT, 'fixtures', 'swtpm-quote', alg);

function quoteArgs(dir: string, ak: 'ak.pem' | 'ak.pub', files: { msg?: string; sig?: string; pcrs?: string } = {}, nonce = NONCE): string[] {
  return ['quote', '--ak', join(dir, ak), '--message', files.msg ?? join(dir, 'quote.msg'), '--signature', files.sig ?? join(dir, 'quote.sig'), '--pcrs', files.pcrs ?? join(dir, 'pcrs.bin'), '--nonce', nonce, '--json'];
}

/**
 * pcrs.bin (tpm2-tools' serialized form): the PCR selection (132 bytes), a count (4), then a TPML_DIGEST: a
 * count (4) and TPM2B_DIGESTs (a size, 2 bytes, then a 64-byte buffer): byte 150 is inside PCR 0's value.
 */
const PCR0_VALUE_BYTE = 150;

/** A copy of a fixture file with one bit flipped at `offset` (negative: from the end). */
function flipped(t: Parameters<typeof tempDir>[0], file: string, offset: number): string {
  const bytes = Buffer.from(readFileSync(file));
  bytes[offset < 0 ? bytes.length + offset : offset]! ^= 0x01;
  const out = join(tempDir(t, 'vtpm-fixture-'), 'edited.bin');
  writeFileSync(out, bytes);
  return out;
}

for (const alg of ['rsa', 'ecc'] as const) {
  const dir = dirOf(alg);

  test(`${alg}: the saved swtpm quote verifies, the AK given as PEM and as TPM2B_PUBLIC`, async () => {
    for (const ak of ['ak.pem', 'ak.pub'] as const) {
      const run = await runCli(quoteArgs(dir, ak));
      assert.equal(run.code, 0, `${ak}: ${run.stdout}${run.stderr}`);
      assert.equal(run.json?.ok, true);
      assert.equal(run.json?.result.valid, true);
      assert.equal(run.json?.result.pcrsChecked, true);
    }
  });

  test(`${alg}: each part of the saved quote, edited, is refused with its own code`, async (t) => {
    const cases: [string, string[], string][] = [
      ['another nonce', quoteArgs(dir, 'ak.pub', {}, 'ff'.repeat(32)), 'QUOTE_NONCE_MISMATCH'],
      ['a PCR value', quoteArgs(dir, 'ak.pub', { pcrs: flipped(t, join(dir, 'pcrs.bin'), PCR0_VALUE_BYTE) }), 'QUOTE_PCR_DIGEST_MISMATCH'],
      ['the signature', quoteArgs(dir, 'ak.pub', { sig: flipped(t, join(dir, 'quote.sig'), -1) }), 'QUOTE_BAD_SIGNATURE'],
      ['the message (the PCR digest it quotes)', quoteArgs(dir, 'ak.pub', { msg: flipped(t, join(dir, 'quote.msg'), -1) }), ''],
    ];
    for (const [what, args, code] of cases) {
      const run = await runCli(args);
      assert.equal(run.code, 1, `${what}: ${run.stdout}${run.stderr}`);
      assert.equal(run.json?.ok, false, what);
      if (code) assert.equal(run.json?.error?.code, code, what);
      else assert.match(String(run.json?.error?.code), /^QUOTE_/, what);
    }
  });

  test(`${alg}: tpm2_checkquote agrees on the saved quote and on an edited one`, (t) => {
    if (!requireTools(t, 'tpm2_checkquote')) return;
    const tools = new ToolDir();
    try {
      const check = (pcrs: string) =>
        tools.run('tpm2_checkquote', ['-u', join(dir, 'ak.pem'), '-m', join(dir, 'quote.msg'), '-s', join(dir, 'quote.sig'), '-f', pcrs, '-g', 'sha256', '-q', NONCE]).status;
      assert.equal(check(join(dir, 'pcrs.bin')), 0);
      assert.notEqual(check(flipped(t, join(dir, 'pcrs.bin'), PCR0_VALUE_BYTE)), 0);
    } finally {
      tools.remove();
    }
  });
}

test('quote --eventlog reads a firmware log up to the parser\'s 32 MiB cap (it stopped at 16 MiB), and refuses a larger file by size', async (t) => {
  const dir = dirOf('ecc');
  const tmp = tempDir(t, 'vtpm-eventlog-cap-');
  // 17 MiB of zeros: over the old cap, under the parser's; read, then refused by what it is, not by its size
  const mid = join(tmp, 'mid.bin');
  writeFileSync(mid, Buffer.alloc(17 * 1024 * 1024));
  const read = await runCli([...quoteArgs(dir, 'ak.pem'), '--eventlog', mid]);
  assert.notEqual(read.json?.error?.code, 'FILE_TOO_LARGE', JSON.stringify(read.json?.error));
  const big = join(tmp, 'big.bin');
  writeFileSync(big, Buffer.alloc(32 * 1024 * 1024 + 1));
  const refused = await runCli([...quoteArgs(dir, 'ak.pem'), '--eventlog', big]);
  assert.equal(refused.code, 2);
  assert.equal(refused.json?.error?.code, 'FILE_TOO_LARGE');
});
