// What a real `audit --state` stores: every VM's whole result, compressed
// against its run's dictionary (schema version 6), and read back by `history`
// exactly as the audit's JSON report has it. A real audit of a simulated fleet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BLOB_DEFLATE_RUN_DICTIONARY } from '../../src/state/result-blob.js';
import { runCli } from '../helpers/cli.js';
import { fleetOnDisk } from './fleet-on-disk.js';

test('audit --state stores each result compressed, a tenth of its JSON or less, and history gives back what the JSON report holds', async (t) => {
  const { sim, dir, inventory } = await fleetOnDisk(t, { topology: { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 6 } }, 'vtpm-stored-');
  const state = join(dir, 'state.db');
  const reportFile = join(dir, 'report.json');
  const audit = await runCli(['audit', inventory, '--trust', sim.trustDir, '--state', state, '--retries', '0', '--json', reportFile]);
  assert.equal(audit.code, 0, audit.stderr);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { run: { state: { runId: number } }; results: { target: string }[] };
  assert.equal(report.results.length, 12);

  const db = new Database(state, { readonly: true });
  t.after(() => db.close());
  const rows = db.prepare(`SELECT target, blob FROM result WHERE run_id = ?`).all(report.run.state.runId) as { target: string; blob: Buffer }[];
  assert.equal(rows.length, 12);
  assert.ok(rows.every((r) => Buffer.isBuffer(r.blob) && r.blob[0] === BLOB_DEFLATE_RUN_DICTIONARY), 'every result against the run dictionary');
  const stored = rows.reduce((n, r) => n + r.blob.length, 0);
  const json = report.results.reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r)), 0);
  assert.ok(stored * 10 <= json, `stored ${stored} bytes for ${json} bytes of JSON`);

  const listed = await runCli(['history', '--run', String(report.run.state.runId), '--state', state, '--json', '--limit', '100']);
  assert.equal(listed.code, 0, listed.stderr);
  const entries = listed.json?.result.entries as { target: string; result: unknown }[];
  assert.equal(entries.length, 12);
  const fromReport = new Map(report.results.map((r) => [r.target, r]));
  for (const e of entries) assert.deepEqual(e.result, fromReport.get(e.target), e.target);
});
