// The bounded host-name lookup (src/transport/lookup.ts) with a resolver the
// test answers by hand: how many run at once, one per name, a request that
// gave up never starting one, and the thread arithmetic the launcher relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BoundedLookup, LOOKUP_THREADS, libuvPoolSize, lookupSlotsFor } from '../../src/transport/lookup.js';
import { REPO_ROOT } from '../helpers/paths.js';

type Answer = (err: NodeJS.ErrnoException | null, address?: string, family?: number) => void;

function handResolver(): { calls: { hostname: string; answer: Answer }[]; resolve: (hostname: string, options: object, cb: Answer) => void } {
  const calls: { hostname: string; answer: Answer }[] = [];
  return { calls, resolve: (hostname, _options, cb) => void calls.push({ hostname, answer: cb }) };
}

test('lookups: at most `slots` run at once; the others start, in order, as answers come', () => {
  const r = handResolver();
  const lookups = new BoundedLookup(2, r.resolve as never);
  const got: string[] = [];
  for (const name of ['a', 'b', 'c', 'd']) lookups.lookup(name, {}, (err, address) => got.push(`${name}=${err ? err.code : address}`));
  assert.deepEqual(r.calls.map((c) => c.hostname), ['a', 'b']);
  assert.equal(lookups.inFlight, 2);
  assert.equal(lookups.waiting, 2);
  r.calls[1]!.answer(null, '10.0.0.2', 4);
  assert.deepEqual(r.calls.map((c) => c.hostname), ['a', 'b', 'c']);
  r.calls[0]!.answer(Object.assign(new Error('getaddrinfo EAI_AGAIN a'), { code: 'EAI_AGAIN' }));
  r.calls[2]!.answer(null, '10.0.0.3', 4);
  r.calls[3]!.answer(null, '10.0.0.4', 4);
  assert.deepEqual(got, ['b=10.0.0.2', 'a=EAI_AGAIN', 'c=10.0.0.3', 'd=10.0.0.4']);
  assert.equal(lookups.inFlight, 0);
  assert.equal(lookups.waiting, 0);
});

test('lookups: one call per name and options at a time, however many requests ask; the next request after the answer asks again', () => {
  const r = handResolver();
  const lookups = new BoundedLookup(4, r.resolve as never);
  const got: string[] = [];
  for (let i = 0; i < 50; i++) lookups.lookup('vmm.example', { all: false }, (_err, address) => got.push(String(address)));
  lookups.lookup('vmm.example', { all: true }, (_err, address) => got.push(`all:${String(address)}`));
  assert.equal(r.calls.length, 2, 'the same name with other options is another lookup');
  r.calls[0]!.answer(null, '10.0.0.9', 4);
  assert.equal(got.length, 50);
  assert.ok(got.every((a) => a === '10.0.0.9'));
  lookups.lookup('vmm.example', { all: false }, () => {});
  assert.equal(r.calls.length, 3);
});

test('lookups: a queued lookup whose every request gave up is never started', () => {
  const r = handResolver();
  const lookups = new BoundedLookup(1, r.resolve as never);
  let gaveUp = false;
  let answered = 0;
  lookups.lookup('hung.example', {}, () => answered++);
  lookups.lookup('late.example', {}, () => answered++, () => gaveUp);
  lookups.lookup('wanted.example', {}, () => answered++);
  gaveUp = true; // its request timed out while it waited for the hung lookup
  r.calls[0]!.answer(null, '10.0.0.1', 4);
  assert.deepEqual(r.calls.map((c) => c.hostname), ['hung.example', 'wanted.example']);
  r.calls[1]!.answer(null, '10.0.0.2', 4);
  assert.equal(answered, 2);
  assert.equal(lookups.inFlight, 0);
});

test('lookups: a resolver that throws is an answer (the error), and frees its slot', () => {
  const lookups = new BoundedLookup(1, (() => {
    throw Object.assign(new TypeError('bad hostname'), { code: 'ERR_INVALID_ARG_VALUE' });
  }) as never);
  const got: string[] = [];
  lookups.lookup('x', {}, (err) => got.push(String(err?.code)));
  lookups.lookup('y', {}, (err) => got.push(String(err?.code)));
  assert.deepEqual(got, ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_VALUE']);
  assert.equal(lookups.inFlight, 0);
});

test('lookups: slots leave the default pool (4 threads) to signatures and files; the launcher makes room for LOOKUP_THREADS', () => {
  assert.equal(lookupSlotsFor(4 + LOOKUP_THREADS), LOOKUP_THREADS);
  assert.equal(lookupSlotsFor(4), 2);
  assert.equal(lookupSlotsFor(1), 1);
  assert.equal(lookupSlotsFor(64), 60);
  assert.equal(lookupSlotsFor(Number.NaN), 2);
  // bin/vtpm-verify.js is CommonJS and cannot import the constant: it must say the same
  const launcher = readFileSync(join(REPO_ROOT, 'bin', 'vtpm-verify.js'), 'utf8');
  assert.match(launcher, new RegExp(`const LOOKUP_THREADS = ${LOOKUP_THREADS};`));
  assert.match(launcher, /const LIBUV_DEFAULT_POOL = 4;/);
  assert.equal(JSON.parse(readFileSync(join(REPO_ROOT, 'bin', 'package.json'), 'utf8')).type, 'commonjs');
});

test('lookups: UV_THREADPOOL_SIZE is read as libuv reads it (atoi, 0 as 1, at most 1024), so the slots fit the pool there really is', () => {
  const cases: [string | undefined, number][] = [
    [undefined, 4],
    ['12', 12],
    [' 12', 12],
    ['12abc', 12],
    ['+6', 6],
    ['0', 1],
    ['', 1],
    ['x', 1],
    ['-0', 1],
    ['-5', 1024],
    ['5000', 1024],
    ['00012', 12],
    // atoi is (int)strtol and libuv keeps it unsigned: a number that wraps past 2^32 is what it wraps to
    // (checked against node 20's libuv with FIFO opens holding pool threads)
    ['4294967296', 1],
    ['4294967297', 1],
    ['4294967298', 2],
    ['-4294967295', 1],
    ['-4294967294', 2],
    ['2147483648', 1024],
    ['4294967295', 1024],
    ['99999999999999999999999', 1024],
    ['-99999999999999999999999', 1],
  ];
  for (const [value, size] of cases) assert.equal(libuvPoolSize(value), size, JSON.stringify(value));
  // a one-thread pool (UV_THREADPOOL_SIZE=0 or empty) allows one lookup, not the default's two
  assert.equal(lookupSlotsFor(libuvPoolSize('')), 1);
});
