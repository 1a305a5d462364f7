// Results stored compressed (schema version 6, src/state/result-blob.ts), on
// real SQLite files: a result reads back exactly as it was written, with or
// without its run's dictionary; results stored as text by older versions
// still read; a damaged or unexplained stored value is STATE_CORRUPT, and a
// value that would inflate past the size cap is refused, not inflated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../../src/state/index.js';
import {
  BLOB_DEFLATE,
  BLOB_DEFLATE_RUN_DICTIONARY,
  MAX_DICTIONARY_BYTES,
  ResultBlobError,
  decodeResultBlob,
  dictionaryFrom,
  encodeResultBlob,
} from '../../src/state/result-blob.js';
import { SCHEMA_VERSION } from '../../src/state/schema.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { stateFileAtVersion, tempDir } from './tmp.js';

const T0 = Date.UTC(2026, 10, 27);

/** A result the size and shape of a trusted 3-layer one (~20 KB), varying by VM. */
function resultOf(vm: number, verdict = 'trusted'): Record<string, unknown> {
  const layers = [0, 1, 2].map((position) => ({
    position,
    uri: `https://vm-${vm}.example/l/${position}`,
    status: verdict,
    checks: Array.from({ length: 40 }, (_, i) => ({
      id: `check.${position}.${i}`,
      status: 'pass',
      message: `[${i}] leaf "O=fleet, CN=vm-${vm} layer ${position} AK": signature verified by the issuer "O=fleet, CN=host CA" — ok`,
    })),
  }));
  return { target: `https://vm-${vm}.example/l/0`, verdict, nonce: (vm * 7919).toString(16).padStart(64, '0'), layers };
}

test('encode and decode: exact round trip with and without a dictionary; text passes through', () => {
  const json = JSON.stringify({ ...resultOf(1), note: 'ünïcødé ✓ 𝄞' });
  const dictionary = dictionaryFrom(JSON.stringify(resultOf(2)));
  const plain = encodeResultBlob(json, null);
  const withDictionary = encodeResultBlob(json, dictionary);
  assert.equal(plain[0], BLOB_DEFLATE);
  assert.equal(withDictionary[0], BLOB_DEFLATE_RUN_DICTIONARY);
  assert.equal(decodeResultBlob(plain, 1 << 20, () => assert.fail('no dictionary needed')), json);
  assert.equal(decodeResultBlob(withDictionary, 1 << 20, () => dictionary), json);
  assert.ok(withDictionary.length < plain.length, `the dictionary pays: ${withDictionary.length} against ${plain.length} bytes`);
  assert.equal(decodeResultBlob('{"v5":true}', 1 << 20, () => null), '{"v5":true}');
  // deflate can refer back only 32 KiB: a longer result gives its tail
  const long = 'x'.repeat(MAX_DICTIONARY_BYTES + 100);
  assert.equal(dictionaryFrom(long).length, MAX_DICTIONARY_BYTES);
});

test('a result given as its UTF-8 bytes (a view into a larger buffer, as it crosses from the audit) is stored as its text would be', () => {
  const json = JSON.stringify({ ...resultOf(3), note: 'ünïcødé ✓ 𝄞' });
  const bytes = Buffer.from(json, 'utf8');
  const padded = new Uint8Array(bytes.length + 20);
  padded.set(bytes, 10);
  const view = padded.subarray(10, 10 + bytes.length);
  const dictionary = dictionaryFrom(view);
  assert.deepEqual(dictionary, dictionaryFrom(json));
  assert.ok(Buffer.isBuffer(dictionary), 'a Buffer, as SQLite binds it');
  assert.equal(dictionary.buffer === padded.buffer, false, 'a copy of its own, not a view keeping the result alive');
  assert.deepEqual(encodeResultBlob(view, dictionary), encodeResultBlob(json, dictionary));
  assert.equal(decodeResultBlob(encodeResultBlob(view, null), 1 << 20, () => null), json);
});

