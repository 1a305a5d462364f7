// The state store on real SQLite files: readings persist across processes and
// reopenings, u64 clocks survive, history and stays answer queries, and every
// way the file can be unusable is a typed STATE_* error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { defaultStatePath, openState, resolveStatePath, toCheckResult, type Observation } from '../../src/state/index.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { P, Q, T0 } from './reading.js';
import { tempDir } from './tmp.js';

const X = '1'.repeat(64);
const Y = '2'.repeat(64);
const AK = '000b' + 'ab'.repeat(32);

function obs(over: Partial<Observation> & { clock: bigint | number; at: number }): Observation {
  const { clock, at, ...rest } = over;
  return {
    instanceId: X,
    akName: AK,
    clockInfo: { clock: BigInt(clock), resetCount: 4, restartCount: 0, safe: true },
    firmwareVersion: 0x2016051100162800n,
    platformPath: P,
    time: T0 + at * 1000,
    receivedAt: T0 + at * 1000 + 100,
    target: 'https://vm1.example/',
    ...rest,
  };
}

test('a reading is remembered across reopening: a later rollback is found', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const a = await openState(file);
  assert.deepEqual(a.observe(obs({ clock: 5_000, at: 0 })).findings, []);
  const second = a.observe(obs({ clock: 6_000, at: 1 }));
  assert.deepEqual(second.findings, []);
  assert.equal(second.previous?.clock, '5000');
  assert.equal(second.platformChanged, false);
  a.close();

  const b = await openState(file);
  const out = b.observe(obs({ clock: 5_500, at: 60 }));
  assert.deepEqual(
    out.findings.map((f) => f.code),
    ['CLOCK_WENT_BACK'],
  );
  assert.equal(out.previous?.clock, '6000');
  const [id] = b.identities(X);
  assert.equal(id!.readings, 3);
  assert.equal(id!.histories, 2);
  assert.equal(id!.last.clock, '5500');
  b.close();
});

test('a clock above 2^63 is stored and compared as an unsigned 64-bit value', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const big = (1n << 63n) + 12345n;
  const s = await openState(file);
  s.observe(obs({ clock: big, at: 0 }));
  s.close();
  const r = await openState(file);
  assert.equal(r.identities()[0]!.last.clock, big.toString());
  assert.deepEqual(r.observe(obs({ clock: big + 1n, at: 1 })).findings, []);
  assert.deepEqual(
    r.observe(obs({ clock: (1n << 63n) - 1n, at: 2 })).findings.map((f) => f.code),
    ['CLOCK_WENT_BACK'],
  );
  r.close();
  // the raw column is 20 zero-padded digits, so SQL ordering is numeric ordering
  const db = new Database(file, { readonly: true });
  const clocks = db.prepare(`SELECT clock FROM observation ORDER BY clock`).all() as { clock: string }[];
  db.close();
  assert.deepEqual(
    clocks.map((c) => BigInt(c.clock)),
    [(1n << 63n) - 1n, big, big + 1n],
  );
});

test('a reboot seen through the store is accepted; the platform move is reported as such', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  s.observe(obs({ clock: 900_000, at: 0 }));
  // a TPM keeps its Clock across the reboot
  const reboot = s.observe(obs({ clock: 900_500, clockInfo: { clock: 900_500n, resetCount: 5, restartCount: 0, safe: true }, at: 100, platformPath: Q }));
  assert.deepEqual(reboot.findings, []);
  assert.equal(reboot.platformChanged, true);
  assert.deepEqual(reboot.previous?.platformPath, P);
  s.close();
});

