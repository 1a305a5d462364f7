// The log writer (used by the swtpm test and by the platform simulator) and
// the replay rules it lets us exercise exactly: StartupLocality 3 and 4
// (H-CRTM), EV_NO_ACTION never extended, SHA-1 format logs, Spec ID Event00.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EventLogWriter } from '../../src/eventlog/writer.js';
import { parseEventLog } from '../../src/eventlog/parse.js';
import { replayEventLog } from '../../src/eventlog/replay.js';
import { EV } from '../../src/eventlog/event-types.js';
import { GUID } from '../../src/eventlog/decode/guid.js';
import { pcrValuesToJson } from '../../src/tpm/pcrs.js';

const h = (alg: string, ...parts: Uint8Array[]): Buffer => Buffer.from(createHash(alg).update(Buffer.concat(parts)).digest());

test('writer round trip: crypto-agile with sha1, sha256, sha384, sha512 and sm3_256; digests and decoded content survive', () => {
  const w = new EventLogWriter({ banks: ['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256'] });
  w.addText(0, EV.S_CRTM_VERSION, 'v1\0', 'utf16le');
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]));
  w.addImageLoad(4, EV.EFI_BOOT_SERVICES_APPLICATION, { sha256: Buffer.alloc(32, 9) }, '\\EFI\\x.efi');
  const log = parseEventLog(w.toBytes());
  assert.equal(log.format, 'crypto-agile');
  assert.deepEqual(log.banks.map((b) => b.name), ['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256']);
  assert.equal(log.events.length, 4);
  const [, crtm, sb, img] = log.events;
  assert.deepEqual(crtm!.content, { kind: 'version', version: 'v1', form: 'utf-16le' });
  assert.equal(sb!.content.kind === 'efi-variable' && sb!.content.enabled, true);
  assert.ok(Object.values(sb!.binding!.banks).every(Boolean));
  assert.equal(img!.content.kind === 'efi-image-load' && img!.content.filePath, '\\EFI\\x.efi');
  assert.deepEqual(img!.digests.find((d) => d.alg?.name === 'sha256')!.digest, Buffer.alloc(32, 9));
  const sm3 = replayEventLog(log).get('sm3_256')!.get(0)!;
  assert.deepEqual(sm3, h('sm3', Buffer.alloc(32), h('sm3', Buffer.from('v1\0', 'utf16le'))));
});

test('StartupLocality 3 and 4 (H-CRTM) set PCR 0 to 00..0L before the first extend; EV_NO_ACTION is never extended', () => {
  for (const locality of [3, 4]) {
    const w = new EventLogWriter({ banks: ['sha256'] });
    w.addStartupLocality(locality);
    w.add({ pcr: 0, type: EV.EFI_HCRTM_EVENT, data: Buffer.from('HCRTM'), digests: { sha256: Buffer.alloc(32, 0xaa) } });
    w.add({ pcr: 0, type: EV.NO_ACTION, data: Buffer.from('SP800-155 Event3\0 reference manifest') });
    const log = parseEventLog(w.toBytes());
    assert.equal(log.startupLocality, locality);
    const start = Buffer.alloc(32);
    start[31] = locality;
    assert.deepEqual(replayEventLog(log).get('sha256')!.get(0), h('sha256', start, Buffer.alloc(32, 0xaa)));
    assert.equal(log.events[3]!.content.kind === 'no-action' && log.events[3]!.content.signature, 'SP800-155 Event3');
  }
  // the extends a TPM must see leave EV_NO_ACTION out
  const w = new EventLogWriter({ banks: ['sha1'] });
  w.addStartupLocality(3).addSeparator(0);
  assert.deepEqual(w.extends().map((x) => x.pcr), [0]);
});

test('SHA-1 format logs, with and without a Spec ID Event00', () => {
  const w = new EventLogWriter({ banks: ['sha1'], format: 'sha1' });
  w.addSeparator(4).addText(5, EV.EFI_ACTION, 'Exit Boot Services Invocation');
  const plain = parseEventLog(w.toBytes());
  assert.equal(plain.format, 'sha1');
  assert.equal(plain.specId, undefined);
  const body = Buffer.concat([Buffer.from('Spec ID Event00\0', 'latin1'), Buffer.from([0, 0, 0, 0, 2, 1, 0, 2, 0])]);
  const head = Buffer.alloc(32);
  head.writeUInt32LE(EV.NO_ACTION, 4);
  head.writeUInt32LE(body.length, 28);
  const withSpec = parseEventLog(Buffer.concat([head, body, w.toBytes()]));
  assert.equal(withSpec.format, 'sha1');
  assert.equal(withSpec.specId?.signature, 'Spec ID Event00');
  assert.deepEqual(withSpec.specId?.specVersion, { major: 1, minor: 2, errata: 0 });
  assert.deepEqual(pcrValuesToJson(replayEventLog(withSpec)), pcrValuesToJson(replayEventLog(plain)));
  assert.throws(() => new EventLogWriter({ banks: ['sha256'], format: 'sha1' }));
});
