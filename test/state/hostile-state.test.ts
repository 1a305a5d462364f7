// A state file is input too: from a review, what a damaged, crafted or busy
// file, or another process on the same file, must not do. Prune leaves a
// running audit's run and results alone; history reads a bounded amount of
// result text; times and targets a Date or a string cannot hold are
// STATE_CORRUPT; another program's file is refused before anything in it is
// changed; a folder under /proc fails at once (Node's recursive mkdir spins
// for ever there); --since ages and dates are checked; vacuum says whether the
// file shrank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseSince } from '../../src/cli/actions/history.js';
import { openState } from '../../src/state/index.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { stateFileAtVersion, tempDir } from './tmp.js';
import { observation } from './reading.js';

test('prune leaves an audit that is still running alone, whatever the age; a killed run of days ago goes', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  t.after(() => s.close());
  const now = Date.now();
  const killed = s.beginAuditRun({ startedAt: now - 3 * 86_400_000, inventory: 'fleet.yaml', shard: null, planned: 2 });
  s.appendResult({ time: now - 3 * 86_400_000 + 5, target: 'https://old.example', verdict: 'trusted', runId: killed });
  const running = s.beginAuditRun({ startedAt: now - 60_000, inventory: 'fleet.yaml', shard: '1/2', planned: 2 });
  s.appendResult({ time: now - 30_000, target: 'https://a.example', verdict: 'trusted', runId: running });
  const empty = s.beginAuditRun({ startedAt: now - 1_000, inventory: 'fleet.yaml', shard: '0/2', planned: 2 });

  const dry = s.prune(now, { dryRun: true });
  assert.deepEqual([dry.results, dry.runs], [1, 1]);
  const done = s.prune(now);
  assert.deepEqual([done.results, done.runs], [1, 1], "only the killed run's result, and the killed run");
  assert.deepEqual(s.history({ limit: 10 }).map((e) => e.target), ['https://a.example']);
  // the running audits finish normally
  s.finishAuditRun(running, { finishedAt: now, exitCode: 0, interrupted: null, failureCodes: [] });
  s.finishAuditRun(empty, { finishedAt: now, exitCode: 0, interrupted: null, failureCodes: [] });
  // a run deleted under an audit anyway (by hand) is a typed error, not a bug report
  const gone = s.beginAuditRun({ startedAt: now, inventory: 'fleet.yaml', shard: null, planned: 1 });
  const raw = new Database(s.path);
  raw.prepare('DELETE FROM audit_run WHERE id = ?').run(gone);
  raw.close();
  assertThrowsCode(() => s.finishAuditRun(gone, { finishedAt: now, exitCode: 0, interrupted: null, failureCodes: [] }), 'STATE_CORRUPT');
});

test('history reads a bounded amount of result text; out-of-range times and non-text targets are STATE_CORRUPT', async (t) => {
  const dir = tempDir(t);
  const s = await openState(join(dir, 'state.db'));
  t.after(() => s.close());
  const big = { target: 'x', verdict: 'trusted', reason: 'r'.repeat(200_000) };
  for (let i = 0; i < 5; i++) s.appendResult({ time: 1_000 + i, target: `https://vm-${i}.example`, verdict: 'trusted', result: big });
  assert.equal(s.history({ limit: 5 }).length, 5);
  const err = assertThrowsCode(() => s.history({ limit: 5 }, { maxText: 500_000 }), 'STATE_TOO_LARGE');
  assert.match(err.message, /ask for fewer \(--limit, --since, --run\)/);
  assert.equal(s.history({ limit: 2 }, { maxText: 500_000 }).length, 2);

  const raw = new Database(s.path);
  raw.prepare('UPDATE result SET time = 9e15 WHERE target = ?').run('https://vm-4.example');
  assertThrowsCode(() => s.history({ limit: 1 }), 'STATE_CORRUPT');
  raw.prepare('UPDATE result SET time = 1004, target = ? WHERE target = ?').run(Buffer.from('blob'), 'https://vm-4.example');
  assertThrowsCode(() => s.history({ limit: 1 }), 'STATE_CORRUPT');
  raw.close();
});

