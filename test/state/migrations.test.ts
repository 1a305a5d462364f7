// Schema versions: a version-1 file (as the first release wrote it) opens with
// the later code, keeps its data and gains the version-2 tables; a file from a
// newer version is refused untouched; a damaged row is STATE_CORRUPT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../../src/state/index.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from '../../src/state/schema.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { P, Q, T0 } from './reading.js';
import { stateFileAtVersion, tempDir } from './tmp.js';

const X = '3'.repeat(64);
const AK = '000b' + 'cd'.repeat(32);

/** Writes a file exactly as schema version 1 left it, with data. */
function writeV1File(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.transaction(() => {
    MIGRATIONS[0]!.up(db);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma('user_version = 1');
  })();
  const state = JSON.stringify({
    v: 1,
    lineages: [{ clock: '00000000000000090000', resetCount: 2, restartCount: 0, safe: true, firmwareVersion: '2016051100162800', platformPath: Q, time: T0 + 20_000, receivedAt: T0 + 20_100 }],
  });
  db.prepare(
    `INSERT INTO tpm_identity VALUES (?, ?, '00000000000000090000', 2, 0, 1, '2016051100162800', ?, ?, ?, ?, 3, ?)`,
  ).run(X, AK, JSON.stringify(Q), T0 + 20_000, T0 + 20_100, T0, state);
  const insertObs = db.prepare(`INSERT INTO observation (instance_id, ak_name, clock, reset_count, restart_count, safe, firmware_version, platform_path, time, received_at, target, findings)
    VALUES (?, ?, ?, 2, 0, 1, '2016051100162800', ?, ?, ?, 'https://vm.example/', '[]')`);
  insertObs.run(X, AK, '00000000000000070000', JSON.stringify(P), T0, T0 + 100);
  insertObs.run(X, AK, '00000000000000080000', JSON.stringify(P), T0 + 10_000, T0 + 10_100);
  insertObs.run(X, AK, '00000000000000090000', JSON.stringify(Q), T0 + 20_000, T0 + 20_100);
  db.prepare(`INSERT INTO result (time, target, instance_id, verdict, findings, platform_path, blob) VALUES (?, 'https://vm.example/', ?, 'trusted', '[]', ?, '{"v1":true}')`).run(
    T0 + 20_000,
    X,
    JSON.stringify(Q),
  );
  db.close();
}

test('schema version 1 file opens with the later code: data kept, stays rebuilt, clock state continues', async (t) => {
  const file = join(tempDir(t), 'v1.db');
  writeV1File(file);
  const s = await openState(file);
  assert.equal(s.schemaVersion, SCHEMA_VERSION);
  assert.ok(SCHEMA_VERSION >= 2);
  assert.deepEqual(
    s.history().map((e) => [e.verdict, e.result]),
    [['trusted', { v1: true }]],
  );
  // version 2's stays, rebuilt from version 1's readings: two runs, P then Q
  assert.deepEqual(
    s.stays(X).map((st) => [st.platformPath, st.from, st.to]),
    [
      [P, new Date(T0).toISOString(), new Date(T0 + 10_000).toISOString()],
      [Q, new Date(T0 + 20_000).toISOString(), new Date(T0 + 20_000).toISOString()],
    ],
  );
  // the clock baseline written by version 1 still catches a rollback
  const out = s.observe({
    instanceId: X,
    akName: AK,
    clockInfo: { clock: 85_000n, resetCount: 2, restartCount: 0, safe: true },
    firmwareVersion: 0x2016051100162800n,
    platformPath: Q,
    time: T0 + 60_000,
    target: 'https://vm.example/',
  });
  assert.deepEqual(
    out.findings.map((f) => f.code),
    ['CLOCK_WENT_BACK'],
  );
  assert.equal(s.identities(X)[0]!.readings, 4);
  assert.deepEqual(s.integrityCheck(), ['ok']);
  s.close();
});

test('reopening an up-to-date file runs no migration again', async (t) => {
  const file = join(tempDir(t), 'state.db');
  (await openState(file)).close();
  const s = await openState(file);
  assert.equal(s.schemaVersion, SCHEMA_VERSION);
  s.close();
});

test('a file from a newer schema version: STATE_SCHEMA_TOO_NEW, file untouched', async (t) => {
  const file = join(tempDir(t), 'future.db');
  (await openState(file)).close();
  const db = new Database(file);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.exec('CREATE TABLE from_the_future (x)');
  db.close();
  const err = await assertRejectsCode(openState(file), 'STATE_SCHEMA_TOO_NEW');
  assert.equal(err.kind, 'transport');
  assert.match(err.message, /newer vtpm-verify/);
  assert.deepEqual(err.details['fileVersion'], SCHEMA_VERSION + 1);
  const after = new Database(file);
  assert.equal(after.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
  after.close();
});

test('a damaged row (clock state) is STATE_CORRUPT, not a crash', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const s = await openState(file);
  s.observe({
    instanceId: X,
    akName: AK,
    clockInfo: { clock: 1n, resetCount: 0, restartCount: 0, safe: true },
    firmwareVersion: 0n,
    platformPath: [],
    time: T0,
    target: 't',
  });
  s.close();
  const db = new Database(file);
  db.prepare(`UPDATE tpm_identity SET clock_state = '{"v":1,"lineages":[{"clock":"-1"}]}'`).run();
  db.close();
  const again = await openState(file);
  assertThrowsCode(
    () =>
      again.observe({
        instanceId: X,
        akName: AK,
        clockInfo: { clock: 2n, resetCount: 0, restartCount: 0, safe: true },
        firmwareVersion: 0n,
        platformPath: [],
        time: T0 + 1,
        target: 't',
      }),
    'STATE_CORRUPT',
  );
  assertThrowsCode(() => again.identities(), 'STATE_CORRUPT');
  again.close();
});

