// The vPlatform table of protocol sections 5 and 5.1: entry digests, replay
// into PCR 23, lifecycle rules, hosted-now, issuers, migration source checks,
// and an instance hosted by two platforms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  analyzeVplatformLog,
  checkInstanceHosted,
  checkInstanceMigratedOut,
  checkIssuerRecorded,
  checkSingleHost,
  instancesHostedTwice,
  MAX_VPLATFORM_ENTRIES,
  MAX_VPLATFORM_LISTED,
  parseVplatformLog,
  replayVplatformLog,
  verifyVplatformLog,
  vplatformEntryDigest,
  type VerifiedVplatformTable,
  type VplatformEntryInput,
} from '../../src/verify/vplatform.js';
import { assertThrowsCode } from '../helpers/assert.js';

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const id = (n: number) => sha256(Buffer.from(`instance ${n}`));
const hex = (n: number) => id(n).toString('hex');
const entry = (op: string, n: number, vm?: string): VplatformEntryInput => ({ pcr: 23, op, instance: hex(n), ...(vm ? { vm } : {}) });
const CA_DER = Buffer.from('a CA certificate, DER');

/** PCR 23 computed here from the protocol text: extend SHA-256(op || 0x00 || id) from zeros. */
function expectedPcr(entries: Array<{ op: string; id: Buffer }>): Buffer {
  let pcr = Buffer.alloc(32);
  for (const e of entries) pcr = sha256(pcr, sha256(Buffer.from(e.op, 'ascii'), Buffer.from([0]), e.id));
  return pcr;
}

/** A table as the walker gets it: replayed against the value the quote covers. */
function verified(entries: VplatformEntryInput[]): VerifiedVplatformTable {
  const r = verifyVplatformLog(entries, analyzeVplatformLog(entries).replayed);
  assert.ok(r.table);
  return r.table;
}

test('entry digests and the replay follow the protocol text', () => {
  assert.deepEqual(vplatformEntryDigest('create', id(1)), sha256(Buffer.from('create\0'), id(1)));
  const certHash = sha256(CA_DER);
  assert.deepEqual(vplatformEntryDigest('issuer', certHash), sha256(Buffer.from('issuer\0'), certHash));
  const log = [entry('create', 1), { pcr: 23, op: 'issuer', certificate: certHash.toString('hex') }, entry('migrate-out', 1)];
  const replayed = replayVplatformLog(parseVplatformLog(log));
  assert.deepEqual(
    replayed,
    expectedPcr([
      { op: 'create', id: id(1) },
      { op: 'issuer', id: certHash },
      { op: 'migrate-out', id: id(1) },
    ]),
  );
  assert.deepEqual(replayVplatformLog([]), Buffer.alloc(32), 'an empty log leaves PCR 23 at zeros');
  assertThrowsCode(() => vplatformEntryDigest('create', Buffer.alloc(31)), 'VPLATFORM_ENTRY_INVALID');
  // the id as hex gives the same digest; hex of the wrong length or with a non-hex digit is refused
  assert.deepEqual(vplatformEntryDigest('create', Buffer.from(id(1)).toString('hex')), vplatformEntryDigest('create', id(1)));
  assertThrowsCode(() => vplatformEntryDigest('create', 'ab'.repeat(31)), 'VPLATFORM_ENTRY_INVALID');
  assertThrowsCode(() => vplatformEntryDigest('create', `${'ab'.repeat(31)}ag`), 'VPLATFORM_ENTRY_INVALID');
  assertThrowsCode(() => vplatformEntryDigest('x'.repeat(100) as 'create', id(1)), 'VPLATFORM_ENTRY_INVALID');
});

test('verifyVplatformLog passes when the replay equals the quoted PCR 23 and reports expected vs actual otherwise', () => {
  const log = [entry('create', 1, 'web-1'), entry('create', 2, 'db-1')];
  const quoted = expectedPcr([
    { op: 'create', id: id(1) },
    { op: 'create', id: id(2) },
  ]);
  const ok = verifyVplatformLog(log, quoted);
  assert.deepEqual(
    ok.checks.map((c) => [c.id, c.status]),
    [
      ['vplatform.replay', 'pass'],
      ['vplatform.lifecycle', 'pass'],
    ],
  );
  assert.ok(ok.table);
  assert.deepEqual([...ok.table.hostedNow].sort(), [hex(1), hex(2)].sort());

  const truncated = verifyVplatformLog(log.slice(0, 1), quoted);
  assert.equal(truncated.table, null, 'no table to check against when the log is not what was quoted');
  assert.equal(truncated.checks.length, 1);
  const c = truncated.checks[0]!;
  assert.equal(c.status, 'fail');
  assert.equal(c.code, 'VPLATFORM_REPLAY_MISMATCH');
  assert.equal(c.expected, quoted.toString('hex'));
  assert.equal(c.actual, expectedPcr([{ op: 'create', id: id(1) }]).toString('hex'));

  const reordered = verifyVplatformLog([log[1]!, log[0]!], quoted);
  assert.equal(reordered.checks[0]!.code, 'VPLATFORM_REPLAY_MISMATCH', 'order matters');
  assert.equal(verifyVplatformLog(log, quoted.subarray(0, 20)).checks[0]!.code, 'VPLATFORM_REPLAY_MISMATCH');
});

