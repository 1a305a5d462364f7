// The clock state machine: every finding fires on its attack and stays quiet
// on its benign twin (reboot, restart, forward clock, live migration...).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assessClock, MAX_LINEAGES, serialCompare, step, type ClockState } from '../../src/state/clock-findings.js';
import type { StateFinding } from '../../src/state/findings.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { P, Q, reading, type R } from './reading.js';

const ID = { instanceId: 'a'.repeat(64), akName: '000b' + '1'.repeat(64) };

/** Feeds readings in order; returns the finding codes each one raised. */
function run(seq: R[]): { codes: string[][]; findings: StateFinding[][]; state: ClockState | undefined } {
  let state: ClockState | undefined;
  const codes: string[][] = [];
  const findings: StateFinding[][] = [];
  for (const r of seq) {
    const a = assessClock(ID, state, reading(r));
    state = a.state;
    codes.push(a.findings.map((f) => f.code));
    findings.push(a.findings);
  }
  return { codes, findings, state };
}

test('the first reading of an identity raises nothing', () => {
  assert.deepEqual(run([{ clock: 5000, at: 0 }]).codes, [[]]);
});

test('a clock moving forward, or equal (two quotes in one millisecond), is accepted', () => {
  assert.deepEqual(run([{ clock: 5000, at: 0 }, { clock: 5000, at: 0.5 }, { clock: 6000, at: 1 }]).codes, [[], [], []]);
});

test('CLOCK_WENT_BACK: within one (resetCount, restartCount) the clock went back', () => {
  const { codes, findings } = run([
    { clock: 9000, reset: 3, restart: 1, at: 0 },
    { clock: 8000, reset: 3, restart: 1, at: 60 },
  ]);
  assert.deepEqual(codes, [[], ['CLOCK_WENT_BACK']]);
  const f = findings[1]![0]!;
  assert.equal(f.instanceId, ID.instanceId);
  assert.equal(f.akName, ID.akName);
  assert.equal((f.details['previous'] as { clock: string }).clock, '9000');
  assert.equal((f.details['current'] as { clock: string }).clock, '8000');
  assert.match(f.message, /from 9000 to 8000/);
});

test('Keylime regression: a reboot (resetCount up, restartCount back to 0) is accepted', () => {
  // Keylime compared restartCount across reboots and rejected this machine.
  assert.deepEqual(
    run([
      { clock: 900_000, reset: 7, restart: 4, at: 0 },
      { clock: 901_200, reset: 8, restart: 0, at: 300 },
      { clock: 901_500, reset: 8, restart: 0, at: 301 },
    ]).codes,
    [[], [], []],
  );
  // an unorderly one: Clock back to its last NV save, which the TPM says with safe = 0 (a warning only)
  assert.deepEqual(
    run([
      { clock: 900_000, reset: 7, restart: 4, at: 0 },
      { clock: 850_000, reset: 8, restart: 0, safe: false, at: 300 },
      { clock: 850_300, reset: 8, restart: 0, safe: false, at: 301 },
    ]).codes,
    [[], ['CLOCK_NOT_SAFE'], ['CLOCK_NOT_SAFE']],
  );
});

test('a restart within one resetCount (restartCount up, Clock continuing) is accepted', () => {
  assert.deepEqual(
    run([
      { clock: 50_000, reset: 2, restart: 0, at: 0 },
      { clock: 50_100, reset: 2, restart: 1, at: 100 },
    ]).codes,
    [[], []],
  );
});

test('CLOCK_WENT_BACK: old vTPM state restored and restarted past the restartCount last seen, its Clock lower with safe = 1', () => {
  // A Restart needs an orderly TPM2_Shutdown(STATE), which saves Clock: a lower Clock with safe = 1 is a restore.
  const { codes, findings } = run([
    { clock: 50_000, reset: 2, restart: 0, at: 0 },
    { clock: 40_000, reset: 2, restart: 1, at: 100 },
  ]);
  assert.deepEqual(codes, [[], ['CLOCK_WENT_BACK']]);
  assert.match(findings[1]![0]!.message, /from 50000 to 40000 ms across a TPM Restart .*safe = 1/);
});

