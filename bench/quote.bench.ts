// Quote verification throughput and CLI start-up, side by side in one run on
// the same quotes:
// - in-process quotes verified per second (parse of message, signature and
//   serialized PCR file + signature + every check + pcrDigest) for ECDSA P-256
//   and RSA-2048, against the raw node:crypto verify rate of the same primitive
//   with a cached KeyObject (the physical limit);
// - `vtpm-verify quote` single-shot wall time against bare `node -e 0`;
// - `tpm2_checkquote` wall time on the same files (skipped if not installed).
//
// Quotes come from a fresh swtpm (tpm2_createak + tpm2_quote) when swtpm and
// tpm2-tools are installed; otherwise from structures signed here with
// node:crypto keys (same sizes and selection), which the report says.

import { constants, createHash, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAttestationKey } from '../src/verify/ak.js';
import { verifyQuote } from '../src/verify/quote.js';
import { parseSerializedPcrs } from '../src/tpm/pcr-formats.js';
import { parseTpmtSignature } from '../src/tpm/signature.js';
import { serializedPcrFile } from '../test/fixtures/pcr-files.js';
import { commandWallMs, fmt, hasCommand, median, opsPerSecond, table } from './util.js';
import { freshKeyPair } from '../src/util/fresh-key-pair.js';

const SELECTION = 'sha1:0,7+sha256:0,1,2,3,7,10';
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'vtpm-verify.js');

interface QuoteFiles {
  label: string;
  ak: string;
  akPem: string;
  msg: string;
  sig: string;
  pcrs: string;
  nonce: string;
}

async function swtpmQuotes(): Promise<{ quotes: QuoteFiles[]; done: () => Promise<void>; source: string }> {
  const { Swtpm } = await import('../test/helpers/swtpm.js');
  const { createAk, createEk, extendPcrs, makeQuote } = await import('../test/helpers/tpm-quotes.js');
  const tpm = await Swtpm.start();
  const ek = createEk(tpm);
  const quotes: QuoteFiles[] = [];
  const aks = [createAk(tpm, ek, 'ecc'), createAk(tpm, ek, 'rsassa')];
  extendPcrs(tpm);
  for (const ak of aks) {
    const q = makeQuote(tpm, ak, SELECTION);
    quotes.push({ label: ak.kind === 'ecc' ? 'ECDSA P-256' : 'RSA-2048 RSASSA', ak: ak.tpm2b, akPem: ak.pem, msg: q.msg, sig: q.sig, pcrs: q.pcrs, nonce: q.nonce });
  }
  return { quotes, done: () => tpm.stop(), source: 'swtpm (tpm2_createak, tpm2_quote)' };
}

/** Bench-side bytes for a quote over SELECTION signed with a node:crypto key (used when swtpm is absent). */
function syntheticQuotes(): { quotes: QuoteFiles[]; done: () => Promise<void>; source: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-bench-'));
  const zero = (n: number) => Buffer.alloc(n);
  const values = [zero(20), zero(20), ...Array.from({ length: 6 }, () => randomBytes(32))];
  // serialized PCR file (tpm2-tools layout) for sha1:0,7+sha256:0,1,2,3,7,10
  const sha256 = [0, 1, 2, 3, 7, 10];
  const ser = serializedPcrFile([
    { alg: 0x0004, values: new Map([[0, values[0]!], [7, values[1]!]]) },
    { alg: 0x000b, values: new Map(sha256.map((p, i) => [p, values[2 + i]!])) },
  ]);
  const pcrDigest = createHash('sha256').update(Buffer.concat(values)).digest();
  const nonce = randomBytes(32);
  const msg = Buffer.concat([
    Buffer.from('ff5443478018', 'hex'),
    Buffer.from('0022000b', 'hex'),
    randomBytes(32),
    Buffer.from('0020', 'hex'),
    nonce,
    Buffer.from('0000000000001000' + '00000001' + '00000000' + '01' + '2019102300163636', 'hex'),
    Buffer.from('00000002000403810000000b038f0400', 'hex'),
    Buffer.from('0020', 'hex'),
    pcrDigest,
  ]);
  const quotes: QuoteFiles[] = [];
  for (const kind of ['ec', 'rsa'] as const) {
    const { privateKey, publicKey } = kind === 'ec' ? freshKeyPair('ec', { namedCurve: 'P-256' }) : freshKeyPair('rsa', { modulusLength: 2048 });
    let sig: Buffer;
    if (kind === 'ec') {
      const p = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      sig = Buffer.concat([Buffer.from('0018000b0020', 'hex'), p.subarray(0, 32), Buffer.from('0020', 'hex'), p.subarray(32)]);
    } else {
      sig = Buffer.concat([Buffer.from('0014000b0100', 'hex'), sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PADDING })]);
    }
    const f = (name: string, b: Buffer | string) => {
      const p = join(dir, `${kind}-${name}`);
      writeFileSync(p, b);
      return p;
    };
    const pem = publicKey.export({ format: 'pem', type: 'spki' }) as string;
    quotes.push({ label: kind === 'ec' ? 'ECDSA P-256' : 'RSA-2048 RSASSA', ak: f('ak.pem', pem), akPem: f('ak.pem', pem), msg: f('q.msg', msg), sig: f('q.sig', sig), pcrs: f('q.pcrs', ser), nonce: nonce.toString('hex') });
  }
  return { quotes, done: async () => rmSync(dir, { recursive: true, force: true }), source: 'node:crypto-signed structures (swtpm not installed)' };
}

