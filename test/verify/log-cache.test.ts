// LogVerificationCache: the same verification as verifyLogsAgainstQuote for
// the same log bytes and quoted PCR values, reused only then: one byte of a
// log or of any quoted PCR is another key. Bounded by entries and log bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyLogsAgainstQuote } from '../../src/eventlog/index.js';
import { startSimulator } from '../../src/simulator/start.js';
import type { PcrValues } from '../../src/tpm/pcrs.js';
import { parseEvidenceBytes } from '../../src/transport/evidence.js';
import { LogVerificationCache } from '../../src/verify/log-cache.js';

const ALL = [{ bank: 'sha256' as const, pcrs: Array.from({ length: 24 }, (_, i) => i) }];

function clonePcrs(p: PcrValues): PcrValues {
  return new Map([...p].map(([bank, values]) => [bank, new Map([...values].map(([i, v]) => [i, Buffer.from(v)]))]));
}

test('a hit only for the very same log bytes and quoted PCRs; the result is what a fresh replay gives', async (t) => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  t.after(() => sim.close());
  const e = parseEvidenceBytes(sim.platform.tops()[0]!.evidence({ nonce: Buffer.alloc(32, 1), pcrs: ALL }));
  const logs = { eventLog: e.eventLog!, ima: Buffer.from(e.imaLog!, 'utf8') };
  const pcrs = e.unverifiedPcrs;
  const cache = new LogVerificationCache();
  const first = cache.verify(logs, pcrs);
  assert.equal(first.ok, true);
  assert.deepEqual(first.checks, verifyLogsAgainstQuote(logs, pcrs).checks);
  // equal bytes in new buffers: a hit, the same verification
  assert.equal(cache.verify({ eventLog: Buffer.from(logs.eventLog), ima: Buffer.from(logs.ima) }, clonePcrs(pcrs)), first);
  assert.deepEqual(cache.stats, { hits: 1, misses: 1 });

  // one quoted PCR differs: a miss, and the replay no longer matches that PCR
  const other = clonePcrs(pcrs);
  other.get('sha256')!.get(0)![0]! ^= 1;
  const changed = cache.verify(logs, other);
  assert.equal(changed.ok, false);
  assert.deepEqual(changed.checks, verifyLogsAgainstQuote(logs, other).checks);
  // one byte of the IMA list differs: a miss, and the list no longer replays
  const ima = Buffer.from(logs.ima);
  ima[ima.length - 3] = ima[ima.length - 3] === 0x61 ? 0x62 : 0x61;
  assert.equal(cache.verify({ ...logs, ima }, pcrs).ok, false);
  // the log moved from one field to the other is another key too
  assert.notEqual(cache.verify({ eventLog: logs.eventLog }, pcrs), first);
  assert.deepEqual(cache.stats, { hits: 1, misses: 4 });
  assert.equal(cache.verify(logs, pcrs), first, 'still cached');
});

test('bounded by entries and by log bytes; the least recently used goes first; a log larger than the budget is not kept', async (t) => {
  const sim = await startSimulator({ topology: { layers: 2 } });
  t.after(() => sim.close());
  const e = parseEvidenceBytes(sim.platform.tops()[0]!.evidence({ nonce: Buffer.alloc(32, 2), pcrs: ALL }));
  const logs = { eventLog: e.eventLog!, ima: Buffer.from(e.imaLog!, 'utf8') };
  const variant = (n: number): PcrValues => {
    const p = clonePcrs(e.unverifiedPcrs);
    p.get('sha256')!.set(16, Buffer.alloc(32, n)); // a PCR no log touches: still part of the key
    return p;
  };
  const small = new LogVerificationCache({ maxEntries: 2 });
  small.verify(logs, variant(1));
  small.verify(logs, variant(2));
  small.verify(logs, variant(1)); // 1 is now the most recent
  small.verify(logs, variant(3)); // evicts 2
  small.verify(logs, variant(1));
  small.verify(logs, variant(2));
  assert.deepEqual(small.stats, { hits: 2, misses: 4 });

  const size = logs.eventLog.length + logs.ima.length;
  const tight = new LogVerificationCache({ maxInputBytes: size - 1 });
  tight.verify(logs, variant(1));
  tight.verify(logs, variant(1));
  assert.deepEqual(tight.stats, { hits: 0, misses: 2 }, 'too large to keep');
});