test('stays answer "hosted by platform P between t1 and t2" and hostedElsewhere names open stays', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  s.observe(obs({ clock: 1_000, at: 0, hostingEpoch: 'e1' }));
  s.observe(obs({ clock: 2_000, at: 10, hostingEpoch: 'e1' }));
  s.observe(obs({ clock: 3_000, at: 20, platformPath: Q, hostingEpoch: 'f1' }));
  assert.deepEqual(
    s.stays(X).map((st) => [st.platformPath, st.from, st.to, st.closedAt]),
    [
      [P, new Date(T0).toISOString(), new Date(T0 + 10_000).toISOString(), null],
      [Q, new Date(T0 + 20_000).toISOString(), new Date(T0 + 20_000).toISOString(), null],
    ],
  );
  assert.deepEqual(
    s.hostedElsewhere(X, Q).map((st) => st.platformPath),
    [P],
  );
  // the source check: P's log still lists the instance through the same entry
  const clone = s.recordHosting(X, { platformPath: P, epoch: 'e1', time: T0 + 25_000, hosted: true });
  assert.deepEqual(
    clone.map((f) => f.code),
    ['CLONE_HOSTED_TWICE'],
  );
  // P then shows migrate-out: no longer hosted elsewhere
  assert.deepEqual(s.recordHosting(X, { platformPath: P, time: T0 + 30_000, hosted: false }), []);
  assert.deepEqual(s.hostedElsewhere(X, Q), []);
  s.close();
});

test('CLONE_HOSTED_TWICE through observe(): two platforms answer for one instance in turn', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  s.observe(obs({ clock: 100, at: 0, hostingEpoch: 'e1' }));
  s.observe(obs({ clock: 50, at: 10, platformPath: Q, hostingEpoch: 'f1' }));
  // P answers again through the same hosting entry, after Q answered: both hosted it
  assert.deepEqual(
    s.observe(obs({ clock: 110, at: 20, hostingEpoch: 'e1' })).findings.map((f) => f.code),
    ['CLONE_HOSTED_TWICE'],
  );
  const out = s.observe(obs({ clock: 60, at: 30, platformPath: Q, hostingEpoch: 'f1' }));
  assert.deepEqual(
    out.findings.map((f) => f.code),
    ['CLOCK_WENT_BACK', 'CLONE_INTERLEAVED_CLOCKS', 'CLONE_HOSTED_TWICE'],
  );
  s.close();
});

test('history: results newest first, filtered by instance prefix, time and limit, with their JSON', async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  const ids: number[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push(
      s.appendResult({
        time: T0 + i * 60_000,
        target: `https://vm${i % 2}.example/`,
        instanceId: i % 2 ? Y : X,
        verdict: i === 3 ? 'untrusted' : 'trusted',
        findings: i === 3 ? [{ code: 'CLOCK_WENT_BACK', message: 'went back' }] : [],
        platformPath: P,
        result: { n: i, clock: 1n << 63n, nonce: new Uint8Array([0xde, 0xad]) },
      }),
    );
  }
  assert.deepEqual(ids, [1, 2, 3, 4, 5]);
  const all = s.history();
  assert.deepEqual(
    all.map((e) => e.id),
    [5, 4, 3, 2, 1],
  );
  assert.deepEqual(all[1]!.result, { n: 3, clock: '9223372036854775808', nonce: 'dead' });
  assert.deepEqual(all[1]!.findings, [{ code: 'CLOCK_WENT_BACK', message: 'went back' }]);
  assert.equal(all[1]!.time, new Date(T0 + 180_000).toISOString());
  assert.deepEqual(
    s.history({ instance: '2222' }).map((e) => e.id),
    [4, 2],
  );
  assert.deepEqual(
    s.history({ since: T0 + 120_000 }).map((e) => e.id),
    [5, 4, 3],
  );
  assert.deepEqual(
    s.history({ limit: 2 }).map((e) => e.id),
    [5, 4],
  );
  assertThrowsCode(() => s.history({ instance: 'zz' }), 'INTERNAL_ERROR');
  s.close();
});

