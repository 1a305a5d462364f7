// The TrustedLayer extension of AK certificates (protocol.md section 4):
//
//   id-vtpmLayer OBJECT IDENTIFIER ::= { 2 25 328412993189898150595886742112143934701 }
//   TrustedLayer ::= SEQUENCE {
//     kind              ENUMERATED { physical(0), virtual(1) },
//     instanceId        [0] IMPLICIT OCTET STRING (SIZE(32)) OPTIONAL,
//     deepAttestation   [1] IMPLICIT IA5String OPTIONAL,
//     migrationService  [2] IMPLICIT IA5String OPTIONAL
//   }
//
// Decoding is strict DER (der.ts). What a decoded value says may only be
// FOLLOWED once the certificate carrying it has verified to a trust anchor:
// decodeTrustedLayer() returns a plain TrustedLayerClaim, and the only way to
// obtain a VerifiedTrustedLayer (what the deep-attestation walker accepts) is
// a valid path from validatePath() (validate.ts, layer-info.ts).
//
// Forward compatibility: protocol.md allows new optional fields. Context tags
// [3] and above after the known fields are skipped and listed in
// `ignoredFields`; anything else unexpected is LAYER_EXT_MALFORMED.

import { createHash } from 'node:crypto';
import { ParseError } from '../errors.js';
import { DerReader, TAG, ctx, derContext } from './der.js';

export const TRUSTED_LAYER_OID = '2.25.328412993189898150595886742112143934701';
export const INSTANCE_ID_BYTES = 32;
const MAX_URI_LENGTH = 2048;

export type LayerKind = 'physical' | 'virtual';

/** The extension's content, as an issuer states it (input to the encoder, output of the decoder). */
export interface TrustedLayerValue {
  kind: LayerKind;
  /** 32 bytes: by default SHA-256 of the vTPM EK's DER SubjectPublicKeyInfo (protocol.md section 5) */
  instanceId?: Uint8Array;
  /** base URI of the deep attestation service of the layer hosting this vTPM */
  deepAttestation?: string;
  /** base URI of the Migration Controller that may move this VM */
  migrationService?: string;
}

/** A decoded extension that nobody has vouched for yet: display it, never follow it. */
export interface TrustedLayerClaim extends Readonly<TrustedLayerValue> {
  /** context tag numbers of unknown trailing fields that were skipped */
  readonly ignoredFields: readonly number[];
}

declare const verifiedLayer: unique symbol;

/**
 * The extension of a certificate whose path verified to a trust anchor. Only
 * validate.ts creates these (the brand cannot be written elsewhere without a
 * deliberate cast); the deep-attestation walker takes nothing else.
 */
export type VerifiedTrustedLayer = TrustedLayerClaim & {
  readonly [verifiedLayer]: true;
  /** SHA-256 of the certificate the extension was read from */
  readonly certificateFingerprint: string;
};

/**
 * protocol.md section 5: the default instanceId of a vTPM is the SHA-256 of
 * the DER SubjectPublicKeyInfo of its EK (the RSA-2048 EK where it has one,
 * else its ECC EK).
 */
export function defaultInstanceId(ekSpkiDer: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(ekSpkiDer).digest());
}

function layerError(code: string, message: string, details: Record<string, unknown> = {}): ParseError {
  return new ParseError(code, `TrustedLayer: ${message}`, details);
}

