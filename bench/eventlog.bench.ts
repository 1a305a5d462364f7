// Event-log benchmarks: parse + replay of the largest corpus firmware logs in
// process and as a process, side by side with tpm2_eventlog on the same files;
// and a generated 100,000-entry IMA list (ASCII and binary) parsed and
// replayed; and IMA lists of real corpus entries scaled up to the 64 MiB file
// cap through the CLI, with and without --json (CPU time and peak RSS).
// Figures only; nothing here asserts on speed.
import { spawnSync } from 'node:child_process';
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
import { DEFAULT_FILE_CAP } from '../src/util/files.js';
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

const le32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const field = (b: Buffer): Buffer => Buffer.concat([le32(b.length), b]);

/**
 * The corpus's real ima-ng and ima-sig lines (Keylime's archive and keylime-tests' lists: sha1 and sha256
 * file digests, signatures), each also as the kernel's binary entry, repeated up to `bytes` (the file
 * cap): the ASCII list and the binary one. Only lines whose template hash the rebuilt binary data
 * reproduces are used, so every entry of both lists verifies.
 */
function scaleCorpusIma(bytes: number): { ascii: Buffer; binary: Buffer; asciiEntries: number; binaryEntries: number } | undefined {
  const files = ['keylime_archive_ascii_runtime_measurements', 'keylimetests_ascii_runtime_measurements-1', 'keylimetests_ascii_runtime_measurements-2'].map((f) => join(CORPUS, 'ima', f));
  if (!files.every((f) => existsSync(f))) return undefined;
  const lines: Buffer[] = [];
  const entries: Buffer[] = [];
  for (const f of files) {
    for (const l of readFileSync(f, 'latin1').split('\n')) {
      const m = /^(\d+) ([0-9a-f]{40}) (ima-ng|ima-sig) ([a-z0-9]+:)([0-9a-f]+) (.*)$/.exec(l);
      if (!m) continue;
      const [, pcr, hash, template, alg, digest, rest] = m as unknown as string[];
      let name = rest!;
      let sig: Buffer | undefined;
      if (template === 'ima-sig') {
        // the signature is the last field, hex or empty; the name is what comes before it
        const sp = name.lastIndexOf(' ');
        sig = sp >= 0 && /^[0-9a-f]*$/.test(name.slice(sp + 1)) ? Buffer.from(name.slice(sp + 1), 'hex') : Buffer.alloc(0);
        if (sp >= 0 && /^[0-9a-f]*$/.test(name.slice(sp + 1))) name = name.slice(0, sp);
      }
      const parts = [field(Buffer.concat([Buffer.from(`${alg}\0`, 'latin1'), Buffer.from(digest!, 'hex')])), field(Buffer.from(`${name}\0`, 'latin1'))];
      if (sig) parts.push(field(sig));
      const data = Buffer.concat(parts);
      if (createHash('sha1').update(data).digest('hex') !== hash) continue;
      lines.push(Buffer.from(`${l}\n`, 'latin1'));
      entries.push(Buffer.concat([le32(Number(pcr)), Buffer.from(hash!, 'hex'), field(Buffer.from(template!)), field(data)]));
    }
  }
  if (lines.length === 0) return undefined;
  const fill = (items: Buffer[]): { bytes: Buffer; count: number } => {
    const out: Buffer[] = [];
    let size = 0;
    for (let i = 0; size + items[i % items.length]!.length <= bytes; i++) {
      out.push(items[i % items.length]!);
      size += items[i % items.length]!.length;
    }
    return { bytes: Buffer.concat(out), count: out.length };
  };
  const a = fill(lines);
  const b = fill(entries);
  return { ascii: a.bytes, binary: b.bytes, asciiEntries: a.count, binaryEntries: b.count };
}

/** The most entries a binary list within `bytes` can hold: 33-byte entries of a one-letter unknown template with no data, each template hash valid. */
function tinyImaEntries(bytes: number): { binary: Buffer; entries: number } {
  const e = Buffer.concat([le32(10), createHash('sha1').update(Buffer.alloc(0)).digest(), le32(1), Buffer.from('x'), le32(0)]);
  const n = Math.floor(bytes / e.length);
  return { binary: Buffer.concat(Array<Buffer>(n).fill(e)), entries: n };
}

/** One run of a command: wall seconds, and where /usr/bin/time is there, CPU seconds and peak RSS (MB). */
function commandUsage(args: string[]): string {
  const timer = existsSync('/usr/bin/time') ? ['/usr/bin/time', '-f', '%U %S %M'] : [];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(timer[0] ?? process.execPath, [...timer.slice(1), ...(timer.length ? [process.execPath] : []), ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 20 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const exit = r.status === 0 ? '' : ` exit ${r.status ?? r.signal}`;
  const m = timer.length ? /(\d+\.\d+) (\d+\.\d+) (\d+)\s*$/.exec(r.stderr) : null;
  if (!m) return `${fmt(wall, 1)} s${exit}`;
  return `${fmt(wall, 1)} s (cpu ${fmt(Number(m[1]) + Number(m[2]), 1)}), ${fmt(Number(m[3]) / 1024, 0)} MB${exit}`;
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

    // the CLI at the file cap: the largest lists it accepts, from real entries and from the smallest ones
    const log = join(CORPUS, 'eventlogs', 'gotpmtools_gdc-host.bin');
    const scaled = scaleCorpusIma(DEFAULT_FILE_CAP);
    if (!scaled || !existsSync(log) || !existsSync(join(REPO, 'dist', 'bundle', 'main.js'))) {
      console.log('\ncorpus or build not found: the 64 MiB CLI rows are skipped');
      return;
    }
    const tiny = tinyImaEntries(DEFAULT_FILE_CAP);
    const lists: [string, Buffer][] = [
      [`real ima-ng/ima-sig entries, ASCII (${fmt(scaled.asciiEntries)} entries)`, scaled.ascii],
      [`the same, binary (${fmt(scaled.binaryEntries)} entries)`, scaled.binary],
      [`33-byte binary entries (${fmt(tiny.entries)}, the most the cap allows)`, tiny.binary],
    ];
    console.log(`\nvtpm-verify eventlog ${log.replace(/^.*\//, '')} --ima LIST at the ${fmt(DEFAULT_FILE_CAP / 1048576)} MiB file cap (one run each: wall, CPU, peak RSS)`);
    const cli: (string | number)[][] = [['IMA list', 'human output', '--json']];
    for (const [label, bytes] of lists) {
      const file = join(dir, 'cap-list');
      writeFileSync(file, bytes);
      cli.push([label, commandUsage([BIN, 'eventlog', log, '--ima', file]), commandUsage([BIN, 'eventlog', log, '--ima', file, '--json'])]);
    }
    table(cli);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
