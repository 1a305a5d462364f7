// Temporary folders for real state files, removed after the test.
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { APPLICATION_ID, MIGRATIONS } from '../../src/state/schema.js';
import { tempDir as temp } from '../helpers/tmp.js';

export function tempDir(t: TestContext): string {
  return temp(t, 'vtpm-state-');
}

/** A state file as a released version `version` left it (its migrations only), open for the test to add rows. */
export function stateFileAtVersion(file: string, version: number): Database.Database {
  const db = new Database(file);
  for (const m of MIGRATIONS.filter((x) => x.version <= version)) m.up(db);
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.pragma(`user_version = ${version}`);
  return db;
}
