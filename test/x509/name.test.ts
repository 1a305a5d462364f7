// Distinguished names: compared as RFC 5280 7.1 asks (RDNs as sets, string
// preparation, any string type), printed with RFC 4514 escaping plus escapes
// for control and bidi characters from untrusted certificates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DerReader, derContext } from '../../src/x509/der.js';
import { namesEqual, readName, rfc4514, type Name } from '../../src/x509/name.js';

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag, content.length]), content]);
}
const OIDS: Record<string, string> = { CN: '550403', O: '55040a', C: '550406' };
function atv(type: string, value: string, tag = 0x0c, encoding: BufferEncoding = 'utf8'): Buffer {
  return tlv(0x30, Buffer.concat([tlv(0x06, Buffer.from(OIDS[type]!, 'hex')), tlv(tag, Buffer.from(value, encoding))]));
}
function name(...rdns: Buffer[][]): Name {
  const der = tlv(0x30, Buffer.concat(rdns.map((rdn) => tlv(0x31, Buffer.concat(rdn)))));
  const r = new DerReader(der, derContext('name', { malformed: 'CERT_MALFORMED', notDer: 'CERT_NOT_DER' }));
  return readName(r, 'name');
}

test('names compare as sets of RDN attributes, case- and space-insensitive, across string types', () => {
  const a = name([atv('C', 'TW', 0x13)], [atv('CN', 'Nuvoton TPM Root CA 2111'), atv('O', 'Nuvoton Technology Corporation')]);
  const b = name([atv('C', 'tw', 0x0c)], [atv('O', '  nuvoton   technology corporation '), atv('CN', 'NUVOTON TPM ROOT CA 2111')]);
  assert.ok(namesEqual(a, b));
  // RDN order across the sequence matters; attribute boundaries matter.
  const c = name([atv('CN', 'Nuvoton TPM Root CA 2111'), atv('O', 'Nuvoton Technology Corporation')], [atv('C', 'TW', 0x13)]);
  assert.ok(!namesEqual(a, c));
  const d = name([atv('C', 'TW', 0x13)], [atv('CN', 'Nuvoton TPM Root CA 2111')], [atv('O', 'Nuvoton Technology Corporation')]);
  assert.ok(!namesEqual(a, d));
  // BMPString and UTF8String of the same text are the same name (NFKC too: ﬁ is fi).
  const bmp = name([atv('CN', '\u0000f\u0000i', 0x1e, 'latin1')]);
  assert.equal(bmp.text, 'CN=fi');
  assert.ok(namesEqual(bmp, name([atv('CN', '\ufb01')])));
});

test('printing escapes RFC 4514 specials and control / bidi characters', () => {
  const n = name([atv('CN', 'a,b+c="d"')], [atv('O', '#x\u0007\u202eevil ')]);
  assert.equal(n.text, 'CN=a\\,b\\+c\\=\\"d\\", O=\\#x\\u0007\\u202eevil\\ ');
  assert.doesNotMatch(n.text, /[\u0000-\u001f\u202e]/);
});

test('rfc4514: the last RDN first, "," between RDNs and "+" inside one, no spaces (what policies select by)', () => {
  const n = name([atv('C', 'TW', 0x13)], [atv('O', 'Acme, Inc.')], [atv('CN', 'vm AK'), atv('O', 'Ops')]);
  assert.equal(n.text, 'C=TW, O=Acme\\, Inc., CN=vm AK + O=Ops');
  assert.equal(rfc4514(n), 'CN=vm AK+O=Ops,O=Acme\\, Inc.,C=TW');
  assert.equal(rfc4514(name()), '');
});

test('malformed names: invalid UTF-8, non-ASCII in a PrintableString, empty RDN', () => {
  assert.throws(() => name([atv('CN', '\u00ff\u00fe', 0x0c, 'latin1')]), /invalid string value/);
  assert.throws(() => name([atv('CN', '\u00e9', 0x13, 'latin1')]), /invalid string value/);
  assert.throws(() => name([]), /empty RDN/);
});
