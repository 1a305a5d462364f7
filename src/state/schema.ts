// The state file's schema and its versioned migrations.
//
// PRAGMA user_version holds the schema version and PRAGMA application_id marks
// the file as ours. Both live in the database header and change inside the
// migration's transaction, so a crash mid-migration leaves the old version
// with the old tables. Migrations only ever append to MIGRATIONS: a released
// version's migration is never edited, since files in the field depend on it.
//
// u64 values (the TPM clock, firmwareVersion) are TEXT: SQLite's INTEGER is a
// signed 64-bit value and a TPM clock may exceed 2^63. The clock is 20 decimal
// digits, zero-padded, so text order is numeric order; firmwareVersion is 16
// hex digits. u32 counters fit INTEGER. Times are INTEGER milliseconds since
// the Unix epoch (UTC).

import type BetterSqlite3 from 'better-sqlite3';

type Db = BetterSqlite3.Database;

/** "vTPv" in the database header: tells our files from other SQLite databases. */
export const APPLICATION_ID = 0x76545076;

export interface Migration {
  /** the schema version the migration produces */
  version: number;
  description: string;
  up(db: Db): void;
}

const V1_TABLES = `
-- Per (vTPM instance, AK): the last verified clock reading and the clock state
-- machine (lineage heads, JSON; see clock-findings.ts).
CREATE TABLE tpm_identity (
  instance_id      TEXT    NOT NULL CHECK (length(instance_id) = 64),
  ak_name          TEXT    NOT NULL,
  clock            TEXT    NOT NULL CHECK (length(clock) = 20),
  reset_count      INTEGER NOT NULL CHECK (reset_count BETWEEN 0 AND 4294967295),
  restart_count    INTEGER NOT NULL CHECK (restart_count BETWEEN 0 AND 4294967295),
  safe             INTEGER NOT NULL CHECK (safe IN (0, 1)),
  firmware_version TEXT    NOT NULL CHECK (length(firmware_version) = 16),
  platform_path    TEXT    NOT NULL,            -- JSON array of AK Names (hex)
  seen_at          INTEGER NOT NULL,            -- ms: evidence requested
  received_at      INTEGER NOT NULL,            -- ms: evidence received
  first_seen_at    INTEGER NOT NULL,
  readings         INTEGER NOT NULL,            -- readings recorded for this identity
  clock_state      TEXT    NOT NULL,            -- JSON lineage heads
  PRIMARY KEY (instance_id, ak_name)
) WITHOUT ROWID;

-- Every verified reading, with the findings it raised: the evidence behind
-- the state machine, for audits.
CREATE TABLE observation (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id      TEXT    NOT NULL,
  ak_name          TEXT    NOT NULL,
  clock            TEXT    NOT NULL,
  reset_count      INTEGER NOT NULL,
  restart_count    INTEGER NOT NULL,
  safe             INTEGER NOT NULL,
  firmware_version TEXT    NOT NULL,
  platform_path    TEXT    NOT NULL,
  time             INTEGER NOT NULL,
  received_at      INTEGER NOT NULL,
  target           TEXT    NOT NULL,
  findings         TEXT    NOT NULL             -- JSON array of finding codes
);
CREATE INDEX observation_by_instance ON observation (instance_id, time);

-- Every attestation result, appended: what history shows.
CREATE TABLE result (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  time             INTEGER NOT NULL,
  target           TEXT    NOT NULL,
  instance_id      TEXT,
  verdict          TEXT    NOT NULL,
  findings         TEXT    NOT NULL,            -- JSON array
  platform_path    TEXT,                        -- JSON array or NULL
  blob             TEXT    NOT NULL             -- JSON of the whole result
);
CREATE INDEX result_by_time ON result (time);
CREATE INDEX result_by_instance ON result (instance_id, time);
`;

const V2_TABLES = `
-- Periods during which a platform was seen hosting an instance: answers
-- "was instance X hosted by platform P between t1 and t2" for clone detection
-- (see hosting-findings.ts).
CREATE TABLE stay (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id      TEXT    NOT NULL,
  platform         TEXT    NOT NULL,            -- the path's AK Names joined by '>'
  platform_path    TEXT    NOT NULL,            -- JSON array
  epoch            TEXT,                        -- hosting epoch marker, if known
  first_seen       INTEGER NOT NULL,
  last_seen        INTEGER NOT NULL,
  closed_at        INTEGER,                     -- evidence it no longer hosts it
  CHECK (first_seen <= last_seen)
);
CREATE INDEX stay_by_instance ON stay (instance_id, last_seen);
CREATE INDEX stay_by_platform ON stay (platform, instance_id);
`;

/**
 * Version 2 adds stays, rebuilt from version 1's readings: each run of
 * consecutive readings of an instance through one platform path is a stay.
 */
