// Locations tests need: the repository root, the real-evidence corpus.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/** The repository root (tests run compiled from dist/test/...). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The shared real-evidence corpus, read in place and never copied into the
 * repository. VTPM_CORPUS overrides the default ../shared/corpus.
 */
export const CORPUS_DIR = process.env['VTPM_CORPUS'] ?? resolve(REPO_ROOT, '..', 'shared', 'corpus');

export function corpusAvailable(): boolean {
  return existsSync(join(CORPUS_DIR, 'SOURCES.md'));
}

export const CORPUS_SKIP_MESSAGE = `real-evidence corpus not found at ${CORPUS_DIR} (set VTPM_CORPUS to its path); skipping`;

/** Path inside the corpus; skips the test (with a clear message) when the corpus is absent. */
export function corpusPath(t: TestContext, ...parts: string[]): string | undefined {
  if (!corpusAvailable()) {
    t.skip(CORPUS_SKIP_MESSAGE);
    return undefined;
  }
  return join(CORPUS_DIR, ...parts);
}

export const BIN = join(REPO_ROOT, 'bin', 'vtpm-verify.js');
