// Temporary folders for tests, removed after the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export function tempDir(t: TestContext, prefix = 'vtpm-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // retried: a browser or server the test started may still be writing into it as it closes (ENOTEMPTY)
  t.after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }));
  return dir;
}