test('hosted now after create, migrate-out, migrate-in and destroy sequences', () => {
  const table = verified([
    entry('create', 1), // hosted
    entry('create', 2),
    entry('migrate-out', 2), // moved away
    entry('migrate-in', 3), // arrived
    entry('create', 4),
    entry('destroy', 4), // gone
    entry('migrate-in', 5),
    entry('migrate-out', 5),
    entry('migrate-in', 5), // moved away and back: a new residency
  ]);
  assert.deepEqual(table.violations, []);
  assert.deepEqual([...table.hostedNow].sort(), [hex(1), hex(3), hex(5)].sort());
  for (const n of [1, 3, 5]) assert.equal(checkInstanceHosted(table, id(n)).status, 'pass');
  for (const n of [2, 4, 6]) {
    const c = checkInstanceHosted(table, hex(n));
    assert.equal(c.status, 'fail');
    // recorded and gone (migrate-out, destroy) vs never recorded (a relayed or wrong platform)
    assert.equal(c.code, n === 6 ? 'VPLATFORM_INSTANCE_NOT_HOSTED' : 'VPLATFORM_INSTANCE_LEFT');
  }
  assert.equal(checkInstanceHosted(table, hex(2)).actual, 'migrate-out');
  assert.equal(checkInstanceHosted(table, hex(6)).actual, 'absent');
  assert.equal(checkInstanceHosted(table, hex(1).toUpperCase()).status, 'pass', 'hex case does not matter');
  assert.deepEqual(table.instances.get(hex(5))?.entries, [6, 7, 8]);
});

test('lifecycle violations are flagged, and hosting checks on the offending instance fail', () => {
  const log = [
    entry('create', 1),
    entry('create', 1), // already hosted
    entry('destroy', 2), // never had it
    entry('create', 3),
    entry('destroy', 3),
    entry('create', 3), // destroyed ids never return
    entry('create', 4),
    entry('migrate-out', 4),
    entry('create', 4), // it lives elsewhere now
    entry('create', 5),
    entry('migrate-out', 5),
    entry('destroy', 5), // migrated out, nothing left to destroy
  ];
  const r = verifyVplatformLog(log, analyzeVplatformLog(log).replayed);
  assert.equal(r.checks[0]!.status, 'pass', 'the log replays');
  const lifecycle = r.checks[1]!;
  assert.equal(lifecycle.code, 'VPLATFORM_LIFECYCLE_VIOLATION');
  const table = r.table!;
  assert.deepEqual(
    table.violations.map((v) => [v.index, v.op, v.before]),
    [
      [1, 'create', 'hosted'],
      [2, 'destroy', 'absent'],
      [5, 'create', 'destroyed'],
      [8, 'create', 'migrated-out'],
      [11, 'destroy', 'migrated-out'],
    ],
  );
  assert.deepEqual((lifecycle.actual as unknown[]).length, 5);
  // Hosted now is still "last entry create or migrate-in", but checking such an instance fails.
  assert.ok(table.hostedNow.has(hex(1)));
  assert.equal(checkInstanceHosted(table, hex(1)).code, 'VPLATFORM_LIFECYCLE_VIOLATION');
  assert.equal(checkInstanceHosted(table, hex(3)).code, 'VPLATFORM_LIFECYCLE_VIOLATION');
  // An instance with a clean history on the same host is unaffected.
  const withClean = verified([...log, entry('create', 9)]);
  assert.equal(checkInstanceHosted(withClean, hex(9)).status, 'pass');
});

test('a hostile log with many violations reports a bounded list', () => {
  const log = Array.from({ length: 5_000 }, () => entry('destroy', 1));
  const r = verifyVplatformLog(log, analyzeVplatformLog(log).replayed);
  assert.equal(r.table!.violations.length, 5_000);
  assert.equal((r.checks[1]!.actual as unknown[]).length, 10);
});

