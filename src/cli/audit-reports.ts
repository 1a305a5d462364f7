// The report files of `audit` (--json, --junit, --html), written from a spool
// so that memory stays flat whatever the fleet size: each result is appended
// to a temporary file as one JSON line the moment it is known, and only a
// small index entry per VM (order keys and where its line is) stays in
// memory. At the end each report streams the results back from the spool in
// its own order: inventory order for JSON and JUnit, failures first for HTML.
// The HTML report's card of each VM is rendered when its result arrives and
// spooled as text too, so the page is assembled without parsing any result
// back (that JSON.parse cost as much as rendering the cards).
//
// Report files are written next to their final name and renamed into place,
// so a report that exists is complete: an audit killed midway leaves none
// half-written.

import { closeSync, fsyncSync, lstatSync, mkdtempSync, openSync, readSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { checkOutputFile, entryPath, realFilePath, removeStaleTemps, tempPathFor } from '../util/files.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InternalError, TransportError, UsageError, VtpmError } from '../errors.js';
import { displayName, failureCodes, terminalSafe } from '../report/format.js';
import { htmlReportChunksFromCards, htmlReportOrder, htmlVmCard, type HtmlReportOptions } from '../report/html.js';
import { auditReportJsonChunksFromLines, type AuditRun } from '../report/json-report.js';
import { junitChunks, passedTestcase, type PassedTestcase } from '../report/junit.js';
import type { AuditSummary } from '../report/summary.js';
import type { AttestationResult, Verdict } from '../verify/result.js';
import { appendWarnings, toJsonText, type CommandOutcome } from './output.js';

interface SpoolEntry {
  /** inventory position */
  index: number;
  verdict: Verdict;
  /** the name reports show (HTML order) */
  name: string;
  offset: number;
  length: number;
  /** where its HTML card is in the spool, when the spool keeps cards */
  cardOffset: number;
  cardLength: number;
  /** a trusted VM's JUnit testcase, so JUnit need not read it back */
  passed?: PassedTestcase;
}

const NEWLINE = Buffer.from('\n');

/** Spool writes are gathered into blocks of this size (one write call each). */
const SPOOL_BLOCK = 1 << 20;
/**
 * The spool is read back in blocks of this size, the last few kept: reports
 * ask for entries mostly in the order they were written (inventory order,
 * give or take the VMs in flight together), so a read call per block instead
 * of one per entry (a system call costs tens of microseconds on small VMs).
 */
const READ_BLOCK = 1 << 20;
const READ_BLOCKS_KEPT = 4;

/** Results on disk, one JSON line each, with what each report needs to order them. */
export class ResultSpool {
  private readonly dir: string;
  private readonly fd: number;
  private readonly entries: SpoolEntry[] = [];
  /** bytes in the file plus those waiting in `pending` */
  private size = 0;
  private written = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** failure code → VMs that have it (the HTML report's filter list) */
  readonly codeCounts = new Map<string, number>();
  private closed = false;
  /**
   * Set once a write to the spool failed (a full $TMPDIR): later results are
   * no longer written (the audit goes on: its verdicts and state stand), and
   * each report that needs one read back fails with this error instead.
   */
  private failed: TransportError | undefined;
  /** set: every result's HTML card is rendered with these options and spooled */
  private readonly cards: HtmlReportOptions | undefined;
  /** blocks read back (READ_BLOCK each, by index), the oldest first */
  private readonly readBlocks = new Map<number, Buffer>();

  constructor(
    private readonly parent = tmpdir(),
    opts: { htmlCards?: HtmlReportOptions } = {},
  ) {
    this.cards = opts.htmlCards;
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(parent, 'vtpm-audit-'));
      this.fd = openSync(join(dir, 'results.ndjson'), 'w+', 0o600);
    } catch (err) {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new TransportError('IO_ERROR', `cannot create the report spool in ${parent} (TMPDIR): ${code}`, { dir: parent }, { cause: err });
    }
    this.dir = dir;
    // Unlinked at once and used through the descriptor only: even a SIGKILLed
    // audit leaves no spool behind (the kernel frees it with the process).
    // Where an open file cannot be unlinked, close() removes it.
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      /* removed by close() */
    }
  }

  get count(): number {
    return this.entries.length;
  }

  /** Appends a result; `utf8` is the UTF-8 bytes of toJsonText(result, 0) when the caller has them already (kept as they are: not to be changed after). */
  add(result: AttestationResult, index: number, utf8: Uint8Array = Buffer.from(toJsonText(result, 0), 'utf8')): void {
    const entry: SpoolEntry = { index, verdict: result.verdict, name: displayName(result), offset: this.size, length: utf8.length, cardOffset: 0, cardLength: 0 };
    if (result.verdict === 'trusted') entry.passed = passedTestcase(result);
    this.entries.push(entry);
    this.append(utf8);
    this.append(NEWLINE);
    if (this.cards) {
      const card = Buffer.from(htmlVmCard(result, this.cards), 'utf8');
      entry.cardOffset = this.size;
      entry.cardLength = card.length;
      this.append(card);
    }
    for (const c of failureCodes(result)) this.codeCounts.set(c, (this.codeCounts.get(c) ?? 0) + 1);
  }

  /** Result lines (JSON text as UTF-8, no newline) in inventory order; each valid until the next is asked for. */
  *lines(): Generator<Buffer> {
    for (const e of this.inventoryOrder()) yield this.readBytes(e.offset, e.length);
  }

  /** Results in inventory order for JUnit: trusted ones as their testcase only, the others read back whole. */
  *junitCases(): Generator<AttestationResult | PassedTestcase> {
    for (const e of this.inventoryOrder()) yield e.passed ?? (JSON.parse(this.readBytes(e.offset, e.length).toString('utf8')) as AttestationResult);
  }

  /** The HTML cards (UTF-8) in the report's order (failures first), each valid until the next is asked for; only from a spool made with `htmlCards`. */
  *htmlCards(): Generator<Buffer> {
    if (!this.cards) throw new InternalError('ResultSpool: made without htmlCards');
    for (const e of [...this.entries].sort(htmlReportOrder)) yield this.readBytes(e.cardOffset, e.cardLength);
  }

  private inventoryOrder(): SpoolEntry[] {
    return [...this.entries].sort((a, b) => a.index - b.index);
  }

  private append(bytes: Uint8Array): void {
    this.size += bytes.length;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= SPOOL_BLOCK) this.flush();
  }

  private flush(): void {
    this.readBlocks.clear();
    const block = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.failed) return;
    try {
      let done = 0;
      while (done < block.length) done += writeSync(this.fd, block, done, block.length - done, this.written + done);
      this.written += block.length;
    } catch (err) {
      // a full disk where the spool is: not a reason to stop attesting (the result is
      // stored and counted already); the reports that need it say why they were not written
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      this.failed = new TransportError('IO_ERROR', `the results could not be spooled in ${this.parent} (TMPDIR): ${code}`, { dir: this.parent, cause: code }, { cause: err });
    }
  }

  /**
   * Bytes of the spool: a view into a block read back when they lie in one, valid only until the next read (the
   * block's memory is read into again once it is evicted: reading a 10,000-VM spool twice made ~560 MB of 1 MiB
   * buffers for the garbage collector, and the process's peak RSS grew by ~100 MB at the end of the audit).
   */
  private readBytes(offset: number, length: number): Buffer {
    if (this.pendingBytes > 0) this.flush();
    if (this.failed) throw this.failed;
    if (length === 0) return Buffer.alloc(0);
    const index = Math.floor(offset / READ_BLOCK);
    if (index !== Math.floor((offset + length - 1) / READ_BLOCK)) return this.readAt(offset, length);
    let block = this.readBlocks.get(index);
    if (!block) {
      const size = Math.min(READ_BLOCK, this.written - index * READ_BLOCK);
      if (size <= 0) throw new TransportError('IO_ERROR', `audit spool: short read in ${this.dir}`, { dir: this.dir });
      // the memory of the block read longest ago, once READ_BLOCKS_KEPT are kept
      let memory: Buffer;
      if (this.readBlocks.size >= READ_BLOCKS_KEPT) {
        const oldest = this.readBlocks.keys().next().value!;
        memory = this.readBlocks.get(oldest)!;
        this.readBlocks.delete(oldest);
      } else memory = Buffer.allocUnsafeSlow(READ_BLOCK);
      block = this.readAt(index * READ_BLOCK, size, Buffer.from(memory.buffer, 0, size));
      this.readBlocks.set(index, block);
    }
    const start = offset - index * READ_BLOCK;
    if (start + length > block.length) throw new TransportError('IO_ERROR', `audit spool: short read in ${this.dir}`, { dir: this.dir });
    return block.subarray(start, start + length);
  }

  /** `length` bytes at `offset`, into `into` (of that length) when given. */
  private readAt(offset: number, length: number, into?: Buffer): Buffer {
    const buf = into ?? Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, buf, got, length - got, offset + got);
      if (n === 0) throw new TransportError('IO_ERROR', `audit spool: short read in ${this.dir}`, { dir: this.dir });
      got += n;
    }
    return buf;
  }

  /** Removes the spool. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Chunks are gathered up to this many bytes per write call. */
