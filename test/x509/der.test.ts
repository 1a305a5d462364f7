// The strict DER reader: every BER-only form is rejected with the context's
// code and an offset; tolerated deviations are recorded. Also records why we
// do not decode with asn1js: it accepts all of these.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as asn1js from 'asn1js';
import { DerReader, TAG, derContext } from '../../src/x509/der.js';
import { assertThrowsCode } from '../helpers/assert.js';

function reader(hex: string): DerReader {
  return new DerReader(Buffer.from(hex.replace(/\s+/g, ''), 'hex'), derContext('test', { malformed: 'CERT_MALFORMED', notDer: 'CERT_NOT_DER', badTime: 'CERT_BAD_TIME' }));
}

const BER_ONLY: [string, string, (r: DerReader) => unknown][] = [
  ['non-minimal long-form length', '30 81 03 02 01 05', (r) => r.enter('x')],
  ['length with a leading zero octet', '30 82 00 03 02 01 05', (r) => r.enter('x')],
  ['indefinite length', '30 80 02 01 05 00 00', (r) => r.enter('x')],
  ['constructed OCTET STRING', '24 06 04 01 aa 04 01 bb', (r) => r.octetString('x')],
  ['BOOLEAN true that is not 0xff', '01 01 01', (r) => r.boolean('x')],
  ['INTEGER with a redundant 0x00', '02 02 00 05', (r) => r.integerBytes('x')],
  ['INTEGER with a redundant 0xff', '02 02 ff 85', (r) => r.integerBytes('x')],
  ['OID arc with a leading 0x80', '06 03 2a 80 01', (r) => r.oid('x')],
  ['high tag form for a low tag number', '1f 02 00', (r) => r.next('x')],
];

for (const [name, hex, read] of BER_ONLY) {
  test(`DER reader rejects ${name} (CERT_NOT_DER), which asn1js accepts`, () => {
    const err = assertThrowsCode(() => read(reader(hex)), 'CERT_NOT_DER');
    assert.equal(typeof err.details['offset'], 'number');
    const ber = asn1js.fromBER(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
    if (name !== 'high tag form for a low tag number') assert.notEqual(ber.offset, -1, 'asn1js accepts it');
  });
}

test('DER reader: truncated and overlong input is CERT_MALFORMED, never a RangeError', () => {
  for (const hex of ['30', '30 05 02 01', '30 84 ff ff ff ff 00', '30 85 00 00 00 00 01', '', '06 00', '03 00', '03 02 08 00', '01 02 ff ff']) {
    assertThrowsCode(() => {
      const r = reader(hex);
      const el = r.next('x');
      const inner = r.inside(el);
      if (el.tag === TAG.OID) r.decodeOid(el, 'x');
      if (el.tag === TAG.SEQUENCE) inner.next('y');
      if (hex.startsWith('03')) reader(hex).bitString('x');
      if (hex.startsWith('01')) reader(hex).boolean('x');
    }, 'CERT_MALFORMED');
  }
});

test('DER reader: trailing data inside a structure is reported with the tag that follows', () => {
  const r = reader('30 06 02 01 05 02 01 06');
  const seq = r.enter('x');
  seq.integerBytes('a');
  const err = assertThrowsCode(() => seq.end('x'), 'CERT_MALFORMED');
  assert.match(err.message, /tag 0x2/);
});

test('DER reader: times in the RFC 5280 form only, and real dates', () => {
  const time = (text: string, tag = 0x17): number => reader(Buffer.from([tag, text.length, ...Buffer.from(text)]).toString('hex')).time('t');
  assert.equal(time('491231235959Z'), Date.UTC(2049, 11, 31, 23, 59, 59));
  assert.equal(time('500101000000Z'), Date.UTC(1950, 0, 1));
  assert.equal(time('99991231235959Z', 0x18), Date.UTC(9999, 11, 31, 23, 59, 59));
  for (const bad of ['4912312359Z', '491231235959+0100', '490230000000Z', '491231245959Z', '49123123595aZ']) {
    assertThrowsCode(() => time(bad), 'CERT_BAD_TIME');
  }
  assertThrowsCode(() => time('20250101000000.5Z', 0x18), 'CERT_BAD_TIME');
});

test('DER reader: GeneralizedTime years 0000-0099 are those years, not 1900-1999', () => {
  const time = (text: string): number => reader(Buffer.from([0x18, text.length, ...Buffer.from(text)]).toString('hex')).time('t');
  // Go's zero time, which Go programs write as a notBefore
  assert.equal(time('00010101000000Z'), Date.parse('0001-01-01T00:00:00Z'));
  assert.equal(new Date(time('00010101000000Z')).toISOString(), '0001-01-01T00:00:00.000Z');
  assert.equal(new Date(time('00991231235959Z')).toISOString(), '0099-12-31T23:59:59.000Z');
  // the year 0 of the proleptic Gregorian calendar is a leap year; the year 1 is not
  assert.equal(new Date(time('00000229000000Z')).toISOString(), '0000-02-29T00:00:00.000Z');
  assertThrowsCode(() => time('00010229000000Z'), 'CERT_BAD_TIME');
  assertThrowsCode(() => time('00011301000000Z'), 'CERT_BAD_TIME');
});

test('DER reader: SET OF out of order, explicit DEFAULT, padding bits are recorded, not rejected', () => {
  const r = reader('31 06 02 01 07 02 01 05');
  const set = r.enter('s', TAG.SET);
  const a = set.next('a');
  const b = set.next('b');
  set.checkSetOrder([a, b], 'names', 0);
  assert.deepEqual(r.ctx.deviations.map((d) => d.kind), ['set-order']);
  const bits = reader('03 02 01 07');
  assert.deepEqual([...bits.bitString('k').bytes], [0x07]);
  assert.deepEqual(bits.ctx.deviations.map((d) => d.kind), ['bit-padding']);
});

test('DER reader: OIDs decode per X.690 8.19 (first arcs and big arcs)', () => {
  assert.equal(reader('06 03 55 1d 13').oid('x'), '2.5.29.19');
  assert.equal(reader('06 05 67 81 05 02 01').oid('x'), '2.23.133.2.1');
  const uuidOid = '06 14 69 83 ee 92 85 ac b0 98 ca 88 d3 b5 de df af f8 97 90 89 6d';
  assert.equal(reader(uuidOid).oid('x'), '2.25.328412993189898150595886742112143934701');
  // An independent encoder (X.690 8.19): asn1js emits an empty OID for a huge first arc.
  const encode = (oid: string): string => {
    const arcs = oid.split('.').map(BigInt);
    const subs = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
    const bytes: number[] = [];
    for (const sub of subs) {
      const group: number[] = [Number(sub & 0x7fn)];
      for (let v = sub >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
      bytes.push(...group);
    }
    return Buffer.from([0x06, bytes.length, ...bytes]).toString('hex');
  };
  for (const oid of ['2.100000000000000000000', '1.2.840.113549.1.1.11', '2.25.70368744177663', '2.25.70368744177664.1', '0.9.2342.19200300.100.1.25', '2.25.328412993189898150595886742112143934701']) {
    assert.equal(reader(encode(oid)).oid('x'), oid);
  }
});
