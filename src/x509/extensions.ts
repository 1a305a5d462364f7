// The certificate extensions vtpm-verify interprets (RFC 5280 4.2, TCG EK
// Credential Profile 3.2), decoded strictly from their extnValue. Unknown
// extensions stay raw; path validation rejects them when critical. The
// TrustedLayer extension is deliberately NOT decoded here: only a validated
// path yields it (verify before follow, see validate.ts).

import { DerReader, TAG, ctx, ctxCons, type DerContext } from './der.js';
import { readName, type Name } from './name.js';
import { OID } from './oids.js';
import { terminalSafe } from '../util/terminal-safe.js';

export interface RawExtension {
  oid: string;
  critical: boolean;
  /** extnValue's content: the DER of the extension's own value */
  value: Uint8Array;
}

export interface BasicConstraints {
  ca: boolean;
  pathLen?: number;
}

export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number];

export type GeneralName =
  | { type: 'directoryName'; name: Name }
  | { type: 'rfc822Name' | 'dNSName' | 'uniformResourceIdentifier'; value: string }
  | { type: 'iPAddress'; value: string }
  | { type: 'registeredID'; value: string }
  | { type: 'otherName'; typeId: string; valueDer: Uint8Array }
  | { type: 'x400Address' | 'ediPartyName'; der: Uint8Array };

export interface TpmSpecification {
  family: string;
  level: number;
  revision: number;
}

export interface DecodedExtensions {
  basicConstraints?: BasicConstraints;
  keyUsage?: ReadonlySet<KeyUsageName>;
  extKeyUsage?: readonly string[];
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
  subjectAltName?: readonly GeneralName[];
  certificatePolicies?: readonly string[];
  /** TCG tpmSpecification from subjectDirectoryAttributes */
  tpmSpecification?: TpmSpecification;
  /** cRLDistributionPoints: where the certificate's CRLs are published; scopes CRLs with an IDP distribution point */
  crlDistributionPoints?: readonly DistributionPoint[];
}

/**
 * DistributionPointName ::= CHOICE { fullName [0] GeneralNames,
 *   nameRelativeToCRLIssuer [1] RelativeDistinguishedName }
 */
export type DistributionPointName =
  | { fullName: readonly GeneralName[] }
  /** the RDN as encoded: a fragment of the CRL issuer's name, not resolved (it matches no CRL's distribution point) */
  | { relativeName: Uint8Array };

/**
 * DistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL,
 *   reasons [1] ReasonFlags OPTIONAL, cRLIssuer [2] GeneralNames OPTIONAL }
 */
export interface DistributionPoint {
  name?: DistributionPointName;
  /** reasons is present: the CRLs at this point list only some revocation reasons */
  someReasons: boolean;
  crlIssuer?: readonly GeneralName[];
}

const MAX_ITEMS = 256;
const MAX_EXTENSIONS = 64;

/**
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension, as certificates and
 * CRLs carry them; the reader must be at the SEQUENCE.
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 */
export function readExtensionList(r: DerReader, field: string): RawExtension[] {
  const at = r.offset;
  const list = r.enter(field);
  const out: RawExtension[] = [];
  const seen = new Set<string>();
  while (!list.atEnd()) {
    const f = `${field}[${out.length}]`;
    if (out.length >= MAX_EXTENSIONS) throw list.malformed(field, `more than ${MAX_EXTENSIONS} extensions`);
    const e = list.enter(f);
    const oid = e.oid(`${f}.extnID`);
    let critical = false;
    if (e.peekTag() === TAG.BOOLEAN) {
      const boolAt = e.offset;
      critical = e.boolean(`${f}.critical`);
      if (!critical) e.deviation('explicit-default', `${f}.critical`, boolAt);
    }
    const value = e.octetString(`${f}.extnValue`);
    e.end(f);
    // RFC 5280 4.2: at most one instance of an extension. Two TrustedLayer
    // extensions, say, would let two readers follow different URIs.
    if (seen.has(oid)) throw list.malformed(f, `duplicate extension ${oid}`, { oid });
    seen.add(oid);
    out.push({ oid, critical, value });
  }
  // SIZE (1..MAX), but @peculiar/x509 writes an empty list when given none: same meaning, tolerated.
  if (out.length === 0) r.deviation('empty-list', field, at);
  return out;
}

