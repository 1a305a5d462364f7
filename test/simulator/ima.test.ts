// The simulated IMA list: its template hashes recomputed here independently
// (and that recomputation checked against lists written by real kernels in
// the corpus), and PCR 10 of every bank equal to the replay of the list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SoftTpm } from '../../src/simulator/soft-tpm.js';
import { ImaMeasurementList } from '../../src/simulator/ima.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { corpusPath } from '../helpers/paths.js';

const H = (alg: string, data: Uint8Array) => createHash(alg).update(data).digest();

/** ima-ng template data written from the kernel's description, not from src/: per field a u32le length, then the field. */
function templateData(algo: string, digestHex: string, path: string): Buffer {
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return [len, b];
  };
  const dng = Buffer.concat([Buffer.from(algo), Buffer.from(':'), Buffer.from([0]), Buffer.from(digestHex, 'hex')]);
  const nng = Buffer.concat([Buffer.from(path), Buffer.from([0])]);
  return Buffer.concat([...field(dng), ...field(nng)]);
}

interface Line {
  pcr: number;
  templateHash: string;
  template: string;
  algo: string;
  digest: string;
  path: string;
}

function parseLines(text: string): Line[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const m = /^(\d+) ([0-9a-f]{40}) (\S+) ([a-z0-9_]+):([0-9a-f]+) (.+)$/.exec(l);
      assert.ok(m, `line: ${l}`);
      return { pcr: Number(m[1]), templateHash: m[2]!, template: m[3]!, algo: m[4]!, digest: m[5]!, path: m[6]! };
    });
}

test('the independent template-hash recomputation reproduces lists written by real kernels (corpus)', (t) => {
  for (const name of ['keylime_ima-log-sha256', 'rustkeylime_ima_log.txt', 'imaevmutils_test_ascii_runtime_measurements']) {
    const path = corpusPath(t, 'ima', name);
    if (!path) return;
    const lines = parseLines(readFileSync(path, 'utf8'));
    assert.ok(lines.length > 0);
    for (const l of lines) assert.equal(H('sha1', templateData(l.algo, l.digest, l.path)).toString('hex'), l.templateHash, `${name}: ${l.path}`);
  }
});

test('measuring the same file as a real kernel did gives the kernel\'s template hash (corpus)', (t) => {
  const path = corpusPath(t, 'ima', 'keylime_ima-log-sha256');
  if (!path) return;
  const list = new ImaMeasurementList(SoftTpm.create());
  for (const l of parseLines(readFileSync(path, 'utf8'))) {
    assert.equal(list.measureDigest(l.path, Buffer.from(l.digest, 'hex')).templateHash.toString('hex'), l.templateHash);
  }
});

test('a generated list verifies: template hashes recomputed, PCR 10 of sha1, sha256 and sha384 equals the replay', () => {
  const tpm = SoftTpm.create();
  tpm.extendData(0, Buffer.from('firmware'));
  tpm.extendData(9, Buffer.from('kernel image'));
  const list = new ImaMeasurementList(tpm);
  list.addBootAggregate();
  list.measureFile('/usr/bin/bash', Buffer.from('#!bash contents'));
  list.measureFile('/etc/ld.so.cache', Buffer.from('cache'));
  list.measureDigest('/usr/lib/with space.so', H('sha256', Buffer.from('lib')));
  const text = list.toText();
  assert.ok(text.endsWith('\n'));
  const lines = parseLines(text);
  assert.equal(lines.length, 4);

  const replay = new Map<string, Buffer>([
    ['sha1', Buffer.alloc(20)],
    ['sha256', Buffer.alloc(32)],
    ['sha384', Buffer.alloc(48)],
  ]);
  for (const l of lines) {
    assert.equal(l.pcr, 10);
    assert.equal(l.template, 'ima-ng');
    assert.equal(l.algo, 'sha256');
    const data = templateData(l.algo, l.digest, l.path);
    assert.equal(H('sha1', data).toString('hex'), l.templateHash);
    for (const [bank, value] of replay) replay.set(bank, H(bank, Buffer.concat([value, H(bank, data)])));
  }
  for (const [bank, value] of replay) assert.deepEqual(tpm.readPcr(bank as 'sha1', 10), value, `PCR 10 ${bank}`);
  assert.equal(lines[1]!.digest, H('sha256', Buffer.from('#!bash contents')).toString('hex'));
  assert.equal(lines[3]!.path, '/usr/lib/with space.so');
});

test('boot_aggregate digests PCRs 0-9 of the sha256 bank (0-7 of sha1 when IMA hashes with SHA-1)', () => {
  const tpm = SoftTpm.create();
  for (let i = 0; i < 10; i++) tpm.extendData(i, Buffer.from(`pcr ${i}`));
  const pcrs = (bank: 'sha1' | 'sha256', last: number) => Buffer.concat(Array.from({ length: last + 1 }, (_, i) => tpm.readPcr(bank, i)));
  const expected256 = H('sha256', pcrs('sha256', 9));
  const expected1 = H('sha1', pcrs('sha1', 7));
  const e256 = new ImaMeasurementList(tpm).addBootAggregate();
  assert.equal(e256.path, 'boot_aggregate');
  assert.deepEqual(e256.fileDigest, expected256);
  const e1 = new ImaMeasurementList(tpm, { fileHash: 'sha1' }).addBootAggregate();
  assert.deepEqual(e1.fileDigest, expected1);
});

test('legacyPaddedSha1 extends non-SHA-1 banks with the zero-padded SHA-1 template hash (kernels before 5.11)', () => {
  const tpm = SoftTpm.create({ banks: ['sha1', 'sha256'] });
  const e = new ImaMeasurementList(tpm, { legacyPaddedSha1: true }).measureFile('/init', Buffer.from('init'));
  const padded = Buffer.concat([e.templateHash, Buffer.alloc(12)]);
  assert.deepEqual(tpm.readPcr('sha256', 10), H('sha256', Buffer.concat([Buffer.alloc(32), padded])));
});

test('paths that would break the text format and digests of the wrong size are refused', () => {
  const list = new ImaMeasurementList(SoftTpm.create());
  assertThrowsCode(() => list.measureFile('/a\nb', Buffer.from('x')), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => list.measureFile('', Buffer.from('x')), 'SIM_INVALID_ARGUMENT');
  assertThrowsCode(() => list.measureDigest('/a', Buffer.alloc(20)), 'SIM_INVALID_ARGUMENT');
  assert.equal(list.entries.length, 0);
});