function backfillStays(db: Db): void {
  const rows = db
    .prepare(`SELECT instance_id AS instanceId, platform_path AS path, time FROM observation ORDER BY instance_id, time, id`)
    .all() as { instanceId: string; path: string; time: number }[];
  const insert = db.prepare(
    `INSERT INTO stay (instance_id, platform, platform_path, epoch, first_seen, last_seen, closed_at) VALUES (?, ?, ?, NULL, ?, ?, NULL)`,
  );
  let run: { instanceId: string; path: string; first: number; last: number } | undefined;
  const flush = (): void => {
    if (!run) return;
    if (typeof run.path !== 'string') throw new SyntaxError("a reading's platform path is not text");
    const path = JSON.parse(run.path) as unknown;
    // what the rest of the store reads a platform path as (rows.ts parsePath): anything else in a damaged file is a
    // SyntaxError, which migrate() reports as STATE_CORRUPT (a string's characters were joined as AK Names, INTERNAL_ERROR)
    if (!Array.isArray(path) || !path.every((n) => typeof n === 'string' && /^[0-9a-f]+$/.test(n))) throw new SyntaxError(`a reading's platform path ${run.path.slice(0, 100)} is not a list of AK Names`);
    if (path.length > 0) insert.run(run.instanceId, path.join('>'), run.path, run.first, run.last);
    run = undefined;
  };
  for (const r of rows) {
    if (run && run.instanceId === r.instanceId && run.path === r.path) {
      run.last = Math.max(run.last, r.time);
      continue;
    }
    flush();
    run = { instanceId: r.instanceId, path: r.path, first: r.time, last: r.time };
  }
  flush();
}

const V3_TABLES = `
-- Per (Migration Controller, instance): the last notification seq a watcher
-- handled, so a restarted watcher resumes after it (Last-Event-ID) instead of
-- replaying every past move.
CREATE TABLE migration_cursor (
  service          TEXT    NOT NULL,            -- the migrationService URI, as certified
  instance_id      TEXT    NOT NULL CHECK (length(instance_id) = 64),
  seq              INTEGER NOT NULL CHECK (seq >= 0),
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (service, instance_id)
) WITHOUT ROWID;
`;

const V4_INDEXES = `
-- Pruning deletes readings by age (StateStore.prune).
CREATE INDEX observation_by_time ON observation (time);
`;

const V5_AUDIT_RUNS = `
-- One row per \`audit --state\` run, so that history can show a fleet's trend:
-- each run's counts (from its results), exit code, failure codes, and which
-- VMs changed verdict since the previous run of the same inventory and shard.
CREATE TABLE audit_run (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at       INTEGER NOT NULL,
  finished_at      INTEGER,                     -- NULL: still running, or killed
  inventory        TEXT    NOT NULL,            -- the inventory file (absolute path)
  shard            TEXT,                        -- "I/N", NULL for the whole inventory
  planned          INTEGER NOT NULL CHECK (planned >= 0),  -- VMs the run set out to audit
  exit_code        INTEGER,                     -- set when it finished
  interrupted      TEXT,                        -- the signal that stopped it early, if one did
  failure_codes    TEXT                         -- JSON [{code, count}], set when it finished
);
CREATE INDEX audit_run_by_start ON audit_run (started_at);
ALTER TABLE result ADD COLUMN run_id INTEGER;  -- the audit run that recorded it; NULL for attest, watch
CREATE INDEX result_by_run ON result (run_id, target, verdict);  -- covers what history --runs counts and compares
`;

const V6_RESULT_DICTIONARY = `
-- Results are stored compressed from version 6 (result-blob.ts): result.blob
-- stays JSON text for older rows and is a BLOB for new ones, which a run's
-- results deflate against this dictionary (one of the run's own results).
ALTER TABLE audit_run ADD COLUMN dictionary BLOB;
`;

const V7_ACCEPTED_KEYS = `
-- Whether an identity's readings count as evidence of where its instance runs:
-- 1 for the instance's own AK, 0 for another vTPM's claim to the instance
-- (CLONE_AK_CONFLICT, see hosting-findings.ts). Earlier readings were all taken as its own.
ALTER TABLE tpm_identity ADD COLUMN hosting INTEGER NOT NULL DEFAULT 1;
`;

const V8_RUN_LABELS = `
-- The run label an audit was given (audit --run-label: a Job's or pipeline's name), NULL without one.
ALTER TABLE audit_run ADD COLUMN label TEXT;
`;

const V9_RUN_TIME_INDEX = `
-- A run's results by time (history --run): result_by_run is ordered by URL, so the newest 50 of a run
-- read every one of its rows to sort them; this index gives them in order, without reading a row.
CREATE INDEX result_by_run_time ON result (run_id, time);
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'identities, readings, results', up: (db) => db.exec(V1_TABLES) },
  {
    version: 2,
    description: 'stays (hosting periods) for clone detection',
    up: (db) => {
      db.exec(V2_TABLES);
      backfillStays(db);
    },
  },
  { version: 3, description: 'migration notification cursors for watch', up: (db) => db.exec(V3_TABLES) },
  { version: 4, description: 'readings indexed by time, for pruning', up: (db) => db.exec(V4_INDEXES) },
  { version: 5, description: 'audit runs, and the run each result belongs to', up: (db) => db.exec(V5_AUDIT_RUNS) },
  { version: 6, description: 'results stored compressed, against a dictionary per audit run', up: (db) => db.exec(V6_RESULT_DICTIONARY) },
  { version: 7, description: "which AKs are an instance's own (hosting evidence)", up: (db) => db.exec(V7_ACCEPTED_KEYS) },
  { version: 8, description: 'the run label of an audit run', up: (db) => db.exec(V8_RUN_LABELS) },
  { version: 9, description: "a run's results indexed by time, for history --run", up: (db) => db.exec(V9_RUN_TIME_INDEX) },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
