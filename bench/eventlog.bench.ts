// Event-log benchmarks: parse + replay of the largest corpus firmware logs in
// process and as a process, side by side with tpm2_eventlog on the same files;
// and a generated 100,000-entry IMA list (ASCII and binary) parsed and
// replayed. Figures only; nothing here asserts on speed.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEventLog } from '../src/eventlog/parse.js';
import { replayEventLog } from '../src/eventlog/replay.js';
import { parseImaList } from '../src/eventlog/ima/parse.js';
import { checkTemplateHashes, replayIma } from '../src/eventlog/ima/replay.js';
import { replayImaAgainstQuote } from '../src/eventlog/ima/quote-replay.js';
import type { PcrValues } from '../src/tpm/pcrs.js';
import { commandWallMs, fmt, hasCommand, median, table } from './util.js';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const CORPUS = process.env['VTPM_CORPUS'] ?? resolve(REPO, '..', 'shared', 'corpus');
const BIN = join(REPO, 'bin', 'vtpm-verify.js');

/**
 * Median wall and CPU time of fn in ms over `rounds` rounds (after one
 * warm-up). CPU time is reported too because this machine is shared: other
 * processes stretch wall time, much less the CPU time this process used.
 */
function timeMs(fn: () => void, rounds = 9): { wall: number; cpu: number } {
  fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

const show = (t: { wall: number; cpu: number }, digits = 0): string => `${fmt(t.wall, digits)} (cpu ${fmt(t.cpu, digits)})`;

/** A realistic ima-ng list: sha256 file digests, paths like a distribution's, SHA-1 template hashes that verify. */
function generateIma(n: number): { ascii: Buffer; binary: Buffer } {
  const lines: string[] = [];
  const entries: Buffer[] = [];
  const le32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  for (let i = 0; i < n; i++) {
    const digest = createHash('sha256').update(`file ${i}`).digest();
    const path = `/usr/lib/x86_64-linux-gnu/package-${i % 997}/lib${i}.so.${i % 7}`;
    const dng = Buffer.concat([Buffer.from('sha256:\0', 'latin1'), digest]);
    const nng = Buffer.from(`${path}\0`);
    const data = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng]);
    const th = createHash('sha1').update(data).digest();
    lines.push(`10 ${th.toString('hex')} ima-ng sha256:${digest.toString('hex')} ${path}`);
    entries.push(Buffer.concat([le32(10), th, le32(6), Buffer.from('ima-ng'), le32(data.length), data]));
  }
  return { ascii: Buffer.from(`${lines.join('\n')}\n`), binary: Buffer.concat(entries) };
}

export default async function (): Promise<void> {
  const logs = ['imaevmutils_sample-binary_bios_measurements-pcrs-8-9.bin', 'tss_binary_measurements_hcrtm.bin', 'gotpmtools_gdc-host.bin'].map((f) => join(CORPUS, 'eventlogs', f));
  if (!existsSync(logs[0]!)) {
    console.log(`corpus not found at ${CORPUS} (set VTPM_CORPUS); firmware-log rows skipped`);
  } else {
    const haveTool = hasCommand('tpm2_eventlog');
    const built = existsSync(join(REPO, 'dist', 'src', 'cli', 'main.js'));
    console.log('Firmware event logs: parse + decode + replay of every bank (ms, median)');
    const rows: (string | number)[][] = [['log', 'bytes', 'events', 'banks', 'in-process: wall (cpu)', 'vtpm-verify eventlog (process)', 'tpm2_eventlog (process)']];
    for (const path of logs) {
      const bytes = readFileSync(path);
      const log = parseEventLog(bytes);
      const inProcess = timeMs(() => replayEventLog(parseEventLog(bytes)), 25);
      const ours = built ? commandWallMs(process.execPath, [BIN, 'eventlog', path, '--json'], 9) : NaN;
      const theirs = haveTool ? commandWallMs('tpm2_eventlog', [path], 9) : NaN;
      rows.push([
        path.replace(/^.*\//, ''),
        bytes.length,
        log.events.length,
        log.banks.map((b) => b.name).join('+'),
        show(inProcess, 2),
        Number.isNaN(ours) ? 'skipped' : fmt(ours, 0),
        Number.isNaN(theirs) ? 'not installed' : fmt(theirs, 0),
      ]);
    }
    rows.push(['node -e 0 (start-up floor)', '', '', '', '', fmt(commandWallMs(process.execPath, ['-e', '0'], 9), 0), '']);
    table(rows);
  }

  const n = 100_000;
  const { ascii, binary } = generateIma(n);
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-ima-bench-'));
  try {
    writeFileSync(join(dir, 'ascii'), ascii);
    console.log(`\nIMA list of ${fmt(n)} ima-ng entries (${fmt(ascii.length / 1e6, 1)} MB ASCII, ${fmt(binary.length / 1e6, 1)} MB binary), ms, median`);
    const rows: (string | number)[][] = [['work: wall (cpu)', 'ASCII', 'binary']];
    rows.push(['parse', show(timeMs(() => parseImaList(ascii), 7)), show(timeMs(() => parseImaList(binary), 7))]);
    for (const bank of ['sha256', 'sha1'] as const) {
      rows.push([`parse + replay PCR 10 (${bank} bank)`, show(timeMs(() => replayIma(parseImaList(ascii), bank), 7)), show(timeMs(() => replayIma(parseImaList(binary), bank), 7))]);
    }
    // against a quote of the list's own PCR 10: what attestation does (it was quadratic once: 60,000 entries ~4 s)
    const quoted = (bank: 'sha256'): PcrValues => new Map([[bank, new Map([[10, replayIma(parseImaList(binary), bank).pcrs.get(10)!]])]]);
    const q = quoted('sha256');
    rows.push(['parse + replay against a quote (sha256)', show(timeMs(() => replayImaAgainstQuote(parseImaList(ascii), q), 7)), show(timeMs(() => replayImaAgainstQuote(parseImaList(binary), q), 7))]);
    rows.push(['parse + check every SHA-1 template hash', show(timeMs(() => checkTemplateHashes(parseImaList(ascii)), 7)), show(timeMs(() => checkTemplateHashes(parseImaList(binary)), 7))]);
    table(rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
