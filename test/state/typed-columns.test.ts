// Numbers and texts history shows as they are read: a hand-edited or damaged
// row whose value has another type (a BLOB, text; CHECK (planned >= 0) lets
// both through) was listed as is, e.g. an audit run of "20/\u0000…" VMs with
// exit code "abc", "(A reading(s))", a hosting epoch of hex bytes. Each is
// STATE_CORRUPT, for every command that shows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../../src/state/index.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { tempDir } from './tmp.js';

test('an audit run, result, identity or hosting period column of the wrong type is STATE_CORRUPT, not shown as it is', async (t) => {
  const dir = tempDir(t);
  const X = '6b0c44e1'.padEnd(64, '9');
  const AK = '000b' + 'ef'.repeat(32);
  const P = ['000b' + '21aa'.padEnd(64, '5'), '000b' + '83bb'.padEnd(64, '6')];
  const now = Date.now();
  const base = join(dir, 'base.db');
  const s = await openState(base);
  const run = s.beginAuditRun({ startedAt: now - 10_000, inventory: 'fleet.yaml', shard: null, planned: 1 });
  s.observe({ instanceId: X, akName: AK, clockInfo: { clock: 9_000n, resetCount: 2, restartCount: 0, safe: true }, firmwareVersion: 3n, platformPath: P, time: now - 9_000, target: 'https://a.example' });
  // deflated without a dictionary (too small to be one): its run id is read only as a number
  s.appendResult({ time: now - 9_000, target: 'https://a.example', instanceId: X, verdict: 'trusted', platformPath: P, runId: run, result: { ok: true } });
  s.finishAuditRun(run, { finishedAt: now - 8_000, exitCode: 0, interrupted: null, failureCodes: [] });
  s.close();

  const read = {
    runs: (f: Awaited<ReturnType<typeof openState>>) => f.auditRuns(),
    run: (f: Awaited<ReturnType<typeof openState>>) => f.auditRun(run),
    history: (f: Awaited<ReturnType<typeof openState>>) => f.history(),
    identities: (f: Awaited<ReturnType<typeof openState>>) => f.identities(X.slice(0, 8)),
    stays: (f: Awaited<ReturnType<typeof openState>>) => f.stays(X),
  };
  const cases: [string, unknown, (keyof typeof read)[]][] = [
    ['UPDATE audit_run SET planned = ?', Buffer.from([0x00, 0xff]), ['runs', 'run']],
    ['UPDATE audit_run SET planned = ?', 'many', ['runs', 'run']],
    ['UPDATE audit_run SET exit_code = ?', 'abc', ['runs', 'run']],
    ['UPDATE audit_run SET exit_code = ?', 1.5, ['runs']],
    ['UPDATE result SET run_id = ?', 'zz', ['history']],
    ['UPDATE tpm_identity SET readings = ?', Buffer.from('A'), ['identities']],
    ['UPDATE stay SET epoch = ?', Buffer.from('AB'), ['stays']],
  ];
  const fresh = await openState(base, { create: false });
  for (const k of Object.keys(read) as (keyof typeof read)[]) assert.doesNotThrow(() => read[k](fresh), k);
  assert.equal(fresh.auditRuns()[0]!.planned, 1);
  fresh.close();
  for (const [i, [sql, value, readers]] of cases.entries()) {
    const file = join(dir, `damaged-${i}.db`);
    writeFileSync(file, readFileSync(base));
    const db = new Database(file);
    db.prepare(sql).run(value);
    db.close();
    const f = await openState(file, { create: false });
    try {
      for (const k of readers) assertThrowsCode(() => read[k](f), 'STATE_CORRUPT');
    } finally {
      f.close();
    }
  }
});