test('a stored result, findings or failure codes nested past 64 deep are STATE_CORRUPT, not a stack overflow when history --json serializes them', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  t.after(() => s.close());
  const run = s.beginAuditRun({ startedAt: 1_000, inventory: 'fleet.yaml', shard: null, planned: 1 });
  const nested = { target: 'x', verdict: 'trusted', layers: [{ checks: [{ expected: { a: [[{ b: [1] }]] } }] }] };
  s.appendResult({ time: 1_001, target: 'https://vm-1.example', verdict: 'trusted', result: nested, findings: [{ code: 'CLOCK_NOT_SAFE', details: { x: [[1]] } }], runId: run });
  s.finishAuditRun(run, { finishedAt: 2_000, exitCode: 1, interrupted: null, failureCodes: [{ code: 'X', count: 1 }] });
  assert.deepEqual(s.history({ limit: 1 })[0]!.result, nested);
  assert.equal(s.auditRuns({ limit: 1 }).length, 1);

  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  const raw = new Database(s.path);
  t.after(() => raw.close());
  // a result as text (as before schema version 6), nested 100,000 deep: it parses, and then no serializer can write it
  raw.prepare('UPDATE result SET blob = ?').run(`{"target":"x","verdict":"trusted","deep":${deep}}`);
  let err = assertThrowsCode(() => s.history({ limit: 1 }), 'STATE_CORRUPT');
  assert.match(err.message, /malformed result/);
  raw.prepare('UPDATE result SET blob = ?, findings = ?').run(JSON.stringify(nested), deep);
  err = assertThrowsCode(() => s.history({ limit: 1 }), 'STATE_CORRUPT');
  assert.match(err.message, /malformed result findings/);
  raw.prepare('UPDATE audit_run SET failure_codes = ?').run(`[${deep}]`);
  assertThrowsCode(() => s.auditRuns({ limit: 1 }), 'STATE_CORRUPT');
  // 64 deep still reads
  raw.prepare('UPDATE result SET findings = ?').run(`[${'['.repeat(63)}${']'.repeat(63)}]`);
  assert.equal(s.history({ limit: 1 }).length, 1);
});

test("another program's SQLite file with a user_version is refused before its header is touched; a folder under /proc fails at once", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'other.db');
  const other = new Database(file);
  other.exec('CREATE TABLE notes (x)');
  other.pragma('user_version = 3');
  other.close();
  const header = readFileSync(file).subarray(0, 100);
  await assertRejectsCode(openState(file, { create: false }), 'STATE_FOREIGN_FILE');
  assert.deepEqual(readFileSync(file).subarray(0, 100), header, 'not switched to WAL, not changed at all');
  await assertRejectsCode(openState('/proc/vtpm-verify-nope/x/state.db'), 'STATE_UNWRITABLE');
});

test('--since: ages reach back to the epoch at most; dates that do not exist are refused', () => {
  const now = Date.UTC(2026, 10, 27);
  assert.equal(parseSince('999999999w', now), 0);
  assert.equal(parseSince('2d', now), now - 2 * 86_400_000);
  assert.equal(parseSince('2026-02-28', now), Date.UTC(2026, 1, 28));
  for (const bad of ['2026-02-30', '2026-13-01', '2025-02-29T10:00Z']) assertThrowsCode(() => parseSince(bad, now), 'USAGE');
});

test('vacuum says when a reader elsewhere kept the file from shrinking', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  t.after(() => s.close());
  for (let i = 0; i < 50; i++) s.appendResult({ time: 1_000 + i, target: `https://vm-${i}.example`, verdict: 'trusted', result: { reason: 'r'.repeat(20_000) } });
  s.prune(2_000);
  assert.equal(s.vacuum(), true);
  const reader = new Database(s.path, { readonly: true });
  t.after(() => reader.close());
  reader.prepare('BEGIN').run();
  reader.prepare('SELECT count(*) FROM result').get();
  assert.equal(s.vacuum(), false);
});

