// Certificate revocation lists (RFC 5280 section 5), parsed strictly from DER.
// Like a Certificate, a parsed Crl is unverified: validate.ts only consults a
// CRL after checking its signature with the key of the issuer that signed the
// certificate in question, and its thisUpdate/nextUpdate at the validation time.
//
// Supported: complete CRLs signed by the certificate's issuer, with the
// onlyContainsUserCerts / onlyContainsCACerts scopes and distribution-point
// partitions: an issuingDistributionPoint whose distributionPoint is a
// fullName covers only the certificates with a cRLDistributionPoints entry
// of a matching name (RFC 5280 5.2.5, 6.3.3 (b)(2)(i); see validate.ts).
// Delta CRLs, indirect CRLs, reason partitions, a distribution point named
// relative to the CRL issuer (nameRelativeToCRLIssuer) and unknown critical
// extensions make the CRL "unsupported" (CRL_UNSUPPORTED when it would be
// needed: a current CRL of the issuer), never ignored.

import { ParseError, VtpmError } from '../errors.js';
import { sha256Hex } from './certificate.js';
import { DerReader, TAG, ctx, ctxCons, derContext, type DerDeviation } from './der.js';
import { readName, type Name } from './name.js';
import { OID } from './oids.js';
import { splitDerOrPem } from './pem.js';
import { readDistributionPointName, readExtensionList, type GeneralName } from './extensions.js';
import { readInnerSignatureAlgorithm, readSignedEnvelope, type SignatureAlgorithm } from './signature.js';

const MAX_CRL_ENTRIES = 1_000_000;

export interface RevokedEntry {
  /** revocationDate, ms since the epoch */
  date: number;
  /** CRLReason code (RFC 5280 5.3.1) when given */
  reason?: number;
}

export interface Crl {
  readonly der: Uint8Array;
  readonly fingerprint: string;
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
  readonly issuer: Name;
  readonly thisUpdate: number;
  readonly nextUpdate?: number;
  /** serial (content octets, lowercase hex, as in Certificate.serial) -> entry */
  readonly revoked: ReadonlyMap<string, RevokedEntry>;
  readonly authorityKeyId?: Uint8Array;
  /** issuingDistributionPoint scope */
  readonly onlyUserCerts: boolean;
  /**
   * issuingDistributionPoint distributionPoint (fullName): the CRL covers only
   * the certificates whose cRLDistributionPoints name one of these; absent,
   * every certificate of the issuer
   */
  readonly distributionPoint?: readonly GeneralName[];
  readonly onlyCaCerts: boolean;
  /** why this CRL cannot be relied on, if anything (delta, indirect, partitioned, unknown critical extension) */
  readonly unsupported: readonly string[];
  readonly derDeviations: readonly DerDeviation[];
}

export const CRL_REASONS: Record<number, string> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

