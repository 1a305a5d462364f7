// `vtpm-verify history` over prepared state files, run as the real CLI:
// exit codes, the --json envelope, filters, the human table, unusable files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readlinkSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync, spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { parseSince } from '../../src/cli/actions/history.js';
import { openState } from '../../src/state/index.js';
import { SCHEMA_VERSION } from '../../src/state/schema.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../state/tmp.js';

const X = '3f2a91c0'.padEnd(64, '7');
const Y = '9b00'.padEnd(64, '1');
const AK = '000b' + 'ab'.repeat(32);
const P = ['000b' + '1c9e04aa'.padEnd(64, '0'), '000b' + '77d0e5f1'.padEnd(64, '0')];
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

/** A state file with three results: X trusted, Y trusted, X untrusted (clock went back). */
async function prepare(dir: string): Promise<string> {
  const file = join(dir, 'state.db');
  const s = await openState(file);
  const seen = (instanceId: string, clock: number, at: number) =>
    s.observe({
      instanceId,
      akName: AK,
      clockInfo: { clock: BigInt(clock), resetCount: 3, restartCount: 0, safe: true },
      firmwareVersion: 5n,
      platformPath: P,
      time: T0 + at * 1000,
      target: `https://${instanceId.slice(0, 4)}.example`,
    }).findings;
  const record = (instanceId: string, clock: number, at: number) => {
    const findings = seen(instanceId, clock, at);
    s.appendResult({
      time: T0 + at * 1000,
      target: `https://${instanceId.slice(0, 4)}.example`,
      instanceId,
      verdict: findings.length ? 'untrusted' : 'trusted',
      findings,
      platformPath: P,
      result: { clock: BigInt(clock) },
    });
  };
  record(X, 5_000, 0);
  record(Y, 7_000, 60);
  record(X, 4_000, 120);
  s.close();
  return file;
}

