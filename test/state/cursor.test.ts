// Migration notification cursors (schema version 3): the last seq a watcher
// handled per controller and instance, and when, kept across processes; a
// version-2 file gains the table when opened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../../src/state/index.js';
import { SCHEMA_VERSION } from '../../src/state/schema.js';
import { tempDir } from './tmp.js';

const I = 'ab'.repeat(32);
const S = 'https://ctl.example/m/migrations';

test('the cursor starts empty, is the last seq saved and when, per controller and instance, and survives reopening', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const s = await openState(file);
  assert.equal(s.migrationCursor(S, I), null);
  s.saveMigrationCursor(S, I, 9, 500);
  s.saveMigrationCursor(S, I, 5, 1000); // handled after 9: the controller's count went back (a reinstall, or 9 was injected)
  assert.deepEqual(s.migrationCursor(S, I), { seq: 5, time: 1000 });
  s.saveMigrationCursor('https://other.example/m', I, 1, 3000);
  assert.deepEqual(s.migrationCursor(S, I), { seq: 5, time: 1000 });
  assert.deepEqual(s.migrationCursor('https://other.example/m', I), { seq: 1, time: 3000 });
  assert.equal(s.migrationCursor(S, 'cd'.repeat(32)), null);
  s.close();
  const again = await openState(file, { create: false });
  assert.deepEqual(again.migrationCursor(S, I), { seq: 5, time: 1000 });
  assert.throws(() => again.saveMigrationCursor(S, 'not hex', 1, 1), /invalid instanceId/);
  assert.throws(() => again.saveMigrationCursor(S, I, -1, 1), /invalid seq/);
  again.close();
});

test('a version-2 file opens with the current version: stays and results kept, the cursor table and the readings time index added', async (t) => {
  const file = join(tempDir(t), 'v2.db');
  const s = await openState(file);
  s.recordHosting(I, { platformPath: ['aa'], time: 1000, hosted: true });
  s.close();
  // back to version 2, as that release left it
  const db = new Database(file);
  db.exec('DROP TABLE migration_cursor');
  db.exec('DROP INDEX observation_by_time');
  db.exec('DROP TABLE audit_run');
  db.exec('DROP INDEX result_by_run');
  db.exec('DROP INDEX result_by_run_time');
  db.exec('ALTER TABLE result DROP COLUMN run_id');
  db.exec('ALTER TABLE tpm_identity DROP COLUMN hosting');
  db.pragma('user_version = 2');
  db.close();
  const v3 = await openState(file, { create: false });
  assert.equal(v3.schemaVersion, SCHEMA_VERSION);
  assert.equal(SCHEMA_VERSION, 9);
  assert.equal(v3.stays(I).length, 1);
  const check = new Database(file, { readonly: true });
  assert.equal((check.prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE name IN ('migration_cursor', 'observation_by_time', 'audit_run', 'result_by_run', 'result_by_run_time')`).get() as { n: number }).n, 5);
  check.close();
  v3.saveMigrationCursor(S, I, 7, 2000);
  assert.deepEqual(v3.migrationCursor(S, I), { seq: 7, time: 2000 });
  v3.close();
});