const REPORT_WRITE_BLOCK = 1 << 20;

/** Writes chunks (text, or UTF-8 bytes, each used before the next is asked for) to `path` through a temporary file renamed into place once complete and synced. */
export function writeReportFile(path: string, what: string, chunks: Iterable<string | Uint8Array>): void {
  const temp = tempPathFor(path);
  // what a run killed while writing this report left (its process gone): each such kill would add one
  removeStaleTemps(path);
  let fd: number | undefined;
  try {
    // never through what is already at the temporary name (a link planted in a shared folder, at a guessable PID):
    // the name is removed (the link itself, not what it points to) and the file made anew, exclusively
    try {
      fd = openSync(temp, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      unlinkSync(temp);
      fd = openSync(temp, 'wx', 0o644);
    }
    // writeSync may write less than asked (a disk filling up, a file size limit): the rest is written
    // in turn, where the file system's error (ENOSPC, EFBIG) is thrown, instead of being dropped
    const writeAll = (bytes: Uint8Array): void => {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd!, bytes, done, bytes.length - done);
    };
    // fewer, larger writes (a 10,000-VM report is tens of thousands of chunks), gathered in one buffer: a chunk
    // of bytes may be a view into memory its source reads into again for the next chunk, so it is copied at once
    const out = Buffer.allocUnsafe(REPORT_WRITE_BLOCK);
    let used = 0;
    const put = (bytes: Uint8Array): void => {
      if (used + bytes.length > out.length) {
        writeAll(out.subarray(0, used));
        used = 0;
      }
      if (bytes.length > out.length) writeAll(bytes);
      else {
        out.set(bytes, used);
        used += bytes.length;
      }
    };
    for (const chunk of chunks) put(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    if (used > 0) writeAll(out.subarray(0, used));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // it may not exist
    }
    // the spool it is read from failed (a full $TMPDIR): say that, not a code of this file's
    const why = err instanceof VtpmError ? err.message : ((err as NodeJS.ErrnoException).code ?? String(err));
    throw new TransportError('IO_ERROR', `cannot write the ${what} ${path}: ${why}`, { path, what }, { cause: err });
  }
}

