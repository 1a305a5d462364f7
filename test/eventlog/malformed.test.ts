// Hostile and broken event logs: truncation anywhere, sizes past the end or
// above a cap, digest counts that disagree with the Spec ID table, a million
// tiny events, random mutations. Always a typed error or a bounded parse;
// never a raw exception.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseEventLog } from '../../src/eventlog/parse.js';
import { replayEventLog } from '../../src/eventlog/replay.js';
import { EVENTLOG_CAPS } from '../../src/eventlog/caps.js';
import { EV } from '../../src/eventlog/event-types.js';
import { GUID } from '../../src/eventlog/decode/guid.js';
import { EventLogWriter } from '../../src/eventlog/writer.js';
import { VtpmError } from '../../src/errors.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { corpusPath } from '../helpers/paths.js';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};

/** A Spec ID event with the given algorithm table rows (id, size) and trailing fields. */
function specId(rows: [number, number][], opts: { count?: number; vendorInfoSize?: number; vendor?: Buffer; extra?: Buffer } = {}): Buffer {
  const body = Buffer.concat([
    Buffer.from('Spec ID Event03\0', 'latin1'), // signature[16]
    u32(0), // platformClass
    Buffer.from([0, 2, 0, 2]), // specVersionMinor, Major, Errata, uintnSize
    u32(opts.count ?? rows.length), // numberOfAlgorithms
    ...rows.map(([id, size]) => Buffer.concat([u16(id), u16(size)])), // digestSizes[]
    Buffer.from([opts.vendorInfoSize ?? (opts.vendor?.length ?? 0)]), // vendorInfoSize
    opts.vendor ?? Buffer.alloc(0),
    opts.extra ?? Buffer.alloc(0),
  ]);
  return Buffer.concat([u32(0), u32(EV.NO_ACTION), Buffer.alloc(20), u32(body.length), body]);
}

/** A TCG_PCR_EVENT2 with raw digest entries. */
function event2(pcr: number, type: number, digests: [number, Buffer][], data: Buffer, opts: { count?: number; size?: number } = {}): Buffer {
  return Buffer.concat([u32(pcr), u32(type), u32(opts.count ?? digests.length), ...digests.map(([id, d]) => Buffer.concat([u16(id), d])), u32(opts.size ?? data.length), data]);
}

const SHA1 = 0x0004;
const SHA256 = 0x000b;
const d20 = Buffer.alloc(20, 1);
const d32 = Buffer.alloc(32, 2);

test('a log cut at any byte parses to the events before the cut, or fails with EVENTLOG_TRUNCATED', (t) => {
  const p = corpusPath(t, 'eventlogs', 'tpm2tools_event-sd-boot-fedora37.bin');
  if (!p) return;
  const full = readFileSync(p);
  const boundaries = new Set(parseEventLog(full).events.map((e) => e.offset + e.raw.length));
  const codes = new Map<string, number>();
  for (let n = 1; n < full.length; n++) {
    try {
      const log = parseEventLog(full.subarray(0, n));
      assert.ok(boundaries.has(n), `a cut at ${n} inside an event parsed`);
      assert.equal(log.events[log.events.length - 1]!.offset + log.events[log.events.length - 1]!.raw.length, n);
    } catch (err) {
      assert.ok(err instanceof VtpmError, `cut at ${n}: ${String(err)}`);
      codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
      assert.ok(!boundaries.has(n), `a cut at event boundary ${n} failed: ${err.message}`);
    }
  }
  assert.deepEqual([...codes.keys()], ['EVENTLOG_TRUNCATED']);
});

test('an event size beyond the remaining bytes, or above the cap, is a typed error naming the event', () => {
  const head = specId([[SHA1, 20]]);
  const err = assertThrowsCode(() => parseEventLog(Buffer.concat([head, event2(0, EV.POST_CODE, [[SHA1, d20]], Buffer.from('abc'), { size: 100 })])), 'EVENTLOG_TRUNCATED');
  assert.equal(err.details['event'], 1);
  assert.equal(err.details['field'], 'event data');
  const big = assertThrowsCode(() => parseEventLog(Buffer.concat([head, event2(0, EV.POST_CODE, [[SHA1, d20]], Buffer.alloc(0), { size: EVENTLOG_CAPS.maxEventDataBytes + 1 })])), 'EVENTLOG_EVENT_TOO_LARGE');
  assert.equal(big.details['cap'], EVENTLOG_CAPS.maxEventDataBytes);
  // the cap is checked before the bytes are read: 0xFFFFFFFF costs nothing
  assertThrowsCode(() => parseEventLog(Buffer.concat([head, event2(0, EV.POST_CODE, [[SHA1, d20]], Buffer.alloc(0), { size: 0xffffffff })])), 'EVENTLOG_EVENT_TOO_LARGE');
  assertThrowsCode(() => parseEventLog(Buffer.concat([u32(0), u32(1), d20, u32(0xfffffff0)])), 'EVENTLOG_EVENT_TOO_LARGE');
});