test('a file whose tables are not those of its schema version is STATE_CORRUPT at open, for every command, never INTERNAL_ERROR', async (t) => {
  const dir = tempDir(t);
  const damaged: [string, (db: Database.Database) => void][] = [
    ['a column dropped', (db) => db.exec('ALTER TABLE tpm_identity DROP COLUMN hosting')],
    ['a table dropped', (db) => db.exec('DROP TABLE stay')],
    ['a table made a view', (db) => db.exec('DROP TABLE migration_cursor; CREATE VIEW migration_cursor AS SELECT 1 AS service')],
    ['a negative schema version', (db) => db.pragma('user_version = -1')],
    ['schema version 0 with our tables', (db) => db.pragma("user_version = 'abc'")],
    ['an older schema version than its tables', (db) => db.pragma('user_version = 3')],
  ];
  for (const [what, damage] of damaged) {
    const file = join(dir, `${damaged.findIndex((d) => d[0] === what)}.db`);
    (await openState(file)).close();
    const db = new Database(file);
    damage(db);
    db.close();
    for (const create of [true, false]) await assertRejectsCode(openState(file, { create }), 'STATE_CORRUPT');
  }
  // a version-1 file whose readings hold a malformed platform path: its migration fails as damage too (rolled back)
  const v1 = join(dir, 'v1.db');
  const db = stateFileAtVersion(v1, 1);
  db.prepare(`INSERT INTO observation (instance_id, ak_name, clock, reset_count, restart_count, safe, firmware_version, platform_path, time, received_at, target, findings)
    VALUES (?, 'ab', '00000000000000000001', 0, 0, 1, '0000000000000000', '[not json', 1, 1, 't', '[]')`).run('a'.repeat(64));
  db.close();
  await assertRejectsCode(openState(v1), 'STATE_CORRUPT');
  const after = new Database(v1);
  assert.equal(after.pragma('user_version', { simple: true }), 1, 'the failed migration left version 1');
  after.close();
});

test('a file with a trigger that can change or drop writes is refused at open (STATE_WRITE_REFUSED): RAISE(IGNORE) would drop results and baselines silently', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state.db');
  const s = await openState(file);
  s.appendResult({ time: 1, target: 'https://vm.example/', verdict: 'trusted' });
  s.close();
  for (const trigger of [
    `CREATE TRIGGER t BEFORE INSERT ON result BEGIN SELECT RAISE(IGNORE); END`,
    `CREATE TRIGGER t BEFORE UPDATE ON tpm_identity BEGIN SELECT RAISE(IGNORE); END`,
    `CREATE TRIGGER t AFTER INSERT ON result BEGIN DELETE FROM result WHERE id = new.id; END`,
    `CREATE TRIGGER t AFTER INSERT ON result BEGIN DELETE FROM result WHERE id = new.id; SELECT RAISE(ABORT, 'x'); END`,
    // what looks like a refusing body, in the trigger's name and a comment: the body is RAISE(IGNORE)
    `CREATE TRIGGER "BEGIN SELECT RAISE(ABORT, '" BEFORE INSERT ON result BEGIN SELECT RAISE(IGNORE); SELECT (1 --'\n); END`,
    `CREATE TRIGGER t BEFORE INSERT ON result BEGIN SELECT RAISE(IGNORE); SELECT 1 -- BEGIN SELECT RAISE(ABORT, 'x')\n; END`,
    `CREATE TRIGGER t BEFORE INSERT ON result /* BEGIN SELECT RAISE(ABORT, 'x'); END */ BEGIN SELECT RAISE(IGNORE); END`,
  ]) {
    const db = new Database(file);
    db.exec(`DROP TRIGGER IF EXISTS t; DROP TRIGGER IF EXISTS "BEGIN SELECT RAISE(ABORT, '"; ${trigger}`);
    db.close();
    for (const create of [true, false]) await assertRejectsCode(openState(file, { create }), 'STATE_WRITE_REFUSED');
  }
  // one that only refuses fails the write it refuses (prune.test.ts): the file opens
  const db = new Database(file);
  db.exec(`DROP TRIGGER t; CREATE TRIGGER keep BEFORE DELETE ON result BEGIN SELECT RAISE(ABORT, 'kept; here'); END`);
  db.exec(`CREATE TRIGGER "keep 2" /* results stay */ before update on result when old.verdict = 'trusted' begin select raise ( fail , 'it''s kept' ) ; end`);
  db.close();
  (await openState(file)).close();
});

test('a table rebuilt with a conflict clause is STATE_CORRUPT: UNIQUE ... ON CONFLICT IGNORE dropped results silently, as RAISE(IGNORE) did', async (t) => {
  const file = join(tempDir(t), 'state.db');
  (await openState(file)).close();
  const db = new Database(file);
  const sql = (db.prepare(`SELECT sql FROM sqlite_schema WHERE name = 'result'`).get() as { sql: string }).sql;
  const indexes = (db.prepare(`SELECT sql FROM sqlite_schema WHERE tbl_name = 'result' AND type = 'index'`).all() as { sql: string }[]).map((r) => r.sql);
  // the same columns, in the same order: only the conflict clause differs
  db.exec(`BEGIN; DROP TABLE result; ${sql.replace(/\)\s*$/, ', UNIQUE (verdict) ON CONFLICT IGNORE)')}; ${indexes.join('; ')}; COMMIT`);
  db.close();
  for (const create of [true, false]) await assertRejectsCode(openState(file, { create }), 'STATE_CORRUPT');
});