test('a hostile log that replays: the hosted and issuer checks list at most MAX_VPLATFORM_LISTED, and say how many there are', () => {
  // 5,000 creates of one instance (4,999 violations) and 5,000 issuers, every one replaying: each check listed them all.
  const log: VplatformEntryInput[] = [
    ...Array.from({ length: 5_000 }, () => entry('create', 1)),
    ...Array.from({ length: 5_000 }, (_, i) => ({ pcr: 23, op: 'issuer', certificate: sha256(Buffer.from(`CA ${i}`)).toString('hex') })),
  ];
  const table = verified(log);
  const hosted = checkInstanceHosted(table, hex(1));
  assert.equal(hosted.code, 'VPLATFORM_LIFECYCLE_VIOLATION');
  assert.equal((hosted.actual as unknown[]).length, MAX_VPLATFORM_LISTED);
  assert.match(hosted.message, /4999 violations; the first 10 listed/);
  const issuer = checkIssuerRecorded(table, CA_DER);
  assert.equal(issuer.code, 'VPLATFORM_ISSUER_NOT_RECORDED');
  assert.deepEqual(issuer.actual, [...table.issuers].slice(0, MAX_VPLATFORM_LISTED));
  assert.match(issuer.message, /5000 recorded; the first 10 listed/);
  assert.ok(JSON.stringify([hosted, issuer]).length < 4_000);
});

test('issuer entries record CA certificate hashes; issuer binding passes only for a recorded CA', () => {
  const other = Buffer.from('another CA');
  const table = verified([{ pcr: 23, op: 'issuer', certificate: sha256(CA_DER).toString('hex') }, entry('create', 1)]);
  assert.deepEqual([...table.issuers], [sha256(CA_DER).toString('hex')]);
  assert.equal(checkIssuerRecorded(table, CA_DER).status, 'pass');
  const c = checkIssuerRecorded(table, other);
  assert.equal(c.code, 'VPLATFORM_ISSUER_NOT_RECORDED');
  assert.equal(c.expected, sha256(other).toString('hex'));
  assert.deepEqual(c.actual, [sha256(CA_DER).toString('hex')]);
  assert.equal(table.instances.size, 1, 'issuers are not instances');
});

test('the source of a migration must show migrate-out: still hosted and never-migrated are distinct failures', () => {
  const table = verified([entry('create', 1), entry('migrate-out', 1), entry('create', 2), entry('create', 3), entry('destroy', 3)]);
  assert.equal(checkInstanceMigratedOut(table, id(1)).status, 'pass');
  assert.equal(checkInstanceMigratedOut(table, id(2)).code, 'VPLATFORM_STILL_HOSTED');
  assert.equal(checkInstanceMigratedOut(table, id(3)).code, 'VPLATFORM_NOT_MIGRATED_OUT');
  assert.equal(checkInstanceMigratedOut(table, id(4)).code, 'VPLATFORM_NOT_MIGRATED_OUT');
});

test('an instance hosted by two platforms is detectable from their verified tables', () => {
  const hostA = verified([entry('create', 1), entry('create', 2)]);
  const hostB = verified([entry('migrate-in', 1), entry('create', 3)]); // a clone of 1 (A never recorded migrate-out)
  const hostC = verified([entry('migrate-in', 2), entry('migrate-out', 2)]);
  const tables = [
    { platform: 'https://a.example', table: hostA },
    { platform: 'https://b.example', table: hostB },
    { platform: 'https://c.example', table: hostC },
  ];
  assert.deepEqual(instancesHostedTwice(tables), [{ instance: hex(1), platforms: ['https://a.example', 'https://b.example'] }]);
  const twice = checkSingleHost(id(1), tables);
  assert.equal(twice.code, 'VPLATFORM_HOSTED_TWICE');
  assert.deepEqual(twice.actual, ['https://a.example', 'https://b.example']);
  assert.equal(checkSingleHost(id(2), tables).status, 'pass');
  assert.equal(checkSingleHost(id(3), tables).status, 'pass');
});

