// Temporary folders for real state files, removed after the test.
import type { TestContext } from 'node:test';
import { tempDir as temp } from '../helpers/tmp.js';

export function tempDir(t: TestContext): string {
  return temp(t, 'vtpm-state-');
}
