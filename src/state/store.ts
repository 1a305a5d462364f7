// The persistent state of vtpm-verify: one SQLite file (better-sqlite3,
// imported lazily: it costs start-up time every other command should not pay).
//
// Durability and concurrency:
// - WAL journal: readers never block the writer and a crash (kill -9, power
//   loss) leaves either the whole transaction or none of it.
// - synchronous = FULL: the WAL is fsynced at every commit, so what a command
//   has reported (a verdict, a new clock baseline) survives a power loss too.
//   NORMAL would only survive a process crash and could silently drop the last
//   baseline, letting a rollback into that window go unnoticed. The cost, an
//   fsync per attestation, is small next to a network round trip and a quote
//   verification (bench/state.bench.ts measures both settings).
// - busy_timeout: a second process waits for the write lock instead of failing.
// - Every write is one BEGIN IMMEDIATE transaction: observe() reads the
//   previous readings and records the new one holding the write lock, so two
//   processes attesting one instance cannot interleave between read and write.
// - A fleet audit batches: beginBatch() opens one IMMEDIATE transaction that
//   the writes after it join (each as a savepoint) until commitBatch(), so a
//   batch of results costs one fsync. Nothing in a batch counts as written
//   before its commit returns.

import { closeSync, copyFileSync, constants as fsConstants, existsSync, lstatSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { makeDirs } from '../util/make-dirs.js';
import { basename, dirname, join, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { InternalError, TransportError, UsageError } from '../errors.js';
import { assessClock, platformKey, summarizeReading, type ClockInfo, type ClockReading } from './clock-findings.js';
import type { ReadingSummary, StateFinding } from './findings.js';
import { assessHosting, type HostingEvidence, type Stay } from './hosting-findings.js';
import { MAX_STORED_JSON_CHARS, clockText, corrupt, decodeClockState, encodeClockState, firmwareText, jsonText, parseJson, parsePath } from './rows.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { MAX_LISTED_CHANGES, changeKind, type RunChanges, type VerdictChange } from './run-changes.js';
import { MIN_DICTIONARY_SOURCE_BYTES, ResultBlobError, decodeResultBlob, dictionaryFrom, encodeResultBlob } from './result-blob.js';
import { stateError, stateNotFound } from './state-errors.js';

type Db = BetterSqlite3.Database;

export interface OpenStateOptions {
  /** create the file (and its folder) when absent; default true. false: STATE_NOT_FOUND */
  create?: boolean;
  /** how long to wait for another process's lock, ms; default 10,000 */
  busyTimeoutMs?: number;
  /** SQLite synchronous setting; default 'FULL' (see above). 'NORMAL' exists for benchmarks */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * The command only reads (history): a file SQLite cannot open where it lies
   * (a read-only file system: WAL mode needs a -shm file beside it) is read
   * from a private copy instead. Writes then go to the copy, which close() deletes.
   */
  readOnly?: boolean;
}

/** A verified reading of one vTPM instance through one AK, as attest records it. */
export interface Observation {
  /** 64 lowercase hex: the instance id from the verified AK certificate */
  instanceId: string;
  /** hex Name of the AK that signed the quote */
  akName: string;
  clockInfo: ClockInfo;
  firmwareVersion: bigint;
  /** AK Names (hex) of the layers below, from the hosting layer down to the physical platform; [] for a physical TPM */
  platformPath: readonly string[];
  /** ms since the epoch: when the evidence was requested (the nonce made) */
  time: number;
  /** ms since the epoch: when the evidence arrived; default `time` */
  receivedAt?: number;
  /** the URL attested */
  target: string;
  /** marker of the hosting log entry that began the current stay (see hosting-findings.ts) */
  hostingEpoch?: string | null;
  /** false: the reading is kept, but is no evidence of where the instance runs (another vTPM's claim to it) */
  hosting?: boolean;
}

export interface ObserveOutcome {
  observationId: number;
  findings: StateFinding[];
  /** the reading this one was compared with, if the identity was seen before */
  previous: ReadingSummary | null;
  /** the platform path differs from the previous reading's: the instance moved */
  platformChanged: boolean;
}

/** One attestation result to append to the history. */
export interface ResultRecord {
  /** ms since the epoch */
  time: number;
  target: string;
  instanceId?: string | null;
  /** an AttestationResult's verdict: 'trusted', 'not-trusted' or 'incomplete' */
  verdict: string;
  /** findings and failed checks, each with at least a code */
  findings?: readonly unknown[];
  platformPath?: readonly string[] | null;
  /** the whole result, stored as JSON (bigint as decimal text, bytes as hex) */
  result?: unknown;
  /** `result` already serialized that way, as text or its UTF-8 bytes (a fleet audit serializes each result once, for its reports and the state) */
  resultJson?: string | Uint8Array;
  /** the audit run (beginAuditRun) that recorded it */
  runId?: number;
}

export interface HistoryFilter {
  /** instance id or a hex prefix of it */
  instance?: string;
  /** ms since the epoch, inclusive */
  since?: number;
  until?: number;
  /** only the results of this audit run */
  run?: number;
  /** newest first; default 100, at most 100,000 */
  limit?: number;
}

export interface HistoryEntry {
  id: number;
  /** the audit run that recorded it, null for attest and watch */
  runId: number | null;
  time: string;
  target: string;
  instanceId: string | null;
  verdict: string;
  platformPath: string[] | null;
  findings: unknown[];
  /** the stored result, parsed; undefined when history() was asked for none (results: false) */
  result: unknown;
}

export interface StaySummary {
  instanceId: string;
  platformPath: string[];
  epoch: string | null;
  /** first and last evidence of hosting (ISO 8601) */
  from: string;
  to: string;
  /** evidence that the platform no longer hosts it, if any */
  closedAt: string | null;
}

export interface IdentitySummary {
  instanceId: string;
  akName: string;
  last: ReadingSummary;
  firstSeen: string;
  readings: number;
  /** clock histories (lineages) remembered: more than one means a rollback or clone was seen */
  histories: number;
}

/** What prune() removed (or, in a dry run, would remove). */
export interface PruneOutcome {
  /** ISO 8601: rows recorded before this time */
  before: string;
  /** history results */
  results: number;
  /** verified clock readings (the observation log) */
  readings: number;
  /** audit runs started before the cut-off with no result left */
  runs: number;
  dryRun: boolean;
}

/** What an audit run sets out to do (StateStore.beginAuditRun). */
export interface AuditRunStart {
  /** ms since the epoch */
  startedAt: number;
  /** the inventory file (runs of the same file are compared: the audit records its absolute path) */
  inventory: string;
  /** "I/N", or null for the whole inventory */
  shard: string | null;
  /** VMs the run is to audit */
  planned: number;
  /** audit --run-label, or null */
  label?: string | null;
}

/** How an audit run ended (StateStore.finishAuditRun). */
export interface AuditRunEnd {
  finishedAt: number;
  exitCode: number;
  /** the signal that stopped it before every VM was audited, if one did */
  interrupted: string | null;
  failureCodes: readonly { code: string; count: number }[];
}

export interface AuditRunSummary {
  id: number;
  startedAt: string;
  /** null: still running, or killed before it finished */
  finishedAt: string | null;
  inventory: string;
  shard: string | null;
  /** audit --run-label, or null */
  label: string | null;
  planned: number;
  /** results stored (fewer than planned when interrupted or killed) */
  recorded: number;
  trusted: number;
  notTrusted: number;
  unreachable: number;
  exitCode: number | null;
  interrupted: string | null;
  /** the codes of its stored results as of its last committed batch, the final ones once it finished; null: none written (a run killed before its first commit, or one of an older vtpm-verify, which wrote them only at its end) */
  failureCodes: { code: string; count: number }[] | null;
  /** the previous finished, uninterrupted run of the same inventory and shard, and the changes since; null when there is none */
  since: RunChanges | null;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
/** Rows deleted per transaction when pruning: other processes get the write lock between chunks. */
const PRUNE_CHUNK_ROWS = 5_000;
export const MAX_HISTORY_LIMIT = 100_000;
/** An unfinished audit run begun less than this long ago is taken to be running: prune leaves it be. */
const RUNNING_AUDIT_MS = 24 * 3_600_000;
const NOT_OF_A_RUNNING_AUDIT = `(run_id IS NULL OR run_id NOT IN (SELECT id FROM audit_run WHERE finished_at IS NULL AND started_at >= @running))`;
/** Result text one history read decodes in all (a result is ~27 KB: about 10,000 of them). */
export const MAX_HISTORY_TEXT = 256 * 1024 * 1024;
/** A result larger than this is a bug of the caller (evidence is capped well below). */
export const MAX_RESULT_BYTES = 32 * 1024 * 1024;
/** Stays of one instance compared with new evidence: the most recent ones. */
const STAYS_COMPARED = 256;

/** A migrationService URI longer than this is not one a certificate carries (the transport caps URLs lower). */
const MAX_SERVICE_LENGTH = 8192;

const INSTANCE_RE = /^[0-9a-f]{64}$/;
const HEX_RE = /^[0-9a-f]+$/;

/**
 * The history query for the filters given: only those set are in the WHERE clause, as conditions an index
 * answers, so that a filter reads its rows and not the history around them. A run's results are found through
 * result_by_run_time (in time order), an instance (or a prefix: a range of the lowercase hex ids, "3f2a" to "3f2ag") through
 * result_by_instance, a time range through result_by_time. The newest `limit` ids are chosen from the index
 * alone and only their rows read: the rows hold the whole result, and sorting every matching row for ORDER BY
 * read them all. Exported for the tests, which check the plans.
 */
export function historyQuery(filters: { prefix: boolean; since: boolean; until: boolean; run: boolean }): string {
  const where = [
    ...(filters.prefix ? ['instance_id >= @prefix AND instance_id < @prefixEnd'] : []),
    ...(filters.since ? ['time >= @since'] : []),
    ...(filters.until ? ['time <= @until'] : []),
    ...(filters.run ? ['run_id = @run'] : []),
  ];
  const chosen = `SELECT id FROM result${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT @limit`;
  return `SELECT * FROM result WHERE id IN (${chosen}) ORDER BY time DESC, id DESC`;
}

/**
 * One chunk of a prune: the oldest rows first, found through the table's time index. (In id order it walked
 * the table itself, and the last chunk read every row kept, the whole history at each audit's --keep-history,
 * to find that none was left.) Exported for the tests, which check the plan.
 */
export function pruneChunkQuery(table: 'result' | 'observation'): string {
  return `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE time < @before${table === 'result' ? ` AND ${NOT_OF_A_RUNNING_AUDIT}` : ''} ORDER BY time, id LIMIT ${PRUNE_CHUNK_ROWS})`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A time read from the file: one a Date cannot hold (a hand-edited row) is STATE_CORRUPT, not a crash. */
function isoOf(ms: unknown, path: string, what: string): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw corrupt(path, what);
  return iso(ms);
}

/** A time a Date can hold: a safe integer beyond 8.64e15 (a hand-edited row) made messages and summaries throw a RangeError. */
const isStoredMs = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= 8.64e15;

/**
 * A stay's times as compared with new evidence (returns its id). One of another type (text, a real) compared as no time at all:
 * a damaged row silently hid CLONE_HOSTED_TWICE, or crashed the comparison as a bug.
 */
function checkStayTimes(r: StayRow, path: string): number {
  if (!isStoredMs(r.first_seen) || !isStoredMs(r.last_seen) || (r.closed_at !== null && !isStoredMs(r.closed_at)) || (r.epoch !== null && typeof r.epoch !== 'string')) {
    throw corrupt(path, 'hosting period');
  }
  return r.id;
}

function checkInput(ok: boolean, field: string, value: unknown): void {
  if (!ok) throw new InternalError(`state: invalid ${field}`, { field, value: typeof value === 'string' ? value.slice(0, 100) : String(value) });
}

/** Opens (creating if needed) the state file and brings its schema up to date. */
export async function openState(path: string, opts: OpenStateOptions = {}): Promise<StateStore> {
  const file = resolve(path);
  const create = opts.create ?? true;
  if (!existsSync(file)) {
    if (!create) throw stateNotFound(file);
    try {
      // The state tells which machines run where: keep it to the user.
      makeDirs(dirname(file), 0o700);
      closeSync(openSync(file, 'a', 0o600));
    } catch (err) {
      throw new TransportError('STATE_UNWRITABLE', `cannot create state file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path: file }, { cause: err });
    }
  }
  // SQLite given a FIFO or a device (`--state /dev/null` to keep nothing) failed with "disk I/O error" or read
  // it as an empty file, and left a journal beside it (/dev/null-journal): refused before it is opened
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new TransportError('STATE_UNWRITABLE', `cannot open state file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path: file }, { cause: err });
  }
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new TransportError('STATE_UNWRITABLE', `state file ${file} is ${kind}: a state file is an SQLite database in a regular file`, { path: file });
  }
  try {
    return await openDatabase(file, file, opts);
  } catch (err) {
    if (!opts.readOnly || !(err instanceof TransportError) || err.code !== 'STATE_UNWRITABLE') throw err;
    const copy = readableCopy(file);
    if (!copy) throw err;
    try {
      const store = await openDatabase(file, copy.path, opts);
      store.onClose(copy.remove);
      return store;
    } catch (copyErr) {
      copy.remove();
      throw copyErr;
    }
  }
}

/**
 * A private copy of a state file SQLite could not open where it lies, for a
 * command that only reads: with no -shm file beside it, no process has it
 * open (one would have made it), and none can begin to where we cannot write
 * one either, so the file and its WAL (committed results not yet
 * checkpointed) copy consistently. Undefined when that is not the case, or
 * the file cannot be read: the caller's error stands.
 */
function readableCopy(file: string): { path: string; remove: () => void } | undefined {
  if (existsSync(`${file}-shm`)) return undefined;
  let dir: string | undefined;
  try {
    const before = statSync(file);
    removeLeftCopies();
    dir = mkdtempSync(join(tmpdir(), copyPrefix()));
    const path = join(dir, basename(file));
    copyFileSync(file, path, fsConstants.COPYFILE_FICLONE);
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${path}-wal`, fsConstants.COPYFILE_FICLONE);
    const after = statSync(file);
    // written to while copied after all: not a snapshot
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) throw new Error('changed');
    const made = dir;
    return { path, remove: () => rmSync(made, { recursive: true, force: true }) };
  } catch {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

const COPY_PREFIX = 'vtpm-state-read-';

/**
 * This process's PID namespace (the inode of /proc/self/ns/pid; 0 where there
 * is none to read): a PID names a process only within its namespace, and
 * containers sharing one $TMPDIR each have their own.
 */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}

/** The folder name's prefix of this process's copies: `vtpm-state-read-<namespace>-<pid>-`. */
function copyPrefix(): string {
  return `${COPY_PREFIX}${pidNamespace()}-${process.pid}-`;
}

/**
 * Removes the copies that readers killed before their end (SIGKILL) left in
 * $TMPDIR: a copy tells which machines run where, and its process, named in
 * the folder's name with its PID namespace, is gone. Only this user's
 * folders of this PID namespace (in another, a PID says nothing here); each
 * error skips that folder only.
 */
function removeLeftCopies(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  const uid = process.getuid?.();
  const here = new RegExp(`^${COPY_PREFIX}${pidNamespace()}-(\\d+)-`);
  for (const name of names) {
    const m = here.exec(name);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    try {
      const dir = join(tmpdir(), name);
      if (uid !== undefined && lstatSync(dir).uid !== uid) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // a copy left is no reason to fail a read
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Opens the SQLite file at `dbPath` as the state file `file` (the name every message gives). */
async function openDatabase(file: string, dbPath: string, opts: OpenStateOptions): Promise<StateStore> {
  const create = opts.create ?? true;
  const { default: Database } = await import('better-sqlite3');
  let db: Db | undefined;
  try {
    db = new Database(dbPath, { fileMustExist: true, timeout: opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    // the file just opened (a second connection to it, such as the audit's state thread, checks it opens the same one)
    let st;
    try {
      st = statSync(dbPath, { bigint: true });
    } catch (err) {
      throw new TransportError('STATE_UNWRITABLE', `cannot open state file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path: file }, { cause: err });
    }
    // whose file it is, before anything is changed in it (WAL mode is written into the file's header)
    const version = checkStateFile(db, file);
    // an empty file (or SQLite file without tables) where a command only reads: nothing was recorded, and reading does not make it a state file
    if (!create && version === 0) throw stateNotFound(file, 'is empty');
    await setWalMode(db, opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
    db.pragma(`synchronous = ${opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
    // before a migration writes: a trigger could change or drop the migration's own writes
    checkTriggers(db, file);
    migrate(db, file);
    checkSchema(db, file, Database);
    return new StateStore(db, file, { dev: st.dev, ino: st.ino });
  } catch (err) {
    db?.close();
    throw stateError(err, file, 'open');
  }
}

/**
 * WAL mode, written into a new file's header. Two processes opening one new file at once (two audit shards
 * sharing a state file) can get SQLITE_BUSY from this pragma without SQLite's busy handler being called, so it
 * is tried again, for as long as the busy timeout allows.
 */
async function setWalMode(db: Db, busyTimeoutMs: number): Promise<void> {
  const until = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || Date.now() >= until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.floor(Math.random() * 40)));
    }
  }
}

/** The file's schema version, once it is known to be a vtpm-verify state file this version can use (or an empty one). */
function checkStateFile(db: Db, file: string): number {
    // Read in one snapshot: read one by one, another process creating the file in between (two shards opening
    // one new state file) gave an application id of 0 with its version, or with its tables: a "foreign file".
    const { appId, version, tables } = db.transaction(() => ({
      appId: db.pragma('application_id', { simple: true }) as number,
      version: db.pragma('user_version', { simple: true }) as number,
      tables: (db.prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'`).get() as { n: number }).n,
    }))();
    // every version of vtpm-verify sets both together: a version without our id is another program's
    if ((appId !== 0 && appId !== APPLICATION_ID) || (appId === 0 && version !== 0)) {
      throw new TransportError('STATE_FOREIGN_FILE', `${file} is an SQLite database of another application (application_id ${appId}), not a vtpm-verify state file`, { path: file, applicationId: appId });
    }
    if (version > SCHEMA_VERSION) {
      throw new TransportError(
        'STATE_SCHEMA_TOO_NEW',
        `state file ${file} has schema version ${version}, written by a newer vtpm-verify; this one knows versions up to ${SCHEMA_VERSION}: upgrade vtpm-verify (the file was left untouched)`,
        { path: file, fileVersion: version, supportedVersion: SCHEMA_VERSION },
      );
    }
    if (version < 0) throw schemaDamaged(file, `schema version ${version}`);
    if (version === 0) {
      if (tables > 0 && appId === 0) {
        throw new TransportError('STATE_FOREIGN_FILE', `${file} is an SQLite database with tables of its own, not a vtpm-verify state file`, { path: file, tables });
      }
      // ours, with tables, yet no version: not an empty file to create the tables in (nor to report as holding nothing)
      if (tables > 0) throw schemaDamaged(file, 'schema version 0 with tables');
    }
    return version;
}