test('history --json: every result, newest first, with findings and platform path', async (t) => {
  const file = await prepare(tempDir(t));
  const r = await runCli(['history', '--state', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json?.ok, true);
  assert.equal(r.json?.error, null);
  const result = r.json!.result;
  assert.equal(result.stateFile, file);
  assert.equal(result.count, 3);
  assert.deepEqual(
    result.entries.map((e: { id: number }) => e.id),
    [3, 2, 1],
  );
  const latest = result.entries[0];
  assert.equal(latest.verdict, 'untrusted');
  assert.equal(latest.time, new Date(T0 + 120_000).toISOString());
  assert.deepEqual(latest.platformPath, P);
  assert.deepEqual(
    latest.findings.map((f: { code: string }) => f.code),
    ['CLOCK_WENT_BACK'],
  );
  assert.equal(latest.findings[0].details.previous.clock, '5000');
  assert.deepEqual(latest.result, { clock: '4000' });
  assert.equal(result.stays, undefined);
});

test('history --instance PREFIX --limit --since filter, and --instance adds hosting periods and readings', async (t) => {
  const file = await prepare(tempDir(t));
  const one = await runCli(['history', '--state', file, '--instance', '3F2A', '--json']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(
    one.json!.result.entries.map((e: { instanceId: string }) => e.instanceId),
    [X, X],
  );
  assert.deepEqual(one.json!.result.stays[0].platformPath, P);
  assert.equal(one.json!.result.stays[0].from, new Date(T0).toISOString());
  assert.equal(one.json!.result.stays[0].to, new Date(T0 + 120_000).toISOString());
  assert.equal(one.json!.result.readings[0].last.clock, '4000');
  assert.equal(one.json!.result.readings[0].histories, 2);

  const limited = await runCli(['history', '--state', file, '--limit', '1', '--json']);
  assert.deepEqual(
    limited.json!.result.entries.map((e: { id: number }) => e.id),
    [3],
  );
  const since = await runCli(['history', '--state', file, '--since', '2026-11-26T12:01:00Z', '--json']);
  assert.deepEqual(
    since.json!.result.entries.map((e: { id: number }) => e.id),
    [3, 2],
  );
  assert.equal(since.json!.result.filter.since, '2026-11-26T12:01:00.000Z');
});

test('history prints a table for people, findings explained with --verbose', async (t) => {
  const file = await prepare(tempDir(t));
  const r = await runCli(['history', '--state', file, '--instance', '3f2a91c0', '--verbose']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[1]!, /^TIME \(UTC\)\s+VERDICT\s+INSTANCE\s+PLATFORM\s+TARGET\s+FINDINGS$/);
  assert.match(lines[2]!, /^2026-11-26 12:02:00 {2}untrusted {2}3f2a91c0… {2}1c9e04aa… > 77d0e5f1… {2}https:\/\/3f2a\.example {2}CLOCK_WENT_BACK$/);
  assert.match(lines[3]!, /^ {4}CLOCK_WENT_BACK: clock went back from 5000 to 4000 ms/);
  assert.match(r.stdout, /Hosting periods/);
  assert.match(r.stdout, /2026-11-26 12:00:00 to 2026-11-26 12:02:00/);
  assert.match(r.stdout, /clock 4000 resetCount 3 restartCount 0 safe yes/);
});

test('history makes stored text safe for a terminal: targets, finding messages, audit-run targets', async (t) => {
  const file = join(tempDir(t), 'hostile.db');
  const s = await openState(file);
  const hostile = 'https://x.example/\u001b[2J\u001b]0;pwned\u0007\u202e';
  const run = s.beginAuditRun({ startedAt: T0, inventory: '/srv/fleet\u001b[31m.yaml', shard: null, planned: 1 });
  s.appendResult({ time: T0, target: hostile, verdict: 'trusted', runId: run, findings: [] });
  s.finishAuditRun(run, { finishedAt: T0 + 1, exitCode: 0, interrupted: null, failureCodes: [] });
  const next = s.beginAuditRun({ startedAt: T0 + 60_000, inventory: '/srv/fleet\u001b[31m.yaml', shard: null, planned: 1 });
  s.appendResult({ time: T0 + 60_000, target: hostile, verdict: 'not-trusted', runId: next, findings: [{ code: 'QUOTE_BAD_SIGNATURE', message: 'server said \u001b[1Aok\u202e' }] });
  s.finishAuditRun(next, { finishedAt: T0 + 60_001, exitCode: 1, interrupted: null, failureCodes: [{ code: 'QUOTE_BAD_SIGNATURE', count: 1 }] });
  s.close();
  for (const args of [['--verbose'], ['--runs']]) {
    const r = await runCli(['history', '--state', file, ...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /[\u001b\u0007\u202e]/, `history ${args[0]}: no raw control or bidi character`);
    assert.match(r.stdout, /\\u001b\[2J/, 'shown as visible escapes');
  }
  const verbose = await runCli(['history', '--state', file, '--verbose']);
  assert.match(verbose.stdout, /QUOTE_BAD_SIGNATURE: server said \\u001b\[1Aok\\u202e/);
});

test('history on a state file with no results lists nothing and exits 0', async (t) => {
  const file = join(tempDir(t), 'empty.db');
  (await openState(file)).close();
  const r = await runCli(['history', '--state', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /No attestation results recorded/);
});

test('history without a state file: exit 2 STATE_NOT_FOUND naming the default path, nothing created', async (t) => {
  const dir = tempDir(t);
  const r = await runCli(['history', '--json'], { env: { XDG_STATE_HOME: dir } });
  assert.equal(r.code, 2);
  assert.equal(r.json?.error?.code, 'STATE_NOT_FOUND');
  assert.equal(r.json?.error?.details.path, join(dir, 'vtpm-verify', 'state.db'));
  const human = await runCli(['history'], { env: { XDG_STATE_HOME: dir } });
  assert.equal(human.code, 2);
  assert.match(human.stderr, /STATE_NOT_FOUND/);
  assert.equal(existsSync(join(dir, 'vtpm-verify')), false);
});

test('history and prune on an empty file: exit 2 STATE_NOT_FOUND, and the file is left empty (a reader does not make it a state file)', async (t) => {
  const dir = tempDir(t);
  const blank = join(dir, 'blank.db');
  writeFileSync(blank, '');
  const bare = join(dir, 'bare.db');
  new Database(bare).close(); // an SQLite file with no tables
  const bareBytes = readFileSync(bare);
  for (const [file, args] of [[blank, ['history']], [blank, ['history', '--runs']], [bare, ['history']], [blank, ['prune', '--older-than', '30d']]] as const) {
    const r = await runCli([...args, '--state', file, '--json']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
    assert.equal(r.json?.error?.code, 'STATE_NOT_FOUND');
    assert.match(r.json?.error?.message, /is empty: nothing was recorded there yet/);
    assert.equal(r.json?.error?.details.empty, true);
  }
  assert.equal(statSync(blank).size, 0);
  assert.deepEqual(readFileSync(bare), bareBytes);
  // a writer still makes it a state file
  (await openState(blank)).close();
  assert.equal((await runCli(['history', '--state', blank])).code, 0);
});

test('history on a corrupt or newer state file: exit 3 with a clear error', async (t) => {
  const dir = tempDir(t);
  const junk = join(dir, 'junk.db');
  writeFileSync(junk, 'this is not a database, just text that is long enough to look like a header '.repeat(100));
  const corrupt = await runCli(['history', '--state', junk, '--json']);
  assert.equal(corrupt.code, 3);
  assert.equal(corrupt.json?.error?.code, 'STATE_CORRUPT');

  const future = join(dir, 'future.db');
  (await openState(future)).close();
  const db = new Database(future);
  db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
  db.close();
  const newer = await runCli(['history', '--state', future]);
  assert.equal(newer.code, 3);
  assert.match(newer.stderr, /STATE_SCHEMA_TOO_NEW.*newer vtpm-verify/);
});

test('history rejects bad options with exit 2 USAGE', async (t) => {
  const file = await prepare(tempDir(t));
  for (const args of [
    ['--limit', '0'],
    ['--limit', 'many'],
    ['--since', 'yesterday'],
    ['--since', '2026-13-45'],
    ['--instance', 'xyz'],
  ]) {
    const r = await runCli(['history', '--state', file, ...args, '--json']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
    assert.equal(r.json?.error?.code, 'USAGE', args.join(' '));
  }
});

test('--since takes ISO 8601 times and ages', () => {
  const now = T0;
  assert.equal(parseSince('90s', now), now - 90_000);
  assert.equal(parseSince('30m', now), now - 1_800_000);
  assert.equal(parseSince('24h', now), now - 86_400_000);
  assert.equal(parseSince('7d', now), now - 7 * 86_400_000);
  assert.equal(parseSince('2w', now), now - 14 * 86_400_000);
  assert.equal(parseSince('2026-11-26T12:00:00Z', now), T0);
  assert.equal(parseSince('2026-11-26T13:00:00+01:00', now), T0);
  assert.equal(parseSince('2026-11-26', now), Date.UTC(2026, 10, 26));
  // history prints UTC times ("2026-11-26 12:00:00"): one copied back without a zone means the same instant,
  // whatever TZ the process runs in (Date.parse alone reads it as local time)
  assert.equal(parseSince('2026-11-26 12:00:00', now), T0);
  assert.equal(parseSince('2026-11-26T12:00', now), T0);
  assert.equal(parseSince('2026-11-26T12:00:00.000', now), T0);
});

test('--since refuses a day or a clock time that does not exist (Date.parse would roll it over)', () => {
  for (const bad of ['2026-02-29', '2026-02-30T00:00:00Z', '2026-04-31', '2026-11-26T24:00:00Z', '2026-11-26T24:00', '2026-11-26T23:60:00Z', '2026-11-26 12:00:60']) {
    assertThrowsCode(() => parseSince(bad, T0), 'USAGE');
  }
  assert.equal(parseSince('2028-02-29', T0), Date.UTC(2028, 1, 29), 'a leap day is a day');
  assert.equal(parseSince('2026-11-26T23:59:59Z', T0), Date.UTC(2026, 10, 26, 23, 59, 59));
});

test('--since without a zone is UTC in a process whose local zone is not', async () => {
  const script = `import { parseSince } from ${JSON.stringify(new URL('../../src/cli/actions/history.js', import.meta.url).href)}; console.log(parseSince('2026-11-26 12:00:00', 0), new Date(2026, 10, 26, 12).getTime());`;
  const { execFileSync } = await import('node:child_process');
  const [utc, local] = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: 'Asia/Kolkata' }, encoding: 'utf8' }).trim().split(' ').map(Number);
  assert.equal(utc, T0);
  assert.notEqual(local, T0, 'the child really ran in another zone');
});

/**
 * A folder SQLite cannot write in, holding a copy of `file`: for root (whom
 * permissions do not stop) a read-only tmpfs, for anyone else a folder
 * without write permission. Undefined when neither can be had here.
 */
function readOnlyCopy(t: import('node:test').TestContext, files: string[]): string | undefined {
  // not tempDir(): its removal would run before the unmount
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-ro-'));
  let mounted = false;
  t.after(() => {
    if (mounted) execFileSync('umount', [dir], { stdio: 'ignore' });
    else chmodSync(dir, 0o755);
    rmSync(dir, { recursive: true, force: true });
  });
  const copy = () => {
    for (const f of files) copyFileSync(f, join(dir, basename(f)));
  };
  if (process.getuid?.() === 0) {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir], { stdio: 'ignore' });
      mounted = true;
    } catch {
      return undefined;
    }
    copy();
    execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore' });
  } else {
    copy();
    chmodSync(dir, 0o555);
  }
  return join(dir, basename(files[0]!));
}

test('history reads a state file on a read-only file system (from a private copy, removed after); prune still cannot write it', async (t) => {
  const file = readOnlyCopy(t, [await prepare(tempDir(t))]);
  if (!file) {
    t.skip('cannot make a read-only folder here (root without mount permission)');
    return;
  }
  const tmp = tempDir(t);
  // a copy a killed reader left (its process is gone), one of a reader still running (this process),
  // and one from another PID namespace (another container sharing $TMPDIR: its PID says nothing here)
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  let ns = '0';
  try {
    ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    // no /proc: namespace 0, as the code reads it
  }
  const left = `vtpm-state-read-${ns}-${gone}-x1`;
  const running = `vtpm-state-read-${ns}-${process.pid}-x2`;
  const elsewhere = `vtpm-state-read-${ns}1-${gone}-x3`;
  for (const d of [left, running, elsewhere]) mkdirSync(join(tmp, d));
  writeFileSync(join(tmp, left, 'state.db'), 'left by a reader killed midway');
  const r = await runCli(['history', '--state', file, '--json'], { env: { TMPDIR: tmp } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json?.result.stateFile, file, 'named as the file asked for, not the copy');
  assert.deepEqual(r.json?.result.entries.map((e: { id: number }) => e.id), [3, 2, 1]);
  assert.deepEqual(readdirSync(tmp).sort(), [running, elsewhere].sort(), "its own copy removed, and the one a killed reader left; a running reader's and another namespace's kept");
  assert.deepEqual(readdirSync(join(file, '..')), ['state.db'], 'nothing written beside the file');

  const prune = await runCli(['prune', '--state', file, '--older-than', '1d', '--json'], { env: { TMPDIR: tmp } });
  assert.equal(prune.code, 3, prune.stderr);
  assert.equal(prune.json?.error?.code, 'STATE_UNWRITABLE');
});

test("history on a read-only file system reads the results still in the WAL (a snapshot taken while a writer had the file open)", async (t) => {
  const dir = tempDir(t);
  const live = join(dir, 'state.db');
  const s = await openState(live);
  s.appendResult({ time: T0, target: 'https://wal.example', instanceId: X, verdict: 'trusted', findings: [], platformPath: P, result: {} });
  // the result is in state.db-wal, not yet in state.db; the snapshot has no -shm (it is rebuilt from the WAL)
  assert.ok(existsSync(`${live}-wal`));
  const file = readOnlyCopy(t, [live, `${live}-wal`]);
  s.close();
  if (!file) {
    t.skip('cannot make a read-only folder here (root without mount permission)');
    return;
  }
  const r = await runCli(['history', '--state', file, '--json'], { env: { TMPDIR: tempDir(t) } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json?.result.entries.map((e: { target: string }) => e.target), ['https://wal.example']);
});

test('prune checks the file\'s structure first: a damaged page it would not touch is STATE_CORRUPT (exit 3), nothing deleted', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state.db');
  const s = await openState(file);
  for (let i = 0; i < 300; i++) s.appendResult({ time: T0 + i * 1000, target: `https://vm${i}.example/`, verdict: 'trusted', result: { i, pad: 'x'.repeat(3000) } });
  s.close();
  // the last leaf page of an index on the results: a prune with nothing to delete never reads it
  const db = new Database(file, { readonly: true });
  const leaves = db.prepare(`SELECT pageno FROM dbstat WHERE name = 'result_by_instance' AND pagetype = 'leaf' ORDER BY pageno`).all() as { pageno: number }[];
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.close();
  assert.ok(leaves.length > 0);
  const bytes = readFileSync(file);
  bytes.fill(0x41, (leaves.at(-1)!.pageno - 1) * pageSize + 2000, (leaves.at(-1)!.pageno - 1) * pageSize + 2600);
  writeFileSync(file, bytes);

  const before = readFileSync(file);
  const r = await runCli(['prune', '--state', file, '--older-than', '2020-01-01T00:00:00Z', '--json']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.equal(r.json?.error?.code, 'STATE_CORRUPT');
  assert.equal(r.json?.error?.details.operation, 'quick check');
  assert.match(r.json?.error?.details.findings[0], /page \d+/);
  assert.deepEqual(readFileSync(file), before);
  // a sound file prunes as before
  const sound = join(dir, 'sound.db');
  (await openState(sound)).close();
  assert.equal((await runCli(['prune', '--state', sound, '--older-than', '30d'])).code, 0);
});

test('history --verbose gives the message of each finding attest --state recorded (the stored findings keep only codes: the message comes from the stored result)', async (t) => {
  const { startSimulator } = await import('../../src/simulator/start.js');
  const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ fault: 'pcr', layer: 1 }] });
  t.after(() => sim.close());
  const file = join(tempDir(t), 'state.db');
  const attested = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--state', file, '--json']);
  assert.equal(attested.code, 1, attested.stderr);
  const failed = (attested.json?.result.layers[1].checks as { status: string; code: string; message: string }[]).find((c) => c.status === 'fail');
  assert.equal(failed?.code, 'QUOTE_PCR_DIGEST_MISMATCH');
  const r = await runCli(['history', '--state', file, '--verbose']);
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith('QUOTE_PCR_DIGEST_MISMATCH:'));
  assert.equal(line?.trim(), `QUOTE_PCR_DIGEST_MISMATCH: ${failed.message}`);
});

test('the terminal listing does not read the stored results (only --json and --verbose show them): a damaged one is not inflated for it', async (t) => {
  const file = await prepare(tempDir(t));
  // the newest result's stored blob replaced by bytes that inflate to nothing: reading it is STATE_CORRUPT
  const db = new Database(file);
  db.prepare(`UPDATE result SET blob = ? WHERE id = (SELECT max(id) FROM result)`).run(Buffer.from([0xff, 0x00, 0x13, 0x37]));
  db.close();
  const listing = await runCli(['history', '--state', file]);
  assert.equal(listing.code, 0, listing.stderr);
  assert.match(listing.stdout.split('\n')[2]!, /^2026-11-26 12:02:00 {2}untrusted {2}3f2a91c0… .* {2}CLOCK_WENT_BACK$/);
  assert.equal(listing.stdout.trimEnd().split('\n').length, 5);
  for (const shown of [['--json'], ['--verbose']]) {
    const r = await runCli(['history', '--state', file, ...shown]);
    assert.equal(r.code, 3, `${shown}: ${r.stdout}${r.stderr}`);
    assert.match(shown[0] === '--json' ? r.json?.error?.code ?? '' : r.stderr, /STATE_CORRUPT/);
  }
});
