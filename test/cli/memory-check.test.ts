// The IMA list memory check: a heap over its share is collected in full before a list is refused,
// collections are spaced out, and the refusal is a typed error with the heap's figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleMemoryCheck, eventLogMemoryCheck, imaMemoryCheck } from '../../src/cli/memory-check.js';
import { VtpmError } from '../../src/errors.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

const MB = 2 ** 20;

test('a heap over its share only with garbage is collected, not refused; one still over after a collection is IMA_TOO_LARGE', () => {
  const limit = 1048 * MB; // 1000 MB for what is kept, the young generation aside
  let used = 800 * MB;
  let collections = 0;
  const collect = (live: number) => () => {
    collections++;
    used = live;
    return true;
  };
  // text, binary: 70% of 1000 MB; 800 MB of which 300 MB live after a collection
  imaMemoryCheck('text', () => ({ used_heap_size: used, heap_size_limit: limit }), collect(300 * MB))(8192, 'binary');
  assert.equal(collections, 1);
  // still 800 MB live: refused, with the figures and how to raise the limit
  used = 800 * MB;
  const check = imaMemoryCheck('text', () => ({ used_heap_size: used, heap_size_limit: limit }), collect(800 * MB));
  assert.throws(
    () => check(16384, 'binary'),
    (err: unknown) =>
      err instanceof VtpmError &&
      err.code === 'IMA_TOO_LARGE' &&
      /after 16384 entries the heap holds 800 MB of its 1048 MB limit; give node more, e\.g\. NODE_OPTIONS=--max-old-space-size=2096/.test(err.message) &&
      err.details['cap'] === 'memory',
  );
  // under the share: nothing collected
  collections = 0;
  used = 100 * MB;
  imaMemoryCheck('json', () => ({ used_heap_size: used, heap_size_limit: limit }), collect(0))(8192, 'ascii');
  assert.equal(collections, 0);
});

test('--json and ASCII lists get a smaller share (their objects per entry cost more); a heap that cannot be collected is judged as it is', () => {
  const limit = 1048 * MB;
  const at = (used: number) => () => ({ used_heap_size: used * MB, heap_size_limit: limit });
  const never = () => false;
  for (const [output, format, fits, over] of [
    ['text', 'binary', 690, 710],
    ['text', 'ascii', 690, 710],
    ['json', 'binary', 490, 510],
    ['json', 'ascii', 320, 340],
  ] as const) {
    assert.doesNotThrow(() => imaMemoryCheck(output, at(fits), never)(8192, format), `${output} ${format} ${fits} MB`);
    assert.throws(() => imaMemoryCheck(output, at(over), never)(8192, format), /does not fit/, `${output} ${format} ${over} MB`);
  }
});

test('after a collection the next one waits for an eighth more entries: a list just under its share is not collected every few thousand entries', () => {
  let collections = 0;
  const check = imaMemoryCheck(
    'text',
    () => ({ used_heap_size: 900 * MB, heap_size_limit: 1048 * MB }),
    () => {
      collections++;
      return true;
    },
  );
  // over the share after each collection too: the first refuses
  assert.throws(() => check(80_000, 'binary'));
  assert.equal(collections, 1);
  // within the next 10,000 entries (an eighth of 80,000): let through, not collected again
  check(85_000, 'binary');
  assert.equal(collections, 1);
  assert.throws(() => check(90_000, 'binary'));
  assert.equal(collections, 2);
  // the next log (a walk's next layer, with the same check) starts counting again: collected and refused at once
  assert.throws(() => check(8192, 'binary'));
  assert.equal(collections, 3);
});

test('a firmware log may fill half the heap (its replay needs as much again); over it after a collection it is EVENTLOG_TOO_LARGE, cap memory', () => {
  const limit = 1048 * MB;
  const at = (used: number) => () => ({ used_heap_size: used * MB, heap_size_limit: limit });
  const never = () => false;
  assert.doesNotThrow(() => eventLogMemoryCheck(at(490), never)(8192));
  assert.throws(
    () => eventLogMemoryCheck(at(510), never)(16384),
    (err: unknown) =>
      err instanceof VtpmError &&
      err.code === 'EVENTLOG_TOO_LARGE' &&
      /the event log does not fit the memory node may use here: after 16384 events the heap holds 510 MB of its 1048 MB limit; give node more, e\.g\. NODE_OPTIONS=--max-old-space-size=2096/.test(err.message) &&
      err.details['cap'] === 'memory',
  );
});

test('an evidence bundle is read only into the heap it fits: FILE_TOO_LARGE (cap memory) past what is left', () => {
  const room = bundleMemoryCheck('b.json', () => ({ used_heap_size: 100 * MB, heap_size_limit: 1048 * MB }));
  // 1048 MB, less 100 used and 8 spare: 940 MB left
  room(940 * MB);
  assert.throws(
    () => room(950 * MB),
    (err: unknown) =>
      err instanceof VtpmError &&
      err.code === 'FILE_TOO_LARGE' &&
      /^evidence bundle: b\.json does not fit the memory node may use here: reading it needs about 950 MB more heap, and the heap holds 100 MB of its 1048 MB limit; give node more, e\.g\. NODE_OPTIONS=--max-old-space-size=2100$/.test(err.message) &&
      err.details['cap'] === 'memory',
  );
});

test('policy init --ak ... --ima: a list the heap cannot hold is IMA_TOO_LARGE (exit 2, cap memory), as quote --ima refuses it, not V8 ending the process', async (t) => {
  // 1,900,000 binary entries of 33 bytes (63 MB, under the 64 MiB an IMA file may hold): with a 128 MB heap,
  // policy init parsed them with no check (exit 134, no envelope) where quote --ima said IMA_TOO_LARGE
  const entry = Buffer.alloc(33);
  entry.writeUInt32LE(10, 0);
  entry.writeUInt32LE(1, 24);
  entry[28] = 0x78;
  const ima = join(tempDir(t, 'vtpm-init-memory-'), 'big.ima');
  writeFileSync(ima, Buffer.concat(Array<Buffer>(1_900_000).fill(entry)));
  const set = join(REPO_ROOT, 'fixtures', 'swtpm-quote', 'rsa');
  const quote = ['--ak', join(set, 'ak.pem'), '--message', join(set, 'quote.msg'), '--signature', join(set, 'quote.sig'), '--pcrs', join(set, 'pcrs.bin'), '--nonce', '0123456789abcdef'.repeat(4), '--ima', ima, '--json'];
  for (const args of [['policy', 'init', '--name', 'p', ...quote], ['quote', ...quote]]) {
    const run = await runCli(args, { env: { NODE_OPTIONS: '--max-old-space-size=128' } });
    assert.equal(run.code, 2, `${args[0]}: ${run.stderr.slice(0, 300)}`);
    assert.deepEqual([run.json!.error!.code, run.json!.error!.details.cap], ['IMA_TOO_LARGE', 'memory'], args[0]);
  }
});