/** The file's tables are not those its schema version has: someone altered it. */
function schemaDamaged(file: string, what: string): TransportError {
  return new TransportError('STATE_CORRUPT', `state file ${file} was altered: ${what}, not the schema vtpm-verify writes; move it aside to start afresh`, { path: file, what });
}

/** A table's columns, in order ('' for no such table). */
function columnsOf(db: Db, table: string): string {
  return (db.pragma(`table_info(${JSON.stringify(table)})`) as { name: string }[]).map((c) => c.name).join(',');
}

/** An SQL text's tokens, comments left out: a word, a string, a quoted name, or one other character. */
function sqlTokens(sql: string): string[] {
  const re = /\s+|--[^\n]*|\/\*[\s\S]*?(?:\*\/|$)|'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|[\w$]+|[\s\S]/gy;
  return [...sql.matchAll(re)].map((m) => m[0]).filter((t) => !/^(?:\s|--|\/\*)/.test(t));
}

/**
 * A trigger whose body is one RAISE(ABORT or FAIL, 'message'): it can refuse a write, not change or drop one. Read
 * as tokens: a BEGIN inside the trigger's quoted name or a comment is not its body (one that matched as text let
 * `"BEGIN SELECT RAISE(ABORT, '"`, a RAISE(IGNORE) body and a comment ending `'); END` through).
 */