test('malformed entries are VPLATFORM_ENTRY_INVALID with the index and field; oversized logs are refused', () => {
  const good = entry('create', 1);
  const cases: Array<[unknown, string]> = [
    [{ ...good, pcr: 22 }, 'pcr'],
    [{ ...good, pcr: '23' }, 'pcr'],
    [{ ...good, op: 'clone' }, 'op'],
    [{ ...good, op: 'Create' }, 'op'],
    [{ ...good, instance: hex(1).slice(2) }, 'instance'],
    [{ ...good, instance: `${hex(1).slice(2)}zz` }, 'instance'],
    [{ ...good, instance: undefined }, 'instance'],
    [{ ...good, instance: new Uint8Array(31) }, 'instance'],
    [{ ...good, certificate: hex(2) }, 'certificate'],
    [{ ...good, vm: 7 }, 'vm'],
    [{ ...good, vm: 'x'.repeat(1025) }, 'vm'],
    [{ pcr: 23, op: 'issuer' }, 'certificate'],
    [{ pcr: 23, op: 'issuer', certificate: hex(1), instance: hex(2) }, 'instance'],
    [null, ''],
    ['create', ''],
  ];
  for (const [bad, field] of cases) {
    const err = assertThrowsCode(() => parseVplatformLog([good, bad as VplatformEntryInput]), 'VPLATFORM_ENTRY_INVALID');
    assert.equal(err.details['index'], 1, JSON.stringify(bad));
    assert.equal(err.details['field'], field, JSON.stringify(bad));
  }
  assertThrowsCode(() => parseVplatformLog({} as unknown as VplatformEntryInput[]), 'VPLATFORM_ENTRY_INVALID');
  assertThrowsCode(() => verifyVplatformLog(new Array(MAX_VPLATFORM_ENTRIES + 1).fill(good), Buffer.alloc(32)), 'VPLATFORM_LOG_TOO_LARGE');
  // Raw bytes and uppercase hex are the same instance.
  const a = parseVplatformLog([{ pcr: 23, op: 'create', instance: id(1) }, { pcr: 23, op: 'destroy', instance: hex(1).toUpperCase() }]);
  assert.equal(a[0]!.op !== 'issuer' && a[0]!.instance, hex(1));
  assert.equal(a[1]!.op !== 'issuer' && a[1]!.instance, hex(1));
});

test('property: hosted now = instances whose last entry is create or migrate-in, and the replay is order-sensitive', () => {
  const ops = ['create', 'destroy', 'migrate-in', 'migrate-out'] as const;
  fc.assert(
    fc.property(fc.array(fc.record({ op: fc.constantFrom(...ops), n: fc.integer({ min: 0, max: 4 }) }), { maxLength: 40 }), (steps) => {
      const log = steps.map((s) => entry(s.op, s.n));
      const table = analyzeVplatformLog(log);
      const last = new Map<number, string>();
      for (const s of steps) last.set(s.n, s.op);
      const oracle = [...last].filter(([, op]) => op === 'create' || op === 'migrate-in').map(([n]) => hex(n));
      assert.deepEqual([...table.hostedNow].sort(), oracle.sort());
      assert.deepEqual(table.replayed, expectedPcr(steps.map((s) => ({ op: s.op, id: id(s.n) }))));
    }),
    { numRuns: 200 },
  );
});

test('VplatformLogCache gives verifyVplatformLog\'s result for any next log, replaying only what was appended', async () => {
  const { VplatformLogCache } = await import('../../src/verify/vplatform-cache.js');
  const summary = (r: ReturnType<typeof verifyVplatformLog>) => ({
    checks: r.checks,
    hosted: r.table ? [...r.table.hostedNow].sort() : null,
    issuers: r.table ? [...r.table.issuers].sort() : null,
    violations: r.table?.violations ?? null,
    entries: r.table?.entries.length ?? null,
  });
  const ops = ['create', 'destroy', 'migrate-in', 'migrate-out'] as const;
  const step = fc.record({ op: fc.constantFrom(...ops), n: fc.integer({ min: 0, max: 3 }) });
  fc.assert(
    fc.property(
      fc.array(step, { maxLength: 12 }),
      fc.array(fc.record({ kind: fc.constantFrom('append', 'change', 'truncate', 'same', 'badQuote'), more: fc.array(step, { maxLength: 4 }), at: fc.nat() }), { maxLength: 5 }),
      (first, nexts) => {
        const cache = new VplatformLogCache();
        let log = first.map((s) => entry(s.op, s.n));
        for (const next of [{ kind: 'same', more: [], at: 0 }, ...nexts]) {
          if (next.kind === 'append') log = [...log, ...next.more.map((s) => entry(s.op, s.n))];
          if (next.kind === 'change' && log.length > 0) log = log.map((e, i) => (i === next.at % log.length ? { ...e, op: e.op === 'create' ? 'destroy' : 'create' } : e));
          if (next.kind === 'truncate') log = log.slice(0, next.at % (log.length + 1));
          const quoted = next.kind === 'badQuote' ? Buffer.alloc(32, 9) : analyzeVplatformLog(log).replayed;
          assert.deepEqual(summary(cache.verify('host-a', log, quoted)), summary(verifyVplatformLog(log, quoted)));
        }
      },
    ),
    { numRuns: 150 },
  );

  const cache = new VplatformLogCache();
  const log = Array.from({ length: 50 }, (_, i) => entry('create', i));
  const pcr = (l: VplatformEntryInput[]) => analyzeVplatformLog(l).replayed;
  cache.verify('host', log, pcr(log));
  cache.verify('host', log, pcr(log));
  const grown = [...log, entry('destroy', 3)];
  const r = cache.verify('host', grown, pcr(grown));
  assert.equal(checkInstanceHosted(r.table!, id(3)).code, 'VPLATFORM_INSTANCE_LEFT');
  assert.deepEqual(cache.stats, { full: 1, reused: 1, extended: 1 });
  // A forged log with the cached prefix but a different quoted value is still caught.
  assert.equal(cache.verify('host', [...grown, entry('create', 99)], pcr(grown)).table, null);
  // Eviction by total entries: 50 + 10 + 10 do not fit under 60, so a platform went.
  const small = new VplatformLogCache({ maxEntries: 60 });
  small.verify('a', log, pcr(log));
  small.verify('b', log.slice(0, 10), pcr(log.slice(0, 10)));
  assert.deepEqual(small.size, { platforms: 2, entries: 60 });
  small.verify('c', log.slice(0, 10), pcr(log.slice(0, 10)));
  assert.ok(small.size.entries <= 60 && small.size.platforms < 3, JSON.stringify(small.size));
  // a log larger than the whole cache is verified, never kept
  const tiny = new VplatformLogCache({ maxEntries: 10 });
  assert.ok(tiny.verify('a', log, pcr(log)).table);
  assert.deepEqual(tiny.size, { platforms: 0, entries: 0 });
});

