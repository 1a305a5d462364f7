// The launcher (bin/vtpm-verify.js, CommonJS) in a copy of the installed layout (bin/ beside a package.json of
// "type": "module" and a dist/ of our making): what it does when the CLI cannot start or never finishes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

function layout(t: TestContext, bundle: string | undefined): string {
  const dir = tempDir(t, 'vtpm-launcher-');
  mkdirSync(join(dir, 'bin'));
  for (const f of ['vtpm-verify.js', 'package.json']) copyFileSync(join(REPO_ROOT, 'bin', f), join(dir, 'bin', f));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  if (bundle !== undefined) {
    mkdirSync(join(dir, 'dist', 'bundle'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'bundle', 'main.js'), bundle);
  }
  return join(dir, 'bin', 'vtpm-verify.js');
}

function run(launcher: string, env: Record<string, string | undefined> = {}): { status: number | null; stdout: string; stderr: string } {
  const e = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  delete e['VTPM_NO_BUNDLE'];
  const r = spawnSync(process.execPath, [launcher, 'demo'], { env: e, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('launcher: no dist/ at all is exit 3 (could not complete), said on stderr', (t) => {
  const r = run(layout(t, undefined));
  assert.equal(r.status, 3);
  assert.match(r.stderr, /^vtpm-verify: cannot start: .*ERR_MODULE_NOT_FOUND/);
});

test('launcher: a bundle that throws as it loads is exit 3', (t) => {
  const r = run(layout(t, 'throw new Error("broken bundle");\n'));
  assert.equal(r.status, 3);
  assert.match(r.stderr, /cannot start: Error: broken bundle/);
});

test('launcher: a CLI that stops with its work unfinished (nothing left to wait for) is exit 3, not 0', (t) => {
  // an ES module run as node's entry exits 13 then; imported from CommonJS, the process would just end with 0
  const r = run(layout(t, 'process.stdout.write("started\\n");\nawait new Promise(() => {});\n'));
  assert.equal(r.stdout, 'started\n');
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /vtpm-verify: stopped before the command finished/);
});

test('launcher: a CLI that finishes keeps its exit code, and sees the thread pool size asked for', (t) => {
  const launcher = layout(t, 'process.stdout.write(String(process.env.UV_THREADPOOL_SIZE));\nawait new Promise((r) => setTimeout(r, 1));\nprocess.exitCode = 1;\n');
  const r = run(launcher, { UV_THREADPOOL_SIZE: undefined });
  assert.deepEqual([r.status, r.stdout, r.stderr], [1, '12', '']);
  const kept = run(launcher, { UV_THREADPOOL_SIZE: '6' });
  assert.deepEqual([kept.status, kept.stdout, kept.stderr], [1, '6', '']);
});

test('launcher: an exception nothing catches, or a promise rejected with no handler, is exit 3 (a bug), not node\'s 1 (not trusted)', (t) => {
  for (const bug of ['setTimeout(() => { throw new Error("late bug"); }, 1);', 'setTimeout(() => { Promise.reject(new Error("late bug")); }, 1);']) {
    const r = run(layout(t, `${bug}\nawait new Promise(() => {});\n`));
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /^vtpm-verify: internal error \(a bug in vtpm-verify; please report it\): Error: late bug/);
  }
  // after the command finished with a failing code, that code stands
  const after = run(layout(t, 'setTimeout(() => { throw new Error("late bug"); }, 5);\nprocess.exitCode = 1;\n'));
  assert.equal(after.status, 1, after.stderr);
});

test('launcher: under --json, a bug nothing catches before the envelope is printed leaves an INTERNAL_ERROR envelope on stdout', (t) => {
  const owedThenBug = 'globalThis[Symbol.for("vtpm-verify.json-envelope-owed")] = true;\nsetTimeout(() => { throw new Error("late bug \\u2603"); }, 1);\nawait new Promise(() => {});\n';
  const r = run(layout(t, owedThenBug));
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout.split('\n').length, 2, r.stdout);
  // non-ASCII escaped, still JSON
  assert.match(r.stdout, /\\u2603/);
  assert.deepEqual(JSON.parse(r.stdout), {
    ok: false,
    result: null,
    error: { code: 'INTERNAL_ERROR', message: 'a bug in vtpm-verify stopped the command; please report it: late bug \u2603', details: { uncaught: true } },
  });
  // once the command's own envelope is on its way (or without --json), stdout gets nothing more
  const printed = run(layout(t, 'globalThis[Symbol.for("vtpm-verify.json-envelope-owed")] = false;\nsetTimeout(() => { throw new Error("late bug"); }, 1);\nawait new Promise(() => {});\n'));
  assert.deepEqual([printed.status, printed.stdout], [3, '']);
});

test('launcher: the real CLI owes a --json envelope while its command runs, and not without --json', (t) => {
  // a preload that plays a bug: it throws where nothing catches it as soon as the CLI says whether an envelope is owed
  const dir = tempDir(t, 'vtpm-launcher-bug-');
  const preload = join(dir, 'bug.mjs');
  writeFileSync(
    preload,
    'let owed;\nObject.defineProperty(globalThis, Symbol.for("vtpm-verify.json-envelope-owed"), {\n  get: () => owed,\n  set: (v) => { if (owed === undefined) setImmediate(() => { throw new Error("injected bug"); }); owed = v; },\n});\n',
  );
  const launcher = join(REPO_ROOT, 'bin', 'vtpm-verify.js');
  const env = { ...process.env, NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` };
  const json = spawnSync(process.execPath, [launcher, 'demo', '--json'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(json.status, 3, json.stderr);
  assert.match(json.stderr, /internal error \(a bug in vtpm-verify; please report it\): Error: injected bug/);
  const envelope = JSON.parse(json.stdout) as { ok: boolean; error: { code: string; message: string } };
  assert.deepEqual([envelope.ok, envelope.error.code, envelope.error.message], [false, 'INTERNAL_ERROR', 'a bug in vtpm-verify stopped the command; please report it: injected bug']);
  const human = spawnSync(process.execPath, [launcher, 'demo', '--no-color'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(human.status, 3, human.stderr);
  assert.equal(human.stdout, '');
});
