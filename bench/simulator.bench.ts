// The simulated platform's hot paths: how many quotes a soft TPM signs per
// second (the fleet benchmark runs 1,000-10,000 simulated VMs), next to the
// bare node:crypto signing that bounds it; creating TPMs for a fleet; IMA
// entries; the vPlatform table replay on a busy host.
import { createHash, sign } from 'node:crypto';
import { SoftTpm, type AkSpec } from '../src/simulator/soft-tpm.js';
import { ImaMeasurementList } from '../src/simulator/ima.js';
import { VplatformRecorder } from '../src/simulator/vplatform-recorder.js';
import { verifyVplatformLog } from '../src/verify/vplatform.js';
import { VplatformLogCache } from '../src/verify/vplatform-cache.js';
import type { PcrSelectionSpec } from '../src/simulator/marshal.js';
import { fmt, opsPerSecond, table } from './util.js';
import { freshKeyPair } from '../src/util/fresh-key-pair.js';

const NONCE = createHash('sha256').update('bench').digest();
const SELECTION: PcrSelectionSpec = [
  { bank: 'sha256', pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 10, 23] },
  { bank: 'sha1', pcrs: [0, 7] },
];

/**
 * Rates of two operations measured in alternating 20 ms slices, so that load
 * from other processes hits both alike and their ratio stays meaningful.
 */
function interleavedRates(a: () => void, b: () => void, totalMs = 2_000): [number, number] {
  const n = [0, 0];
  const ns = [0n, 0n];
  const fns = [a, b];
  const end = process.hrtime.bigint() + BigInt(totalMs) * 1_000_000n;
  for (let turn = 0; process.hrtime.bigint() < end; turn ^= 1) {
    const start = process.hrtime.bigint();
    const sliceEnd = start + 20_000_000n;
    let now = start;
    while (now < sliceEnd) {
      fns[turn]!();
      n[turn]!++;
      now = process.hrtime.bigint();
    }
    ns[turn]! += now - start;
  }
  return [n[0]! / (Number(ns[0]) / 1e9), n[1]! / (Number(ns[1]) / 1e9)];
}

export default async function (): Promise<void> {
  const message = Buffer.alloc(150, 1);
  const cases: Array<[string, AkSpec, () => void]> = [];
  const p256 = freshKeyPair('ec', { namedCurve: 'prime256v1' }).privateKey;
  const p384 = freshKeyPair('ec', { namedCurve: 'secp384r1' }).privateKey;
  const rsa = freshKeyPair('rsa', { modulusLength: 2048 }).privateKey;
  cases.push(['ECDSA P-256 / SHA-256', { type: 'ecc' }, () => sign('sha256', message, { key: p256, dsaEncoding: 'ieee-p1363' })]);
  cases.push(['ECDSA P-384 / SHA-384', { type: 'ecc', curve: 'p384' }, () => sign('sha384', message, { key: p384, dsaEncoding: 'ieee-p1363' })]);
  cases.push(['RSASSA RSA-2048 / SHA-256', { type: 'rsa', scheme: 'rsassa' }, () => sign('sha256', message, rsa)]);
  cases.push(['RSAPSS RSA-2048 / SHA-256', { type: 'rsa', scheme: 'rsapss' }, () => sign('sha256', message, { key: rsa, padding: 6, saltLength: 32 })]);

  console.log(`soft TPM quotes (selection ${SELECTION.map((s) => `${s.bank}:${s.pcrs.join(',')}`).join('+')}), one core:`);
  const rows: (string | number)[][] = [['AK', 'quotes/s', 'bare node sign/s', 'quote/sign']];
  for (const [name, ak, bare] of cases) {
    const tpm = SoftTpm.create({ ak });
    const [q, s] = interleavedRates(() => void tpm.quote(NONCE, SELECTION), bare);
    rows.push([name, fmt(q), fmt(s), fmt(q / s, 2)]);
  }
  table(rows);

  console.log('\ncreating soft TPMs (AK + EK + PCR banks), for a fleet:');
  let n = 0;
  const saved = JSON.parse(JSON.stringify(SoftTpm.create().exportState())) as unknown;
  table([
    ['kind', 'TPMs/s'],
    ['ECC AK + ECC EK, random keys', fmt(opsPerSecond(() => void SoftTpm.create(), 300, 3))],
    ['ECC AK + ECC EK, seeded', fmt(opsPerSecond(() => void SoftTpm.create({ seed: `vm-${n++}` }), 300, 3))],
    ['SoftTpm.fromState (a clone or a migrated vTPM)', fmt(opsPerSecond(() => void SoftTpm.fromState(saved), 300, 3))],
  ]);

  const tpm = SoftTpm.create();
  const ima = new ImaMeasurementList(tpm);
  const digest = createHash('sha256').update('file').digest();
  let i = 0;
  const imaRate = opsPerSecond(() => void ima.measureDigest(`/usr/lib/file-${i++}.so`, digest), 300, 3);

  const host = SoftTpm.create();
  const rec = new VplatformRecorder(host);
  const ids = Array.from({ length: 10_000 }, (_, k) => createHash('sha256').update(`vm ${k}`).digest());
  let k = 0;
  const recordRate = opsPerSecond(() => void rec.record('create', ids[k++ % ids.length]!, { allowViolation: true }), 300, 3);
  const log = Array.from({ length: 10_000 }, (_, j) => ({ pcr: 23, op: j % 3 === 2 ? 'migrate-out' : 'create', instance: ids[j - (j % 3 === 2 ? 1 : 0)]!.toString('hex') }));
  const logTpm = SoftTpm.create({ banks: ['sha256'] });
  const logRec = new VplatformRecorder(logTpm);
  for (const e of log) logRec.record(e.op as 'create', Buffer.from(e.instance, 'hex'), { allowViolation: true });
  const quoted = logTpm.readPcr('sha256', 23);
  const verifyRate = opsPerSecond(() => void verifyVplatformLog(log, quoted), 500, 3);
  const cache = new VplatformLogCache();
  const cachedRate = opsPerSecond(() => void cache.verify('host', log, quoted), 500, 3);

  console.log('\nlogs:');
  table([
    ['operation', 'rate'],
    ['IMA entry (ima-ng, 3 banks extended)', `${fmt(imaRate)}/s`],
    ['vPlatform record (digest + PCR 23 extend)', `${fmt(recordRate)}/s`],
    ['verifyVplatformLog, 10,000-entry log', `${fmt(verifyRate * log.length)} entries/s (${fmt(1000 / verifyRate, 1)} ms per log)`],
    ['VplatformLogCache, same 10,000-entry log again', `${fmt(1000 / cachedRate, 2)} ms per log`],
  ]);
}
