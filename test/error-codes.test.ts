// Keeps the error codes honest: every code the source throws is in a code
// table, and README.md documents every code in the tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_CODES } from '../src/error-codes.js';
import { exitCodeForKind, type ErrorKind } from '../src/errors.js';
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

test('README documents every error code in a code table row, with its exit code', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const wrong: string[] = [];
  for (const [code, { kind, summary }] of Object.entries(ALL_CODES) as [string, { kind: ErrorKind; summary: string }][]) {
    // | `CODE` | exit | meaning |  (a warning's exit column is "–": it decides nothing)
    const row = new RegExp(`^\\| \`${code}\` \\| ([0-9]|–) \\|`, 'm').exec(readme);
    const exit = summary.startsWith('warning:') ? '–' : String(exitCodeForKind(kind));
    if (!row) wrong.push(`${code}: no table row`);
    else if (row[1] !== exit) wrong.push(`${code}: exit ${row[1]} in README, ${exit} by its kind`);
  }
  assert.deepEqual(wrong, [], wrong.join('; '));
});
