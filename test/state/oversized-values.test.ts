// Values read back from a damaged or crafted state file that are far larger
// than anything vtpm-verify writes. A findings list of 300 MB (150 million
// elements) ended `history` in a V8 fatal error, with no envelope and no exit
// code of ours: JSON text read back is capped per value, and a result's
// findings and platform path count towards what one history read may hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../../src/state/index.js';
import { MAX_STORED_JSON_CHARS } from '../../src/state/rows.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { tempDir } from './tmp.js';

const X = '5e1d07b2'.padEnd(64, '3');
const AK = '000b' + 'cd'.repeat(32);
const P = ['000b' + '9a0f'.padEnd(64, '1'), '000b' + '4c2e'.padEnd(64, '2')];

/** A JSON array of ones, `chars` characters long or one more. */
function ones(chars: number): string {
  return `[${'1,'.repeat(Math.ceil((chars - 2) / 2))}1]`;
}

test('findings, a platform path or a clock state longer than anything written is STATE_CORRUPT, not parsed', async (t) => {
  const file = join(tempDir(t), 'state.db');
  const s = await openState(file);
  t.after(() => s.close());
  const now = Date.now();
  s.observe({ instanceId: X, akName: AK, clockInfo: { clock: 7_000n, resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n, platformPath: P, time: now - 5_000, target: 'https://a.example' });
  s.appendResult({ time: now - 5_000, target: 'https://a.example', instanceId: X, verdict: 'trusted', platformPath: P, result: { ok: 1 } });
  assert.equal(s.history().length, 1);
  assert.equal(s.identities().length, 1);

  const raw = new Database(file);
  t.after(() => raw.close());
  const huge = ones(MAX_STORED_JSON_CHARS + 1);
  raw.prepare('UPDATE result SET findings = ?').run(huge);
  assert.match(assertThrowsCode(() => s.history(), 'STATE_CORRUPT').message, /malformed result findings/);
  // damage, not a read to ask less of: fewer results would not help
  assertThrowsCode(() => s.history({}, { maxText: 1_000 }), 'STATE_CORRUPT');
  raw.prepare('UPDATE result SET findings = ?, platform_path = ?').run('[]', `["${'a'.repeat(MAX_STORED_JSON_CHARS)}"]`);
  assert.match(assertThrowsCode(() => s.history(), 'STATE_CORRUPT').message, /malformed platform path/);
  raw.prepare('UPDATE result SET platform_path = ?').run(JSON.stringify(P));
  assert.equal(s.history().length, 1);
  // a result stored as text (before version 6) longer than any written: damage too, whatever --limit
  raw.prepare('UPDATE result SET blob = ?').run(`"${'r'.repeat(MAX_STORED_JSON_CHARS)}"`);
  assertThrowsCode(() => s.history({ limit: 1 }, { maxText: 1_000 }), 'STATE_CORRUPT');
  raw.prepare('UPDATE result SET blob = ?').run('{"ok":1}');

  const state = JSON.parse(raw.prepare('SELECT clock_state FROM tpm_identity').pluck().get() as string) as { lineages: unknown[] };
  raw.prepare('UPDATE tpm_identity SET clock_state = ?').run(JSON.stringify({ ...state, pad: 'p'.repeat(MAX_STORED_JSON_CHARS) }));
  assert.match(assertThrowsCode(() => s.identities(), 'STATE_CORRUPT').message, /malformed clock state/);
  // the next reading of the identity (an attest, an audit) is refused the same way, not compared with a state it cannot read
  assertThrowsCode(
    () => s.observe({ instanceId: X, akName: AK, clockInfo: { clock: 8_000n, resetCount: 1, restartCount: 0, safe: true }, firmwareVersion: 1n, platformPath: P, time: now, target: 'https://a.example' }),
    'STATE_CORRUPT',
  );
});

test("a result's findings and platform path count towards the text one history read holds (STATE_TOO_LARGE)", async (t) => {
  const file = join(tempDir(t), 'state.db');
  const s = await openState(file);
  t.after(() => s.close());
  for (let i = 0; i < 4; i++) s.appendResult({ time: 1_000 + i, target: `https://vm-${i}.example`, instanceId: X, verdict: 'trusted', platformPath: P, result: { i } });
  const raw = new Database(file);
  raw.prepare('UPDATE result SET findings = ?').run(ones(300_000));
  raw.close();
  assertThrowsCode(() => s.history({ limit: 4 }, { maxText: 1_000_000 }), 'STATE_TOO_LARGE');
  assert.equal(s.history({ limit: 3 }, { maxText: 1_000_000 }).length, 3);
});
