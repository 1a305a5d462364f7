// writeFileAtomic (attest --save, policy init -o, simulate --inventory-out):
// a file replaced keeps its permissions, and a link planted at the temporary
// name beside it is never written through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/util/files.js';
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