test('a version-6 file opens at the current version: the AKs it has seen are its instances\' own (hosting evidence)', async (t) => {
  const file = join(tempDir(t), 'v6.db');
  const ak = 'ab'.repeat(34);
  const first = await openState(file);
  first.observe({ instanceId: X, akName: ak, clockInfo: { clock: 1000n, resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n, platformPath: P, time: T0, target: 'https://vm' });
  first.close();
  // back to version 6, as that release left it
  const db = new Database(file);
  db.exec('ALTER TABLE tpm_identity DROP COLUMN hosting');
  db.exec('DROP INDEX result_by_run_time');
  db.exec('ALTER TABLE audit_run DROP COLUMN label');
  db.pragma('user_version = 6');
  db.close();
  const s = await openState(file);
  t.after(() => s.close());
  assert.equal(s.schemaVersion, SCHEMA_VERSION);
  assert.deepEqual(s.instanceKeys(X), [ak]);
});

test('a version-7 file opens at the current version: its audit runs have no run label, a new run records one', async (t) => {
  const file = join(tempDir(t), 'v7.db');
  const first = await openState(file);
  const old = first.beginAuditRun({ startedAt: T0, inventory: '/config/fleet.yaml', shard: '0/2', planned: 3 });
  first.close();
  const db = new Database(file);
  db.exec('DROP INDEX result_by_run_time');
  db.exec('ALTER TABLE audit_run DROP COLUMN label');
  db.pragma('user_version = 7');
  db.close();
  const s = await openState(file);
  t.after(() => s.close());
  assert.equal(s.schemaVersion, SCHEMA_VERSION);
  const now = s.beginAuditRun({ startedAt: T0 + 1000, inventory: '/config/fleet.yaml', shard: '0/2', planned: 3, label: 'audit-29001234' });
  assert.equal(s.auditRun(old)?.label, null);
  assert.equal(s.auditRun(now)?.label, 'audit-29001234');
});

test('a trigger that could change a migration\'s writes is refused before the migration: the file stays at its version', async (t) => {
  const file = join(tempDir(t), 'v6-trigger.db');
  const first = await openState(file);
  first.observe({ instanceId: X, akName: 'ab'.repeat(34), clockInfo: { clock: 1000n, resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n, platformPath: P, time: T0, target: 'https://vm' });
  first.close();
  const db = new Database(file);
  db.exec('ALTER TABLE tpm_identity DROP COLUMN hosting');
  db.exec('DROP INDEX result_by_run_time');
  db.exec('ALTER TABLE audit_run DROP COLUMN label');
  db.pragma('user_version = 6');
  // a trigger fires on a migration's own writes too: the migration must not run while it is there
  db.exec('CREATE TRIGGER keep_out BEFORE UPDATE ON tpm_identity BEGIN SELECT RAISE(IGNORE); END');
  db.close();
  await assertRejectsCode(openState(file), 'STATE_WRITE_REFUSED');
  const after = new Database(file, { readonly: true });
  t.after(() => after.close());
  assert.equal(after.pragma('user_version', { simple: true }), 6, 'not migrated');
});

test('a version-8 file opens at version 9: its runs\' results are indexed by time, and history --run lists them newest first', async (t) => {
  const file = join(tempDir(t), 'v8.db');
  const db = stateFileAtVersion(file, 8);
  const run = Number(db.prepare(`INSERT INTO audit_run (started_at, finished_at, inventory, shard, planned, exit_code) VALUES (?, ?, '/fleet.yaml', NULL, 3, 0)`).run(T0, T0 + 9).lastInsertRowid);
  // URL order is not time order: the listing follows time
  for (const [target, at] of [['https://a.example', 3], ['https://b.example', 1], ['https://c.example', 2]] as const) {
    db.prepare(`INSERT INTO result (time, target, instance_id, verdict, findings, platform_path, blob, run_id) VALUES (?, ?, NULL, 'trusted', '[]', NULL, '{}', ?)`).run(T0 + at, target, run);
  }
  db.close();
  const s = await openState(file, { create: false });
  t.after(() => s.close());
  assert.equal(s.schemaVersion, 9);
  assert.deepEqual(s.history({ run }).map((e) => e.target), ['https://a.example', 'https://c.example', 'https://b.example']);
  assert.deepEqual(s.history({ run, limit: 1 }).map((e) => e.target), ['https://a.example']);
  const check = new Database(file, { readonly: true });
  t.after(() => check.close());
  assert.deepEqual((check.pragma('index_info(result_by_run_time)') as { name: string }[]).map((c) => c.name), ['run_id', 'time']);
});