test('decode refuses what it cannot explain: unknown or empty encodings, a missing or wrong dictionary, truncation, output past the cap', () => {
  const json = JSON.stringify(resultOf(3));
  const dictionary = dictionaryFrom(JSON.stringify(resultOf(4)));
  const packed = encodeResultBlob(json, dictionary);
  const refused = (stored: Uint8Array, dict: Buffer | null, max = 1 << 20): void => {
    assert.throws(() => decodeResultBlob(stored, max, () => dict), ResultBlobError);
  };
  refused(Buffer.from([0x07, 1, 2, 3]), null);
  assert.throws(() => decodeResultBlob(42, 1 << 20, () => null), ResultBlobError);
  refused(Buffer.from([BLOB_DEFLATE]), null);
  refused(packed, null);
  // another run's dictionary of the same length: the zlib header names the dictionary it needs
  const other = dictionaryFrom(JSON.stringify(resultOf(5)).replaceAll('vm-5', 'vm-6'));
  assert.equal(other.length, dictionary.length);
  refused(packed, other);
  refused(packed.subarray(0, packed.length - 20), dictionary);
  // one byte changed in the middle: the trailer's check catches what inflating alone may not
  for (const at of [packed.length >> 1, packed.length - 2]) {
    const damaged = Buffer.from(packed);
    damaged[at] = damaged[at]! ^ 0x01;
    refused(damaged, dictionary);
  }
  refused(encodeResultBlob('y'.repeat(100_000), null), null, 50_000);
});

test('a run stores its results compressed against its dictionary, set by its first trusted result; reads give them back exactly', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const s = await openState(file);
  t.after(() => s.close());
  const run = s.beginAuditRun({ startedAt: T0, inventory: '/fleet.yaml', shard: null, planned: 30 });
  const written = new Map<string, string>();
  s.beginBatch();
  // an unreachable VM first: too small and too unlike the rest to be the dictionary
  const down = JSON.stringify({ target: 'https://down.example/', verdict: 'incomplete', error: { code: 'TRANSPORT_CONNECT' } });
  s.appendResult({ time: T0, target: 'https://down.example/', verdict: 'incomplete', resultJson: down, runId: run });
  written.set('https://down.example/', down);
  for (let vm = 0; vm < 29; vm++) {
    const verdict = vm === 5 ? 'not-trusted' : 'trusted';
    const json = JSON.stringify(resultOf(vm, verdict));
    s.appendResult({ time: T0 + 1 + vm, target: `https://vm-${vm}.example/l/0`, verdict, resultJson: json, runId: run });
    written.set(`https://vm-${vm}.example/l/0`, json);
  }
  s.commitBatch();
  // attest and watch results belong to no run: deflated without a dictionary
  const single = JSON.stringify(resultOf(99));
  s.appendResult({ time: T0 + 100, target: 'https://single.example/', verdict: 'trusted', resultJson: single });
  written.set('https://single.example/', single);

  const db = new Database(file, { readonly: true });
  t.after(() => db.close());
  const rows = db.prepare(`SELECT target, run_id AS runId, blob FROM result ORDER BY id`).all() as { target: string; runId: number | null; blob: Buffer }[];
  assert.ok(rows.every((r) => Buffer.isBuffer(r.blob)), 'stored as BLOBs');
  assert.deepEqual(
    rows.map((r) => r.blob[0]),
    [BLOB_DEFLATE, ...Array(29).fill(BLOB_DEFLATE_RUN_DICTIONARY), BLOB_DEFLATE],
    'the unreachable VM before the dictionary, the run after it, the lone attestation without one',
  );
  const dictionary = (db.prepare(`SELECT dictionary FROM audit_run WHERE id = ?`).get(run) as { dictionary: Buffer }).dictionary;
  assert.deepEqual(dictionary, Buffer.from(written.get('https://vm-0.example/l/0')!), "the run's first trusted result");
  const stored = rows.slice(2, 30).reduce((n, r) => n + r.blob.length, 0);
  const text = [...written.values()].slice(2, 30).reduce((n, j) => n + j.length, 0);
  assert.ok(stored * 10 < text, `a tenth of the JSON at most: ${stored} of ${text} bytes`);

  const read = s.history({ limit: 100 });
  assert.equal(read.length, written.size);
  for (const e of read) assert.deepEqual(e.result, JSON.parse(written.get(e.target)!), e.target);
});

