// A version-1 state file (readings only) is migrated by rebuilding its hosting periods from the readings'
// platform paths. A damaged file whose paths are not lists of AK Names must fail as STATE_CORRUPT and roll
// back, not end in INTERNAL_ERROR (a string's characters were joined as AK Names). Real SQLite files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../../src/state/index.js';
import { assertRejectsCode } from '../helpers/assert.js';
import { stateFileAtVersion, tempDir } from './tmp.js';

test("a version-1 file whose readings' platform paths are not lists of AK Names is STATE_CORRUPT when its stays are rebuilt, not INTERNAL_ERROR", async (t) => {
  const dir = tempDir(t);
  for (const [i, path] of ['"abc"', '{"length":5}', '[1,2]', '[null]', 'notjson'].entries()) {
    const file = join(dir, `v1-${i}.db`);
    const db = stateFileAtVersion(file, 1);
    db.prepare(
      `INSERT INTO observation (instance_id, ak_name, clock, reset_count, restart_count, safe, firmware_version, platform_path, time, received_at, target, findings)
       VALUES (?, '000b', ?, 0, 0, 1, ?, ?, 1000, 1000, 'https://a.example', '[]')`,
    ).run('a'.repeat(64), '0'.repeat(20), '0'.repeat(16), path);
    db.close();
    const err = await assertRejectsCode(openState(file), 'STATE_CORRUPT');
    assert.match(err.message, /migrating schema version 1 to 2 failed/, path);
    // rolled back: still version 1, for a fixed file to be migrated later
    const after = new Database(file);
    assert.equal(after.pragma('user_version', { simple: true }), 1);
    after.close();
  }
});