test('findings become checks with the status the policy chose', async () => {
  const check = toCheckResult({ code: 'CLOCK_WENT_BACK', message: 'm', instanceId: X, details: { previous: { clock: '2' }, current: { clock: '1' } } }, 'warn');
  assert.deepEqual(check, { id: 'state.clock_went_back', status: 'warn', code: 'CLOCK_WENT_BACK', message: 'm', expected: { notBefore: { clock: '2' } }, actual: { clock: '1' } });
  assert.equal(toCheckResult({ code: 'CLOCK_NOT_SAFE', message: 'm', instanceId: X, details: {} }).status, 'warn');
  assert.equal(toCheckResult({ code: 'CLONE_HOSTED_TWICE', message: 'm', instanceId: X, details: {} }).status, 'fail');
});

test('the state folder is created private, the file 0600, in WAL mode', async (t) => {
  const file = join(tempDir(t), 'nested', 'deeper', 'state.db');
  const s = await openState(file);
  s.close();
  assert.equal(statSync(join(file, '..')).mode & 0o777, 0o700);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const db = new Database(file, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
});

test('default path: $XDG_STATE_HOME/vtpm-verify/state.db, else ~/.local/state/vtpm-verify/state.db', () => {
  assert.equal(defaultStatePath({ XDG_STATE_HOME: '/x/state' }, '/home/u'), '/x/state/vtpm-verify/state.db');
  assert.equal(defaultStatePath({}, '/home/u'), '/home/u/.local/state/vtpm-verify/state.db');
  assert.equal(defaultStatePath({ XDG_STATE_HOME: 'relative' }, '/home/u'), '/home/u/.local/state/vtpm-verify/state.db');
  assert.equal(resolveStatePath('/tmp/a.db', {}), '/tmp/a.db');
});

test('a missing file where only reading is wanted: STATE_NOT_FOUND, nothing created', async (t) => {
  const file = join(tempDir(t), 'absent.db');
  await assertRejectsCode(openState(file, { create: false }), 'STATE_NOT_FOUND');
  assert.equal(existsSync(file), false);
});

test('a file that is not a database: STATE_CORRUPT', async (t) => {
  const file = join(tempDir(t), 'state.db');
  writeFileSync(file, Buffer.alloc(8192, 0x5a));
  const err = await assertRejectsCode(openState(file), 'STATE_CORRUPT');
  assert.equal(err.kind, 'transport');
  assert.match(err.message, /state\.db/);
});

test("another application's SQLite database: STATE_FOREIGN_FILE, left untouched", async (t) => {
  const file = join(tempDir(t), 'other.db');
  const db = new Database(file);
  db.exec('CREATE TABLE songs (title TEXT)');
  db.close();
  await assertRejectsCode(openState(file), 'STATE_FOREIGN_FILE');
  const again = new Database(file);
  assert.equal(again.pragma('user_version', { simple: true }), 0);
  again.close();
});

test('an unwritable location: STATE_UNWRITABLE', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'plain-file'), 'x');
  await assertRejectsCode(openState(join(dir, 'plain-file', 'state.db')), 'STATE_UNWRITABLE');
  mkdirSync(join(dir, 'a-directory.db'));
  await assertRejectsCode(openState(join(dir, 'a-directory.db')), 'STATE_UNWRITABLE');
});

test('a lock held beyond the busy timeout: STATE_BUSY (the write is not lost silently)', async (t) => {
  const file = join(tempDir(t), 'state.db');
  (await openState(file)).close();
  const holder = new Database(file);
  holder.prepare('BEGIN IMMEDIATE').run();
  const s = await openState(file, { busyTimeoutMs: 50 });
  try {
    assertThrowsCode(() => s.appendResult({ time: T0, target: 'x', verdict: 'trusted' }), 'STATE_BUSY');
  } finally {
    holder.prepare('ROLLBACK').run();
    holder.close();
  }
  assert.equal(s.appendResult({ time: T0, target: 'x', verdict: 'trusted' }), 1);
  s.close();
});
