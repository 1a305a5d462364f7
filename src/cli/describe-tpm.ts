// Plain, JSON-ready descriptions of parsed TPM structures for `quote` and
// `inspect` output (hex lowercase, 64-bit values as strings), and a small
// indented renderer for people, in the spirit of tpm2_print.

import { algName } from '../tpm/constants.js';
import { describeName, type ClockInfo, type TpmsAttest } from '../tpm/attest.js';
import { formatPcrSelection } from '../tpm/pcr-selection.js';
import { objectAttributeNames, type SchemeDef, type TpmtPublic } from '../tpm/public.js';
import type { TpmtSignature } from '../tpm/signature.js';
import { toHex } from '../util/bytes.js';
import type { Style } from './output.js';
import { terminalSafe } from '../util/terminal-safe.js';

export type Described = { [key: string]: DescribedValue };
export type DescribedValue = string | number | boolean | null | DescribedValue[] | Described;

function hexU16(v: number): string {
  return v.toString(16).padStart(4, '0');
}

export function describeNameBytes(name: Uint8Array): Described {
  const info = describeName(name);
  switch (info.kind) {
    case 'empty':
      return { kind: 'empty' };
    case 'handle':
      return { kind: 'handle', handle: info.handle.toString(16).padStart(8, '0') };
    case 'digest':
      return { kind: 'digest', hash: info.hash.name, value: toHex(name) };
    case 'unknown':
      return { kind: 'unknown', value: toHex(name) };
  }
}

export function describeClockInfo(c: ClockInfo): Described {
  return { clock: c.clock.toString(), resetCount: c.resetCount, restartCount: c.restartCount, safe: c.safe };
}

export function describeAttest(a: TpmsAttest): Described {
  const out: Described = {
    structure: 'TPMS_ATTEST',
    type: a.kind,
    tag: hexU16(a.type),
    magic: a.magic.toString(16).padStart(8, '0'),
    qualifiedSigner: toHex(a.qualifiedSigner),
    extraData: toHex(a.extraData),
    clockInfo: describeClockInfo(a.clockInfo),
    firmwareVersion: a.firmwareVersion.toString(16).padStart(16, '0'),
  };
  if (a.kind === 'quote') {
    out['quote'] = { pcrSelect: formatPcrSelection(a.quote.pcrSelect), pcrDigest: toHex(a.quote.pcrDigest) };
  } else if (a.kind === 'certify') {
    out['certify'] = { name: toHex(a.certify.name), qualifiedName: toHex(a.certify.qualifiedName) };
  } else {
    out['body'] = toHex(a.body);
  }
  return out;
}

export function describeSignature(s: TpmtSignature): Described {
  if (s.scheme === 'null') return { structure: 'TPMT_SIGNATURE', sigAlg: 'null' };
  if (s.scheme === 'ecdsa') return { structure: 'TPMT_SIGNATURE', sigAlg: 'ecdsa', hash: s.hash.name, r: toHex(s.r), s: toHex(s.s) };
  return { structure: 'TPMT_SIGNATURE', sigAlg: s.scheme, hash: s.hash.name, sig: toHex(s.sig) };
}

function describeScheme(s: SchemeDef | null): DescribedValue {
  if (!s) return 'null';
  const out: Described = { scheme: algName(s.scheme) };
  if (s.hash) out['hash'] = s.hash.name;
  if (s.count !== undefined) out['count'] = s.count;
  return out;
}

export function describePublic(p: TpmtPublic, name: Uint8Array, structure: string): Described {
  const out: Described = {
    structure,
    type: p.type,
    nameAlg: p.nameAlg.name,
    objectAttributes: { value: (p.objectAttributes >>> 0).toString(16).padStart(8, '0'), set: objectAttributeNames(p.objectAttributes) },
    authPolicy: toHex(p.authPolicy),
    symmetric: p.symmetric ? { algorithm: algName(p.symmetric.algorithm), keyBits: p.symmetric.keyBits, mode: algName(p.symmetric.mode) } : 'null',
    scheme: describeScheme(p.scheme),
  };
  if (p.type === 'rsa') {
    out['rsa'] = { keyBits: p.keyBits, exponent: p.exponent, modulus: toHex(p.modulus) };
  } else {
    out['ecc'] = { curve: p.curve, kdf: describeScheme(p.kdf), x: toHex(p.x), y: toHex(p.y) };
  }
  out['name'] = toHex(name);
  return out;
}

/** Renders a description as indented "key: value" lines. */
export function renderDescribed(value: Described, style: Style, indent = 0): string {
  const pad = '  '.repeat(indent);
  const lines: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    // certificate names and other decoded text come from the file: printed escaped
    const label = style.bold(`${terminalSafe(key)}:`);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      lines.push(`${pad}${label}`);
      lines.push(renderDescribed(v, style, indent + 1));
    } else if (Array.isArray(v)) {
      lines.push(`${pad}${label} ${v.length ? v.map((x) => terminalSafe(String(x))).join(', ') : style.dim('(none)')}`);
    } else {
      const text = v === '' ? style.dim('(empty)') : terminalSafe(String(v));
      lines.push(`${pad}${label} ${text}`);
    }
  }
  return lines.join('\n');
}
