// A saved bundle's IMA lists against the memory node may use: `verify BUNDLE` parses each layer's list as
// `eventlog --ima` does, checking the live heap as it goes, so a bundle within its caps (24 MiB of IMA list per
// layer) is refused with a typed IMA_TOO_LARGE instead of V8 ending the process out of memory (exit 134, no
// envelope). Whoever hands over the bundle chooses its lists: they are not in the quote, so any genuine bundle
// can carry one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { savedBundle } from '../helpers/saved-bundle.js';
import { tempDir } from '../helpers/tmp.js';

test('verify BUNDLE, policy init --from: an IMA list the heap cannot hold is IMA_TOO_LARGE (cap memory, the layer not trusted), not V8 ending the process', async (t) => {
  const { sim, file: bundle, read, write } = await savedBundle(t, 2);
  // 500,000 binary entries of 33 bytes (a one-letter template with no data: the most entries per byte), 16 MB,
  // well under the 24 MiB an evidence imaLog may hold: node with a 128 MB heap ran out parsing them (exit 134)
  const entry = Buffer.alloc(33);
  entry.writeUInt32LE(10, 0);
  // every byte below 0x80: the walk reads the JSON string as UTF-8, one byte per character
  entry.fill(0x41, 4, 24);
  entry.writeUInt32LE(1, 24);
  entry[28] = 0x78;
  entry.writeUInt32LE(0, 29);
  const b = read();
  b.layers[0].evidence.imaLog = Buffer.concat(Array<Buffer>(500_000).fill(entry)).toString('latin1');
  const big = write('big-ima.bundle.json', b);
  const small = { env: { NODE_OPTIONS: '--max-old-space-size=128' } };
  const run = await runCli(['verify', big, '--trust', sim.trustDir, '--json'], small);
  assert.equal(run.code, 1, `${run.stderr.slice(0, 300)}`);
  assert.equal(run.json!.result.verdict, 'not-trusted');
  assert.deepEqual([run.json!.error!.code, run.json!.error!.details.cap], ['IMA_TOO_LARGE', 'memory']);
  assert.match(run.json!.error!.message, /IMA list does not fit the memory node may use here: after \d+ entries the heap holds \d+ MB of its \d+ MB limit.*--max-old-space-size=/);
  assert.equal(run.json!.result.layers[0].status, 'not-trusted');
  // the genuine bundle still verifies in the same heap
  const genuine = await runCli(['verify', bundle, '--trust', sim.trustDir, '--json'], small);
  assert.equal(genuine.code, 0, genuine.stderr.slice(0, 300));
  // policy init --from walks a bundle the same way: not known-good, said, not V8 ending the process
  const init = await runCli(['policy', 'init', '--from', big, '--trust', sim.trustDir, '--json'], small);
  assert.equal(init.code, 1, init.stderr.slice(0, 300));
  assert.equal(init.json!.error!.code, 'IMA_TOO_LARGE');
});

test('verify BUNDLE: firmware logs kept for every layer until the walk ends are checked against the heap too (EVENTLOG_TOO_LARGE, cap memory)', async (t) => {
  const { sim, read, write } = await savedBundle(t, 3);
  const b = read();
  // each layer's genuine Spec ID event, then 99,990 minimal sha256 events (the event cap is 100,000): 5 MB a log,
  // 20 MB of bundle; parsed and replayed, each log kept about 80 MB until the walk ended, and three ended a 256 MB heap
  const event = Buffer.alloc(50);
  event.writeUInt32LE(0, 0);
  event.writeUInt32LE(0x0d, 4);
  event.writeUInt32LE(1, 8);
  event.writeUInt16LE(0x000b, 12);
  event.fill(0x11, 14, 46);
  event.writeUInt32LE(0, 46);
  for (const layer of b.layers) {
    const genuine = Buffer.from(layer.evidence.eventLog, 'base64');
    const specId = genuine.subarray(0, 32 + genuine.readUInt32LE(28));
    layer.evidence.eventLog = Buffer.concat([specId, ...Array<Buffer>(99_990).fill(event)]).toString('base64');
  }
  const big = write('big-logs.bundle.json', b);
  const run = await runCli(['verify', big, '--trust', sim.trustDir, '--json'], { env: { NODE_OPTIONS: '--max-old-space-size=256' } });
  assert.equal(run.code, 1, run.stderr.slice(0, 300));
  assert.equal(run.json!.result.verdict, 'not-trusted');
  const refused = run.json!.result.layers.flatMap((l: any) => l.checks).filter((c: any) => c.code === 'EVENTLOG_TOO_LARGE');
  assert.equal(refused.length, 1, JSON.stringify(run.json!.result.layers.map((l: any) => l.error)));
  assert.match(refused[0].message, /the event log does not fit the memory node may use here: after \d+ events the heap holds \d+ MB of its \d+ MB limit.*--max-old-space-size=/);
});

