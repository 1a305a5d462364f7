#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (npm run build). The esbuild
// bundle (dist/bundle, scripts/bundle.mjs) starts faster; without it, or with
// VTPM_NO_BUNDLE=1, the unbundled modules run.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/main.js', import.meta.url);
if (!process.env.VTPM_NO_BUNDLE && existsSync(bundle)) await import(bundle.href);
else await import('../dist/src/cli/main.js');