test('swtpm (libtpms 0.9.2) after an unorderly reset: Clock back to its last state write with safe = 1 is accepted', () => {
  // Measured: swtpm ran ~3.4 hours of Clock, was killed (or reset with CMD_INIT, as QEMU does on a guest reset)
  // without TPM2_Shutdown, and came back with Clock at its last state write: libtpms does not write its state when
  // only Clock changed (Time.c, TimeClockUpdate). It said safe = yes at once, and again once Clock passed the next
  // 2^22 ms boundary, still below the last Clock it reported. An honest crash; nothing to report.
  assert.deepEqual(
    run([
      { clock: 2_336_729, reset: 2, restart: 0, at: 0 },
      { clock: 12_352_747, reset: 2, restart: 0, at: 100 },
      { clock: 2_636_241, reset: 3, restart: 0, at: 200 },
      { clock: 7_649_956, reset: 3, restart: 0, at: 300 },
    ]).codes,
    [[], [], [], []],
  );
  assert.deepEqual(
    run([
      { clock: 10_327_137, reset: 1, restart: 0, at: 0 },
      { clock: 18_506, reset: 2, restart: 0, at: 100 },
      { clock: 5_030_954, reset: 2, restart: 0, at: 200 },
    ]).codes,
    [[], [], []],
  );
});

test('CLOCK_RESTART_COUNT_DECREASED: restartCount went back within one resetCount', () => {
  assert.deepEqual(
    run([
      { clock: 50_000, reset: 2, restart: 3, at: 0 },
      { clock: 60_000, reset: 2, restart: 1, at: 100 },
    ]).codes,
    [[], ['CLOCK_RESTART_COUNT_DECREASED']],
  );
});

test('CLOCK_RESET_COUNT_DECREASED: resetCount went back, whatever the clock and restartCount say', () => {
  const { codes, findings } = run([
    { clock: 50_000, reset: 5, restart: 0, at: 0 },
    { clock: 99_000, reset: 4, restart: 9, at: 100 },
  ]);
  assert.deepEqual(codes, [[], ['CLOCK_RESET_COUNT_DECREASED']]);
  assert.equal(findings[1]![0]!.details['firmwareChanged'], false);
});

test('a counter drop together with a firmware change is still reported, and says so', () => {
  const { codes, findings } = run([
    { clock: 50_000, reset: 5, at: 0, fw: 1n },
    { clock: 60_000, reset: 0, at: 100, fw: 2n },
  ]);
  assert.deepEqual(codes, [[], ['CLOCK_RESET_COUNT_DECREASED']]);
  assert.equal(findings[1]![0]!.details['firmwareChanged'], true);
  assert.match(findings[1]![0]!.message, /firmware version changed/);
});

test('a firmware upgrade with its TPM Reset is accepted', () => {
  assert.deepEqual(
    run([
      { clock: 50_000, reset: 5, at: 0, fw: 1n },
      { clock: 50_010, reset: 6, at: 100, fw: 2n },
    ]).codes,
    [[], []],
  );
});

test('CLOCK_NOT_SAFE on every reading with safe = 0, not on safe = 1', () => {
  assert.deepEqual(
    run([
      { clock: 10, safe: false, at: 0 },
      { clock: 20, safe: true, at: 1 },
      { clock: 30, safe: false, at: 2 },
    ]).codes,
    [['CLOCK_NOT_SAFE'], [], ['CLOCK_NOT_SAFE']],
  );
});

test('CLONE_INTERLEAVED_CLOCKS: A 100, B 50, A 110, B 60 are two copies', () => {
  const { codes, findings } = run([
    { clock: 100, at: 0 },
    { clock: 50, at: 10 },
    { clock: 110, at: 20 },
    { clock: 60, at: 30 },
  ]);
  assert.deepEqual(codes, [[], ['CLOCK_WENT_BACK'], [], ['CLOCK_WENT_BACK', 'CLONE_INTERLEAVED_CLOCKS']]);
  const clone = findings[3]![1]!;
  assert.equal((clone.details['resumedHistory'] as { clock: string }).clock, '50');
  assert.equal((clone.details['previous'] as { clock: string }).clock, '110');
  // and it keeps firing while both copies keep answering
  const more = run([
    { clock: 100, at: 0 },
    { clock: 50, at: 10 },
    { clock: 110, at: 20 },
    { clock: 60, at: 30 },
    { clock: 120, at: 40 },
    { clock: 70, at: 50 },
  ]).codes;
  assert.deepEqual(more[5], ['CLOCK_WENT_BACK', 'CLONE_INTERLEAVED_CLOCKS']);
});

