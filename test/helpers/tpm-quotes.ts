// Real quotes from a fresh swtpm for tests and benchmarks: an EK, AKs made
// with tpm2_createak (ECC P-256 ECDSA, RSA-2048 RSASSA and RSAPSS), extended
// PCRs, and tpm2_quote over a random nonce. Files live in the TPM's temp dir.

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Swtpm } from './swtpm.js';

export type AkKind = 'ecc' | 'rsassa' | 'rsapss';

export interface TestAk {
  kind: AkKind;
  ctx: string;
  /** PEM SubjectPublicKeyInfo path */
  pem: string;
  /** TPM2B_PUBLIC path */
  tpm2b: string;
}

export interface TestQuote {
  ak: TestAk;
  selection: string;
  nonce: string;
  msg: string;
  sig: string;
  pcrs: string;
}

const AK_ARGS: Record<AkKind, string[]> = {
  ecc: ['-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa'],
  rsassa: ['-G', 'rsa', '-g', 'sha256', '-s', 'rsassa'],
  rsapss: ['-G', 'rsa', '-g', 'sha256', '-s', 'rsapss'],
};

/** Creates the RSA EK once (ek.ctx), needed as the parent of tpm2_createak AKs. */
export function createEk(tpm: Swtpm): string {
  const ek = tpm.path('ek.ctx');
  tpm.must('tpm2_createek', ['-c', ek, '-G', 'rsa', '-u', tpm.path('ek.pub')]);
  return ek;
}

export function createAk(tpm: Swtpm, ek: string, kind: AkKind, label: string = kind): TestAk {
  const ak: TestAk = { kind, ctx: tpm.path(`ak-${label}.ctx`), pem: tpm.path(`ak-${label}.pem`), tpm2b: tpm.path(`ak-${label}.tpm2b`) };
  tpm.must('tpm2_createak', ['-C', ek, '-c', ak.ctx, ...AK_ARGS[kind], '-u', ak.pem, '-f', 'pem', '-n', tpm.path(`ak-${label}.name`)]);
  tpm.must('tpm2_readpublic', ['-c', ak.ctx, '-o', ak.tpm2b, '-f', 'tss']);
  return ak;
}

/** Extends PCRs 0, 7 and 10 of the SHA-1 and SHA-256 banks with random digests. */
export function extendPcrs(tpm: Swtpm): void {
  for (const pcr of [0, 7, 10]) {
    tpm.must('tpm2_pcrextend', [`${pcr}:sha1=${randomBytes(20).toString('hex')},sha256=${randomBytes(32).toString('hex')}`]);
  }
}

let seq = 0;

/** tpm2_quote over a fresh random 32-byte nonce; the PCR file is tpm2-tools' default serialized format. */
export function makeQuote(tpm: Swtpm, ak: TestAk, selection: string, nonce = randomBytes(32).toString('hex')): TestQuote {
  const n = seq++;
  const q: TestQuote = { ak, selection, nonce, msg: tpm.path(`q${n}.msg`), sig: tpm.path(`q${n}.sig`), pcrs: tpm.path(`q${n}.pcrs`) };
  // --scheme: tpm2_quote asks for RSASSA by default, which an RSAPSS-only key refuses
  const scheme = ak.kind === 'ecc' ? 'ecdsa' : ak.kind;
  tpm.must('tpm2_quote', ['-c', ak.ctx, '-l', selection, '-q', nonce, '-m', q.msg, '-s', q.sig, '-o', q.pcrs, '-g', 'sha256', '--scheme', scheme]);
  return q;
}

/** A copy of a file with one byte XOR-ed; returns the new path. */
export function flipByte(tpm: Swtpm, path: string, offset: number, name: string): string {
  const bytes = Buffer.from(readFileSync(path));
  const at = offset < 0 ? bytes.length + offset : offset;
  bytes[at] = bytes[at]! ^ 0x01;
  const out = tpm.path(name);
  writeFileSync(out, bytes);
  return out;
}