test('a version-5 file opens at the current version: its text results still read, and a run it began gets a dictionary', async (t) => {
  const file = join(tempDir(t), 'v5.db');
  const db = stateFileAtVersion(file, 5);
  const run = Number(db.prepare(`INSERT INTO audit_run (started_at, inventory, shard, planned) VALUES (?, '/fleet.yaml', NULL, 2)`).run(T0).lastInsertRowid);
  const old = JSON.stringify(resultOf(1));
  db.prepare(`INSERT INTO result (time, target, instance_id, verdict, findings, platform_path, blob, run_id) VALUES (?, 'https://old.example/', NULL, 'trusted', '[]', NULL, ?, ?)`).run(T0, old, run);
  db.close();

  const s = await openState(file, { create: false });
  t.after(() => s.close());
  assert.equal(SCHEMA_VERSION, 9);
  assert.equal(s.schemaVersion, 9);
  const fresh = JSON.stringify(resultOf(2));
  s.appendResult({ time: T0 + 1, target: 'https://new.example/', verdict: 'trusted', resultJson: fresh, runId: run });
  const byTarget = new Map(s.history({ run }).map((e) => [e.target, e.result]));
  assert.deepEqual(byTarget.get('https://old.example/'), JSON.parse(old));
  assert.deepEqual(byTarget.get('https://new.example/'), JSON.parse(fresh));
});

test('a damaged compressed result, or one whose run lost its dictionary, is STATE_CORRUPT when read, not a crash', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const s = await openState(file);
  const run = s.beginAuditRun({ startedAt: T0, inventory: '/fleet.yaml', shard: null, planned: 2 });
  s.appendResult({ time: T0, target: 'https://a.example/', verdict: 'trusted', resultJson: JSON.stringify(resultOf(1)), runId: run });
  s.appendResult({ time: T0 + 1, target: 'https://b.example/', verdict: 'trusted', resultJson: JSON.stringify(resultOf(2)), runId: run });
  s.close();

  const db = new Database(file);
  const { id, blob } = db.prepare(`SELECT id, blob FROM result WHERE target = 'https://b.example/'`).get() as { id: number; blob: Buffer };
  const damaged = Buffer.from(blob);
  for (let i = 5; i < damaged.length; i += 7) damaged[i] = damaged[i]! ^ 0x5a;
  db.prepare(`UPDATE result SET blob = ? WHERE id = ?`).run(damaged, id);
  db.close();
  const again = await openState(file, { create: false });
  t.after(() => again.close());
  const err = assertThrowsCode(() => again.history(), 'STATE_CORRUPT');
  assert.match(err.message, new RegExp(`result \\(id ${id}: `));
  assert.equal(again.history({ limit: 1, until: T0 }).length, 1, 'the undamaged result still reads');

  const db2 = new Database(file);
  db2.prepare(`UPDATE audit_run SET dictionary = NULL`).run();
  db2.close();
  assertThrowsCode(() => again.history({ until: T0 }), 'STATE_CORRUPT');
});

test('a result whose write fails after choosing the dictionary leaves none behind: the next result of the batch chooses again', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const s = await openState(file);
  t.after(() => s.close());
  const run = s.beginAuditRun({ startedAt: T0, inventory: '/fleet.yaml', shard: null, planned: 3 });
  s.beginBatch();
  // findings that cannot be serialized: the write fails inside its savepoint, after the dictionary was set
  const circular: Record<string, unknown> = {};
  circular['self'] = circular;
  assert.throws(() =>
    s.appendResult({ time: T0, target: 'https://failed.example/', verdict: 'trusted', resultJson: JSON.stringify(resultOf(0)), runId: run, findings: [circular] as never }),
  );
  const second = JSON.stringify(resultOf(1));
  const third = JSON.stringify(resultOf(2));
  s.appendResult({ time: T0 + 1, target: 'https://b.example/', verdict: 'trusted', resultJson: second, runId: run });
  s.appendResult({ time: T0 + 2, target: 'https://c.example/', verdict: 'trusted', resultJson: third, runId: run });
  s.commitBatch();

  const db = new Database(file, { readonly: true });
  t.after(() => db.close());
  const { dictionary } = db.prepare(`SELECT dictionary FROM audit_run WHERE id = ?`).get(run) as { dictionary: Buffer };
  assert.deepEqual(dictionary, Buffer.from(second), 'the dictionary of the first result that was stored');
  assert.deepEqual(
    s.history().map((e) => [e.target, e.result]),
    [
      ['https://c.example/', JSON.parse(third)],
      ['https://b.example/', JSON.parse(second)],
    ],
  );
});
