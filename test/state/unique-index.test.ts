// A unique index someone added to a state file (CREATE UNIQUE INDEX, or a
// table rebuilt with a UNIQUE or another PRIMARY KEY) refused the next audit
// run or result with a constraint error, which `audit --state` reported as
// INTERNAL_ERROR, a bug of vtpm-verify's. The file was altered: STATE_CORRUPT
// at open, for every command, as a dropped column is. An index that only
// speeds reads up refuses nothing and is left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../../src/state/index.js';
import { assertRejectsCode } from '../helpers/assert.js';
import { tempDir } from './tmp.js';

test('a unique index vtpm-verify did not make is STATE_CORRUPT at open; a plain one added is accepted', async (t) => {
  const dir = tempDir(t);
  const base = join(dir, 'base.db');
  const s = await openState(base);
  const run = s.beginAuditRun({ startedAt: 1_000, inventory: '/srv/fleet.yaml', shard: '0/4', planned: 1 });
  s.appendResult({ time: 1_100, target: 'https://a.example', verdict: 'trusted', runId: run, result: { ok: true } });
  s.finishAuditRun(run, { finishedAt: 1_200, exitCode: 0, interrupted: null, failureCodes: [] });
  s.close();

  const altered = [
    'CREATE UNIQUE INDEX one_run_per_shard ON audit_run (inventory, shard)',
    'CREATE UNIQUE INDEX one_result_per_target ON result (target, run_id) WHERE verdict = \'trusted\'',
    'CREATE UNIQUE INDEX by_clock ON tpm_identity (clock)',
  ];
  for (const [i, sql] of altered.entries()) {
    const file = join(dir, `altered-${i}.db`);
    writeFileSync(file, readFileSync(base));
    const db = new Database(file);
    db.exec(sql);
    db.close();
    for (const opts of [{}, { create: false, readOnly: true }]) {
      const err = await assertRejectsCode(openState(file, opts), 'STATE_CORRUPT');
      assert.match(err.message, /was altered: table \w+ has unique indexes/, sql);
    }
  }

  const file = join(dir, 'tuned.db');
  writeFileSync(file, readFileSync(base));
  const db = new Database(file);
  db.exec('CREATE INDEX result_by_target ON result (target)');
  db.close();
  const tuned = await openState(file);
  const next = tuned.beginAuditRun({ startedAt: 2_000, inventory: '/srv/fleet.yaml', shard: '0/4', planned: 1 });
  tuned.appendResult({ time: 2_100, target: 'https://a.example', verdict: 'trusted', runId: next, result: { ok: true } });
  assert.equal(tuned.history().length, 2);
  tuned.close();
});

test('a table rebuilt with a CHECK, a NOT NULL, a foreign key or STRICT vtpm-verify did not write is STATE_CORRUPT at open, not INTERNAL_ERROR at the next write', async (t) => {
  const dir = tempDir(t);
  const base = join(dir, 'base.db');
  const s = await openState(base);
  s.appendResult({ time: 1_100, target: 'https://a.example', verdict: 'trusted', result: { ok: true } });
  s.close();
  const read = new Database(base);
  const sql = (read.prepare(`SELECT sql FROM sqlite_schema WHERE name = 'result'`).get() as { sql: string }).sql;
  read.close();
  // the same columns, in the same order, with one more thing that can refuse a write; the rows are not copied
  const rebuilt = (table: string) => `ALTER TABLE result RENAME TO old_result; ${table}; DROP TABLE old_result;`;
  const altered: [string, RegExp][] = [
    [rebuilt(sql.replace(/\)\s*$/, ", CHECK (verdict <> 'not-trusted'))")), /table result has CHECK constraints CHECK \( VERDICT .*, not CHECK constraints none/],
    [rebuilt(sql.replace(/instance_id(\s+)TEXT/, 'instance_id$1TEXT NOT NULL')), /table result has column definitions .*instance_id TEXT NOT NULL/],
    [rebuilt(sql.replace(/run_id INTEGER/, 'run_id INTEGER REFERENCES audit_run (id)')), /table result has foreign keys run_id -> audit_run\(id\), not foreign keys none/],
    [rebuilt(`${sql} STRICT`), /table result has STRICT, not not STRICT/],
    // a generated column, hidden from table_info: NOT NULL over a NULL expression refused every append
    [rebuilt(sql.replace(/\)\s*$/, ', zz INTEGER GENERATED ALWAYS AS (NULL) VIRTUAL NOT NULL)')), /table result has column definitions .*zz INTEGER GENERATED NOT NULL/],
  ];
  for (const [i, [change, why]] of altered.entries()) {
    const file = join(dir, `altered-${i}.db`);
    writeFileSync(file, readFileSync(base));
    const db = new Database(file);
    db.exec(change);
    db.close();
    for (const opts of [{}, { create: false, readOnly: true }]) {
      const err = await assertRejectsCode(openState(file, opts), 'STATE_CORRUPT');
      assert.match(err.message, why, change);
    }
  }
  // the unaltered file, reopened, takes writes as before
  const again = await openState(base);
  again.appendResult({ time: 2_100, target: 'https://a.example', verdict: 'not-trusted', result: { ok: false } });
  assert.equal(again.history().length, 2);
  again.close();
});
