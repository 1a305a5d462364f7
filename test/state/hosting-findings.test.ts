// Clone detection from hosting periods: CLONE_HOSTED_TWICE fires when two
// platforms hosted the instance at overlapping times, and not on migrations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessHosting, type HostingEvidence, type Stay } from '../../src/state/hosting-findings.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { P, Q, T0 } from './reading.js';

const X = 'c'.repeat(64);
const R3 = ['cc03', 'ff00'];

/** Applies evidence in order, keeping stays like the store does; returns codes per step. */
function run(evidence: (Omit<HostingEvidence, 'time'> & { at: number })[]): { codes: string[][]; stays: Stay[] } {
  let stays: Stay[] = [];
  let nextId = 1;
  const codes: string[][] = [];
  for (const e of evidence) {
    const a = assessHosting(X, stays, { ...e, time: T0 + e.at * 1000 });
    for (const s of a.changed) {
      if (s.id === null) stays = [...stays, { ...s, id: nextId++ }];
      else stays = stays.map((old) => (old.id === s.id ? s : old));
    }
    codes.push(a.findings.map((f) => f.code));
  }
  return { codes, stays };
}

test('a migration, and a migration back, are not clones (no hosting epochs)', () => {
  const { codes, stays } = run([
    { platformPath: P, hosted: true, at: 0 },
    { platformPath: P, hosted: true, at: 10 },
    { platformPath: Q, hosted: true, at: 20 },
    { platformPath: P, hosted: true, at: 30 },
  ]);
  assert.deepEqual(codes, [[], [], [], []]);
  assert.equal(stays.length, 3, 'P, Q, then P again: three stays');
  assert.equal(stays[0]!.last - stays[0]!.first, 10_000);
});

test('CLONE_HOSTED_TWICE: the source still hosts the instance (same hosting epoch) after it was seen on the destination', () => {
  const { codes, stays } = run([
    { platformPath: P, epoch: 'e1', hosted: true, at: 0 },
    { platformPath: Q, epoch: 'f1', hosted: true, at: 20 },
    { platformPath: P, epoch: 'e1', hosted: true, at: 25 }, // source check: still hosted through entry e1
  ]);
  assert.deepEqual(codes, [[], [], ['CLONE_HOSTED_TWICE']]);
  assert.equal(stays.length, 2);
});

test('benign twins: the source shows migrate-out; or the instance came back through a new log entry', () => {
  assert.deepEqual(
    run([
      { platformPath: P, epoch: 'e1', hosted: true, at: 0 },
      { platformPath: Q, epoch: 'f1', hosted: true, at: 20 },
      { platformPath: P, hosted: false, at: 25 },
      { platformPath: Q, epoch: 'f1', hosted: true, at: 30 },
    ]).codes,
    [[], [], [], []],
  );
  assert.deepEqual(
    run([
      { platformPath: P, epoch: 'e1', hosted: true, at: 0 },
      { platformPath: Q, epoch: 'f1', hosted: true, at: 20 },
      { platformPath: P, epoch: 'e2', hosted: true, at: 40 }, // migrate-in again: new entry
    ]).codes,
    [[], [], []],
  );
});

test('the clone keeps being reported while the other stay is open, and stops once it is closed', () => {
  const { codes } = run([
    { platformPath: P, epoch: 'e1', hosted: true, at: 0 },
    { platformPath: Q, epoch: 'f1', hosted: true, at: 20 },
    { platformPath: P, epoch: 'e1', hosted: true, at: 25 },
    { platformPath: P, epoch: 'e1', hosted: true, at: 30 },
    { platformPath: Q, hosted: false, at: 35 }, // the duplicate is destroyed
    { platformPath: P, epoch: 'e1', hosted: true, at: 40 },
  ]);
  assert.deepEqual(codes, [[], [], ['CLONE_HOSTED_TWICE'], ['CLONE_HOSTED_TWICE'], [], []]);
});

test('one finding per other platform, naming both platforms and times', () => {
  const a = assessHosting(
    X,
    [
      { id: 1, platformPath: Q, epoch: null, first: T0 + 5_000, last: T0 + 6_000, closedAt: null },
      { id: 2, platformPath: R3, epoch: null, first: T0 + 7_000, last: T0 + 7_000, closedAt: null },
      { id: 3, platformPath: P, epoch: 'e1', first: T0, last: T0 + 1_000, closedAt: null },
    ],
    { platformPath: P, epoch: 'e1', time: T0 + 9_000, hosted: true },
  );
  assert.deepEqual(
    a.findings.map((f) => f.details['otherPlatform']),
    [Q, R3],
  );
  assert.deepEqual(a.findings[0]!.details['platform'], P);
  assert.deepEqual(a.findings[0]!.details['seen'], { from: new Date(T0).toISOString(), to: new Date(T0 + 9_000).toISOString(), epoch: 'e1' });
});

test('evidence without a platform path is a bug of the caller', () => {
  assertThrowsCode(() => assessHosting(X, [], { platformPath: [], time: T0, hosted: true }), 'INTERNAL_ERROR');
});
