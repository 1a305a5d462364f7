// X.501 distinguished names: decoding, printing, and comparison.
//
// Names are compared the way RFC 5280 section 7.1 asks, not byte for byte:
// an RDN is a SET, so the order of its attributes does not matter (the real
// Nuvoton EK certificate's issuer lists CN+O+C out of DER order, and its root
// lists them in order), and string values are compared after preparation:
// Unicode NFKC, case folded, leading/trailing spaces removed and inner runs of
// spaces collapsed (RFC 4518 insignificant-space handling), whatever string
// type carries them (PrintableString vs UTF8String). Values of other types
// compare by their encoding. Each Name carries a `key` built once from those
// rules, so comparing two names is one string comparison.

import { DerReader, TAG, type DerElement } from './der.js';
import { ATTRIBUTE_NAMES } from './oids.js';

export interface NameAttribute {
  /** attribute type OID, e.g. 2.5.4.3 (CN) */
  type: string;
  /** identifier octet of the value (0x0c UTF8String, 0x13 PrintableString, ...) */
  valueTag: number;
  /** the value's whole encoding */
  valueDer: Uint8Array;
  /** decoded text for string types, otherwise null */
  text: string | null;
}

export interface Name {
  /** the Name's whole DER encoding, as it appears in the certificate */
  der: Uint8Array;
  /** RDNs in certificate order; each RDN's attributes in encoding order */
  rdns: NameAttribute[][];
  /** printable form, certificate order: "C=US, O=Google LLC, CN=EK/AK CA Root" ("" when empty) */
  text: string;
  /** comparison key (RFC 5280 7.1 rules above): equal keys mean equal names */
  key: string;
}

/** Reads a Name (SEQUENCE OF RelativeDistinguishedName). */
export function readName(r: DerReader, field: string): Name {
  const el = r.expect(TAG.SEQUENCE, field);
  const seq = r.inside(el);
  const rdns: NameAttribute[][] = [];
  while (!seq.atEnd()) {
    const rdnField = `${field}.rdn[${rdns.length}]`;
    if (rdns.length >= 64) throw seq.malformed(rdnField, 'more than 64 RDNs');
    const setEl = seq.expect(TAG.SET, rdnField);
    const set = seq.inside(setEl);
    const elements: DerElement[] = [];
    const rdn: NameAttribute[] = [];
    while (!set.atEnd()) {
      if (rdn.length >= 16) throw set.malformed(rdnField, 'more than 16 attributes in one RDN');
      const atvEl = set.expect(TAG.SEQUENCE, rdnField);
      elements.push(atvEl);
      const atv = set.inside(atvEl);
      const type = atv.oid(`${rdnField}.type`);
      const valueEl = atv.next(`${rdnField}.value`);
      atv.end(rdnField);
      rdn.push({ type, valueTag: valueEl.tag, valueDer: atv.raw(valueEl), text: decodeString(atv, valueEl, `${rdnField}.value`) });
    }
    if (rdn.length === 0) throw set.malformed(rdnField, 'empty RDN');
    set.checkSetOrder(elements, field, setEl.start);
    rdns.push(rdn);
  }
  return { der: r.raw(el), rdns, text: renderName(rdns), key: nameKey(rdns) };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Text of a string-typed value; null for other types. Throws malformed on bad encodings. */
export function decodeString(r: DerReader, el: DerElement, field: string): string | null {
  const c = r.content(el);
  try {
    switch (el.tag) {
      case TAG.UTF8_STRING:
        return utf8.decode(c);
      case TAG.PRINTABLE_STRING:
      case TAG.IA5_STRING:
      case TAG.VISIBLE_STRING:
      case TAG.NUMERIC_STRING:
        for (const b of c) if (b > 0x7f) throw new Error('non-ASCII octet');
        return Buffer.from(c).toString('latin1');
      case TAG.TELETEX_STRING:
        // T.61 in practice carries Latin-1 (what OpenSSL and browsers assume).
        return Buffer.from(c).toString('latin1');
      case TAG.BMP_STRING: {
        if (c.length % 2 !== 0) throw new Error('odd length');
        let s = '';
        for (let i = 0; i < c.length; i += 2) s += String.fromCharCode((c[i]! << 8) | c[i + 1]!);
        return s;
      }
      case TAG.UNIVERSAL_STRING: {
        if (c.length % 4 !== 0) throw new Error('length not a multiple of 4');
        let s = '';
        for (let i = 0; i < c.length; i += 4) s += String.fromCodePoint(((c[i]! << 24) >>> 0) + ((c[i + 1]! << 16) | (c[i + 2]! << 8) | c[i + 3]!));
        return s;
      }
      default:
        return null;
    }
  } catch (err) {
    throw r.malformed(field, `invalid string value: ${err instanceof Error ? err.message : String(err)}`, { offset: el.start });
  }
}

/** RFC 4518-style preparation for caseIgnoreMatch. */
function prepare(text: string): string {
  return text.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ');
}

function nameKey(rdns: NameAttribute[][]): string {
  return rdns
    .map((rdn) =>
      rdn
        .map((a) => `${a.type}=${a.text === null ? `#${Buffer.from(a.valueDer).toString('hex')}` : JSON.stringify(prepare(a.text))}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

export function namesEqual(a: Name, b: Name): boolean {
  return a.key === b.key;
}

/**
 * The RFC 4514 string of a name, as policies select certificates by: RDNs from the last to the first
 * ("CN=vm AK,O=Acme" for a certificate whose name reads O=Acme, CN=vm AK), "," between RDNs and "+"
 * inside one, no spaces. `text` keeps the certificate's order for people.
 */
export function rfc4514(name: Name): string {
  return [...name.rdns]
    .reverse()
    .map((rdn) => rdn.map((a) => `${ATTRIBUTE_NAMES[a.type] ?? a.type}=${a.text === null ? `#${Buffer.from(a.valueDer).toString('hex')}` : escapeValue(a.text)}`).join('+'))
    .join(',');
}

function renderName(rdns: NameAttribute[][]): string {
  return rdns
    .map((rdn) =>
      rdn
        .map((a) => `${ATTRIBUTE_NAMES[a.type] ?? a.type}=${a.text === null ? `#${Buffer.from(a.valueDer).toString('hex')}` : escapeValue(a.text)}`)
        .join(' + '),
    )
    .join(', ');
}

/**
 * RFC 4514 escaping, plus control and bidi-override characters as \uXXXX:
 * names come from untrusted certificates and end up on terminals.
 */
export function escapeValue(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0) || (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else if (',+"\\<>;='.includes(ch) || (i === 0 && (ch === '#' || ch === ' ')) || (i === text.length - 1 && ch === ' ')) {
      out += `\\${ch}`;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Value of the first attribute of this type, if it is a string. */
export function nameAttribute(name: Name, type: string): string | undefined {
  for (const rdn of name.rdns) for (const a of rdn) if (a.type === type && a.text !== null) return a.text;
  return undefined;
}