/** Checks a URI field: IA5 text, absolute http(s), a host, no credentials. */
export function checkLayerUri(value: string, field: 'deepAttestation' | 'migrationService'): void {
  if (value.length === 0 || value.length > MAX_URI_LENGTH) {
    throw layerError('LAYER_EXT_BAD_URI', `${field} must be 1 to ${MAX_URI_LENGTH} characters (${value.length})`, { field, length: value.length });
  }
  if (!/^[\x21-\x7e]+$/.test(value)) throw layerError('LAYER_EXT_BAD_URI', `${field} has characters outside printable ASCII`, { field });
  // RFC 3986 has no backslash; URL parsers differ on it (WHATWG reads http://a\@b/ as host a, others as host b),
  // so the CA that checked the URI and this challenger could mean different hosts by it
  if (value.includes('\\')) throw layerError('LAYER_EXT_BAD_URI', `${field} has a backslash, which no URI has (RFC 3986) and URL parsers read differently`, { field, value });
  // RFC 3986: a host is an authority after "//". WHATWG parsers invent one for http:h/, http:/h/ and http:///h
  // (host h), where an RFC 3986 parser (the CA's, a reviewer's) reads no host at all and a path.
  if (/^https?:/i.test(value) && !/^https?:\/\/[^/?#]/i.test(value)) {
    throw layerError('LAYER_EXT_BAD_URI', `${field} has no host after "//", where RFC 3986 reads a URI's host (URL parsers differ on what ${JSON.stringify(value)} names)`, { field, value });
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw layerError('LAYER_EXT_BAD_URI', `${field} is not an absolute URI: ${JSON.stringify(value)}`, { field, value });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw layerError('LAYER_EXT_BAD_URI', `${field} must be http or https, not ${url.protocol.replace(/:$/, '')}`, { field, value, scheme: url.protocol.replace(/:$/, '') });
  }
  if (!url.hostname) throw layerError('LAYER_EXT_BAD_URI', `${field} has no host`, { field, value });
  // WHATWG reads an IPv4 address from hosts RFC 3986 calls registered names (0x7f.1, 2130706433, 127.1, 010.0.0.1,
  // %31.2.3.4): the CA that checked a DNS name and this challenger would mean different hosts. An address is taken
  // only written as RFC 3986 writes one, four decimal parts, as the parser gives it back.
  if (IPV4_SERIALIZED.test(url.hostname) && rawHost(value) !== url.hostname) {
    const written = rawHost(value);
    // a leading zero makes a part octal to WHATWG parsers (010 is 8): the certificate may have meant 10. The parts
    // as the parser reads them, percent-decoded (%30%31%30 and 0%31%30 are 010 too).
    const decoded = written.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    const octal = decoded.split('.').some((part) => /^0\d/.test(part));
    throw layerError(
      'LAYER_EXT_BAD_URI',
      `${field} names the IPv4 address ${url.hostname} as ${JSON.stringify(written)}, which RFC 3986 reads as a host name (URL parsers differ on it)${octal ? '; a part with a leading zero is octal to URL parsers (010 is 8), so the address meant is unclear' : `: write the address as ${url.hostname}`}`,
      { field, value },
    );
  }
  if (url.username || url.password) throw layerError('LAYER_EXT_BAD_URI', `${field} must not carry credentials`, { field });
  // port 0 is no port: asked, it is "connection refused", a network error an audit retries, not the certificate's fault
  if (url.port === '0') throw layerError('LAYER_EXT_BAD_URI', `${field} names port 0, which no server listens on`, { field, value });
  // The challenger adds these (protocol sections 2 and 6): a URI that sets one can never be asked, so it is the
  // certificate's fault (not trusted), not the network's (which would say "try again" for ever).
  for (const name of new URLSearchParams(url.search).keys()) {
    if ((RESERVED_QUERY_PARAMS[field] as readonly string[]).includes(name)) {
      throw layerError('LAYER_EXT_BAD_URI', `${field} sets the query parameter "${name}", which the protocol reserves for the challenger`, { field, parameter: name });
    }
  }
}

/** An IPv4 address as the WHATWG URL parser serializes one. */
const IPV4_SERIALIZED = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** The host of an http(s) URI as written (checked to have an authority): after "//" and any userinfo, before the port. */
function rawHost(value: string): string {
  const authority = value.slice(value.indexOf('//') + 2).split(/[/?#]/, 1)[0]!;
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  return host.replace(/:\d*$/, '').toLowerCase();
}

/** Query parameters the challenger adds to each URI kind. */
const RESERVED_QUERY_PARAMS = { deepAttestation: ['nonce', 'pcrs', 'instance'], migrationService: ['nonce', 'pcrs', 'instance'] } as const satisfies Record<string, readonly string[]>;

/** The rules every TrustedLayer obeys, for the encoder and the decoder alike. */
export function checkTrustedLayer(value: TrustedLayerValue): void {
  if (value.kind !== 'physical' && value.kind !== 'virtual') {
    throw layerError('LAYER_EXT_BAD_KIND', `kind must be physical or virtual, not ${JSON.stringify(value.kind)}`, { kind: value.kind });
  }
  if (value.instanceId !== undefined && value.instanceId.length !== INSTANCE_ID_BYTES) {
    throw layerError('LAYER_EXT_INSTANCE_ID', `instanceId must be ${INSTANCE_ID_BYTES} bytes, not ${value.instanceId.length}`, {
      expected: INSTANCE_ID_BYTES,
      actual: value.instanceId.length,
    });
  }
  if (value.deepAttestation !== undefined) checkLayerUri(value.deepAttestation, 'deepAttestation');
  if (value.migrationService !== undefined) checkLayerUri(value.migrationService, 'migrationService');
  if (value.kind === 'virtual') {
    const missing = [value.instanceId === undefined && 'instanceId', value.deepAttestation === undefined && 'deepAttestation'].filter(Boolean);
    if (missing.length) throw layerError('LAYER_EXT_MISSING_FIELD', `a virtual layer needs ${missing.join(' and ')}`, { missing });
  } else if (value.deepAttestation !== undefined) {
    throw layerError('LAYER_EXT_INCONSISTENT', 'a physical layer names a deepAttestation service, but the walk ends at a physical layer', {
      deepAttestation: value.deepAttestation,
    });
  }
}

function ia5(r: DerReader, tag: number, field: string): string {
  const bytes = r.octetString(field, tag);
  for (const b of bytes) if (b > 0x7f) throw r.malformed(field, 'non-ASCII octet in an IA5String');
  return Buffer.from(bytes).toString('latin1');
}

/** Decodes the extension's value (extnValue content). Throws ParseError LAYER_EXT_*. */
export function decodeTrustedLayer(der: Uint8Array): TrustedLayerClaim {
  const r = new DerReader(der, derContext('TrustedLayer', { malformed: 'LAYER_EXT_MALFORMED', notDer: 'LAYER_EXT_MALFORMED' }));
  const seq = r.enter('SEQUENCE');
  r.end('SEQUENCE');
  // kind ENUMERATED { physical(0), virtual(1) }
  const kindValue = seq.smallInt('kind', -(2 ** 31), 2 ** 31, TAG.ENUMERATED);
  if (kindValue !== 0 && kindValue !== 1) throw layerError('LAYER_EXT_BAD_KIND', `kind ${kindValue} is neither physical(0) nor virtual(1)`, { kind: kindValue });
  const value: TrustedLayerValue = { kind: kindValue === 1 ? 'virtual' : 'physical' };
  // instanceId [0] IMPLICIT OCTET STRING (SIZE(32)) OPTIONAL
  if (seq.peekTag() === ctx(0)) value.instanceId = Uint8Array.from(seq.octetString('instanceId', ctx(0)));
  // deepAttestation [1] IMPLICIT IA5String OPTIONAL
  if (seq.peekTag() === ctx(1)) value.deepAttestation = ia5(seq, ctx(1), 'deepAttestation');
  // migrationService [2] IMPLICIT IA5String OPTIONAL
  if (seq.peekTag() === ctx(2)) value.migrationService = ia5(seq, ctx(2), 'migrationService');
  const ignoredFields: number[] = [];
  while (!seq.atEnd()) {
    const el = seq.next('extension field');
    const number = el.tag & 0x1f;
    const contextSpecific = (el.tag & 0xc0) === 0x80;
    if (!contextSpecific || number < 3 || number === 0x1f || (ignoredFields.length > 0 && number <= ignoredFields[ignoredFields.length - 1]!)) {
      throw seq.malformed('SEQUENCE', `unexpected element with tag 0x${el.tag.toString(16)}`, { offset: el.start, tag: el.tag });
    }
    ignoredFields.push(number);
  }
  checkTrustedLayer(value);
  return { ...value, ignoredFields };
}
