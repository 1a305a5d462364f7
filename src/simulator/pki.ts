// The simulated platform's certificate authorities and the AK certificates
// they issue (protocol section 4): a physical AK CA for the pTPMs, a
// provider-wide vPlatform root, and per-host vPlatform CAs (intermediates)
// that issue the vTPM AK certificates with the TrustedLayer extension.
//
// Why certificates are written here and not with @peculiar/x509
// (createCertificateWithTrustedLayer): minting one with it costs 4-10 ms,
// so a fleet of 10,000 VMs would spend a minute on certificates; this writer
// takes ~0.1 ms. The TrustedLayer extension itself comes from the project's
// encoder (encodeTrustedLayerExtension), which refuses what the decoder
// refuses, and a test checks that a certificate from this writer has the
// same tbsCertificate bytes as createCertificateWithTrustedLayer makes for
// the same inputs.

import { createHash, hash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { certificatePem } from '../transport/evidence.js';
import { OID } from '../x509/oids.js';
import { encodeTrustedLayerExtension, type TrustedLayerInput } from '../x509/trusted-layer-encode.js';
import { invalidArgument } from './codes.js';
import { bitStringBytes, boolean, directoryString, explicit, implicitPrimitive, namedBits, octetString, oid, sequence, setOf, smallInteger, unsignedInteger, x509Time } from './der.js';
import { seededEcKey } from './soft-tpm.js';
import { subjectPublicKeyInfo } from './spki.js';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const ATTRIBUTE_OIDS: Record<string, string> = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11' };

/** keyUsage bits (RFC 5280 4.2.1.3). */
const KU = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** Validity of every simulator certificate: fixed, so certificates of one seed are the same each run (ECDSA signatures aside). */
export const SIM_NOT_BEFORE = new Date('2024-01-01T00:00:00Z');
export const SIM_NOT_AFTER = new Date('2049-12-31T23:59:59Z');

/** Signs a tbsCertificate; returns the DER ECDSA-Sig-Value. */
export type TbsSigner = (tbs: Buffer) => Buffer;

export function nodeSigner(key: KeyObject): TbsSigner {
  return (tbs) => sign('sha256', tbs, key);
}

/** X.501 Name DER: each attribute its own RDN, in the order given (O first, then CN); PrintableString values where possible. */
export function encodeName(attributes: ReadonlyArray<readonly [keyof typeof ATTRIBUTE_OIDS | string, string]>): Buffer {
  return sequence(
    ...attributes.map(([type, value]) => {
      const id = ATTRIBUTE_OIDS[type];
      if (!id) throw invalidArgument(`name attribute ${type}: the simulator writes CN, O and OU`, { type });
      return setOf(sequence(oid(id), directoryString(value)));
    }),
  );
}

export function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's bytes. */
export function keyIdentifier(spki: Buffer): Buffer {
  // The SPKI's last element is the BIT STRING; for the keys used here its content starts after a fixed header.
  const bits = spkiPublicKeyBits(spki);
  return createHash('sha1').update(bits).digest();
}

/** The subjectPublicKey bytes of an SPKI (after the unused-bits byte). */
function spkiPublicKeyBits(spki: Buffer): Buffer {
  // SEQUENCE { AlgorithmIdentifier SEQUENCE, BIT STRING }: skip the outer header, then the algorithm.
  let at = headerLength(spki, 0);
  at += elementLength(spki, at);
  const bitsHeader = headerLength(spki, at);
  return spki.subarray(at + bitsHeader + 1, at + elementLength(spki, at));
}

function headerLength(der: Buffer, at: number): number {
  const first = der[at + 1]!;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function elementLength(der: Buffer, at: number): number {
  const first = der[at + 1]!;
  if (first < 0x80) return 2 + first;
  let n = 0;
  for (let i = 0; i < (first & 0x7f); i++) n = n * 256 + der[at + 2 + i]!;
  return 2 + (first & 0x7f) + n;
}

export interface TbsSpec {
  serial: Buffer;
  issuerName: Buffer;
  subjectName: Buffer;
  spki: Buffer;
  notBefore?: Date;
  notAfter?: Date;
  /** Extension DERs in order */
  extensions: Buffer[];
}

export function encodeTbs(spec: TbsSpec): Buffer {
  return sequence(
    explicit(0, smallInteger(2)), // version v3
    unsignedInteger(spec.serial),
    sequence(oid(ECDSA_WITH_SHA256)),
    spec.issuerName,
    sequence(x509Time(spec.notBefore ?? SIM_NOT_BEFORE), x509Time(spec.notAfter ?? SIM_NOT_AFTER)),
    spec.subjectName,
    spec.spki,
    explicit(3, sequence(...spec.extensions)),
  );
}

export function signTbs(tbs: Buffer, signer: TbsSigner): Buffer {
  return sequence(tbs, sequence(oid(ECDSA_WITH_SHA256)), bitStringBytes(signer(tbs)));
}

/** A positive 16-byte serial derived from a label (deterministic per seed). */
export function serialFor(label: string): Buffer {
  const s = hash('sha256', label, 'buffer').subarray(0, 16);
  s[0] = (s[0]! & 0x7f) | 0x01; // positive and 16 bytes long
  return s;
}

export interface IssuedCertificate {
  der: Buffer;
  pem: string;
  /** SHA-256 of the DER, hex: how vplatformLog issuer entries name a CA */
  sha256: string;
}

function issued(der: Buffer): IssuedCertificate {
  return { der, pem: certificatePem(der), sha256: hash('sha256', der, 'hex') };
}

export interface AkCertificateRequest {
  /** the CN of the subject */
  commonName: string;
  publicKey: KeyObject;
  /** the TrustedLayer extension; absent: a certificate that says nothing about virtualization */
  layer?: TrustedLayerInput;
  serialLabel: string;
  /** sign with this key instead of the CA's (fault: a certificate its CA never issued) */
  forgeWith?: KeyObject;
  /** complete extensions (DER) to add as they are, e.g. a TrustedLayer value our encoder refuses to write (hostile-attester tests) */
  rawExtensions?: readonly Uint8Array[];
}

/** A CA of the simulated provider. */
export class SimCa {
  readonly subject: string;
  readonly nameDer: Buffer;
  readonly key: KeyObject;
  readonly spki: Buffer;
  readonly keyId: Buffer;
  readonly certificate: IssuedCertificate;
  /** the CA that issued this one; null for a root */
  readonly parent: SimCa | null;

  private constructor(subject: string, nameDer: Buffer, key: KeyObject, spki: Buffer, certificate: IssuedCertificate, parent: SimCa | null) {
    this.subject = subject;
    this.nameDer = nameDer;
    this.key = key;
    this.spki = spki;
    this.keyId = keyIdentifier(spki);
    this.certificate = certificate;
    this.parent = parent;
  }

  /** A self-signed root CA. */
  static root(commonName: string, key: KeyObject, organization = SIM_ORGANIZATION): SimCa {
    const nameDer = encodeName([
      ['O', organization],
      ['CN', commonName],
    ]);
    const spki = subjectPublicKeyInfo(key);
    const tbs = encodeTbs({
      serial: serialFor(`root/${commonName}`),
      issuerName: nameDer,
      subjectName: nameDer,
      spki,
      extensions: caExtensions(spki, null, undefined),
    });
    return new SimCa(`CN=${commonName}, O=${organization}`, nameDer, key, spki, issued(signTbs(tbs, nodeSigner(key))), null);
  }

  /** An intermediate CA under this one (pathLen 0: it issues only end-entity certificates). */
  issueCa(commonName: string, key: KeyObject, organization = SIM_ORGANIZATION): SimCa {
    const nameDer = encodeName([
      ['O', organization],
      ['CN', commonName],
    ]);
    const spki = subjectPublicKeyInfo(key);
    const tbs = encodeTbs({
      serial: serialFor(`ca/${this.subject}/${commonName}`),
      issuerName: this.nameDer,
      subjectName: nameDer,
      spki,
      extensions: caExtensions(spki, this.keyId, 0),
    });
    return new SimCa(`CN=${commonName}, O=${organization}`, nameDer, key, spki, issued(signTbs(tbs, nodeSigner(this.key))), this);
  }

  /** An AK certificate: EKU tcg-kp-AIKCertificate, keyUsage digitalSignature, and the TrustedLayer extension. */
  issueAk(req: AkCertificateRequest): IssuedCertificate {
    const spki = subjectPublicKeyInfo(req.publicKey);
    const extensions = [
      extension(OID.basicConstraints, true, sequence()),
      extension(OID.keyUsage, true, namedBits([KU.digitalSignature])),
      extension(OID.extKeyUsage, false, sequence(oid(OID.tcgKpAikCertificate))),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki))),
      extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, this.keyId))),
    ];
    if (req.layer) extensions.push(Buffer.from(encodeTrustedLayerExtension(req.layer)));
    for (const raw of req.rawExtensions ?? []) extensions.push(Buffer.from(raw));
    const tbs = encodeTbs({
      serial: serialFor(`ak/${this.subject}/${req.serialLabel}`),
      issuerName: this.nameDer,
      subjectName: encodeName([
        ['O', SIM_ORGANIZATION],
        ['CN', req.commonName],
      ]),
      spki,
      extensions,
    });
    return issued(signTbs(tbs, nodeSigner(req.forgeWith ?? this.key)));
  }

  /** This CA's certificate and its parents' up to (not including) the root: the intermediates evidence carries. */
  intermediates(): IssuedCertificate[] {
    const out: IssuedCertificate[] = [];
    for (let ca: SimCa | null = this; ca?.parent; ca = ca.parent) out.push(ca.certificate);
    return out;
  }
}

function caExtensions(spki: Buffer, issuerKeyId: Buffer | null, pathLen: number | undefined): Buffer[] {
  const exts = [
    extension(OID.basicConstraints, true, sequence(boolean(true), ...(pathLen !== undefined ? [smallInteger(pathLen)] : []))),
    extension(OID.keyUsage, true, namedBits([KU.keyCertSign, KU.cRLSign])),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki))),
  ];
  if (issuerKeyId) exts.push(extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, issuerKeyId))));
  return exts;
}

export const SIM_ORGANIZATION = 'vtpm-verify simulator';

/**
 * A P-256 key: derived from `seed` and `label` when a seed is given, random
 * otherwise. Random keys are derived from random bytes too, not made by
 * generateKeyPairSync: on Node 20.20 a garbage collection that finalizes a
 * key-generation job while the same key is being exported as JWK deadlocks
 * the process (seen building a 10,000-VM fleet), and the simulator exports
 * every key as JWK (SPKI, TPM public areas).
 */
export function simKey(seed: Uint8Array | undefined, label: string): KeyObject {
  return seededEcKey(seed ?? randomBytes(32), label, 'p256');
}
