// readInputFile, the one way the CLI reads an input file: the cap holds for a
// file whose size the file system does not tell (or that grows while read),
// and what is read is the file that was checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readInputFile } from '../../src/util/files.js';
import { UsageError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.code;
  }
  return undefined;
};

test('readInputFile: a regular file reads whole, up to the cap exactly', (t) => {
  const file = join(tempDir(t, 'vtpm-read-'), 'f.bin');
  writeFileSync(file, Buffer.alloc(1000, 7));
  assert.equal(readInputFile(file, 'x', 1000).length, 1000);
  assert.equal(code(() => readInputFile(file, 'x', 999)), 'FILE_TOO_LARGE');
  writeFileSync(file, '');
  assert.equal(readInputFile(file, 'x', 10).length, 0);
});

test('readInputFile: a file that says it is empty but is not is read up to the cap and one byte, not to its end', { timeout: 90_000 }, () => {
  // /proc/self/status: size 0, ~1 KB of text; /proc/self/pagemap: size 0, 8 bytes for every page of the address space (terabytes)
  const status = readInputFile('/proc/self/status', 'x', 1 << 20).toString('latin1');
  assert.match(status, /^Name:/);
  assert.equal(code(() => readInputFile('/proc/self/status', 'x', 10)), 'FILE_TOO_LARGE');
  if (!existsSync('/proc/self/pagemap')) return;
  // (pagemap reads whole 8-byte entries: a cap of 2^16 - 1 makes every read a multiple of 8). In a child process
  // with a timeout: read to its end, as before, the synchronous read never returns and would hang the suite.
  const files = new URL('../../src/util/files.js', import.meta.url).href;
  const script = `import { readInputFile } from ${JSON.stringify(files)}; try { readInputFile('/proc/self/pagemap', 'x', ${(1 << 16) - 1}); console.log('read'); } catch (err) { console.log(err.code); }`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.signal, null, 'the read did not end within 60 s');
  assert.equal(child.stdout.trim(), 'FILE_TOO_LARGE', child.stderr);
});

test('readInputFile: a FIFO and a folder are refused as not regular files, without waiting for a writer', (t) => {
  const dir = tempDir(t, 'vtpm-read-');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => readInputFile(fifo, 'evidence'), (err: unknown) => err instanceof UsageError && err.code === 'FILE_UNREADABLE' && /is not a regular file/.test(err.message));
  assert.throws(() => readInputFile(dir, 'evidence'), (err: unknown) => err instanceof UsageError && err.code === 'FILE_UNREADABLE' && /is not a regular file/.test(err.message));
  assert.throws(() => readInputFile(join(dir, 'absent'), 'evidence'), (err: unknown) => err instanceof UsageError && err.code === 'FILE_UNREADABLE' && /ENOENT$/.test(err.message));
  // "-" (no such file in the working folder) says that standard input is not read
  const cwd = process.cwd();
  try {
    process.chdir(dir);
    assert.throws(() => readInputFile('-', 'quote message'), (err: unknown) => err instanceof UsageError && /ENOENT \('-' is not standard input here/.test(err.message));
  } finally {
    process.chdir(cwd);
  }
});