/** Parses one DER CRL. Throws ParseError CRL_MALFORMED. */
export function parseCrl(input: Uint8Array): Crl {
  const der = Uint8Array.from(input);
  const context = derContext('CRL', { malformed: 'CRL_MALFORMED', notDer: 'CRL_MALFORMED' });
  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
  const { tbs, tbsBytes, signatureAlgorithm, signature } = readSignedEnvelope(der, context, 'CertificateList', 'tbsCertList');
  // version Version OPTIONAL -- v2(1) when present
  if (tbs.peekTag() === TAG.INTEGER) tbs.smallInt('tbsCertList.version', 1, 1);
  readInnerSignatureAlgorithm(tbs, 'tbsCertList.signature', signatureAlgorithm);
  const issuer = readName(tbs, 'tbsCertList.issuer');
  const thisUpdate = tbs.time('tbsCertList.thisUpdate');
  let nextUpdate: number | undefined;
  if (tbs.peekTag() === TAG.UTC_TIME || tbs.peekTag() === TAG.GENERALIZED_TIME) nextUpdate = tbs.time('tbsCertList.nextUpdate');
  const unsupported: string[] = [];
  const revoked = new Map<string, RevokedEntry>();
  // revokedCertificates SEQUENCE OF SEQUENCE { userCertificate, revocationDate, crlEntryExtensions OPTIONAL } OPTIONAL
  if (tbs.peekTag() === TAG.SEQUENCE) {
    const entries = tbs.enter('tbsCertList.revokedCertificates');
    for (let index = 0; !entries.atEnd(); index++) {
      const f = `revokedCertificates[${index}]`;
      if (index >= MAX_CRL_ENTRIES) throw entries.malformed('revokedCertificates', `more than ${MAX_CRL_ENTRIES} entries`);
      const entry = entries.enter(f);
      const serial = Buffer.from(entry.integerBytes(`${f}.userCertificate`)).toString('hex');
      const item: RevokedEntry = { date: entry.time(`${f}.revocationDate`) };
      if (!entry.atEnd()) {
        for (const ext of readExtensionList(entry, `${f}.crlEntryExtensions`)) {
          if (ext.oid === OID.reasonCode) {
            const r = new DerReader(ext.value, context);
            item.reason = r.smallInt(`${f}.reasonCode`, 0, 10, TAG.ENUMERATED);
            r.end(`${f}.reasonCode`);
          } else if (ext.oid === OID.certificateIssuer) {
            unsupported.push('indirect CRL (certificateIssuer entry extension)');
          } else if (ext.critical && ext.oid !== OID.invalidityDate) {
            unsupported.push(`unknown critical entry extension ${ext.oid}`);
          }
        }
      }
      entry.end(f);
      keepEarliest(revoked, serial, item);
    }
  }
  let authorityKeyId: Uint8Array | undefined;
  let onlyUserCerts = false;
  let onlyCaCerts = false;
  let distributionPoint: readonly GeneralName[] | undefined;
  // crlExtensions [0] EXPLICIT Extensions OPTIONAL
  const extEl = tbs.optional(ctxCons(0), 'tbsCertList.crlExtensions');
  if (extEl) {
    const wrapper = tbs.inside(extEl);
    for (const ext of readExtensionList(wrapper, 'crlExtensions')) {
      const r = new DerReader(ext.value, context);
      if (ext.oid === OID.authorityKeyIdentifier) {
        const aki = r.enter('authorityKeyIdentifier');
        const keyId = aki.optional(ctx(0), 'authorityKeyIdentifier.keyIdentifier');
        if (keyId) authorityKeyId = aki.content(keyId);
        while (!aki.atEnd()) aki.next('authorityKeyIdentifier');
      } else if (ext.oid === OID.deltaCRLIndicator) {
        unsupported.push('delta CRL');
        r.next('deltaCRLIndicator');
      } else if (ext.oid === OID.issuingDistributionPoint) {
        // IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0], onlyContainsUserCerts [1] BOOLEAN DEFAULT FALSE,
        //   onlyContainsCACerts [2], onlySomeReasons [3], indirectCRL [4], onlyContainsAttributeCerts [5] }
        const idp = r.enter('issuingDistributionPoint');
        const dpEl = idp.optional(ctxCons(0), 'issuingDistributionPoint.distributionPoint');
        if (dpEl) {
          const dpName = readDistributionPointName(idp.inside(dpEl), 'issuingDistributionPoint.distributionPoint');
          if ('fullName' in dpName) distributionPoint = dpName.fullName;
          else unsupported.push('distribution point named relative to the CRL issuer (nameRelativeToCRLIssuer)');
        }
        if (idp.peekTag() === ctx(1)) onlyUserCerts = idp.boolean('onlyContainsUserCerts', ctx(1));
        if (idp.peekTag() === ctx(2)) onlyCaCerts = idp.boolean('onlyContainsCACerts', ctx(2));
        if (idp.optional(ctx(3), 'onlySomeReasons')) unsupported.push('reason-partitioned CRL (onlySomeReasons)');
        if (idp.peekTag() === ctx(4) && idp.boolean('indirectCRL', ctx(4))) unsupported.push('indirect CRL');
        if (idp.peekTag() === ctx(5) && idp.boolean('onlyContainsAttributeCerts', ctx(5))) unsupported.push('attribute-certificate CRL');
        idp.end('issuingDistributionPoint');
      } else {
        if (ext.critical) unsupported.push(`unknown critical extension ${ext.oid}`);
        continue;
      }
      r.end(ext.oid);
    }
    wrapper.end('crlExtensions');
  }
  tbs.end('tbsCertList');
  return {
    der,
    fingerprint: sha256Hex(der),
    tbs: tbsBytes,
    signatureAlgorithm,
    signature,
    issuer,
    thisUpdate,
    ...(nextUpdate !== undefined ? { nextUpdate } : {}),
    revoked,
    ...(authorityKeyId ? { authorityKeyId } : {}),
    onlyUserCerts,
    onlyCaCerts,
    ...(distributionPoint ? { distributionPoint } : {}),
    unsupported,
    derDeviations: context.deviations,
  };
}

/**
 * A serial listed twice keeps its earliest revocation, in whichever order the
 * entries come: a certificate revoked once stays revoked from then on, so a
 * later date must not move the revocation past the validation time and make
 * the certificate valid again.
 */
function keepEarliest(revoked: Map<string, RevokedEntry>, serial: string, item: RevokedEntry): void {
  const listed = revoked.get(serial);
  if (!listed || item.date < listed.date) revoked.set(serial, item);
}

/** Every CRL in a DER or PEM ("X509 CRL" blocks) input. Throws CRL_MALFORMED. */
export function parseCrls(bytes: Uint8Array, what: string): Crl[] {
  let ders: Buffer[];
  try {
    ders = splitDerOrPem(bytes, what, ['X509 CRL']).ders;
  } catch (err) {
    // splitDerOrPem's message already starts with `what`
    if (err instanceof VtpmError) throw new ParseError('CRL_MALFORMED', err.message, { what, cause: err.code }, { cause: err });
    throw err;
  }
  return ders.map((der, index) => {
    try {
      return parseCrl(der);
    } catch (err) {
      // name the input (and the CRL within it): parseCrl knows neither
      if (err instanceof ParseError) throw new ParseError(err.code, `${what}${ders.length > 1 ? ` CRL ${index}` : ''}: ${err.message}`, { ...err.details, what, ...(ders.length > 1 ? { index } : {}) }, { cause: err });
      throw err;
    }
  });
}