test('benign twin: one restore whose clock later passes the old history is not a clone', () => {
  const { codes } = run([
    { clock: 100, at: 0 },
    { clock: 110, at: 10 },
    { clock: 50, at: 20 }, // restored: reported once
    { clock: 80, at: 50 },
    { clock: 105, at: 75 },
    { clock: 115, at: 85 }, // passes the old head 110
    { clock: 120, at: 90 },
    { clock: 300, at: 270 },
  ]);
  assert.deepEqual(codes, [[], [], ['CLOCK_WENT_BACK'], [], [], [], [], []]);
});

test('RESTORE_FROM_BACKUP: counters go back right after the platform path changed', () => {
  const { codes, findings } = run([
    { clock: 100_000, reset: 9, path: P, at: 0 },
    { clock: 110_000, reset: 9, path: P, at: 10 },
    { clock: 20_000, reset: 6, path: Q, at: 20 },
  ]);
  assert.deepEqual(codes, [[], [], ['CLOCK_RESET_COUNT_DECREASED', 'RESTORE_FROM_BACKUP']]);
  const f = findings[2]![1]!;
  assert.deepEqual(f.details['fromPlatform'], P);
  assert.deepEqual(f.details['toPlatform'], Q);
});

test('benign twins of a restore: a live migration continues the clock; a rollback in place is not a migration', () => {
  assert.deepEqual(
    run([
      { clock: 100_000, reset: 9, path: P, at: 0 },
      { clock: 110_000, reset: 9, path: Q, at: 10 },
      { clock: 111_000, reset: 9, path: Q, at: 11 },
    ]).codes,
    [[], [], []],
  );
  assert.deepEqual(
    run([
      { clock: 100_000, reset: 9, path: P, at: 0 },
      { clock: 20_000, reset: 6, path: P, at: 20 },
    ]).codes,
    [[], ['CLOCK_RESET_COUNT_DECREASED']],
  );
});

test('concurrent attests: a quote requested before the last one arrived may precede it', () => {
  // request A at 0 s (arrives at 2 s, clock 1_500); request B at 1 s (clock 1_200), recorded after A
  assert.deepEqual(
    run([
      { clock: 1_500, at: 0, took: 2 },
      { clock: 1_200, at: 1, took: 0.5 },
    ]).codes,
    [[], []],
  );
  // the same regression from a request made after the last evidence arrived is reported
  assert.deepEqual(
    run([
      { clock: 1_500, at: 0, took: 2 },
      { clock: 1_200, at: 2.001, took: 0.5 },
    ]).codes,
    [[], ['CLOCK_WENT_BACK']],
  );
});

test('obfuscated counters (GCE vTPM, real values) compare modulo 2^32', () => {
  // goattest_windows_gcp_shielded_vm: certify-creation, then the quote 44 ms later
  assert.deepEqual(
    run([
      { clock: 10257127, reset: 1045281252, restart: 822490842, at: 0 },
      { clock: 10257171, reset: 1045281252, restart: 822490842, at: 1 },
    ]).codes,
    [[], []],
  );
  // an obfuscated resetCount at 2^32 - 1 wraps to 0 at the next reboot: an increase
  assert.deepEqual(
    run([
      { clock: 5_000, reset: 0xffffffff, restart: 0x8000_0005, at: 0 },
      { clock: 5_100, reset: 0, restart: 0x8000_0000, at: 60 },
    ]).codes,
    [[], []],
  );
  // ...while going back across the wrap is a decrease
  assert.deepEqual(
    run([
      { clock: 5_000, reset: 1, at: 0 },
      { clock: 9_000, reset: 0xfffffffe, at: 60 },
    ]).codes,
    [[], ['CLOCK_RESET_COUNT_DECREASED']],
  );
  assert.equal(serialCompare(0xffffffff, 0), 1);
  assert.equal(serialCompare(0, 0xffffffff), -1);
  assert.equal(serialCompare(7, 7), 0);
});

test('clocks above 2^63 compare as unsigned 64-bit values', () => {
  const big = 1n << 63n;
  assert.deepEqual(
    run([
      { clock: big + 5n, at: 0 },
      { clock: big + 10n, at: 1 },
      { clock: (1n << 64n) - 1n, at: 2 },
      { clock: big, at: 3 },
    ]).codes,
    [[], [], [], ['CLOCK_WENT_BACK']],
  );
});