export default async function (): Promise<void> {
  const haveSwtpm = ['swtpm', 'tpm2_createak', 'tpm2_quote'].every(hasCommand);
  const { quotes, done, source } = haveSwtpm ? await swtpmQuotes() : syntheticQuotes();
  try {
    console.log(`quotes: ${source}; selection ${SELECTION}`);
    const rows: (string | number)[][] = [['primitive', 'quotes verified/s', 'raw verify/s', 'share of raw']];
    for (const q of quotes) {
      const akBytes = readFileSync(q.ak);
      const message = readFileSync(q.msg);
      const sigBytes = readFileSync(q.sig);
      const pcrBytes = readFileSync(q.pcrs);
      const nonce = Buffer.from(q.nonce, 'hex');
      const ak = loadAttestationKey(akBytes);
      const check = verifyQuote({ ak, message, signature: sigBytes, nonce, pcrs: parseSerializedPcrs(pcrBytes).values });
      if (!check.ok) throw new Error(`bench quote does not verify: ${check.failure.message}`);
      // the whole per-quote path: parse PCR file, parse signature and message, verify, every check, pcrDigest
      const fullPath = () => {
        const v = verifyQuote({ ak, message, signature: sigBytes, nonce, pcrs: parseSerializedPcrs(pcrBytes).values });
        if (!v.ok) throw new Error('failed');
      };
      // the primitive alone: one node:crypto verify with the cached KeyObject, signature pre-converted
      const sig = parseTpmtSignature(sigBytes);
      const key: KeyObject = ak.key;
      let raw: () => boolean;
      if (sig.scheme === 'ecdsa') {
        const p1363 = Buffer.concat([Buffer.alloc(32 - sig.r.length), sig.r, Buffer.alloc(32 - sig.s.length), sig.s]);
        const opts = { key, dsaEncoding: 'ieee-p1363' as const };
        raw = () => verify('sha256', message, opts, p1363);
      } else if (sig.scheme === 'rsassa' || sig.scheme === 'rsapss') {
        const opts = { key, padding: constants.RSA_PKCS1_PADDING };
        const s = sig.sig;
        raw = () => verify('sha256', message, opts, s);
      } else throw new Error('unexpected signature');
      const rawPath = () => {
        if (!raw()) throw new Error('failed');
      };
      // Rounds alternate between the two so that load from other processes hits both alike.
      const fulls: number[] = [];
      const raws: number[] = [];
      for (let round = 0; round < 7; round++) {
        fulls.push(opsPerSecond(fullPath, 250, 1));
        raws.push(opsPerSecond(rawPath, 250, 1));
      }
      const full = median(fulls);
      const rawRate = median(raws);
      rows.push([q.label, fmt(full), fmt(rawRate), `${fmt((100 * full) / rawRate)} %`]);
    }
    table(rows);

    const q = quotes[0]!;
    const args = [BIN, 'quote', '--ak', q.ak, '--message', q.msg, '--signature', q.sig, '--nonce', q.nonce, '--pcrs', q.pcrs];
    // Interleave the commands so machine load hits them alike; the minimum is the run least disturbed by
    // other processes, the median the typical one.
    const bare: number[] = [];
    const ours: number[] = [];
    const tool: number[] = [];
    const haveTool = hasCommand('tpm2_checkquote');
    const toolArgs = ['-u', q.akPem, '-m', q.msg, '-s', q.sig, '-f', q.pcrs, '-g', 'sha256', '-q', q.nonce];
    for (let i = 0; i < 21; i++) {
      bare.push(commandWallMs(process.execPath, ['-e', '0'], 1));
      ours.push(commandWallMs(process.execPath, args, 1));
      if (haveTool) tool.push(commandWallMs('tpm2_checkquote', toolArgs, 1));
    }
    const min = (xs: number[]) => Math.min(...xs);
    const rowsWall: (string | number)[][] = [['single shot (ECDSA quote)', 'min ms', 'median ms', 'min vs node -e 0', 'median vs node -e 0']];
    const row = (label: string, xs: number[]) => [label, fmt(min(xs), 1), fmt(median(xs), 1), `${fmt(min(xs) / min(bare), 2)}x`, `${fmt(median(xs) / median(bare), 2)}x`];
    rowsWall.push(row('node -e 0', bare));
    rowsWall.push(row('vtpm-verify quote', ours));
    rowsWall.push(haveTool ? row('tpm2_checkquote', tool) : ['tpm2_checkquote', 'not installed', '', '', '']);
    table(rowsWall);
  } finally {
    await done();
  }
}