test('a hosting period whose times are not integers is STATE_CORRUPT: as text it silently hid CLONE_HOSTED_TWICE', async (t) => {
  const dir = tempDir(t);
  const X = '1'.repeat(64);
  const at = (clock: number, s: number, platformPath: string[], hostingEpoch: string) => observation(X, '000b' + 'ab'.repeat(32), clock, s, platformPath, hostingEpoch);
  for (const damage of [`last_seen = 'x'`, `first_seen = 'a', last_seen = 'b'`, 'last_seen = 1.5e300', `closed_at = 'no'`]) {
    const file = join(dir, `${damage.length}.db`);
    let s = await openState(file);
    s.observe(at(100, 0, ['aa01', 'ff00'], 'e1'));
    s.observe(at(50, 10, ['bb02', 'ff00'], 'f1'));
    s.close();
    const db = new Database(file);
    db.exec(`UPDATE stay SET ${damage} WHERE platform = 'bb02>ff00'`);
    db.close();
    s = await openState(file);
    // undamaged, this reading is CLONE_HOSTED_TWICE (store.test.ts)
    assertThrowsCode(() => s.observe(at(110, 20, ['aa01', 'ff00'], 'e1')), 'STATE_CORRUPT');
    // what attest asks before it records a reading (is this AK the instance's own?): its open stays
    if (!damage.startsWith('closed_at')) assertThrowsCode(() => s.openStays(X), 'STATE_CORRUPT');
    s.close();
  }
});

test('text columns holding a BLOB are STATE_CORRUPT in history and history --runs; a null finding lists; never INTERNAL_ERROR', async (t) => {
  const { runCli } = await import('../helpers/cli.js');
  const dir = tempDir(t);
  const X = '3f2a91c0'.padEnd(64, '7');
  const AK = '000b' + 'ab'.repeat(32);
  const P = ['000b' + '1c9e04aa'.padEnd(64, '0'), '000b' + '77d0e5f1'.padEnd(64, '0')];
  const now = Date.now();
  const base = join(dir, 'base.db');
  const s = await openState(base);
  const run = s.beginAuditRun({ startedAt: now - 10_000, inventory: 'fleet.yaml', shard: null, planned: 1 });
  s.observe({ instanceId: X, akName: AK, clockInfo: { clock: 5_000n, resetCount: 3, restartCount: 0, safe: true }, firmwareVersion: 5n, platformPath: P, time: now - 9_000, target: 'https://a.example' });
  s.appendResult({ time: now - 9_000, target: 'https://a.example', instanceId: X, verdict: 'trusted', platformPath: P, runId: run });
  s.finishAuditRun(run, { finishedAt: now - 8_000, exitCode: 0, interrupted: null, failureCodes: [] });
  const run2 = s.beginAuditRun({ startedAt: now - 5_000, inventory: 'fleet.yaml', shard: null, planned: 1 });
  s.appendResult({ time: now - 4_000, target: 'https://a.example', instanceId: X, verdict: 'not-trusted', platformPath: P, runId: run2 });
  s.finishAuditRun(run2, { finishedAt: now - 3_000, exitCode: 1, interrupted: null, failureCodes: [] });
  s.close();
  const cases: [string, unknown, string[]][] = [
    ['UPDATE result SET verdict = ?', Buffer.from('trusted'), ['history']],
    ['UPDATE result SET instance_id = ?', Buffer.from('x'), ['history']],
    ['UPDATE result SET target = ?', Buffer.from('x'), ['history', '--runs']],
    ['UPDATE audit_run SET inventory = ?', Buffer.from('x'), ['history', '--runs']],
    ['UPDATE audit_run SET shard = ?', Buffer.from('x'), ['history', '--runs']],
    ['UPDATE tpm_identity SET ak_name = ?', Buffer.from('x'), ['history', '--instance', '3f2a']],
    ['UPDATE result SET findings = ?', '[null]', ['history', '-v']],
  ];
  for (const [i, [sql, value, args]] of cases.entries()) {
    const file = join(dir, `damaged-${i}.db`);
    writeFileSync(file, readFileSync(base));
    const db = new Database(file);
    db.prepare(sql).run(value);
    db.close();
    const r = await runCli([...args, '--state', file]);
    assert.doesNotMatch(r.stderr, /INTERNAL_ERROR/, sql);
    // history reads findings of any JSON shape (only their nesting is capped): a null one is listed without a code
    if (sql.includes('findings')) {
      assert.equal(r.code, 0, `${sql}: ${r.stderr}`);
      continue;
    }
    assert.equal(r.code, 3, `${sql}: ${r.stderr}`);
    assert.match(r.stderr, /STATE_CORRUPT/, `${sql}: ${r.stderr}`);
  }
});