export function decodeExtensions(extensions: readonly RawExtension[], certContext: DerContext): DecodedExtensions {
  const out: DecodedExtensions = {};
  for (const ext of extensions) {
    const context: DerContext = { ...certContext, what: `${certContext.what} extension ${ext.oid}`, malformed: 'CERT_EXTENSION_MALFORMED' };
    const r = new DerReader(ext.value, context);
    switch (ext.oid) {
      case OID.basicConstraints:
        out.basicConstraints = readBasicConstraints(r);
        break;
      case OID.keyUsage:
        out.keyUsage = readKeyUsage(r);
        break;
      case OID.extKeyUsage:
        out.extKeyUsage = readOidList(r, 'extKeyUsage');
        break;
      case OID.subjectKeyIdentifier:
        out.subjectKeyId = r.octetString('subjectKeyIdentifier');
        break;
      case OID.authorityKeyIdentifier:
        out.authorityKeyId = readAuthorityKeyId(r);
        break;
      case OID.subjectAltName:
        out.subjectAltName = readGeneralNames(r, 'subjectAltName');
        break;
      case OID.certificatePolicies:
        out.certificatePolicies = readPolicies(r);
        break;
      case OID.cRLDistributionPoints:
        out.crlDistributionPoints = readDistributionPoints(r);
        break;
      case OID.subjectDirectoryAttributes: {
        const spec = readTpmSpecification(r);
        if (spec) out.tpmSpecification = spec;
        break;
      }
      default:
        continue;
    }
    r.end(ext.oid);
  }
  return out;
}

function readBasicConstraints(r: DerReader): BasicConstraints {
  // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL }
  const seq = r.enter('basicConstraints');
  let ca = false;
  if (seq.peekTag() === TAG.BOOLEAN) {
    const at = seq.offset;
    ca = seq.boolean('basicConstraints.cA');
    if (!ca) seq.deviation('explicit-default', 'basicConstraints.cA', at);
  }
  const bc: BasicConstraints = { ca };
  if (seq.peekTag() === TAG.INTEGER) bc.pathLen = seq.smallInt('basicConstraints.pathLenConstraint', 0, 2 ** 31 - 1);
  seq.end('basicConstraints');
  return bc;
}

