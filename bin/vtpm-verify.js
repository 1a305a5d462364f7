#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (npm run build). The esbuild
// bundle (dist/bundle, scripts/bundle.mjs) starts faster; without it, or with
// VTPM_NO_BUNDLE=1, the unbundled modules run.
//
// CommonJS (bin/package.json), not ESM: libuv reads UV_THREADPOOL_SIZE when
// its thread pool starts, and node's ESM loader starts it before an ES
// module's first line runs. Host-name lookups (getaddrinfo) run on that pool,
// and one a resolver never answers holds a thread for as long as the resolver
// takes: the pool gets room for LOOKUP_THREADS (src/transport/lookup.ts) on
// top of libuv's four, so that hung lookups never take the threads that
// signature checks and file I/O need. A size the user set is kept.
'use strict';
const { existsSync, writeSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const LIBUV_DEFAULT_POOL = 4;
const LOOKUP_THREADS = 8;
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = String(LIBUV_DEFAULT_POOL + LOOKUP_THREADS);

const bundle = join(__dirname, '..', 'dist', 'bundle', 'main.js');
const entry = !process.env.VTPM_NO_BUNDLE && existsSync(bundle) ? bundle : join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
// The CLI's module finishes (its top-level await) once the command has: until then it is running.
let finished = false;
import(pathToFileURL(entry).href).then(
  () => {
    finished = true;
  },
  (err) => {
    finished = true;
    process.stderr.write(`vtpm-verify: cannot start: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 3; // could not complete (README, exit codes)
  },
);
// A bug that throws where nothing catches it (a callback, a promise rejected with no handler): node would exit 1,
// "not trusted". It is INTERNAL_ERROR's 3, could not complete; a failing code the finished command set stands.
// Under --json, before the command printed its envelope (src/cli/output.ts setEnvelopeOwed), stdout gets an
// INTERNAL_ERROR one in its place: a script parsing stdout reads why, not nothing.
const ENVELOPE_OWED = Symbol.for('vtpm-verify.json-envelope-owed');
process.on('uncaughtException', (err) => {
  process.stderr.write(`vtpm-verify: internal error (a bug in vtpm-verify; please report it): ${err && err.stack ? err.stack : err}\n`);
  // (not after a line still queued for stdout: ours would land inside it)
  if (globalThis[ENVELOPE_OWED] === true && !(process.stdout.writableLength > 0)) {
    globalThis[ENVELOPE_OWED] = false;
    const message = `a bug in vtpm-verify stopped the command; please report it: ${err && err.message !== undefined ? err.message : err}`;
    const error = { code: 'INTERNAL_ERROR', message, details: { uncaught: true } };
    try {
      // synchronous: the process exits on the next line (a reader gone away or a full disk changes nothing here)
      // non-ASCII escaped (valid JSON still): the message may quote input, and the reader may be a terminal
      const text = JSON.stringify({ ok: false, result: null, error }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      writeSync(1, `${text}\n`);
    } catch {}
  }
  const code = process.exitCode;
  process.exit(finished && code !== undefined && code !== 0 ? code : 3);
});
// The process ending while the command is still unfinished, with nothing left to wait for (a promise no event
// will settle), and without an exit code of its own: node exits 13 for an ES module run as its entry, but for
// one imported from CommonJS it would exit 0, "trusted". It is 3, could not complete.
process.on('exit', () => {
  if (finished || process.exitCode !== undefined) return;
  process.stderr.write('vtpm-verify: stopped before the command finished (nothing left to wait for)\n');
  process.exitCode = 3;
});