test('a time a Date cannot hold in a clock history or a hosting period is STATE_CORRUPT, not INTERNAL_ERROR when a finding or summary names it', async (t) => {
  const dir = tempDir(t);
  const X = '2'.repeat(64);
  const at = (clock: number, s: number, platformPath: string[]) => observation(X, '000b' + 'cd'.repeat(32), clock, s, platformPath);
  const lineage = (time: number, receivedAt: number) =>
    JSON.stringify({ v: 1, lineages: [{ clock: '00000000000000000100', resetCount: 1, restartCount: 0, safe: true, firmwareVersion: '0000000000000001', platformPath: ['aa01'], time, receivedAt }] });
  const damages = [
    `UPDATE tpm_identity SET clock_state = '${lineage(9_000_000_000_000_000, 9_000_000_000_000_000)}'`,
    `UPDATE tpm_identity SET clock_state = '${lineage(1_700_000_000_000, 1_600_000_000_000)}'`,
    `UPDATE stay SET last_seen = 9000000000000000`,
  ];
  for (const [n, damage] of damages.entries()) {
    const file = join(dir, `${n}.db`);
    let s = await openState(file);
    s.observe(at(100, 0, ['aa01']));
    s.close();
    const db = new Database(file);
    db.exec(damage);
    db.close();
    s = await openState(file);
    // a clock gone back on another platform: undamaged, CLOCK_WENT_BACK, RESTORE_FROM_BACKUP and CLONE_HOSTED_TWICE
    assertThrowsCode(() => s.observe(at(50, 10, ['bb02'])), 'STATE_CORRUPT');
    if (n < 2) assertThrowsCode(() => s.identities(X), 'STATE_CORRUPT');
    s.close();
  }
});

test("an instance's latest results are decoded one at a time, as the caller reaches them: a damaged older one does not stop the newest from serving", async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  t.after(() => s.close());
  const instanceId = 'ab'.repeat(32);
  for (let i = 0; i < 3; i++) s.appendResult({ time: 1_000 + i, target: `https://vm.example/${i}`, instanceId, verdict: 'trusted', result: { n: i } });
  const raw = new Database(s.path);
  t.after(() => raw.close());
  raw.prepare('UPDATE result SET blob = ? WHERE time = 1000').run(Buffer.from([0x01, 0xff, 0xfe]));
  const newest = s.latestResultsOf(instanceId, 3).next();
  assert.deepEqual(newest.value?.result, { n: 2 });
  // read to the damaged one, it is STATE_CORRUPT as before
  assertThrowsCode(() => [...s.latestResultsOf(instanceId, 3)], 'STATE_CORRUPT');
});

test('a state file that is a FIFO or a device is refused before SQLite opens it: no "disk I/O error", no journal left beside it', { skip: process.platform === 'win32' && 'no mkfifo' }, async (t) => {
  // from a review: `--state FIFO` failed as STATE_IO_ERROR "disk I/O error", `history --state /dev/null` said the
  // file was empty, and `attest --state /dev/null` (to keep nothing) left /dev/null-journal behind
  const dir = tempDir(t);
  const fifo = join(dir, 'state.db');
  execFileSync('mkfifo', [fifo]);
  for (const readOnly of [false, true]) {
    const err = await assertRejectsCode(openState(fifo, { readOnly, create: !readOnly }), 'STATE_UNWRITABLE');
    assert.match(err.message, /state\.db is a FIFO: a state file is an SQLite database in a regular file/);
  }
  assert.match((await assertRejectsCode(openState(dir), 'STATE_UNWRITABLE')).message, /is a folder/);
  const files = ['state.db'];
  if (process.getuid?.() === 0) {
    // a device of our own (as /dev/null), where a journal left beside it can be seen
    execFileSync('mknod', [join(dir, 'null'), 'c', '1', '3']);
    files.push('null');
    assert.match((await assertRejectsCode(openState(join(dir, 'null')), 'STATE_UNWRITABLE')).message, /null is a device/);
    assert.match((await assertRejectsCode(openState(join(dir, 'null'), { readOnly: true, create: false }), 'STATE_UNWRITABLE')).message, /null is a device/);
  }
  assert.deepEqual(readdirSync(dir).sort(), files.sort(), 'nothing left beside them');
});
