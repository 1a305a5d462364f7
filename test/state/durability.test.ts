// The state file under crashes and concurrency, with real processes:
// kill -9 in the middle of writing loses nothing that was reported and leaves
// a sound file; two processes writing at once corrupt and lose nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openState } from '../../src/state/index.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from './tmp.js';

const WRITER = join(REPO_ROOT, 'dist', 'test', 'state', 'fixtures', 'state-writer.js');

interface Written {
  tag: string;
  i: number;
  id: number;
}

function startWriter(file: string, count: number, tag: string): ChildProcess {
  return spawn(process.execPath, [WRITER, file, String(count), tag], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Collects the committed ids a writer reports; calls onLine after each. */
function collect(child: ChildProcess, onLine: (lines: Written[]) => void = () => {}): Promise<{ lines: Written[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const lines: Written[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const [tag, i, id] = line.split(' ');
    lines.push({ tag: tag!, i: Number(i), id: Number(id) });
    onLine(lines);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ lines, code, signal, stderr }));
  });
}

test('kill -9 in the middle of writing: integrity_check ok and every reported result present', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const REPORTED_BEFORE_KILL = 40;
  const child = startWriter(file, 1_000_000, 'a');
  const done = collect(child, (lines) => {
    if (lines.length === REPORTED_BEFORE_KILL) child.kill('SIGKILL');
  });
  const { lines, signal, stderr } = await done;
  assert.equal(signal, 'SIGKILL', `the writer should have been killed, not ended: ${stderr}`);
  assert.ok(lines.length >= REPORTED_BEFORE_KILL);

  // the writer died with its WAL unmerged: reopening must recover from it
  assert.ok(existsSync(`${file}-wal`) && statSync(`${file}-wal`).size > 0, 'the killed writer left no WAL to recover');

  const s = await openState(file);
  assert.deepEqual(s.integrityCheck(), ['ok']);
  const stored = new Map(s.history({ limit: 100_000 }).map((e) => [e.id, e]));
  for (const w of lines) {
    const e = stored.get(w.id);
    assert.ok(e, `result ${w.id} was reported committed but is missing`);
    assert.deepEqual((e.result as { i: number }).i, w.i);
  }
  // each result was written with its reading: the identity counts at least as many
  assert.ok(s.identities()[0]!.readings >= lines.length);
  // and the file is writable again after the crash
  assert.ok(s.appendResult({ time: Date.now(), target: 'after', verdict: 'trusted' }) > lines.length);
  s.close();
});

test('two processes writing into one (new) state file at once: nothing corrupt, nothing lost', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const K = 150;
  const [a, b] = await Promise.all([collect(startWriter(file, K, 'a')), collect(startWriter(file, K, 'b'))]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(a.lines.length, K);
  assert.equal(b.lines.length, K);

  const s = await openState(file);
  assert.deepEqual(s.integrityCheck(), ['ok']);
  const entries = s.history({ limit: 100_000 });
  assert.equal(entries.length, 2 * K);
  const ids = new Set(entries.map((e) => e.id));
  for (const w of [...a.lines, ...b.lines]) assert.ok(ids.has(w.id), `result ${w.id} of ${w.tag} missing`);
  // observe() read and wrote the shared identity in one transaction each:
  // no update was lost between the two processes
  const [identity] = s.identities();
  assert.equal(identity!.readings, 2 * K);
  s.close();
});
