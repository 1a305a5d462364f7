// Keeps the error codes honest: every code the source throws is in a code
// table, and README.md documents every code in the tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_CODES } from '../src/error-codes.js';
import { REPO_ROOT } from './helpers/paths.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('every error code thrown in src/ is in a code table', () => {
  const used = new Set<string>();
  // new FooError('CODE', ...) and { code: 'CODE' } style uses
  const re = /new (?:Parse|Usage|Verification|Transport)Error\(\s*'([A-Z0-9_]+)'/g;
  for (const file of sources(join(REPO_ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(re)) used.add(m[1]!);
  }
  const missing = [...used].filter((c) => !(c in ALL_CODES)).sort();
  assert.deepEqual(missing, [], `codes thrown but not in a table: ${missing.join(', ')}`);
});

test('README documents every error code', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const missing = Object.keys(ALL_CODES).filter((c) => !readme.includes(`\`${c}\``)).sort();
  assert.deepEqual(missing, [], `codes missing from README.md: ${missing.join(', ')}`);
});
