// writeFileAtomic (attest --save, policy init -o, simulate --inventory-out):
// a file replaced keeps its permissions, and a link planted at the temporary
// name beside it is never written through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { STALE_TEMP_AGE_MS, writeFileAtomic } from '../../src/util/files.js';
import { tempDir } from '../helpers/tmp.js';

test('writeFileAtomic: a new file gets the given mode; a replaced one keeps its own (0600 stays 0600)', (t) => {
  const dir = tempDir(t, 'vtpm-atomic-');
  const fresh = join(dir, 'fresh.yaml');
  writeFileAtomic(fresh, 'a: 1\n', 0o640);
  assert.equal(readFileSync(fresh, 'utf8'), 'a: 1\n');
  assert.equal(statSync(fresh).mode & 0o777, 0o640 & ~process.umask());
  const kept = join(dir, 'golden.yaml');
  writeFileSync(kept, 'old\n');
  chmodSync(kept, 0o600);
  writeFileAtomic(kept, 'new\n');
  assert.equal(readFileSync(kept, 'utf8'), 'new\n');
  assert.equal(statSync(kept).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir).sort(), ['fresh.yaml', 'golden.yaml'], 'no temporary file left');
});

test('writeFileAtomic: a link planted at the temporary name is not written through', (t) => {
  const dir = tempDir(t, 'vtpm-atomic-');
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'untouched\n');
  const path = join(dir, 'bundle.json');
  symlinkSync(victim, join(dir, `.bundle.json.${process.pid}.tmp`));
  writeFileAtomic(path, '{}\n');
  assert.equal(readFileSync(victim, 'utf8'), 'untouched\n');
  assert.equal(readFileSync(path, 'utf8'), '{}\n');
});

test('writeFileAtomic: a link replaced lends the new file nothing of what it points to (no 0666, no set-id bits)', (t) => {
  const dir = tempDir(t, 'vtpm-atomic-');
  // a link to a world-writable file: the file written in its place is not world-writable
  const shared = join(dir, 'shared.txt');
  writeFileSync(shared, 'shared\n');
  chmodSync(shared, 0o666);
  const golden = join(dir, 'golden.yaml');
  symlinkSync(shared, golden);
  writeFileAtomic(golden, 'a: 1\n', 0o644);
  assert.equal(lstatSync(golden).isFile(), true, 'the link is replaced');
  assert.equal(readFileSync(shared, 'utf8'), 'shared\n', 'not followed');
  assert.equal(statSync(golden).mode & 0o7777, 0o644 & ~process.umask());
  // a set-id file replaced: its permissions stay, its set-id bits do not
  const setid = join(dir, 'setid.yaml');
  writeFileSync(setid, 'old\n');
  chmodSync(setid, 0o4750);
  writeFileAtomic(setid, 'new\n');
  assert.equal(statSync(setid).mode & 0o7777, 0o750);
});

test('writeFileAtomic: temporary files of this name that ended processes left are removed; a live process\'s and other names stay', (t) => {
  const dir = tempDir(t, 'vtpm-atomic-');
  const path = join(dir, 'bundle.json');
  const gone = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has ended
  const stale = `.bundle.json.${gone}.tmp`;
  // left by a write killed over STALE_TEMP_AGE_MS ago
  const old = new Date(Date.now() - STALE_TEMP_AGE_MS - 60_000);
  writeFileSync(join(dir, stale), '{"half":');
  utimesSync(join(dir, stale), old, old);
  const kept = [`.bundle.json.${process.ppid}.tmp`, `.other.json.${gone}.tmp`, `.bundle.json.${gone}.tmp~`];
  for (const name of kept) {
    writeFileSync(join(dir, name), 'x');
    utimesSync(join(dir, name), old, old);
  }
  // a PID unknown here but written just now: a live writer in another PID namespace sharing the folder
  const recent = `.bundle.json.${spawnSync(process.execPath, ['-e', '']).pid!}.tmp`;
  writeFileSync(join(dir, recent), '{"being written":');
  kept.push(recent);
  writeFileAtomic(path, '{}\n');
  assert.deepEqual(readdirSync(dir).sort(), ['bundle.json', ...kept].sort());
});