test('VplatformLogCache past its bound: hosts visited in turn still hit (random eviction), where least-recently-used would never', async () => {
  const { VplatformLogCache } = await import('../../src/verify/vplatform-cache.js');
  // 10 hosts of 100 entries each, room for 500: a fleet audit whose inventory does not group VMs by host
  const hosts = Array.from({ length: 10 }, (_, h) => {
    const log = Array.from({ length: 100 }, (_, i) => entry('create', h * 1000 + i));
    return { name: `host-${h}`, log, quoted: analyzeVplatformLog(log).replayed };
  });
  const cache = new VplatformLogCache({ maxEntries: 500 });
  for (const h of hosts) cache.verify(h.name, h.log, h.quoted);
  const before = { ...cache.stats };
  const rounds = 20;
  for (let r = 0; r < rounds; r++) {
    for (const h of hosts) {
      const v = cache.verify(h.name, h.log, h.quoted);
      assert.deepEqual(v.checks, verifyVplatformLog(h.log, h.quoted).checks, 'a hit gives the same result');
      assert.ok(cache.size.entries <= 500);
    }
  }
  const hits = cache.stats.reused - before.reused;
  const total = rounds * hosts.length;
  // LRU: 0 of 200 (each table evicted just before its turn). Random eviction: 36 here, deterministic
  // (the cache's generator is seeded); more as the room approaches the tables' total.
  assert.ok(hits >= total * 0.15, `${hits} hits of ${total}`);
});

test('VplatformLogCache hits for logs as evidence carries them (instance ids as raw bytes), and still notices a changed byte', async () => {
  const { VplatformLogCache } = await import('../../src/verify/vplatform-cache.js');
  const raw = (op: string, n: number): VplatformEntryInput => ({ pcr: 23, op, instance: id(n) });
  const log = Array.from({ length: 20 }, (_, i) => raw('create', i));
  const quoted = analyzeVplatformLog(log).replayed;
  const cache = new VplatformLogCache();
  cache.verify('vmm', log, quoted);
  const again = log.map((e) => ({ ...e, instance: Buffer.from(e.instance as Buffer) }));
  assert.deepEqual(cache.verify('vmm', again, quoted).checks, verifyVplatformLog(again, quoted).checks);
  const grown = [...again, raw('destroy', 4)];
  cache.verify('vmm', grown, analyzeVplatformLog(grown).replayed);
  assert.deepEqual(cache.stats, { full: 1, reused: 1, extended: 1 });
  // one byte of one instance id differs: verified from scratch, and the replay no longer matches
  const changed = grown.map((e, i) => (i === 7 ? { ...e, instance: Buffer.from(id(7)).fill(1, 0, 1) } : e));
  assert.equal(cache.verify('vmm', changed, analyzeVplatformLog(grown).replayed).table, null);
  assert.equal(cache.stats.full, 2);
});
