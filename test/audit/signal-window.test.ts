// The audit listens for SIGINT/SIGTERM until its reports are written: its
// listeners removed before (as they were), a signal while the reports were
// written (synchronously, seconds at 10,000 VMs) ended the process by the
// signal, and an earlier run's report could stay under a name not yet written.
// Deterministic: the test watches when the audit removes its listeners, and
// checks that by then every report is in place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runAuditCommand } from '../../src/cli/actions/audit.js';
import { fleetOnDisk } from './fleet-on-disk.js';
import { openState } from '../../src/state/index.js';

test('the audit keeps its SIGINT/SIGTERM listeners until every report is written', async (t) => {
  process.env['VTPM_NO_V8_TUNING'] = '1';
  const { sim, dir, inventory } = await fleetOnDisk(t, { topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 3 } }, 'vtpm-signal-');
  const reports = { json: join(dir, 'a.json'), junit: join(dir, 'a.xml'), html: join(dir, 'a.html') };
  const seen: { signal: string; reportsThere: boolean[] }[] = [];
  const off = process.off.bind(process);
  const listenersBefore = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
  process.off = ((event: string | symbol, listener: (...args: unknown[]) => void) => {
    if (event === 'SIGINT' || event === 'SIGTERM') seen.push({ signal: event, reportsThere: Object.values(reports).map((f) => existsSync(f)) });
    return off(event, listener);
  }) as typeof process.off;
  try {
    const outcome = await runAuditCommand({ inventory, trust: [sim.trustDir], intermediates: [], crls: [], retries: 0, unreachableOk: false, json: true, verbose: false, reports });
    assert.equal(outcome.exitCode, 0);
  } finally {
    process.off = off;
  }
  assert.deepEqual(seen.map((s) => s.signal).sort(), ['SIGINT', 'SIGTERM']);
  for (const s of seen) assert.deepEqual(s.reportsThere, [true, true, true], `${s.signal}'s listener was removed before every report was written`);
  assert.deepEqual({ SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') }, listenersBefore, 'none left behind');
});

test('a signal once every VM is audited (while the results are stored) does not make the run interrupted: exit 0, nothing marked', async (t) => {
  process.env['VTPM_NO_V8_TUNING'] = '1';
  const { sim, dir, inventory } = await fleetOnDisk(t, { topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 3 } }, 'vtpm-signal-');
  const state = join(dir, 'state.db');
  // the audit's own SIGINT listener, called directly (process.emit would reach the test runner's too)
  let listener: ((sig: NodeJS.Signals) => void) | undefined;
  const on = process.on.bind(process);
  process.on = ((event: string | symbol, l: (...args: unknown[]) => void) => {
    if (event === 'SIGINT') listener = l as (sig: NodeJS.Signals) => void;
    return on(event, l);
  }) as typeof process.on;
  // when the last VM is done, the signal comes on the next turn of the event loop: the results are being stored
  const write = process.stderr.write.bind(process.stderr);
  const said: string[] = [];
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    said.push(text);
    if (text.startsWith('audit: 3/3 VMs done')) setImmediate(() => listener!('SIGINT'));
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  let outcome: Awaited<ReturnType<typeof runAuditCommand>>;
  try {
    outcome = await runAuditCommand({ inventory, trust: [sim.trustDir], intermediates: [], crls: [], retries: 0, unreachableOk: false, json: true, verbose: false, reports: {}, state });
  } finally {
    process.on = on;
    process.stderr.write = write;
  }
  assert.ok(listener, 'the audit listened for SIGINT');
  assert.equal(outcome.exitCode, 0);
  assert.ok(said.some((s) => s.includes('SIGINT: every VM is audited already')), said.join(''));
  const result = outcome.result as { summary: { trusted: number }; run: { interrupted?: unknown }; state: { stored: number; runId: number } };
  assert.equal(result.summary.trusted, 3);
  assert.equal(result.run.interrupted, undefined);
  assert.equal(result.state.stored, 3);
  const store = await openState(state);
  t.after(() => store.close());
  const run = store.auditRun(result.state.runId);
  assert.equal(run?.interrupted, null);
  assert.equal(run?.exitCode, 0);
});