test('verify BUNDLE: a bundle the heap cannot read and parse is FILE_TOO_LARGE (exit 2, cap memory), not V8 ending the process', async (t) => {
  const { sim, read, write } = await savedBundle(t, 2);
  // a million strings (74 MB) in a member nothing reads, well under the 256 MiB and 4,000,000 values a bundle may
  // hold: its text and then its parsed strings took more than a 128 MB heap has (exit 134, no envelope)
  const b = read();
  b.padding = Array<string>(1_000_000).fill('x'.repeat(70));
  const big = write('padded.bundle.json', b);
  const run = await runCli(['verify', big, '--trust', sim.trustDir, '--json'], { env: { NODE_OPTIONS: '--max-old-space-size=128' } });
  assert.equal(run.code, 2, run.stderr.slice(0, 300));
  assert.deepEqual([run.json!.error!.code, run.json!.error!.details.cap], ['FILE_TOO_LARGE', 'memory']);
  assert.match(run.json!.error!.message, /^evidence bundle: .*padded\.bundle\.json does not fit the memory node may use here: reading it needs about \d+ MB more heap, and the heap holds \d+ MB of its \d+ MB limit; give node more, e\.g\. NODE_OPTIONS=--max-old-space-size=\d+$/);
  // with the heap it needs, the same bundle verifies (nothing reads the padding)
  const enough = await runCli(['verify', big, '--trust', sim.trustDir, '--json'], { env: { NODE_OPTIONS: '--max-old-space-size=1024' } });
  assert.equal(enough.code, 0, enough.stderr.slice(0, 300));
});

test('policy init --from: a file the heap cannot read, or read and parse, is FILE_TOO_LARGE (exit 2, cap memory), as verify BUNDLE refuses it, not V8 ending the process', async (t) => {
  const dir = tempDir(t, 'vtpm-bundle-memory-');
  // one string of 100 MB in a member nothing reads: with a 64 MB heap its text does not fit, with 96 MB its text
  // does but its parse does not (both: exit 134, no envelope, where verify BUNDLE said FILE_TOO_LARGE)
  const big = join(dir, 'padded.bundle.json');
  const head = `{"format":"vtpm-verify/evidence-bundle","version":1,"tool":"t","target":"http://h/","time":"2026-11-28T11:58:18.631Z","random":"${'00'.repeat(32)}","pad":"`;
  writeFileSync(big, Buffer.concat([Buffer.from(head), Buffer.alloc(100 * 1024 * 1024, 0x61), Buffer.from('","layers":[]}')]));
  for (const heapMb of [64, 96]) {
    const init = await runCli(['policy', 'init', '--name', 'p', '--from', big, '--trust', dir, '--json'], { env: { NODE_OPTIONS: `--max-old-space-size=${heapMb}` } });
    assert.equal(init.code, 2, `${heapMb} MB: ${init.stderr.slice(0, 300)}`);
    assert.deepEqual([init.json!.error!.code, init.json!.error!.details.cap], ['FILE_TOO_LARGE', 'memory']);
    assert.match(init.json!.error!.message, /padded\.bundle\.json does not fit the memory node may use here: reading it needs about \d+ MB more heap/);
  }
});

test('policy init --from: a facts file whose text fits the heap but whose parse does not is FILE_TOO_LARGE (exit 2, cap memory), not V8 ending the process', async (t) => {
  // 30 MB of `{}`: its text fits a 96 MB heap, its 10 million objects do not (exit 134, no envelope)
  const big = join(tempDir(t, 'vtpm-facts-memory-'), 'many.facts.json');
  writeFileSync(big, `{"layers":[${'{},'.repeat(10_000_000 - 1)}{}]}`);
  const init = await runCli(['policy', 'init', '--name', 'p', '--from', big, '--json'], { env: { NODE_OPTIONS: '--max-old-space-size=96' } });
  assert.equal(init.code, 2, init.stderr.slice(0, 300));
  assert.deepEqual([init.json!.error!.code, init.json!.error!.details.cap], ['FILE_TOO_LARGE', 'memory']);
  assert.match(init.json!.error!.message, /many\.facts\.json does not fit the memory node may use here/);
  // policy evaluate reads a facts file the same way
  const evaluate = await runCli(['policy', 'evaluate', join(REPO_ROOT, 'policies', 'lab.yaml'), '--facts', big, '--json'], { env: { NODE_OPTIONS: '--max-old-space-size=96' } });
  assert.equal(evaluate.code, 2, evaluate.stderr.slice(0, 300));
  assert.deepEqual([evaluate.json!.error!.code, evaluate.json!.error!.details.cap], ['FILE_TOO_LARGE', 'memory']);
});