test('digest counts and algorithms must agree with the Spec ID table', () => {
  const head = specId([[SHA1, 20], [SHA256, 32]]);
  const data = Buffer.from('x');
  assertThrowsCode(() => parseEventLog(Buffer.concat([head, event2(0, 1, [], data)])), 'EVENTLOG_DIGEST_COUNT_MISMATCH');
  assertThrowsCode(() => parseEventLog(Buffer.concat([head, event2(0, 1, [[SHA1, d20], [SHA256, d32]], data, { count: 3 })])), 'EVENTLOG_DIGEST_COUNT_MISMATCH');
  assertThrowsCode(() => parseEventLog(Buffer.concat([head, event2(0, 1, [[SHA1, d20], [0x000c, Buffer.alloc(48)]], data)])), 'EVENTLOG_UNKNOWN_DIGEST_ALG');
  assertThrowsCode(() => parseEventLog(Buffer.concat([head, event2(0, 1, [[SHA1, d20], [SHA1, d20]], data)])), 'EVENTLOG_UNKNOWN_DIGEST_ALG');
  // fewer digests than banks is allowed: TPM2_PCR_Extend extends only the banks it is given
  const partial = parseEventLog(Buffer.concat([head, event2(3, 1, [[SHA256, d32]], data)]));
  assert.match(partial.notes.join(' '), /fewer banks/);
  assert.equal(replayEventLog(partial).get('sha1')!.size, 0);
  assert.equal(replayEventLog(partial).get('sha256')!.size, 1);
});

test('a malformed Spec ID event is EVENTLOG_SPEC_ID_INVALID, whatever is wrong with it', () => {
  const bad: [string, Buffer][] = [
    ['no algorithms', specId([])],
    ['17 algorithms', specId(Array.from({ length: 17 }, (_, i) => [0x100 + i, 32] as [number, number]))],
    ['sha256 declared 20 bytes', specId([[SHA256, 20]])],
    ['an algorithm twice', specId([[SHA1, 20], [SHA1, 20]])],
    ['an unknown algorithm with 65-byte digests', specId([[0x1234, 65]])],
    ['vendorInfo past the event', specId([[SHA1, 20]], { vendorInfoSize: 4 })],
    ['bytes after vendorInfo', specId([[SHA1, 20]], { extra: Buffer.from([1]) })],
    ['numberOfAlgorithms larger than the table', specId([[SHA1, 20]], { count: 3 })],
  ];
  for (const [why, bytes] of bad) {
    const err = assertThrowsCode(() => parseEventLog(bytes), 'EVENTLOG_SPEC_ID_INVALID');
    assert.match(err.message, /^Spec ID event: /, why);
  }
  // an algorithm vtpm-verify does not know is carried, named and not replayed
  const log = parseEventLog(Buffer.concat([specId([[SHA1, 20], [0x1234, 32]]), event2(0, 1, [[SHA1, d20], [0x1234, d32]], Buffer.from('x'))]));
  assert.deepEqual(log.unsupportedAlgorithms, [0x1234]);
  assert.deepEqual([...replayEventLog(log).keys()], ['sha1']);
});

