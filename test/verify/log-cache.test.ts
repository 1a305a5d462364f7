// LogVerificationCache: the same verification as verifyLogsAgainstQuote for
// the same log bytes and quoted values of the PCRs the logs extend, reused only
// then: one byte of a log, of such a PCR, or another set of banks is another key. Bounded by entries and log bytes.
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

  // PCRs no log extends (a host's PCR 23, PCR 16) are not read by the verification: same entry, same result as fresh
  const untouched = clonePcrs(pcrs);
  untouched.get('sha256')!.set(23, Buffer.alloc(32, 0x23));
  untouched.get('sha256')!.set(16, Buffer.alloc(32, 0x16));
  const shared = cache.verify(logs, untouched);
  assert.equal(shared, first);
  assert.deepEqual(shared.checks, verifyLogsAgainstQuote(logs, untouched).checks);
  // but one more quoted bank is another key (it can change which bank the IMA list replays in)
  const more = clonePcrs(pcrs);
  more.set('sha1', new Map([[10, Buffer.alloc(20, 1)]]));
  const withSha1 = cache.verify(logs, more);
  assert.notEqual(withSha1, first);
  assert.deepEqual(withSha1.checks, verifyLogsAgainstQuote(logs, more).checks);
});

test('bounded by entries and by log bytes; the least recently used goes first; a log larger than the budget is not kept', async (t) => {
  const sim = await startSimulator({ topology: { layers: 2 } });
  t.after(() => sim.close());
  const e = parseEvidenceBytes(sim.platform.tops()[0]!.evidence({ nonce: Buffer.alloc(32, 2), pcrs: ALL }));
  const logs = { eventLog: e.eventLog!, ima: Buffer.from(e.imaLog!, 'utf8') };
  const variant = (n: number): PcrValues => {
    const p = clonePcrs(e.unverifiedPcrs);
    p.get('sha256')!.set(0, Buffer.alloc(32, n)); // a PCR the firmware log extends: part of the key
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

test('property: whatever PCR values and banks are quoted, a cached verification equals a fresh one', async (t) => {
  const fc = (await import('fast-check')).default;
  const sim = await startSimulator({ topology: { layers: 2 } });
  t.after(() => sim.close());
  const e = parseEvidenceBytes(sim.platform.tops()[0]!.evidence({ nonce: Buffer.alloc(32, 3), pcrs: ALL }));
  const logs = { eventLog: e.eventLog!, ima: Buffer.from(e.imaLog!, 'utf8') };
  const cache = new LogVerificationCache({ maxEntries: 8 });
  fc.assert(
    fc.property(fc.array(fc.record({ index: fc.integer({ min: 0, max: 23 }), byte: fc.integer({ min: 0, max: 3 }) }), { maxLength: 3 }), fc.boolean(), fc.boolean(), (changes, dropIndex, addSha1) => {
      const pcrs = clonePcrs(e.unverifiedPcrs);
      const bank = pcrs.get('sha256')!;
      for (const c of changes) bank.set(c.index, Buffer.alloc(32, c.byte));
      if (dropIndex && changes[0]) bank.delete(changes[0].index);
      if (addSha1) pcrs.set('sha1', new Map([[10, Buffer.alloc(20, 0)]]));
      const cached = cache.verify(logs, pcrs);
      const fresh = verifyLogsAgainstQuote(logs, pcrs);
      assert.deepEqual(cached.checks, fresh.checks);
      assert.equal(cached.ok, fresh.ok);
    }),
    { numRuns: 60 },
  );
  assert.ok(cache.stats.hits > 0, 'some runs hit the cache');
});

test('a firmware PCR the log has no event for is part of the key: a quote where it is not at its initial value misses, and fails', async () => {
  const { EventLogWriter } = await import('../../src/eventlog/writer.js');
  const { parseEventLog } = await import('../../src/eventlog/parse.js');
  const { replayEventLog } = await import('../../src/eventlog/replay.js');
  const w = new EventLogWriter({ banks: ['sha256'] });
  for (const pcr of [0, 1, 2, 3, 5, 6, 7]) w.addSeparator(pcr); // nothing for PCR 4
  const eventLog = w.toBytes();
  const replayed = replayEventLog(parseEventLog(eventLog)).get('sha256')!;
  const quote = (pcr4?: Buffer): PcrValues => new Map([['sha256', new Map([...replayed, ...(pcr4 ? [[4, pcr4] as const] : [])])]]);
  const cache = new LogVerificationCache();
  // first a quote without PCR 4 (nothing to compare it with), then one where it was extended
  assert.equal(cache.verify({ eventLog }, quote()).ok, true);
  const extended = cache.verify({ eventLog }, quote(Buffer.alloc(32, 0x44)));
  assert.equal(extended.ok, false, 'not the cached verification of the quote without PCR 4');
  assert.deepEqual(cache.stats, { hits: 0, misses: 2 });
});

test('PCR 10 is part of the key of an IMA verification even when the list has no entry for it', async () => {
  const { createHash } = await import('node:crypto');
  const { imaNgTemplateData } = await import('../../src/simulator/ima.js');
  const data = imaNgTemplateData('sha256', Buffer.alloc(32, 0xab), '/usr/bin/bash');
  const line = `14 ${createHash('sha1').update(data).digest('hex')} ima-ng sha256:${'ab'.repeat(32)} /usr/bin/bash\n`;
  const { parseImaAscii } = await import('../../src/eventlog/ima/parse.js');
  const { replayIma } = await import('../../src/eventlog/ima/replay.js');
  const pcr14 = replayIma(parseImaAscii(line), 'sha256').pcrs.get(14)!;
  const ima = Buffer.from(line);
  const quote = (pcr10?: Buffer): PcrValues => new Map([['sha256', new Map([[14, pcr14], ...(pcr10 ? [[10, pcr10] as const] : [])])]]);
  const cache = new LogVerificationCache();
  // PCR 10 not quoted (nothing relates the list to what IMA measured), at its initial value, extended: three verdicts
  const codes = [];
  for (const q of [quote(), quote(Buffer.alloc(32)), quote(Buffer.alloc(32, 0x10))]) {
    const r = cache.verify({ ima }, q);
    assert.equal(r.ok, false);
    assert.deepEqual(r.checks, verifyLogsAgainstQuote({ ima }, q).checks);
    codes.push(r.checks.find((c) => c.id === 'ima.replay.sha256.10')?.code);
  }
  assert.deepEqual(codes, ['IMA_REPLAY_NO_OVERLAP', 'IMA_REPLAY_MISMATCH', 'IMA_REPLAY_MISMATCH']);
  assert.deepEqual(cache.stats, { hits: 0, misses: 3 });
});

test('an entry keyed on every quoted PCR is never found under a narrower set another log (sharing the sampled key) made known', async () => {
  const { SoftTpm } = await import('../../src/simulator/soft-tpm.js');
  const { firmwareLog, measureBoot, FIRMWARE_PROFILES } = await import('../../src/simulator/firmware.js');
  const { parseEventLog } = await import('../../src/eventlog/parse.js');
  const all = [{ bank: 'sha256' as const, pcrs: Array.from({ length: 24 }, (_, i) => i) }];
  // a log large enough to be sampled, whose PCR 8 events lie outside the sampled bytes
  const profile = { ...FIRMWARE_PROFILES.vm, grubCommands: Array.from({ length: 8 }, (_, i) => `echo pad-${i}-${'x'.repeat(720)}`), kernelFiles: [...FIRMWARE_PROFILES.vm.kernelFiles, ...Array.from({ length: 12 }, (_, i) => `/boot/module-${i}.ko`)] };
  const victim = SoftTpm.create({ banks: ['sha256'], seed: 'log-cache-victim' });
  const fw = firmwareLog(profile, ['sha256']);
  measureBoot(victim, fw);
  const log = Buffer.from(fw.bytes);
  victim.extend('sha256', 8, Buffer.alloc(32, 0xee)); // its PCR 8 no longer matches its log
  const quoted = victim.readPcrs(all);
  assert.equal(verifyLogsAgainstQuote({ eventLog: log }, quoted).ok, false);
  // X: the same bytes where the key samples them, its PCR 8 events renumbered to PCR 5
  const step = Math.floor(log.length / 64);
  const sampled = (i: number): boolean => i < 1024 || i >= log.length - 1024 || (i >= step && i % step < 16);
  const x = Buffer.from(log);
  let moved = 0;
  for (const e of parseEventLog(log).events) {
    if (e.pcrIndex !== 8 || [0, 1, 2, 3].some((k) => sampled(e.offset + k))) continue;
    x.writeUInt32LE(5, e.offset);
    moved++;
  }
  assert.ok(moved > 0, 'the PCR 8 events lie outside the sampled bytes');
  const some = [0, 1, 2, 3, 4, 5, 6, 7, 9];
  const pick = (pcr0?: Buffer): PcrValues => new Map([['sha256', new Map(some.map((i) => [i, i === 0 && pcr0 ? pcr0 : quoted.get('sha256')!.get(i)!]))]]);
  const cache = new LogVerificationCache();
  cache.verify({ eventLog: x }, pick(Buffer.alloc(32, 9))); // X makes a narrow set known for the shared key
  cache.verify({ eventLog: log }, pick()); // the victim's log under a quote without PCR 8: stored under every quoted PCR
  // other logs push the shared key's set out of memory while the victim's entry is kept alive by hits
  for (let i = 0; i < 140; i++) {
    const tpm = SoftTpm.create({ banks: ['sha256'], seed: `log-cache-other-${i}` });
    const other = firmwareLog({ ...profile, grubCommands: [`other ${i}`] }, ['sha256']);
    measureBoot(tpm, other);
    cache.verify({ eventLog: Buffer.from(other.bytes) }, tpm.readPcrs(all));
    if (i % 20 === 0) cache.verify({ eventLog: log }, pick());
  }
  cache.verify({ eventLog: x }, pick(Buffer.alloc(32, 7))); // X makes its narrow set known again
  const v = cache.verify({ eventLog: log }, quoted); // the victim's walk quotes every PCR
  assert.equal(v.ok, false, 'PCR 8 is compared, as a fresh replay does');
  assert.equal(v.eventLog?.pcrs.find((p) => p.pcr === 8)?.status, 'mismatch');
});
