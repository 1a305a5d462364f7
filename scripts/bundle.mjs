#!/usr/bin/env node
// Bundles the compiled CLI (dist/src/cli/main.js) into dist/bundle/ with
// esbuild, for start-up time: one ESM chunk for the entry and commander, one
// per lazily imported command implementation (code splitting keeps them lazy).
// Every npm package except commander stays external, so heavy libraries load
// only when a command imports them, exactly as unbundled.
//
// Caution for code in the bundle: import.meta.url is the chunk's URL in
// dist/bundle/, not the source module's; resolve package files from the
// package root instead. bin/vtpm-verify.js falls back to the unbundled CLI
// when the bundle is absent or VTPM_NO_BUNDLE is set.
import { existsSync, rmSync } from 'node:fs';

const BUNDLED_PACKAGES = new Set(['commander']);

rmSync('dist/bundle', { recursive: true, force: true });
let build;
try {
  ({ build } = await import('esbuild'));
} catch {
  // Without esbuild the CLI still works, unbundled (only start-up is slower).
  console.error('bundle: esbuild is not installed; the CLI runs unbundled');
  process.exit(0);
}
const common = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // less to parse at start-up; identifiers stay readable in stack traces
  minifyWhitespace: true,
  minifySyntax: true,
  // commander is CommonJS and requires node builtins: give the ESM chunks a require()
  banner: { js: "import { createRequire as __vtpmCreateRequire } from 'node:module'; const require = __vtpmCreateRequire(import.meta.url);" },
  plugins: [
    {
      name: 'external-packages-but-commander',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
          return BUNDLED_PACKAGES.has(name) ? undefined : { path: args.path, external: true };
        });
      },
    },
  ],
};
await build({
  ...common,
  entryPoints: ['dist/src/cli/main.js'],
  outdir: 'dist/bundle',
});
// The audit's state thread (src/state/batch-thread.ts) is started from
// state-worker.js beside the chunk that starts it: a file of its own, holding
// only what the thread runs (shared chunks would load half the CLI into it).
const stateWorker = (outdir) => build({ ...common, splitting: false, entryPoints: { 'state-worker': 'dist/src/state/state-worker.js' }, outdir });
await stateWorker('dist/bundle');
// The audit benchmark's runner (bench/audit-run.ts), bundled the same way, so
// that the benchmark times the audit's code as the CLI loads it (lazily
// imported chunks, not ~150 separate modules) rather than dist/src.
rmSync('dist/bench-bundle', { recursive: true, force: true });
if (existsSync('dist/bench/audit-run.js')) {
  await build({ ...common, entryPoints: ['dist/bench/audit-run.js'], outdir: 'dist/bench-bundle' });
  await stateWorker('dist/bench-bundle');
}