function onlyRefuses(sql: string | null): boolean {
  const tokens = sqlTokens(sql ?? '').map((t) => (/^'[\s\S]*'$/.test(t) ? "'" : t.toUpperCase()));
  const begin = tokens.indexOf('BEGIN');
  // one bare BEGIN: SQLite takes BEGIN as a name too, so a second one could be the body's
  return begin >= 0 && begin === tokens.lastIndexOf('BEGIN') && /^BEGIN SELECT RAISE \( (ABORT|FAIL) , ' \) ; END$/.test(tokens.slice(begin).join(' '));
}

/** The tables and columns of the current schema, as the migrations build it in an empty database (once per process). */
let currentSchema: Map<string, string> | undefined;
/** Per table of the current schema, its unique indexes (uniqueIndexesOf). */
let currentUniqueIndexes: Map<string, string> | undefined;
/** Per table of the current schema, what else can refuse a write (constraintsOf). */
let currentConstraints: Map<string, string[]> | undefined;

/**
 * A table's unique indexes, however made (a primary key, a UNIQUE constraint, CREATE UNIQUE INDEX), as
 * `origin(columns)` ('' for none): one vtpm-verify did not make can refuse its writes, as a trigger can.
 */
function uniqueIndexesOf(db: Db, table: string): string {
  return (db.pragma(`index_list(${JSON.stringify(table)})`) as { name: string; unique: number; origin: string; partial: number }[])
    .filter((i) => i.unique === 1)
    .map((i) => `${i.origin}${i.partial ? ' partial' : ''}(${(db.pragma(`index_info(${JSON.stringify(i.name)})`) as { name: string | null }[]).map((c) => c.name ?? '<expression>').join(',')})`)
    .sort()
    .join(' ');
}

/**
 * What else of a table can refuse a write, as text to compare: each column's declared type, NOT NULL, default and
 * primary-key position (generated columns included), the CHECK constraints (their tokens, comments left out), the foreign keys (better-sqlite3
 * enforces them) and STRICT. A table rebuilt with a CHECK, a NOT NULL or a foreign key vtpm-verify did not write
 * refused the next result or audit run with a constraint error, reported as INTERNAL_ERROR, a bug of vtpm-verify's.
 */
function constraintsOf(db: Db, table: string, sql: string | null): string[] {
  const name = JSON.stringify(table);
  // table_xinfo, not table_info: a generated column is hidden from table_info, and one added NOT NULL (or whose
  // expression fails) refused every write as well
  const columns = (db.pragma(`table_xinfo(${name})`) as { name: string; type: string; notnull: number; dflt_value: unknown; pk: number; hidden: number }[]).map(
    (c) =>
      `${c.name} ${c.type.toUpperCase()}${c.hidden === 2 || c.hidden === 3 ? ' GENERATED' : ''}${c.notnull ? ' NOT NULL' : ''}${c.dflt_value !== null ? ` DEFAULT ${String(c.dflt_value)}` : ''}${c.pk ? ` PK${c.pk}` : ''}`,
  );
  const tokens = sqlTokens(sql ?? '').map((t) => (/^'[\s\S]*'$/.test(t) ? t : t.toUpperCase()));
  const checks: string[] = [];
  for (let i = tokens.indexOf('CHECK'); i >= 0; i = tokens.indexOf('CHECK', i + 1)) {
    let depth = 0;
    let j = i + 1;
    for (; j < tokens.length; j++) {
      if (tokens[j] === '(') depth++;
      else if (tokens[j] === ')' && --depth === 0) break;
    }
    checks.push(tokens.slice(i, j + 1).join(' '));
  }
  const foreign = (db.pragma(`foreign_key_list(${name})`) as { table: string; from: string; to: string | null }[]).map((f) => `${f.from} -> ${f.table}(${f.to ?? ''})`);
  const strict = (db.pragma(`table_list(${name})`) as { strict?: number }[]).some((t) => t.strict === 1);
  return [`column definitions ${columns.join(', ')}`, `CHECK constraints ${checks.sort().join(', ') || 'none'}`, `foreign keys ${foreign.sort().join(', ') || 'none'}`, strict ? 'STRICT' : 'not STRICT'];
}

/**
 * Every table and column the current schema has, and no trigger but one that only refuses: a dropped column
 * or table fails every command at open (not a query halfway, as a bug), and a trigger someone added could
 * drop writes silently (RAISE(IGNORE), or a DELETE of the new row) while vtpm-verify reported them recorded.
 */
function checkSchema(db: Db, file: string, Database: typeof BetterSqlite3): void {
  if (!currentSchema) {
    const empty = new Database(':memory:');
    try {
      for (const m of MIGRATIONS) m.up(empty);
      const tables = empty.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as { name: string }[];
      currentSchema = new Map(tables.map(({ name }) => [name, columnsOf(empty, name)]));
      currentUniqueIndexes = new Map(tables.map(({ name }) => [name, uniqueIndexesOf(empty, name)]));
      currentConstraints = new Map(
        tables.map(({ name }) => [name, constraintsOf(empty, name, (empty.prepare(`SELECT sql FROM sqlite_schema WHERE name = ?`).get(name) as { sql: string | null }).sql)]),
      );
    } finally {
      empty.close();
    }
  }
  for (const [table, columns] of currentSchema) {
    const row = db.prepare(`SELECT type, sql FROM sqlite_schema WHERE name = ?`).get(table) as { type: string; sql: string | null } | undefined;
    if (row?.type !== 'table') throw schemaDamaged(file, `table ${table} missing`);
    // vtpm-verify's tables have no conflict clause: UNIQUE (...) ON CONFLICT IGNORE drops a write silently, as RAISE(IGNORE) does
    if (/\bON CONFLICT\b/.test(sqlTokens(row.sql ?? '').join(' ').toUpperCase())) throw schemaDamaged(file, `table ${table} has a conflict clause`);
    const has = columnsOf(db, table);
    if (has !== columns) throw schemaDamaged(file, `table ${table} has columns (${has}), not (${columns})`);
    // a unique index someone added (CREATE UNIQUE INDEX, a rebuilt table's UNIQUE or PRIMARY KEY) refused the next
    // audit run or result with a constraint error, reported as INTERNAL_ERROR, a bug of vtpm-verify's
    const unique = uniqueIndexesOf(db, table);
    if (unique !== currentUniqueIndexes!.get(table)) throw schemaDamaged(file, `table ${table} has unique indexes ${unique || 'none'}, not ${currentUniqueIndexes!.get(table) || 'none'}`);
    const constraints = constraintsOf(db, table, row.sql);
    const expected = currentConstraints!.get(table)!;
    const differs = constraints.findIndex((c, i) => c !== expected[i]);
    if (differs >= 0) throw schemaDamaged(file, `table ${table} has ${constraints[differs]!.slice(0, 1000)}, not ${expected[differs]}`);
  }
}

/** No trigger but one that only refuses (a file's owner keeping its results from prune fails the write it refuses, loudly). */
function checkTriggers(db: Db, file: string): void {
  for (const trigger of db.prepare(`SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'`).all() as { name: string; sql: string | null }[]) {
    if (!onlyRefuses(trigger.sql)) {
      throw new TransportError('STATE_WRITE_REFUSED', `state file ${file} holds a trigger (${trigger.name}) that can change or drop writes; vtpm-verify creates none: someone added it`, { path: file, trigger: trigger.name });
    }
  }
}

function migrate(db: Db, file: string): void {
  const check = (): number => checkStateFile(db, file);
  if (check() === SCHEMA_VERSION) return;
  // Another process may be migrating the same file: decide again under the write lock.
  db.transaction(() => {
    const version = check();
    for (const m of MIGRATIONS) {
      if (m.version <= version) continue;
      try {
        m.up(db);
      } catch (err) {
        // a table the version should not have yet, or one it should have missing: the file was altered (the transaction rolls back)
        if ((err as { code?: unknown }).code === 'SQLITE_ERROR' || err instanceof SyntaxError) {
          throw schemaDamaged(file, `migrating schema version ${version} to ${m.version} failed (${(err as Error).message})`);
        }
        throw err;
      }
    }
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

interface IdentityRow {
  instance_id: string;
  ak_name: string;
  clock: string;
  reset_count: number;
  restart_count: number;
  safe: number;
  firmware_version: string;
  platform_path: string;
  seen_at: number;
  first_seen_at: number;
  readings: number;
  clock_state: string;
}

interface StayRow {
  id: number;
  instance_id: string;
  platform_path: string;
  epoch: string | null;
  first_seen: number;
  last_seen: number;
  closed_at: number | null;
}

interface AuditRunRow {
  id: number;
  started_at: number;
  finished_at: number | null;
  inventory: string;
  shard: string | null;
  label: string | null;
  planned: number;
  exit_code: number | null;
  interrupted: string | null;
  failure_codes: string | null;
}

interface ResultRow {
  id: number;
  run_id: number | null;
  time: number;
  target: string;
  instance_id: string | null;
  verdict: string;
  findings: string;
  platform_path: string | null;
  /** JSON text (before version 6) or a compressed BLOB (result-blob.ts) */
  blob: string | Buffer;
}

export class StateStore {
  readonly path: string;
  private readonly db: Db;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private closed = false;
  /** audit runs' dictionaries, read in the open batch (null outside one) */
  private batchDictionaries: Map<number, Buffer> | null = null;
  /** beginBatch() opened a batch that commitBatch() has not ended yet */
  private inBatch = false;
  /**
   * The error of a write inside the open batch after which SQLite had rolled
   * the whole transaction back (SQLITE_FULL, SQLITE_IOERR: "the transaction
   * may be rolled back automatically"): every earlier write of the batch is
   * gone, so the batch fails as a failed COMMIT would, and no write joins a
   * new transaction in its place until then.
   */
  private batchLost: unknown;

  private readonly closeHooks: (() => void)[] = [];

  constructor(
    db: Db,
    path: string,
    /** the file opened (its device and inode, as just after it was opened) */
    readonly identity: { dev: bigint; ino: bigint },
  ) {
    this.db = db;
    this.path = path;
  }

  /** Runs `hook` once the database is closed (or its close failed). */
  onClose(hook: () => void): void {
    this.closeHooks.push(hook);
  }

  get schemaVersion(): number {
    return this.read('schema version', () => this.db.pragma('user_version', { simple: true }) as number);
  }

  /**
   * Records a verified reading and returns what it reveals (rollback, clone,
   * restore). Reading the previous state and writing the new one happen in
   * one transaction holding the write lock.
   */
  /** The platforms an instance has an open stay on (no evidence it left them), the latest seen first. */
  openStays(instanceId: string): { platformPath: string[]; last: number }[] {
    checkInput(INSTANCE_RE.test(instanceId), 'instanceId', instanceId);
    return this.read('read open stays', () =>
      (this.stmt(`SELECT platform_path, last_seen FROM stay WHERE instance_id = ? AND closed_at IS NULL ORDER BY last_seen DESC, id DESC`).all(instanceId) as Pick<StayRow, 'platform_path' | 'last_seen'>[]).map((r) => {
        if (!isStoredMs(r.last_seen)) throw corrupt(this.path, 'hosting period');
        return { platformPath: parsePath(r.platform_path, this.path), last: r.last_seen };
      }),
    );
  }

  /** The instance's own AKs: those whose readings were taken as evidence of where it runs. */
  instanceKeys(instanceId: string): string[] {
    checkInput(INSTANCE_RE.test(instanceId), 'instanceId', instanceId);
    return this.read('read instance keys', () => (this.stmt(`SELECT ak_name FROM tpm_identity WHERE instance_id = ? AND hosting = 1`).all(instanceId) as Pick<IdentityRow, 'ak_name'>[]).map((r) => r.ak_name));
  }

  observe(obs: Observation): ObserveOutcome {
    checkInput(typeof obs.instanceId === 'string' && INSTANCE_RE.test(obs.instanceId), 'instanceId', obs.instanceId);
    checkInput(typeof obs.akName === 'string' && HEX_RE.test(obs.akName), 'akName', obs.akName);
    checkInput(typeof obs.target === 'string', 'target', obs.target);
    const reading: ClockReading = {
      clockInfo: obs.clockInfo,
      firmwareVersion: obs.firmwareVersion,
      platformPath: [...obs.platformPath],
      time: obs.time,
      receivedAt: obs.receivedAt ?? obs.time,
    };
    return this.write('observe', () => {
      const row = this.stmt(`SELECT * FROM tpm_identity WHERE instance_id = ? AND ak_name = ?`).get(obs.instanceId, obs.akName) as IdentityRow | undefined;
      const before = row ? decodeClockState(row.clock_state, this.path) : undefined;
      const assessed = assessClock({ instanceId: obs.instanceId, akName: obs.akName }, before, reading);
      const head = assessed.state.lineages[0]!;
      this.stmt(
        `INSERT INTO tpm_identity (instance_id, ak_name, clock, reset_count, restart_count, safe, firmware_version, platform_path,
           seen_at, received_at, first_seen_at, readings, clock_state, hosting)
         VALUES (@instanceId, @akName, @clock, @resetCount, @restartCount, @safe, @firmwareVersion, @platformPath,
           @seenAt, @receivedAt, @seenAt, 1, @clockState, @hosting)
         ON CONFLICT (instance_id, ak_name) DO UPDATE SET
           clock = excluded.clock, reset_count = excluded.reset_count, restart_count = excluded.restart_count, safe = excluded.safe,
           firmware_version = excluded.firmware_version, platform_path = excluded.platform_path, seen_at = excluded.seen_at,
           received_at = excluded.received_at, readings = readings + 1, clock_state = excluded.clock_state,
           hosting = MAX(hosting, excluded.hosting)`,
      ).run({
        instanceId: obs.instanceId,
        akName: obs.akName,
        clock: clockText(head.clockInfo.clock),
        resetCount: head.clockInfo.resetCount,
        restartCount: head.clockInfo.restartCount,
        safe: head.clockInfo.safe ? 1 : 0,
        firmwareVersion: firmwareText(head.firmwareVersion),
        platformPath: JSON.stringify(head.platformPath),
        seenAt: head.time,
        receivedAt: head.receivedAt,
        clockState: encodeClockState(assessed.state),
        hosting: obs.hosting === false ? 0 : 1,
      });
      const findings = [...assessed.findings];
      if (reading.platformPath.length > 0 && obs.hosting !== false) {
        findings.push(...this.hostingEvidence(obs.instanceId, { platformPath: reading.platformPath, epoch: obs.hostingEpoch ?? null, time: obs.time, hosted: true }));
      }
      const info = this.stmt(
        `INSERT INTO observation (instance_id, ak_name, clock, reset_count, restart_count, safe, firmware_version, platform_path, time, received_at, target, findings)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        obs.instanceId,
        obs.akName,
        clockText(reading.clockInfo.clock),
        reading.clockInfo.resetCount,
        reading.clockInfo.restartCount,
        reading.clockInfo.safe ? 1 : 0,
        firmwareText(reading.firmwareVersion),
        JSON.stringify(reading.platformPath),
        reading.time,
        reading.receivedAt,
        obs.target,
        JSON.stringify(findings.map((f) => f.code)),
      );
      const previous = assessed.previous;
      return {
        observationId: Number(info.lastInsertRowid),
        findings,
        previous: previous ? summarizeReading(previous) : null,
        platformChanged: previous !== undefined && platformKey(previous.platformPath) !== platformKey(reading.platformPath),
      };
    });
  }

  /**
   * Records evidence from a platform's own attestation that it hosts the
   * instance now (hosted: true) or no longer does (migrate-out/destroy).
   * `platformPath` is the platform's AK Name followed by the layers below it,
   * the same path a VM it hosts is observed with.
   */
  recordHosting(instanceId: string, ev: HostingEvidence): StateFinding[] {
    checkInput(INSTANCE_RE.test(instanceId), 'instanceId', instanceId);
    checkInput(ev.platformPath.length > 0 && ev.platformPath.every((n) => HEX_RE.test(n)), 'platformPath', ev.platformPath);
    checkInput(Number.isSafeInteger(ev.time) && ev.time >= 0, 'time', ev.time);
    return this.write('record hosting', () => this.hostingEvidence(instanceId, ev));
  }

  private hostingEvidence(instanceId: string, ev: HostingEvidence): StateFinding[] {
    const rows = this.stmt(`SELECT * FROM stay WHERE instance_id = ? ORDER BY last_seen DESC, id DESC LIMIT ${STAYS_COMPARED}`).all(instanceId) as StayRow[];
    const stays: Stay[] = rows.map((r) => ({
      id: checkStayTimes(r, this.path),
      platformPath: parsePath(r.platform_path, this.path),
      epoch: r.epoch,
      first: r.first_seen,
      last: r.last_seen,
      closedAt: r.closed_at,
    }));
    const assessed = assessHosting(instanceId, stays, ev);
    for (const s of assessed.changed) {
      if (s.id === null) {
        this.stmt(`INSERT INTO stay (instance_id, platform, platform_path, epoch, first_seen, last_seen, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
          instanceId,
          platformKey(s.platformPath),
          JSON.stringify(s.platformPath),
          s.epoch,
          s.first,
          s.last,
          s.closedAt,
        );
      } else {
        this.stmt(`UPDATE stay SET first_seen = ?, last_seen = ?, closed_at = ? WHERE id = ?`).run(s.first, s.last, s.closedAt, s.id);
      }
    }
    return assessed.findings;
  }

  /** Appends one attestation result to the history; returns its id once committed. */
  appendResult(record: ResultRecord): number {
    checkInput(Number.isSafeInteger(record.time) && record.time >= 0, 'time', record.time);
    checkInput(typeof record.target === 'string', 'target', record.target);
    checkInput(typeof record.verdict === 'string' && record.verdict.length > 0 && record.verdict.length <= 64, 'verdict', record.verdict);
    checkInput(record.instanceId == null || INSTANCE_RE.test(record.instanceId), 'instanceId', record.instanceId);
    checkInput(record.runId === undefined || (Number.isSafeInteger(record.runId) && record.runId > 0), 'runId', record.runId);
    const json = record.resultJson ?? jsonText(record.result ?? null);
    const size = typeof json === 'string' ? json.length : json.byteLength;
    checkInput(size <= MAX_RESULT_BYTES, 'result size', size);
    return this.write('append result', () => {
      const blob = encodeResultBlob(json, record.runId === undefined ? null : this.runDictionary(record.runId, record.verdict, json));
      const info = this.stmt(`INSERT INTO result (time, target, instance_id, verdict, findings, platform_path, blob, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(
        record.time,
        record.target,
        record.instanceId ?? null,
        record.verdict,
        jsonText(record.findings ?? []),
        record.platformPath ? JSON.stringify(record.platformPath) : null,
        blob,
        record.runId ?? null,
      );
      return Number(info.lastInsertRowid);
    });
  }

  /**
   * The dictionary the results of audit run `runId` are compressed with, read
   * inside the caller's transaction (so it is the one committed with them).
   * The run's first trusted result of some size sets it; until then (and for
   * a run id with no row) results are deflated without one.
   */
  private runDictionary(runId: number, verdict: string, json: string | Uint8Array): Buffer | null {
    // Within a batch a dictionary read from the file is kept for the batch:
    // the batch commits or rolls back as one, with the rows compressed against
    // it. One set just now is not kept: this result's savepoint may still
    // roll back, and the next result reads it again.
    const kept = this.batchDictionaries?.get(runId);
    if (kept) return kept;
    const row = this.stmt(`SELECT dictionary FROM audit_run WHERE id = ?`).get(runId) as { dictionary: unknown } | undefined;
    if (!row) return null;
    if (row.dictionary !== null && !Buffer.isBuffer(row.dictionary)) throw corrupt(this.path, `audit run dictionary (run ${runId})`);
    if (row.dictionary !== null) {
      this.batchDictionaries?.set(runId, row.dictionary);
      return row.dictionary;
    }
    if (verdict !== 'trusted' || (typeof json === 'string' ? json.length : json.byteLength) < MIN_DICTIONARY_SOURCE_BYTES) return null;
    const dictionary = dictionaryFrom(json);
    this.stmt(`UPDATE audit_run SET dictionary = ? WHERE id = ? AND dictionary IS NULL`).run(dictionary, runId);
    return dictionary;
  }

  /** A stored result's JSON text; `dictionaries` caches each run's dictionary for one read. */
  private resultText(r: ResultRow, dictionaries: Map<number, Buffer | null>): string {
    try {
      // the cap is on UTF-16 length when written: up to 3 UTF-8 bytes each
      return decodeResultBlob(r.blob, 3 * MAX_RESULT_BYTES, () => {
        if (r.run_id === null) return null;
        let d = dictionaries.get(r.run_id);
        if (d === undefined) {
          const stored = (this.stmt(`SELECT dictionary FROM audit_run WHERE id = ?`).get(r.run_id) as { dictionary: unknown } | undefined)?.dictionary;
          d = Buffer.isBuffer(stored) ? stored : null;
          dictionaries.set(r.run_id, d);
        }
        return d;
      });
    } catch (err) {
      if (err instanceof ResultBlobError) throw corrupt(this.path, `result (id ${r.id}: ${err.message})`);
      throw err;
    }
  }

  /**
   * Results, newest first. `results: false` leaves each entry's `result` undefined: the stored result is not
   * inflated nor parsed (a listing that shows only the columns kept beside it), and counts nothing toward `maxText`.
   */
  history(filter: HistoryFilter = {}, opts: { maxText?: number; results?: boolean } = {}): HistoryEntry[] {
    const maxText = opts.maxText ?? MAX_HISTORY_TEXT;
    const prefix = filter.instance?.toLowerCase();
    checkInput(prefix === undefined || (prefix.length > 0 && prefix.length <= 64 && HEX_RE.test(prefix)), 'instance filter', filter.instance);
    const limit = Math.min(filter.limit ?? 100, MAX_HISTORY_LIMIT);
    checkInput(Number.isSafeInteger(limit) && limit > 0, 'limit', filter.limit);
    for (const bound of ['since', 'until', 'run'] as const) {
      const v = filter[bound];
      checkInput(v === undefined || Number.isSafeInteger(v), bound, v);
    }
    return this.read('read history', () => {
      const rows = this.stmt(historyQuery({ prefix: prefix !== undefined, since: filter.since !== undefined, until: filter.until !== undefined, run: filter.run !== undefined })).all({
        ...(prefix !== undefined && { prefix, prefixEnd: `${prefix}g` }),
        ...(filter.since !== undefined && { since: filter.since }),
        ...(filter.until !== undefined && { until: filter.until }),
        ...(filter.run !== undefined && { run: filter.run }),
        limit,
      }) as ResultRow[];
      return this.entriesOf(rows, maxText, opts.results !== false);
    });
  }

  /**
   * The newest results whose top layer is this instance (exact, by its index: a watch starting on a state file of
   * millions of results reads a few rows, not the table).
   */
  *latestResultsOf(instanceId: string, limit: number): Generator<HistoryEntry> {
    checkInput(INSTANCE_RE.test(instanceId), 'instance', instanceId);
    checkInput(Number.isSafeInteger(limit) && limit > 0 && limit <= 10, 'limit', limit);
    const rows = this.read('read history', () => this.stmt(`SELECT * FROM result WHERE instance_id = @instanceId ORDER BY time DESC, id DESC LIMIT @limit`).all({ instanceId, limit }) as ResultRow[]);
    // One result decoded at a time, as the caller reaches it: the caller stops at the first that serves, and a
    // few large results (each under the per-result cap) are never held, or refused as too much, together.
    for (const row of rows) yield this.read('read history', () => this.entriesOf([row], MAX_HISTORY_TEXT)[0]!);
  }

  private entriesOf(rows: ResultRow[], maxText: number, withResults = true): HistoryEntry[] {
    const dictionaries = new Map<number, Buffer | null>();
    // Each result inflates to at most 96 MiB; what one command reads in all is bounded too,
    // or a small crafted file (or a --limit of thousands of results) exhausts the heap.
    let textBytes = 0;
    return rows.map((r) => {
      // TEXT columns hold whatever was put in them (a BLOB is not converted): the renderers take these as text
      if (typeof r.target !== 'string') throw corrupt(this.path, 'result target');
      if (typeof r.verdict !== 'string') throw corrupt(this.path, 'result verdict');
      if (r.instance_id !== null && typeof r.instance_id !== 'string') throw corrupt(this.path, 'result instance id');
      if (r.run_id !== null && !(Number.isSafeInteger(r.run_id) && r.run_id > 0)) throw corrupt(this.path, 'result run id');
      // the findings and platform path are text read and parsed too: each is capped as parseJson caps it (one longer is
      // damage, not a read to ask less of), and counted with the results
      if (r.findings.length > MAX_STORED_JSON_CHARS) throw corrupt(this.path, 'result findings');
      if (r.platform_path !== null && r.platform_path.length > MAX_STORED_JSON_CHARS) throw corrupt(this.path, 'platform path');
      textBytes += (typeof r.findings === 'string' ? r.findings.length : 0) + (typeof r.platform_path === 'string' ? r.platform_path.length : 0);
      const text = !withResults || textBytes > maxText ? '' : this.resultText(r, dictionaries);
      if (text.length > MAX_STORED_JSON_CHARS) throw corrupt(this.path, `result (id ${r.id}: longer than any result written)`);
      textBytes += text.length;
      if (textBytes > maxText) {
        throw new UsageError('STATE_TOO_LARGE', `the ${rows.length} results asked for hold more than ${maxText} characters of result text: ask for fewer (--limit, --since, --run)`, { path: this.path, results: rows.length, max: maxText });
      }
      const findings = parseJson(r.findings, this.path, 'result findings');
      if (!Array.isArray(findings)) throw corrupt(this.path, 'result findings');
      return {
        id: r.id,
        runId: r.run_id,
        time: isoOf(r.time, this.path, 'result time'),
        target: r.target,
        instanceId: r.instance_id,
        verdict: r.verdict,
        platformPath: r.platform_path === null ? null : parsePath(r.platform_path, this.path),
        findings,
        result: withResults ? parseJson(text, this.path, 'result') : undefined,
      };
    });
  }

  /**
   * Deletes history results and clock readings recorded before `before` (ms
   * since the epoch). What rollback and clone detection compare new evidence
   * with stays: the last verified reading and clock histories of every
   * identity, hosting periods, migration cursors. Deletes in chunks, each its
   * own transaction, so a long prune neither holds the write lock for long nor
   * leaves a half-done chunk when killed. Freed pages are reused by later
   * writes; vacuum() gives them back to the file system.
   */
  prune(before: number, opts: { dryRun?: boolean } = {}): PruneOutcome {
    checkInput(Number.isSafeInteger(before), 'prune time', before);
    const outcome = { before: iso(before), results: 0, readings: 0, runs: 0, dryRun: opts.dryRun === true };
    for (const [table, field] of [
      ['result', 'results'],
      ['observation', 'readings'],
    ] as const) {
      if (outcome.dryRun) {
        outcome[field] = this.read('count prunable rows', () =>
          (this.stmt(`SELECT count(*) AS n FROM ${table} WHERE time < @before${table === 'result' ? ` AND ${NOT_OF_A_RUNNING_AUDIT}` : ''}`).get({ before, ...(table === 'result' ? { running: Date.now() - RUNNING_AUDIT_MS } : {}) }) as { n: number }).n,
        );
        continue;
      }
      for (;;) {
        const deleted = this.write(`prune ${table}`, () =>
          this.stmt(pruneChunkQuery(table)).run({ before, ...(table === 'result' ? { running: Date.now() - RUNNING_AUDIT_MS } : {}) }).changes,
        );
        outcome[field] += deleted;
        if (deleted < PRUNE_CHUNK_ROWS) break;
      }
    }
    // a run goes with its last result: one that straddles the cut-off stays while it has results
    // ... and an audit still running (unfinished, begun in the last day) keeps its run and results whatever the age:
    // another process pruning the same file (a shard's --keep-history, a cron prune) must not pull them from under it
    const orphaned = `FROM audit_run WHERE started_at < @before AND NOT (finished_at IS NULL AND started_at >= @running) AND NOT EXISTS (SELECT 1 FROM result WHERE run_id = audit_run.id AND (@dryRun = 0 OR time >= @before))`;
    const params = { before, dryRun: outcome.dryRun ? 1 : 0, running: Date.now() - RUNNING_AUDIT_MS };
    outcome.runs = outcome.dryRun
      ? this.read('count prunable runs', () => (this.stmt(`SELECT count(*) AS n ${orphaned}`).get(params) as { n: number }).n)
      : this.write('prune audit runs', () => this.stmt(`DELETE ${orphaned}`).run(params).changes);
    return outcome;
  }

  /** Records the start of an audit run; its results name it (ResultRecord.runId). */
  beginAuditRun(start: AuditRunStart): number {
    checkInput(Number.isSafeInteger(start.startedAt) && start.startedAt >= 0, 'startedAt', start.startedAt);
    checkInput(typeof start.inventory === 'string' && start.inventory.length > 0 && start.inventory.length <= 4096, 'inventory', start.inventory);
    checkInput(start.shard === null || /^\d{1,6}\/\d{1,6}$/.test(start.shard), 'shard', start.shard);
    checkInput(Number.isSafeInteger(start.planned) && start.planned >= 0, 'planned', start.planned);
    const label = start.label ?? null;
    checkInput(label === null || (typeof label === 'string' && label.length > 0 && label.length <= 128), 'label', label);
    return this.write('begin audit run', () =>
      Number(
        this.stmt(`INSERT INTO audit_run (started_at, inventory, shard, planned, label) VALUES (?, ?, ?, ?, ?)`).run(start.startedAt, start.inventory, start.shard, start.planned, label)
          .lastInsertRowid,
      ),
    );
  }

  /** Records how an audit run ended; a run never finished (killed) keeps finished_at NULL. */
  finishAuditRun(id: number, end: AuditRunEnd): void {
    checkInput(Number.isSafeInteger(id) && id > 0, 'run id', id);
    checkInput(Number.isSafeInteger(end.finishedAt) && end.finishedAt >= 0, 'finishedAt', end.finishedAt);
    checkInput(Number.isSafeInteger(end.exitCode) && end.exitCode >= 0 && end.exitCode <= 255, 'exitCode', end.exitCode);
    checkInput(end.interrupted === null || (typeof end.interrupted === 'string' && end.interrupted.length <= 32), 'interrupted', end.interrupted);
    const codes = end.failureCodes.map((c) => ({ code: c.code, count: c.count }));
    this.write('finish audit run', () => {
      const changed = this.stmt(`UPDATE audit_run SET finished_at = ?, exit_code = ?, interrupted = ?, failure_codes = ? WHERE id = ? AND finished_at IS NULL`).run(
        end.finishedAt,
        end.exitCode,
        end.interrupted,
        JSON.stringify(codes),
        id,
      ).changes;
      if (changed !== 1) throw new TransportError('STATE_CORRUPT', `state file ${this.path}: audit run ${id} is no longer there to finish (another process deleted or finished it while the audit ran)`, { path: this.path, runId: id });
    });
  }

  /**
   * The failure codes of an unfinished audit run's stored results so far (StateBatcher writes them with each
   * batch, in its transaction): a run killed midway lists what it stored. A finished run's are left as they are.
   */
  recordAuditRunCodes(id: number, failureCodes: readonly { code: string; count: number }[]): void {
    checkInput(Number.isSafeInteger(id) && id > 0, 'run id', id);
    const codes = failureCodes.map((c) => ({ code: c.code, count: c.count }));
    checkInput(codes.every((c) => typeof c.code === 'string' && Number.isSafeInteger(c.count) && c.count > 0), 'failureCodes', failureCodes);
    this.write('record audit run failure codes', () => {
      this.stmt(`UPDATE audit_run SET failure_codes = ? WHERE id = ? AND finished_at IS NULL`).run(JSON.stringify(codes), id);
    });
  }

  /** Runs `fn`'s writes as one transaction (joining the open batch, if any): all of them are stored, or none. */
  together<T>(operation: string, fn: () => T): T {
    return this.write(operation, fn);
  }

  /** Audit runs, newest first, each with its counts and its changes since the run before. */
  auditRuns(filter: { since?: number; inventory?: string; limit?: number } = {}): AuditRunSummary[] {
    const limit = Math.min(filter.limit ?? 100, MAX_HISTORY_LIMIT);
    checkInput(Number.isSafeInteger(limit) && limit > 0, 'limit', filter.limit);
    checkInput(filter.since === undefined || Number.isSafeInteger(filter.since), 'since', filter.since);
    checkInput(filter.inventory === undefined || typeof filter.inventory === 'string', 'inventory', filter.inventory);
    return this.read('read audit runs', () =>
      (
        this.stmt(
          `SELECT * FROM audit_run WHERE (@since IS NULL OR started_at >= @since) AND (@inventory IS NULL OR inventory = @inventory)
           ORDER BY started_at DESC, id DESC LIMIT @limit`,
        ).all({
          since: filter.since ?? null,
          inventory: filter.inventory ?? null,
          limit,
        }) as AuditRunRow[]
      ).map((r) => this.auditRunSummary(r)),
    );
  }

  /** One audit run as auditRuns() lists it, or null when there is none with this id. */
  auditRun(id: number): AuditRunSummary | null {
    checkInput(Number.isSafeInteger(id) && id > 0, 'run id', id);
    return this.read('read audit run', () => {
      const row = this.stmt(`SELECT * FROM audit_run WHERE id = ?`).get(id) as AuditRunRow | undefined;
      return row ? this.auditRunSummary(row) : null;
    });
  }

  private auditRunSummary(r: AuditRunRow): AuditRunSummary {
    const counts = { recorded: 0, trusted: 0, notTrusted: 0, unreachable: 0 };
    for (const c of this.stmt(`SELECT verdict, count(*) AS n FROM result WHERE run_id = ? GROUP BY verdict`).all(r.id) as { verdict: string; n: number }[]) {
      counts.recorded += c.n;
      if (c.verdict === 'trusted') counts.trusted += c.n;
      else if (c.verdict === 'not-trusted') counts.notTrusted += c.n;
      else counts.unreachable += c.n;
    }
    let failureCodes: AuditRunSummary['failureCodes'] = null;
    if (r.failure_codes !== null) {
      const parsed = parseJson(r.failure_codes, this.path, 'audit run failure codes');
      if (!Array.isArray(parsed) || !parsed.every((c) => c && typeof c.code === 'string' && Number.isSafeInteger(c.count))) throw corrupt(this.path, 'audit run failure codes');
      failureCodes = parsed as { code: string; count: number }[];
    }
    if (typeof r.inventory !== 'string') throw corrupt(this.path, 'audit run inventory');
    if (r.shard !== null && typeof r.shard !== 'string') throw corrupt(this.path, 'audit run shard');
    if (r.interrupted !== null && typeof r.interrupted !== 'string') throw corrupt(this.path, 'audit run interruption');
    // numbers the summary and `history --runs` show as they are: a BLOB or text there (CHECK (planned >= 0) lets both through) was listed as "20/\u0000…"
    if (!Number.isSafeInteger(r.planned) || r.planned < 0) throw corrupt(this.path, 'audit run planned count');
    if (r.exit_code !== null && !(Number.isSafeInteger(r.exit_code) && r.exit_code >= 0 && r.exit_code <= 255)) throw corrupt(this.path, 'audit run exit code');
    // The run compared with: the last one that audited the whole of its share. A run stopped by SIGINT/SIGTERM
    // (interrupted) covers part of it, as a killed one does: compared with it, every VM it did not reach
    // read as "audited for the first time", hiding a VM that went from trusted to not trusted since the run before.
    const previous = this.stmt(
      `SELECT id FROM audit_run WHERE inventory = @inventory AND shard IS @shard AND finished_at IS NOT NULL AND interrupted IS NULL
         AND (started_at < @startedAt OR (started_at = @startedAt AND id < @id))
       ORDER BY started_at DESC, id DESC LIMIT 1`,
    ).get({ inventory: r.inventory, shard: r.shard, startedAt: r.started_at, id: r.id }) as { id: number } | undefined;
    return {
      id: r.id,
      startedAt: isoOf(r.started_at, this.path, 'audit run start'),
      finishedAt: r.finished_at === null ? null : isoOf(r.finished_at, this.path, 'audit run end'),
      inventory: r.inventory,
      shard: r.shard,
      label: r.label === null || typeof r.label === 'string' ? r.label : corruptLabel(this.path),
      planned: r.planned,
      ...counts,
      exitCode: r.exit_code,
      interrupted: r.interrupted,
      failureCodes,
      since: previous ? this.changesSince(r.id, previous.id) : null,
    };
  }

  /** Verdict changes from run `before` to run `now`, by target (a target audited twice in a run counts by its worst verdict). */
  private changesSince(now: number, before: number): RunChanges {
    const worst = `SELECT target, CASE WHEN sum(verdict = 'not-trusted') > 0 THEN 'not-trusted' WHEN sum(verdict <> 'trusted') > 0 THEN 'incomplete' ELSE 'trusted' END AS verdict
                   FROM result WHERE run_id = ? GROUP BY target`;
    const changes = this.stmt(
      `SELECT a.target AS target, b.verdict AS before, a.verdict AS now FROM (${worst}) a JOIN (${worst}) b ON b.target = a.target
       WHERE a.verdict <> b.verdict ORDER BY a.target`,
    ).all(now, before) as VerdictChange[];
    const count = (sql: string): number => (this.stmt(sql).get(now, before) as { n: number }).n;
    const only = `SELECT count(DISTINCT a.target) AS n FROM result a WHERE a.run_id = ? AND NOT EXISTS (SELECT 1 FROM result b WHERE b.run_id = ? AND b.target = a.target)`;
    if (!changes.every((c) => typeof c.target === 'string')) throw corrupt(this.path, 'result target');
    const out = { runId: before, worse: 0, better: 0, other: 0, added: count(only), gone: 0, changes: changes.slice(0, MAX_LISTED_CHANGES) };
    out.gone = (this.stmt(only).get(before, now) as { n: number }).n;
    for (const c of changes) out[changeKind(c)]++;
    return out;
  }

  /** Rewrites the file without its free pages (after a prune) and truncates the WAL; needs no other writer. */
  /** Returns false when a reader kept the rewritten pages in the WAL (the file shrinks at a later checkpoint). */
  vacuum(): boolean {
    this.assertOpen('vacuum');
    checkInput(!this.db.inTransaction, 'vacuum inside a batch', true);
    try {
      this.db.exec('VACUUM');
      // [busy, log frames, frames checkpointed]: busy when another connection's read held the checkpoint back
      const [row] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      return row?.busy === 0;
    } catch (err) {
      throw stateError(err, this.path, 'vacuum');
    }
  }

  /** How many TPM identities (each with its last reading) and hosting periods are recorded: what prune() keeps. */
  keptCounts(): { identities: number; stays: number } {
    return this.read('count identities and stays', () => ({
      identities: (this.stmt(`SELECT count(*) AS n FROM tpm_identity`).get() as { n: number }).n,
      stays: (this.stmt(`SELECT count(*) AS n FROM stay`).get() as { n: number }).n,
    }));
  }

  /** Where an instance was seen hosted, oldest first. */
  stays(instanceId: string): StaySummary[] {
    return this.read('read stays', () =>
      (this.stmt(`SELECT * FROM stay WHERE instance_id = ? ORDER BY first_seen, id`).all(instanceId) as StayRow[]).map((r) => this.staySummary(r)),
    );
  }

  /**
   * Stays of the instance on platforms other than `platformPath` with no
   * evidence that they ended: the platforms to attest (source check) before
   * trusting that the instance moved rather than was copied.
   */
  hostedElsewhere(instanceId: string, platformPath: readonly string[]): StaySummary[] {
    return this.read('read stays', () =>
      (
        this.stmt(`SELECT * FROM stay WHERE instance_id = ? AND platform <> ? AND closed_at IS NULL ORDER BY last_seen DESC, id DESC`).all(
          instanceId,
          platformKey(platformPath),
        ) as StayRow[]
      ).map((r) => this.staySummary(r)),
    );
  }

  /** The last verified reading of each AK of the instances matching a hex prefix (all when omitted). */
  identities(instancePrefix?: string): IdentitySummary[] {
    const prefix = instancePrefix?.toLowerCase();
    checkInput(prefix === undefined || (prefix.length <= 64 && HEX_RE.test(prefix)), 'instance filter', instancePrefix);
    return this.read('read identities', () =>
      (this.stmt(`SELECT * FROM tpm_identity WHERE (@prefix IS NULL OR instance_id LIKE @prefix || '%') ORDER BY instance_id, ak_name`).all({ prefix: prefix ?? null }) as IdentityRow[]).map(
        (r) => {
          if (typeof r.instance_id !== 'string' || typeof r.ak_name !== 'string') throw corrupt(this.path, 'identity');
          const state = decodeClockState(r.clock_state, this.path);
          if (!Number.isSafeInteger(r.readings) || r.readings < 0) throw corrupt(this.path, 'identity reading count');
          return {
            instanceId: r.instance_id,
            akName: r.ak_name,
            last: summarizeReading(state.lineages[0]!),
            firstSeen: isoOf(r.first_seen_at, this.path, 'identity first seen'),
            readings: r.readings,
            histories: state.lineages.length,
          };
        },
      ),
    );
  }

  /** The last migration notification seq handled for an instance from a controller, and its event's time (ms since the epoch), or null. */
  migrationCursor(service: string, instanceId: string): { seq: number; time: number } | null {
    checkInput(typeof service === 'string' && service.length > 0 && service.length <= MAX_SERVICE_LENGTH, 'service', service);
    checkInput(INSTANCE_RE.test(instanceId), 'instanceId', instanceId);
    return this.read('read migration cursor', () => {
      const row = this.stmt(`SELECT seq, updated_at FROM migration_cursor WHERE service = ? AND instance_id = ?`).get(service, instanceId) as { seq: number; updated_at: number } | undefined;
      if (row === undefined) return null;
      if (!Number.isSafeInteger(row.seq) || row.seq < 0 || !isStoredMs(row.updated_at)) throw corrupt(this.path, 'migration cursor');
      return { seq: row.seq, time: row.updated_at };
    });
  }

  /**
   * Records that notifications up to `seq` were handled, `time` that event's (the controller's clock). A lower seq than the cursor's moves it back:
   * handled after it, it is the controller's count now (one that counts again from 1 after a reinstall, or a
   * cursor pushed up by one injected event). Kept up, the cursor made every later notification a repeat.
   */
  saveMigrationCursor(service: string, instanceId: string, seq: number, time: number): void {
    checkInput(typeof service === 'string' && service.length > 0 && service.length <= MAX_SERVICE_LENGTH, 'service', service);
    checkInput(INSTANCE_RE.test(instanceId), 'instanceId', instanceId);
    checkInput(Number.isSafeInteger(seq) && seq >= 0, 'seq', seq);
    checkInput(Number.isSafeInteger(time) && time >= 0, 'time', time);
    this.write('save migration cursor', () => {
      this.stmt(
        `INSERT INTO migration_cursor (service, instance_id, seq, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (service, instance_id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`,
      ).run(service, instanceId, seq, time);
    });
  }

  /**
   * SQLite's structural check (PRAGMA quick_check: every page and b-tree, not index contents): throws STATE_CORRUPT
   * with SQLite's first findings when the file is damaged. Linear in the file's size.
   */
  checkStructure(): void {
    const found = this.read('quick check', () => (this.db.pragma('quick_check(20)') as { quick_check: string }[]).map((r) => r.quick_check));
    if (found.length === 1 && found[0] === 'ok') return;
    throw new TransportError('STATE_CORRUPT', `state file ${this.path} is damaged (${found[0]?.split('\n').filter((l) => !l.startsWith('***')).join('; ').slice(0, 300)}); move it aside to start afresh`, {
      path: this.path,
      operation: 'quick check',
      findings: found.slice(0, 20).map((f) => f.slice(0, 500)),
    });
  }

  /** SQLite's own consistency check: ['ok'] for a sound file. */
  integrityCheck(): string[] {
    return this.read('integrity check', () => (this.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check));
  }

  /**
   * Opens a batch: every write until commitBatch() joins one transaction
   * (each write still all-or-nothing, as a savepoint), committed with one
   * fsync. Holds the write lock until then, so other processes wait: keep
   * batches short (a fleet audit commits every few dozen results or second).
   */
  beginBatch(): void {
    this.assertOpen('begin batch');
    if (this.inBatch || this.db.inTransaction) return;
    try {
      this.stmt('BEGIN IMMEDIATE').run();
    } catch (err) {
      throw stateError(err, this.path, 'begin batch');
    }
    this.batchDictionaries = new Map();
    this.inBatch = true;
    this.batchLost = undefined;
  }

  /** Commits the open batch (durably, synchronous = FULL); a no-op without one. */
  commitBatch(): void {
    this.assertOpen('commit batch');
    if (!this.inBatch) return;
    this.inBatch = false;
    this.batchDictionaries = null;
    // a batch whose transaction is gone with no write seen failing (an earlier COMMIT failed): nothing to commit
    if (!this.db.inTransaction && this.batchLost === undefined) return;
    if (this.batchLost !== undefined) {
      const lost = this.batchLost;
      this.batchLost = undefined;
      throw stateError(lost, this.path, 'commit batch (rolled back by an earlier write)');
    }
    try {
      this.stmt('COMMIT').run();
    } catch (err) {
      // the batch is lost (SQLite may already have rolled it back, as on a full disk): a write after it must not join it
      if (this.db.inTransaction) {
        try {
          this.db.exec('ROLLBACK');
        } catch {
          // the COMMIT's error is the one to report
        }
      }
      throw stateError(err, this.path, 'commit batch');
    }
  }

  get batchOpen(): boolean {
    return !this.closed && this.inBatch;
  }

  /** Closes the file; an open batch is committed first. */
  close(): void {
    if (this.closed) return;
    // a batch that cannot be committed (rolled back by a failed write) still lets the file be closed;
    // its error is thrown once the file is (SQLite rolls an open transaction back on close)
    let commitError: unknown;
    if (this.inBatch) {
      try {
        this.commitBatch();
      } catch (err) {
        commitError = err;
      }
    }
    this.closed = true;
    try {
      this.db.close();
    } catch (err) {
      throw stateError(err, this.path, 'close');
    } finally {
      for (const hook of this.closeHooks) hook();
    }
    if (commitError !== undefined) throw commitError;
  }

  private staySummary(r: StayRow): StaySummary {
    if (typeof r.instance_id !== 'string' || (r.epoch !== null && typeof r.epoch !== 'string')) throw corrupt(this.path, 'hosting period');
    return {
      instanceId: r.instance_id,
      platformPath: parsePath(r.platform_path, this.path),
      epoch: r.epoch,
      from: isoOf(r.first_seen, this.path, 'stay start'),
      to: isoOf(r.last_seen, this.path, 'stay end'),
      closedAt: r.closed_at === null ? null : isoOf(r.closed_at, this.path, 'stay end'),
    };
  }

  private stmt(sql: string): BetterSqlite3.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private write<T>(operation: string, fn: () => T): T {
    this.assertOpen(operation);
    // outside the lost batch's transaction, this write would commit on its own, as if the batch had not failed
    if (this.batchLost !== undefined) throw stateError(this.batchLost, this.path, operation);
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      if (this.inBatch && !this.db.inTransaction) this.batchLost = err;
      throw stateError(err, this.path, operation);
    }
  }

  private read<T>(operation: string, fn: () => T): T {
    this.assertOpen(operation);
    try {
      return fn();
    } catch (err) {
      throw stateError(err, this.path, operation);
    }
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new InternalError(`state: ${operation} after close`, { path: this.path });
  }
}

function corruptLabel(path: string): never {
  throw corrupt(path, 'audit run label');
}