test('a SHA-1 log\'s "Spec ID Event00" must end at its vendorInfo, as "Spec ID Event03" must', () => {
  /** TCG_EfiSpecIdEventStruct of the TCG EFI Protocol 1.2 in a TCG_PCR_EVENT: no algorithm table. */
  const event00 = (opts: { vendorInfoSize?: number; vendor?: Buffer; extra?: Buffer } = {}): Buffer => {
    const body = Buffer.concat([
      Buffer.from('Spec ID Event00\0', 'latin1'),
      u32(0),
      Buffer.from([2, 1, 0, 2]), // specVersionMinor, Major, Errata, uintnSize
      Buffer.from([opts.vendorInfoSize ?? (opts.vendor?.length ?? 0)]),
      opts.vendor ?? Buffer.alloc(0),
      opts.extra ?? Buffer.alloc(0),
    ]);
    return Buffer.concat([u32(0), u32(EV.NO_ACTION), Buffer.alloc(20), u32(body.length), body]);
  };
  const sep = Buffer.concat([u32(0), u32(EV.SEPARATOR), Buffer.alloc(20, 9), u32(4), u32(0)]);
  const ok = parseEventLog(Buffer.concat([event00({ vendor: Buffer.from([7, 7]) }), sep]));
  assert.equal(ok.format, 'sha1');
  assert.equal(ok.specId?.signature, 'Spec ID Event00');
  assert.deepEqual([...ok.specId!.vendorInfo], [7, 7]);
  for (const [why, bytes] of [
    ['bytes after vendorInfo', event00({ extra: Buffer.from([1, 2, 3]) })],
    ['bytes after a non-empty vendorInfo', event00({ vendor: Buffer.from([7]), extra: Buffer.from([0]) })],
    ['vendorInfo past the event', event00({ vendorInfoSize: 4 })],
  ] as [string, Buffer][]) {
    const err = assertThrowsCode(() => parseEventLog(Buffer.concat([bytes, sep])), 'EVENTLOG_SPEC_ID_INVALID');
    assert.match(err.message, /^Spec ID event: /, why);
  }
});

test('an extending event for a PCR no TPM has is EVENTLOG_BAD_PCR_INDEX; an EV_NO_ACTION trailer with index 0xFFFFFFFF is fine', () => {
  const head = specId([[SHA1, 20]]);
  const err = assertThrowsCode(() => parseEventLog(Buffer.concat([head, event2(32, EV.IPL, [[SHA1, d20]], Buffer.from('x'))])), 'EVENTLOG_BAD_PCR_INDEX');
  assert.equal(err.details['pcrIndex'], 32);
  const ok = parseEventLog(Buffer.concat([head, event2(0xffffffff, EV.NO_ACTION, [[SHA1, Buffer.alloc(20)]], Buffer.from('WBCL trailer'))]));
  assert.equal(ok.events[1]!.pcrIndex, 0xffffffff);
  assert.equal(replayEventLog(ok).get('sha1')!.size, 0);
});

test('a million tiny events stop at the event cap, quickly and with bounded memory', () => {
  // SHA-1 format: 32-byte events (PCR 1, EV_POST_CODE, empty data); 1,000,000 of them is 32 MB, under the log-size cap.
  const one = Buffer.concat([u32(1), u32(EV.POST_CODE), d20, u32(0)]);
  const log = Buffer.alloc(one.length * 1_000_000);
  for (let i = 0; i < 1_000_000; i++) one.copy(log, i * one.length);
  const heapBefore = process.memoryUsage().heapUsed;
  const err = assertThrowsCode(() => parseEventLog(log), 'EVENTLOG_TOO_MANY_EVENTS');
  assert.equal(err.details['cap'], EVENTLOG_CAPS.maxEvents);
  assert.equal(err.details['offset'], EVENTLOG_CAPS.maxEvents * one.length);
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 512 * 1024 * 1024);
  // and a log over the size cap is refused before any parsing
  assertThrowsCode(() => parseEventLog(Buffer.alloc(EVENTLOG_CAPS.maxLogBytes + 1, 0x41)), 'EVENTLOG_TOO_LARGE');
  assertThrowsCode(() => parseEventLog(Buffer.alloc(0)), 'EVENTLOG_EMPTY');
  // smaller caps are honoured too
  assertThrowsCode(() => parseEventLog(log.subarray(0, one.length * 11), { caps: { maxEvents: 10 } }), 'EVENTLOG_TOO_MANY_EVENTS');
});