export interface ReportFiles {
  json?: string | undefined;
  junit?: string | undefined;
  html?: string | undefined;
}

/** A report that could not be written (the others still were). */
export interface ReportWriteFailure {
  report: keyof ReportFiles;
  file: string;
  code: string;
  message: string;
}

/**
 * Writes every report asked for from the spool. One that fails (a full disk)
 * does not stop the others; the failures are returned for the caller to
 * report beside the verdicts, which stand.
 */
export function writeReports(files: ReportFiles, run: AuditRun, summary: AuditSummary, spool: ResultSpool, written?: Set<keyof ReportFiles>): ReportWriteFailure[] {
  const failures: ReportWriteFailure[] = [];
  const write = (report: keyof ReportFiles, what: string, chunks: () => Iterable<string | Uint8Array>): void => {
    const file = files[report];
    if (file === undefined) return;
    try {
      writeReportFile(file, what, chunks());
      written?.add(report);
    } catch (err) {
      if (!(err instanceof VtpmError)) throw err;
      failures.push({ report, file, code: err.code, message: err.message });
    }
  };
  write('json', 'JSON report', () => auditReportJsonChunksFromLines(run, summary, spool.lines()));
  write('junit', 'JUnit report', () => junitChunks(run, summary, spool.junitCases()));
  write('html', 'HTML report', () => htmlReportChunksFromCards(run, summary, spool.codeCounts, spool.htmlCards()));
  return failures;
}

const REPORT_NAMES: Record<keyof ReportFiles, string> = { json: 'JSON report', junit: 'JUnit report', html: 'HTML report' };

/** Which file a report path names (its device and inode, not followed if a symlink); undefined: none. */
type FileIdentity = { dev: number; ino: number } | undefined;

function identityOf(file: string): FileIdentity {
  try {
    const st = lstatSync(file, { throwIfNoEntry: false });
    return st ? { dev: st.dev, ino: st.ino } : undefined;
  } catch {
    return undefined;
  }
}

/** The file at each report path now. */
export function reportFilesFound(files: ReportFiles): Partial<Record<keyof ReportFiles, FileIdentity>> {
  const found: Partial<Record<keyof ReportFiles, FileIdentity>> = {};
  for (const [report, file] of Object.entries(files) as [keyof ReportFiles, string | undefined][]) {
    if (file !== undefined) found[report] = identityOf(file);
  }
  return found;
}

/** Writes to stderr; one that cannot be written (a full disk) does not stop the removals. */
function warn(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // nothing left to say it on
  }
}

/**
 * Removes, from the paths of the reports asked for, any file this run did not
 * write: an earlier run's report left in place would be read as this run's (a
 * CI step that publishes reports "always" would show yesterday's verdicts for
 * a run that failed). Called once the paths are checked, whatever the run's
 * end; each removal is said on stderr, and returned (the --json envelope keeps
 * it too). A file that cannot be removed is said too.
 *
 * `found` (reportFilesFound when the paths were checked) says which files were
 * there then: only those are removed. A file that appeared or replaced it
 * meanwhile (a concurrent run's report renamed into place) is not the earlier
 * run's and is left alone. Without `found`, whatever is there now is removed.
 */
