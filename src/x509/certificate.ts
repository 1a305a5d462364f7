// X.509 certificates (RFC 5280 section 4.1), parsed strictly from DER.
//
// A Certificate is UNVERIFIED: it says what the bytes claim, nothing more.
// Only validatePath() (validate.ts) turns a certificate into something whose
// statements may be followed. The parser keeps the exact signed bytes (tbs)
// and the raw extensions, decodes the extensions path validation needs, and
// records tolerated DER deviations (der.ts explains which and why).

import { createHash } from 'node:crypto';
import { ParseError } from '../errors.js';
import { ctxCons, ctx as ctxTag, derContext, type DerDeviation } from './der.js';
import { decodeExtensions, readExtensionList, type DecodedExtensions, type RawExtension } from './extensions.js';
import { readName, type Name } from './name.js';
import { readSpki, type PublicKeyInfo } from './public-key.js';
import { readInnerSignatureAlgorithm, readSignedEnvelope, type SignatureAlgorithm } from './signature.js';
import { tcgAttributes, type TcgAttributes } from './tcg.js';

/** No TPM, vendor or cloud certificate comes near this; larger input is refused before parsing. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

export interface Certificate {
  /** the certificate's DER, a private copy */
  readonly der: Uint8Array;
  /** SHA-256 of der, lowercase hex */
  readonly fingerprint: string;
  /** tbsCertificate exactly as sent: what the signature covers */
  readonly tbs: Uint8Array;
  readonly version: 1 | 2 | 3;
  /** serialNumber's content octets, lowercase hex (two's complement, as encoded) */
  readonly serial: string;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
  readonly issuer: Name;
  readonly subject: Name;
  /** validity bounds, ms since the epoch; both inclusive */
  readonly notBefore: number;
  readonly notAfter: number;
  readonly publicKey: PublicKeyInfo;
  readonly extensions: readonly RawExtension[];
  /** the extensions path validation interprets, decoded */
  readonly ext: DecodedExtensions;
  /** TPM manufacturer/model/version when the certificate carries them */
  readonly tcg: TcgAttributes | null;
  /** issuer and subject names are equal (RFC 5280 "self-issued") */
  readonly selfIssued: boolean;
  /** tolerated departures from DER; empty for a strictly DER certificate */
  readonly derDeviations: readonly DerDeviation[];
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Parses one DER certificate. Throws ParseError CERT_* on anything that is
 * not a well-formed certificate; `fingerprint` may be passed when the caller
 * already hashed the bytes.
 */
export function parseCertificate(input: Uint8Array, fingerprint?: string): Certificate {
  if (input.length > MAX_CERTIFICATE_BYTES) {
    throw new ParseError('CERT_TOO_LARGE', `certificate: ${input.length} bytes, more than the ${MAX_CERTIFICATE_BYTES}-byte cap`, { size: input.length, max: MAX_CERTIFICATE_BYTES });
  }
  // A private copy: every view below points into it, and the fingerprint stays true to it.
  const der = Uint8Array.from(input);
  const context = derContext('certificate', { malformed: 'CERT_MALFORMED', notDer: 'CERT_NOT_DER', badTime: 'CERT_BAD_TIME' });
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
  const { tbs: tbsReader, tbsBytes, signatureAlgorithm, signature } = readSignedEnvelope(der, context, 'Certificate', 'tbsCertificate');

  // version [0] EXPLICIT Version DEFAULT v1
  let version: 1 | 2 | 3 = 1;
  const versionEl = tbsReader.optional(ctxCons(0), 'tbsCertificate.version');
  if (versionEl) {
    const v = tbsReader.inside(versionEl);
    const n = v.smallInt('tbsCertificate.version', 0, 2);
    v.end('tbsCertificate.version');
    if (n === 0) tbsReader.deviation('explicit-default', 'tbsCertificate.version', versionEl.start);
    version = (n + 1) as 1 | 2 | 3;
  }
  // serialNumber CertificateSerialNumber (INTEGER; RFC 5280 caps it at 20 octets, real ones exceed it slightly)
  const serialBytes = tbsReader.integerBytes('tbsCertificate.serialNumber');
  if (serialBytes.length > 64) throw tbsReader.malformed('tbsCertificate.serialNumber', `${serialBytes.length}-octet serial number`);
  // signature AlgorithmIdentifier: must equal the outer signatureAlgorithm (RFC 5280 4.1.1.2)
  readInnerSignatureAlgorithm(tbsReader, 'tbsCertificate.signature', signatureAlgorithm);
  const issuer = readName(tbsReader, 'issuer');
  // validity SEQUENCE { notBefore Time, notAfter Time }
  const validity = tbsReader.enter('validity');
  const notBefore = validity.time('validity.notBefore');
  const notAfter = validity.time('validity.notAfter');
  validity.end('validity');
  const subject = readName(tbsReader, 'subject');
  const publicKey = readSpki(tbsReader, 'subjectPublicKeyInfo');
  // issuerUniqueID [1] IMPLICIT BIT STRING OPTIONAL, subjectUniqueID [2] IMPLICIT BIT STRING OPTIONAL (v2, v3)
  for (const [n, field] of [[1, 'issuerUniqueID'], [2, 'subjectUniqueID']] as const) {
    if (tbsReader.peekTag() === ctxTag(n)) {
      if (version === 1) throw tbsReader.malformed(field, 'unique identifiers need version 2 or 3');
      tbsReader.bitString(field, ctxTag(n));
    }
  }
  // extensions [3] EXPLICIT Extensions OPTIONAL (v3)
  let extensions: RawExtension[] = [];
  const extEl = tbsReader.optional(ctxCons(3), 'extensions');
  if (extEl) {
    if (version !== 3) throw tbsReader.malformed('extensions', `extensions in a version ${version} certificate`);
    const wrapper = tbsReader.inside(extEl);
    extensions = readExtensionList(wrapper, 'extensions');
    wrapper.end('extensions');
  }
  tbsReader.end('tbsCertificate');

  const ext = decodeExtensions(extensions, context);
  return {
    der,
    fingerprint: fingerprint ?? sha256Hex(der),
    tbs: tbsBytes,
    version,
    serial: Buffer.from(serialBytes).toString('hex'),
    signatureAlgorithm,
    signature,
    issuer,
    subject,
    notBefore,
    notAfter,
    publicKey,
    extensions,
    ext,
    tcg: tcgAttributes(subject, ext),
    selfIssued: issuer.key === subject.key,
    derDeviations: context.deviations,
  };
}

export function findExtension(cert: Certificate, oid: string): RawExtension | undefined {
  return cert.extensions.find((e) => e.oid === oid);
}

/** "CN=..." or, for the empty subjects of EK certificates, a stand-in naming the serial. */
export function displayName(cert: Certificate): string {
  return cert.subject.text || `(empty subject, serial ${cert.serial})`;
}
