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