test('content that does not decode is kept raw with a note; the parse goes on', () => {
  const w = new EventLogWriter({ banks: ['sha256'] });
  w.add({ pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data: Buffer.from('not a UEFI_VARIABLE_DATA') });
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_IMAGE_SECURITY_DATABASE, 'db', Buffer.from('not a signature list, not at all'));
  w.add({ pcr: 4, type: EV.EFI_BOOT_SERVICES_APPLICATION, data: Buffer.alloc(7) });
  w.add({ pcr: 1, type: EV.EFI_HANDOFF_TABLES, data: Buffer.concat([Buffer.alloc(8, 0xff), Buffer.alloc(4)]) });
  w.add({ pcr: 5, type: EV.EFI_GPT_EVENT, data: Buffer.from('EFI PARX') });
  w.addSeparator(7);
  const log = parseEventLog(w.toBytes());
  assert.equal(log.events.length, 7);
  const notes = log.events.slice(1, 6).map((e) => [e.content.kind, e.content.notes?.[0] ?? '']);
  assert.equal(notes[0]![0], 'raw');
  assert.match(notes[0]![1]!, /could not decode/);
  assert.equal(notes[1]![0], 'efi-variable');
  assert.match(notes[1]![1]!, /db: value not decoded/);
  assert.deepEqual(notes.slice(2).map((n) => n[0]), ['raw', 'raw', 'raw']);
  assert.equal(log.events[6]!.content.kind, 'separator');
});

test('other formats are named: CEL-TLV, ACPI tables, IMA lists, text', () => {
  const ima = Buffer.from('10 1d8d532d463c9f8c205d0df7787669a85f93e260 ima-ng sha1:0000000000000000000000000000000000000000 boot_aggregate\n');
  assert.equal(assertThrowsCode(() => parseEventLog(ima), 'EVENTLOG_NOT_PC_CLIENT').details['format'], 'ima-ascii');
  // binary_runtime_measurements: read as a SHA-1 event its size would be the template name's bytes ("too large")
  const name = Buffer.from('ima-ng');
  const data = Buffer.concat([u32(10), Buffer.from('sha1:'), Buffer.alloc(1), Buffer.alloc(20), u32(15), Buffer.from('boot_aggregate\0')]);
  const imaBinary = Buffer.concat([u32(10), Buffer.alloc(20, 0x1d), u32(name.length), name, u32(data.length), data]);
  const e = assertThrowsCode(() => parseEventLog(imaBinary), 'EVENTLOG_NOT_PC_CLIENT');
  assert.equal(e.details['format'], 'ima-binary');
  assert.match(e.message, /binary IMA measurement list .*"ima-ng".*--ima/);
  const cel = Buffer.concat([Buffer.from([0]), Buffer.from('00000008', 'hex'), Buffer.alloc(8), Buffer.from([1]), Buffer.from('00000001', 'hex'), Buffer.from([7]), Buffer.alloc(20, 0x33)]);
  assert.equal(assertThrowsCode(() => parseEventLog(cel), 'EVENTLOG_NOT_PC_CLIENT').details['format'], 'cel-tlv');
  const tcpa = Buffer.concat([Buffer.from('TCPA'), u32(50), Buffer.alloc(42)]);
  assert.equal(assertThrowsCode(() => parseEventLog(tcpa), 'EVENTLOG_NOT_PC_CLIENT').details['format'], 'acpi-tcpa');
});

test('random mutations of a real log never escape as raw exceptions', (t) => {
  const p = corpusPath(t, 'eventlogs', 'tpm2tools_event-sd-boot-fedora37.bin');
  if (!p) return;
  const base = readFileSync(p);
  const mutate = fc.record({
    at: fc.nat({ max: base.length - 1 }),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    cut: fc.option(fc.nat({ max: base.length }), { nil: undefined }),
  });
  fc.assert(
    fc.property(mutate, ({ at, bytes, cut }) => {
      const b = Buffer.from(base);
      b.set(bytes.subarray(0, b.length - at), at);
      try {
        const log = parseEventLog(cut === undefined ? b : b.subarray(0, cut));
        replayEventLog(log);
        JSON.stringify(log.events.map((e) => e.content), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      } catch (err) {
        if (!(err instanceof VtpmError) || err.kind !== 'input') throw err;
      }
    }),
    { numRuns: 3000, seed: 20260526 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), (bytes) => {
      try {
        parseEventLog(bytes);
      } catch (err) {
        if (!(err instanceof VtpmError) || err.kind !== 'input') throw err;
      }
    }),
    { numRuns: 3000, seed: 7 },
  );
});