test('at most MAX_LINEAGES histories are remembered', () => {
  const seq: R[] = [];
  for (let i = 0; i < MAX_LINEAGES + 4; i++) seq.push({ clock: 1000 - i * 10, at: i * 10 });
  const { state, codes } = run(seq);
  assert.equal(state!.lineages.length, MAX_LINEAGES);
  assert.ok(codes.slice(1).every((c) => c.includes('CLOCK_WENT_BACK')));
});

test('readings no verified quote can produce are a bug of the caller', () => {
  const bad = reading({ clock: 1, at: 0 });
  assertThrowsCode(() => assessClock(ID, undefined, { ...bad, clockInfo: { ...bad.clockInfo, clock: 1n << 64n } }), 'INTERNAL_ERROR');
  assertThrowsCode(() => assessClock(ID, undefined, { ...bad, clockInfo: { ...bad.clockInfo, resetCount: 2 ** 32 } }), 'INTERNAL_ERROR');
  assertThrowsCode(() => assessClock(ID, undefined, { ...bad, receivedAt: bad.time - 1 }), 'INTERNAL_ERROR');
  assertThrowsCode(() => assessClock(ID, undefined, { ...bad, platformPath: ['not hex'] }), 'INTERNAL_ERROR');
});

test('step() names the most specific regression', () => {
  const c = (clock: number, resetCount: number, restartCount: number) => ({ clock: BigInt(clock), resetCount, restartCount, safe: true });
  assert.equal(step(c(10, 1, 1), c(15, 2, 0)), 'forward');
  assert.equal(step(c(10, 1, 1), c(5, 2, 0)), 'forward');
  assert.equal(step(c(10, 1, 1), c(5, 1, 2)), 'clock-back-safe');
  assert.equal(step(c(10, 1, 1), { ...c(5, 2, 0), safe: false }), 'forward');
  assert.equal(step(c(10, 1, 1), c(50, 0, 5)), 'reset-decreased');
  assert.equal(step(c(10, 1, 1), c(50, 1, 0)), 'restart-decreased');
  assert.equal(step(c(10, 1, 1), c(5, 1, 1)), 'clock-back');
});

test('property: any genuine single-TPM history (ticks, restarts, reboots, unorderly ones, obfuscated or not) raises no rollback or clone finding', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 100_000 }) }),
    fc.record({ kind: fc.constant('restart' as const), ms: fc.integer({ min: 0, max: 100_000 }) }),
    fc.record({ kind: fc.constant('reboot' as const), ms: fc.integer({ min: 0, max: 100_000 }) }),
    fc.record({ kind: fc.constant('crash' as const), ms: fc.integer({ min: 0, max: 100_000 }), libtpms: fc.boolean() }),
    fc.record({ kind: fc.constant('migrate' as const), ms: fc.integer({ min: 0, max: 100_000 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), fc.nat(2 ** 32 - 1), fc.nat(2 ** 32 - 1), fc.bigInt({ min: 0n, max: 1n << 62n }), (ops, resetObf, restartObf, clock0) => {
      let clock = clock0;
      /** the greatest Clock reported: until Clock passes it again after a crash, the TPM says safe = 0 */
      let reported = clock0;
      let reset = 0;
      let restart = 0;
      let path = P;
      let at = 0;
      const seq: R[] = [];
      for (const o of ops) {
        at += 1 + o.ms / 1000;
        if (o.kind === 'tick') clock += BigInt(o.ms);
        if (o.kind === 'restart') {
          restart++;
          clock += BigInt(o.ms);
        }
        if (o.kind === 'reboot') {
          reset++;
          restart = 0;
          clock += BigInt(o.ms); // Clock is kept in NV across a TPM Reset
        }
        if (o.kind === 'crash') {
          reset++;
          restart = 0;
          clock -= BigInt(Math.min(o.ms, Number(clock))); // back to its last NV save
          if (o.libtpms) reported = clock; // libtpms says safe = 1 again (its state was not written when only Clock moved)
        }
        if (o.kind === 'migrate') path = path === P ? Q : P;
        if (clock > reported) reported = clock;
        seq.push({ clock, reset: (reset + resetObf) % 2 ** 32, restart: (restart + restartObf) % 2 ** 32, safe: clock >= reported, path, at });
      }
      const all = run(seq).codes.flat().filter((c) => c !== 'CLOCK_NOT_SAFE');
      assert.deepEqual(all, []);
    }),
    { numRuns: 300 },
  );
});