export function removeUnwrittenReports(files: ReportFiles, written: ReadonlySet<keyof ReportFiles>, found = reportFilesFound(files)): string[] {
  const warnings: string[] = [];
  const say = (text: string): void => {
    warnings.push(text);
    warn(`warning: ${text}\n`);
  };
  for (const [report, file] of Object.entries(files) as [keyof ReportFiles, string | undefined][]) {
    if (file === undefined || written.has(report)) continue;
    const was = found[report];
    if (was === undefined) continue;
    const now = identityOf(file);
    if (now === undefined) continue;
    if (now.dev !== was.dev || now.ino !== was.ino) {
      say(`left ${terminalSafe(file)} in place: this run did not write that ${REPORT_NAMES[report]}, but it is not the file that was there when the run began (another run wrote it meanwhile)`);
      continue;
    }
    try {
      unlinkSync(file);
      say(`removed ${terminalSafe(file)}, a ${REPORT_NAMES[report]} this run did not write (an earlier run's would be taken for this one's)`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      say(`could not remove ${terminalSafe(file)}, a ${REPORT_NAMES[report]} this run did not write: ${code ?? String(err)}`);
    }
  }
  return warnings;
}

/**
 * From the moment the report paths are checked: the reports a run writes
 * (`written`), and the removal of the others however the process ends. finish()
 * removes them at the command's end; a process that exits before it (a signal
 * during a command, a second signal during an audit) removes them on its way
 * out, so an earlier run's report never outlives a run that did not replace it.
 */
export class ReportGuard {
  readonly written = new Set<keyof ReportFiles>();
  private readonly found: Partial<Record<keyof ReportFiles, FileIdentity>>;
  private done = false;
  private readonly onExit = (): void => void this.finish();

  constructor(private readonly files: ReportFiles) {
    this.found = reportFilesFound(files);
    process.on('exit', this.onExit);
  }

  /** Removes the reports not written (once); returns what the removals warned about (said on stderr too). */
  finish(): string[] {
    if (this.done) return [];
    this.done = true;
    process.off('exit', this.onExit);
    return removeUnwrittenReports(this.files, this.written, this.found);
  }
}

/**
 * Runs a command that writes `files` (audit, report) under a ReportGuard: the
 * reports it did not write are removed at its end, and what the removals warn
 * about (said on stderr for people) joins its one --json envelope as well:
 * the result's `warnings` when the command has a result, otherwise its
 * error's `details.warnings` (a command that failed without a result).
 */
export async function withReportGuard(files: ReportFiles, command: (written: Set<keyof ReportFiles>) => Promise<CommandOutcome>): Promise<CommandOutcome> {
  const guard = new ReportGuard(files);
  let outcome: CommandOutcome;
  try {
    outcome = await command(guard.written);
  } catch (err) {
    const warnings = guard.finish();
    if (err instanceof VtpmError) appendWarnings(err.details, warnings);
    throw err;
  }
  const warnings = guard.finish();
  const result = outcome.result;
  if (result !== null && typeof result === 'object' && !Array.isArray(result)) appendWarnings(result as Record<string, unknown>, warnings);
  else if (outcome.error) appendWarnings(outcome.error.details, warnings);
  return outcome;
}

/**
 * Checks report paths before any work, so a typo in a folder name costs
 * nothing (not an audit's worth of attestations, then exit 3): each names a
 * file in an existing, writable folder, no two are the same file, and none is
 * a file the command reads or keeps (the inventory, the state file, an input
 * report), which writing it would destroy.
 */
export function checkReportPaths(files: ReportFiles, keep: readonly { path: string; what: string }[]): void {
  // each file by every name a report's rename could land on it: as spelled, through its folder's links, and the file a link names
  const taken = new Map<string, string>();
  for (const k of keep) for (const p of [resolve(k.path), entryPath(k.path), realFilePath(k.path)]) if (!taken.has(p)) taken.set(p, k.what);
  for (const [report, file] of Object.entries(files) as [keyof ReportFiles, string | undefined][]) {
    if (file === undefined) continue;
    const option = `--${report}`;
    checkOutputFile(option, file);
    const names = [resolve(file), entryPath(file)];
    const other = names.map((n) => taken.get(n)).find((w) => w !== undefined);
    if (other !== undefined) throw new UsageError('USAGE', `${option} ${file} is ${other}: writing the report there would destroy it`, { option: report, file });
    for (const n of names) taken.set(n, `the ${option} report too`);
  }
}

/** How an audit's HTML cards are rendered: passing checks counted, not listed (failures with every detail), so a fleet's page stays a size a browser opens. */
export const AUDIT_HTML_CARDS: HtmlReportOptions = { passedDetail: 'summary' };