test('a run of all-zero SHA-1 events ended by one non-zero byte parses in linear time (the padding check does not rescan the tail per event)', () => {
  // 32 zero bytes are a valid SHA-1 event (PCR 0, type 0, zero digest, no data); each used to start a scan for
  // trailing 0x00 fill that ran to the last byte: 30,000 of them (960 KB) took ~25 s.
  const events = 30_000;
  const last = Buffer.concat([u32(0), u32(EV.POST_CODE), Buffer.alloc(20), u32(1), Buffer.of(1)]);
  const log = Buffer.concat([Buffer.alloc(32 * events), last]);
  const t0 = performance.now();
  const parsed = parseEventLog(log);
  const ms = performance.now() - t0;
  assert.equal(parsed.events.length, events + 1);
  assert.equal(parsed.padding, undefined);
  assert.ok(ms < 2000, `parse took ${ms.toFixed(0)} ms`);
  // fill after the last event is still recognised, and one stray byte after it still is not fill
  const filled = parseEventLog(Buffer.concat([last, Buffer.alloc(64)]));
  assert.deepEqual(filled.padding, { offset: last.length, length: 64, byte: 0 });
  assert.equal(parseEventLog(Buffer.concat([last, Buffer.alloc(64, 0xff)])).padding?.byte, 0xff);
  assertThrowsCode(() => parseEventLog(Buffer.concat([last, Buffer.alloc(64, 0xff), Buffer.of(0)])), 'EVENTLOG_EVENT_TOO_LARGE');
});

test("a log's signature lists, partition and handoff tables decode to at most maxListEntriesPerLog entries in all; the rest stay undecoded, with a note", () => {
  // EFI_SIGNATURE_LIST of `count` SHA-256 entries (owner GUID + 32 bytes), or of bare 16-byte entries
  const list = (count: number, dataBytes = 32): Buffer => {
    const b = Buffer.alloc(28 + count * (16 + dataBytes));
    Buffer.from('2616c4c14c509240aca941f936934328', 'hex').copy(b, 0); // EFI_CERT_SHA256
    b.writeUInt32LE(b.length, 16);
    b.writeUInt32LE(16 + dataBytes, 24);
    return b;
  };
  const cap = EVENTLOG_CAPS.maxListEntriesPerLog;
  const db = GUID.EFI_IMAGE_SECURITY_DATABASE;
  const w = new EventLogWriter({ banks: ['sha256'] });
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, db, 'db', list(12_000));
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, db, 'dbt', list(cap - 12_010));
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, db, 'dbx', list(11));
  w.add({ pcr: 1, type: EV.EFI_HANDOFF_TABLES, data: Buffer.concat([Buffer.from([10, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(10 * 24)]) });
  w.add({ pcr: 1, type: EV.EFI_HANDOFF_TABLES, data: Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(24)]) });
  const log = parseEventLog(w.toBytes());
  const [dbEvent, dbtEvent, dbxEvent, tables, over] = log.events.slice(1) as [any, any, any, any, any];
  assert.equal(dbEvent.content.signatureLists[0].signatures.length + dbtEvent.content.signatureLists[0].signatures.length, cap - 10);
  assert.equal(dbxEvent.content.kind, 'efi-variable', 'still a variable: its name is known');
  assert.equal(dbxEvent.content.signatureLists, undefined);
  assert.match(dbxEvent.content.notes[0], new RegExp(`dbx: value not decoded: its signatures would take the log past ${cap} signatures, partitions and tables in all`));
  assert.equal(tables.content.tables.length, 10, 'the ten left');
  assert.equal(over.content.kind, 'raw');
  assert.match(over.content.notes[0], new RegExp(`not decoded: its 1 list entries would take the log past ${cap}`));
  // a 30 MB log of thirty 1 MiB db variables of bare 16-byte entries held 2 million objects, 1 GB of heap: now none decode
  const hostile = new EventLogWriter({ banks: ['sha256'] });
  for (let i = 0; i < 30; i++) hostile.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, db, 'db', list(65_000, 0));
  const parsed = parseEventLog(hostile.toBytes());
  assert.equal(parsed.events.slice(1).filter((e) => e.content.kind === 'efi-variable' && e.content.signatureLists).length, 0);
  assert.equal(parsed.events.length, 31);
});
