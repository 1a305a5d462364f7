// libxml2's xmllint for the JUnit report tests: schema validation against a
// JUnit XSD (test/report/junit.xsd) and XPath reads. Skips the test with a
// message when xmllint is not installed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from './paths.js';

export const JUNIT_XSD = join(REPO_ROOT, 'test', 'report', 'junit.xsd');
export const XMLLINT = '/usr/bin/xmllint';

export function haveXmllint(t: TestContext): boolean {
  const r = spawnSync(XMLLINT, ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return true;
  t.skip('xmllint not installed (apt-get install -y libxml2-utils); skipping the libxml2 checks');
  return false;
}

/** Asserts that the file is valid against the JUnit XSD. */
export function assertValidJunit(file: string): void {
  const v = spawnSync(XMLLINT, ['--noout', '--schema', JUNIT_XSD, file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(v.status, 0, `xmllint --schema: ${v.stderr}`);
}

export function xpath(file: string, expr: string): string {
  const r = spawnSync(XMLLINT, ['--xpath', expr, file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `xmllint --xpath ${expr}: ${r.stderr}`);
  // xmllint ends what it prints with one newline of its own
  return r.stdout.replace(/\n$/, '');
}