function readKeyUsage(r: DerReader): Set<KeyUsageName> {
  // KeyUsage ::= BIT STRING. X.690 11.2.2 wants trailing zero named bits
  // removed; most vendor EK CAs (Infineon, AMD, Optiga, ...) keep them. The
  // set of bits is the same either way, so that one is not even a deviation.
  const { bytes, unusedBits } = r.bitString('keyUsage');
  const total = bytes.length * 8 - unusedBits;
  const set = new Set<KeyUsageName>();
  for (let i = 0; i < total; i++) {
    if ((bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0 && i < KEY_USAGE_BITS.length) set.add(KEY_USAGE_BITS[i]!);
  }
  return set;
}

function readOidList(r: DerReader, field: string): string[] {
  const seq = r.enter(field);
  const out: string[] = [];
  while (!seq.atEnd()) {
    if (out.length >= MAX_ITEMS) throw seq.malformed(field, `more than ${MAX_ITEMS} entries`);
    out.push(seq.oid(`${field}[${out.length}]`));
  }
  if (out.length === 0) throw seq.malformed(field, 'empty list');
  return out;
}

function readAuthorityKeyId(r: DerReader): Uint8Array | undefined {
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL,
  //   authorityCertIssuer [1] IMPLICIT GeneralNames OPTIONAL, authorityCertSerialNumber [2] IMPLICIT INTEGER OPTIONAL }
  const seq = r.enter('authorityKeyIdentifier');
  const keyId = seq.optional(ctx(0), 'authorityKeyIdentifier.keyIdentifier');
  const issuer = seq.optional(ctxCons(1), 'authorityKeyIdentifier.authorityCertIssuer');
  if (issuer) readGeneralNamesContent(seq.inside(issuer), 'authorityKeyIdentifier.authorityCertIssuer');
  const serial = seq.optional(ctx(2), 'authorityKeyIdentifier.authorityCertSerialNumber');
  if (serial) seq.checkInteger(serial, 'authorityKeyIdentifier.authorityCertSerialNumber');
  seq.end('authorityKeyIdentifier');
  return keyId ? seq.content(keyId) : undefined;
}

/** GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName, under `tag` when implicitly tagged. */
export function readGeneralNames(r: DerReader, field: string, tag: number = TAG.SEQUENCE): GeneralName[] {
  const names = readGeneralNamesContent(r.enter(field, tag), field);
  if (names.length === 0) throw r.malformed(field, 'empty GeneralNames');
  return names;
}

/**
 * A DistributionPointName, from the reader of its explicit [0] wrapper (in a
 * certificate's DistributionPoint or a CRL's IssuingDistributionPoint); the
 * wrapper holds exactly the one CHOICE element.
 */
export function readDistributionPointName(r: DerReader, field: string): DistributionPointName {
  let out: DistributionPointName;
  if (r.peekTag() === ctxCons(0)) {
    out = { fullName: readGeneralNames(r, `${field}.fullName`, ctxCons(0)) };
  } else if (r.peekTag() === ctxCons(1)) {
    // RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
    const f = `${field}.nameRelativeToCRLIssuer`;
    const el = r.expect(ctxCons(1), f);
    const rdn = r.inside(el);
    let count = 0;
    while (!rdn.atEnd()) {
      if (++count > MAX_ITEMS) throw rdn.malformed(f, `more than ${MAX_ITEMS} attributes`);
      const atv = rdn.enter(f);
      atv.oid(`${f}.type`);
      atv.next(`${f}.value`);
      atv.end(f);
    }
    if (count === 0) throw rdn.malformed(f, 'empty RelativeDistinguishedName');
    out = { relativeName: r.raw(el) };
  } else {
    const tag = r.peekTag();
    throw r.malformed(field, tag === undefined ? 'empty DistributionPointName' : `unknown DistributionPointName tag 0x${tag.toString(16)}`);
  }
  r.end(field);
  return out;
}

function readDistributionPoints(r: DerReader): DistributionPoint[] {
  // CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint
  const seq = r.enter('cRLDistributionPoints');
  const out: DistributionPoint[] = [];
  while (!seq.atEnd()) {
    const f = `cRLDistributionPoints[${out.length}]`;
    if (out.length >= MAX_ITEMS) throw seq.malformed('cRLDistributionPoints', `more than ${MAX_ITEMS} distribution points`);
    const dp = seq.enter(f);
    const point: { name?: DistributionPointName; someReasons: boolean; crlIssuer?: GeneralName[] } = { someReasons: false };
    const nameEl = dp.optional(ctxCons(0), `${f}.distributionPoint`);
    if (nameEl) point.name = readDistributionPointName(dp.inside(nameEl), `${f}.distributionPoint`);
    // ReasonFlags ::= BIT STRING, implicitly [1]
    if (dp.peekTag() === ctx(1)) {
      dp.bitString(`${f}.reasons`, ctx(1));
      point.someReasons = true;
    }
    if (dp.peekTag() === ctxCons(2)) point.crlIssuer = readGeneralNames(dp, `${f}.cRLIssuer`, ctxCons(2));
    dp.end(f);
    // RFC 5280 4.2.1.13: a DistributionPoint MUST NOT consist of only the reasons field.
    if (!point.name && !point.crlIssuer) throw seq.malformed(f, 'neither distributionPoint nor cRLIssuer');
    out.push(point);
  }
  if (out.length === 0) throw seq.malformed('cRLDistributionPoints', 'empty list');
  return out;
}

/**
 * A GeneralName's comparison key: equal keys mean the same name, of the same
 * type; directoryNames by their Name key (RFC 5280 7.1), other names octet
 * for octet (a URI as written: no case folding or percent-decoding).
 */
export function generalNameKey(n: GeneralName): string {
  switch (n.type) {
    case 'directoryName':
      return `directoryName:${n.name.key}`;
    case 'otherName':
      return `otherName:${n.typeId}:${Buffer.from(n.valueDer).toString('hex')}`;
    case 'x400Address':
    case 'ediPartyName':
      return `${n.type}:${Buffer.from(n.der).toString('hex')}`;
    case 'uniformResourceIdentifier':
      return `${n.type}:${uriKey(n.value)}`;
    case 'dNSName':
      return `${n.type}:${n.value.toLowerCase()}`;
    default:
      return `${n.type}:${n.value}`;
  }
}

/**
 * A URI as names compare (RFC 5280 7.4, RFC 3986 6.2.2.1): its scheme and host case-insensitive, the rest
 * as written. `HTTP://CRL.Example/ca.crl` and `http://crl.example/ca.crl` name one distribution point.
 */
function uriKey(uri: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s.exec(uri);
  if (!m) return uri;
  const [, scheme, authority, rest] = m;
  const at = authority!.lastIndexOf('@');
  const host = authority!.slice(at + 1).toLowerCase();
  return `${scheme!.toLowerCase()}://${authority!.slice(0, at + 1)}${host}${rest}`;
}

const MAX_SHOWN_NAME = 200;

/** A GeneralName for messages: "URI:http://...", escaped as terminals need (terminalSafe), long values cut. */
export function describeGeneralName(n: GeneralName): string {
  const cut = (s: string): string => {
    const safe = terminalSafe(s);
    return safe.length > MAX_SHOWN_NAME ? `${safe.slice(0, MAX_SHOWN_NAME)}...` : safe;
  };
  switch (n.type) {
    case 'uniformResourceIdentifier':
      return `URI:${cut(n.value)}`;
    case 'dNSName':
      return `DNS:${cut(n.value)}`;
    case 'rfc822Name':
      return `email:${cut(n.value)}`;
    case 'iPAddress':
      return `IP:${n.value}`;
    case 'registeredID':
      return `RID:${n.value}`;
    case 'directoryName':
      return `DirName:${cut(n.name.text)}`;
    case 'otherName':
      return `othername:${n.typeId}`;
    default:
      return n.type;
  }
}

function ia5(r: DerReader, bytes: Uint8Array, field: string): string {
  for (const b of bytes) if (b > 0x7f) throw r.malformed(field, 'non-ASCII octet in an IA5String');
  return Buffer.from(bytes).toString('latin1');
}

function readGeneralNamesContent(seq: DerReader, field: string): GeneralName[] {
  const out: GeneralName[] = [];
  while (!seq.atEnd()) {
    const f = `${field}[${out.length}]`;
    if (out.length >= MAX_ITEMS) throw seq.malformed(field, `more than ${MAX_ITEMS} names`);
    const el = seq.next(f);
    const c = seq.content(el);
    switch (el.tag) {
      case ctxCons(0): {
        // otherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
        const o = seq.inside(el);
        const typeId = o.oid(`${f}.type-id`);
        const v = o.expect(ctxCons(0), `${f}.value`);
        o.end(f);
        out.push({ type: 'otherName', typeId, valueDer: o.content(v) });
        break;
      }
      case ctx(1):
        out.push({ type: 'rfc822Name', value: ia5(seq, c, f) });
        break;
      case ctx(2):
        out.push({ type: 'dNSName', value: ia5(seq, c, f) });
        break;
      case ctxCons(3):
        out.push({ type: 'x400Address', der: seq.raw(el) });
        break;
      case ctxCons(4): {
        // directoryName [4] EXPLICIT Name: how TCG EK certificates carry the TPM's identity.
        const d = seq.inside(el);
        const name = readName(d, `${f}.directoryName`);
        d.end(f);
        out.push({ type: 'directoryName', name });
        break;
      }
      case ctxCons(5):
        out.push({ type: 'ediPartyName', der: seq.raw(el) });
        break;
      case ctx(6):
        out.push({ type: 'uniformResourceIdentifier', value: ia5(seq, c, f) });
        break;
      case ctx(7):
        if (c.length !== 4 && c.length !== 16 && c.length !== 8 && c.length !== 32) throw seq.malformed(f, `iPAddress of ${c.length} octets`);
        out.push({ type: 'iPAddress', value: c.length === 4 ? [...c].join('.') : Buffer.from(c).toString('hex') });
        break;
      case ctx(8):
        out.push({ type: 'registeredID', value: seq.decodeOid(el, f) });
        break;
      default:
        throw seq.malformed(f, `unknown GeneralName tag 0x${el.tag.toString(16)}`);
    }
  }
  return out;
}

function readPolicies(r: DerReader): string[] {
  // certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation
  // PolicyInformation ::= SEQUENCE { policyIdentifier OID, policyQualifiers SEQUENCE OF ... OPTIONAL }
  const seq = r.enter('certificatePolicies');
  const out: string[] = [];
  while (!seq.atEnd()) {
    const f = `certificatePolicies[${out.length}]`;
    if (out.length >= MAX_ITEMS) throw seq.malformed('certificatePolicies', `more than ${MAX_ITEMS} policies`);
    const info = seq.enter(f);
    out.push(info.oid(`${f}.policyIdentifier`));
    if (!info.atEnd()) info.expect(TAG.SEQUENCE, `${f}.policyQualifiers`);
    info.end(f);
  }
  if (out.length === 0) throw seq.malformed('certificatePolicies', 'empty list');
  return out;
}

function readTpmSpecification(r: DerReader): TpmSpecification | undefined {
  // SubjectDirectoryAttributes ::= SEQUENCE SIZE (1..MAX) OF Attribute
  // Attribute ::= SEQUENCE { type OID, values SET OF AttributeValue }
  // TPMSpecification ::= SEQUENCE { family UTF8String, level INTEGER, revision INTEGER }
  const seq = r.enter('subjectDirectoryAttributes');
  let spec: TpmSpecification | undefined;
  let count = 0;
  while (!seq.atEnd()) {
    const f = `subjectDirectoryAttributes[${count}]`;
    if (++count > MAX_ITEMS) throw seq.malformed('subjectDirectoryAttributes', `more than ${MAX_ITEMS} attributes`);
    const attr = seq.enter(f);
    const type = attr.oid(`${f}.type`);
    const values = attr.enter(`${f}.values`, TAG.SET);
    if (type === OID.tpmSpecification) {
      const s = values.enter(`${f}.tpmSpecification`);
      const familyEl = s.expect(TAG.UTF8_STRING, `${f}.tpmSpecification.family`);
      const family = Buffer.from(s.content(familyEl)).toString('utf8');
      const level = s.smallInt(`${f}.tpmSpecification.level`, 0, 2 ** 32);
      const revision = s.smallInt(`${f}.tpmSpecification.revision`, 0, 2 ** 32);
      s.end(`${f}.tpmSpecification`);
      spec = { family, level, revision };
    } else {
      while (!values.atEnd()) values.next(`${f}.values`);
    }
    values.end(`${f}.values`);
    attr.end(f);
  }
  if (count === 0) throw seq.malformed('subjectDirectoryAttributes', 'empty list');
  return spec;
}
