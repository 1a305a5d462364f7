// A small PKI for tests: certificates and CRLs made with @peculiar/x509 over
// WebCrypto, with knobs for every defect path validation must catch.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, sign, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCertificate, type Certificate } from '../../src/x509/certificate.js';
import { parseCrl, type Crl } from '../../src/x509/crl.js';
import { TrustStore } from '../../src/x509/trust-store.js';
import { createCertificateWithTrustedLayer, createCertificateWithTrustedLayerValue } from '../../src/x509/peculiar-extension.js';
import { bitStringBytes, oid, sequence, smallInteger, tlv, x509Time } from '../../src/simulator/der.js';
import type { TrustedLayerInput } from '../../src/x509/trusted-layer-encode.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

type Crypto = Parameters<typeof x509.cryptoProvider.set>[0];
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;
type RsaPssParams = webcrypto.RsaPssParams;
type EcKeyGenParams = webcrypto.EcKeyGenParams;
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;

export { x509 };

export type KeyKind = 'p256' | 'p384' | 'rsa' | 'rsa-sha1' | 'rsa-pss';

const KEY_PARAMS: Record<KeyKind, { gen: RsaHashedKeyGenParams | EcKeyGenParams; sign: Algorithm | EcdsaParams | RsaPssParams }> = {
  p256: { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams },
  p384: { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams },
  rsa: {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm,
  },
  'rsa-sha1': {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' },
    sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' } as Algorithm,
  },
  'rsa-pss': {
    gen: { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 } as RsaPssParams,
  },
};

export interface Issued {
  /** the subject DN string given */
  name: string;
  kind: KeyKind;
  keys: CryptoKeyPair;
  der: Uint8Array;
  pem: string;
  cert: Certificate;
  /** serial as hex (what @peculiar was given) */
  serial: string;
}

export async function makeKeys(kind: KeyKind = 'p256'): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_PARAMS[kind].gen as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
}

let serialCounter = 0x1000;

export interface CertOptions {
  subject: string;
  /** absent: self-signed */
  issuer?: Issued;
  kind?: KeyKind;
  keys?: CryptoKeyPair;
  /** CA: basicConstraints cA (with pathLen when a number); false: an end-entity; 'omit': no basicConstraints */
  ca?: boolean | number | 'omit';
  /** keyUsage flags; 'omit' leaves the extension out; default: keyCertSign|cRLSign for CAs, digitalSignature otherwise */
  keyUsage?: number | 'omit';
  eku?: string[];
  notBefore?: Date;
  notAfter?: Date;
  extensions?: x509.Extension[];
  /** write this issuer name instead of the issuer's subject */
  issuerName?: string;
  /** write this authority key identifier (hex) instead of the issuer's SKI */
  authorityKeyId?: string;
  serial?: string;
  /** sign with this key instead of the issuer's */
  signingKey?: CryptoKey;
  /** add the TrustedLayer extension (through createCertificateWithTrustedLayer) */
  layer?: TrustedLayerInput;
  /** add a TrustedLayer extension with exactly these value bytes (for malformed cases) */
  layerValue?: Uint8Array;
}

export async function makeCert(o: CertOptions): Promise<Issued> {
  const kind = o.kind ?? o.issuer?.kind ?? 'p256';
  const keys = o.keys ?? (await makeKeys(kind));
  const issuerKind = o.issuer?.kind ?? kind;
  const isCa = o.ca !== undefined && o.ca !== false && o.ca !== 'omit';
  const exts: x509.Extension[] = [];
  if (o.ca !== 'omit') exts.push(new x509.BasicConstraintsExtension(isCa, typeof o.ca === 'number' ? o.ca : undefined, true));
  const ku = o.keyUsage ?? (isCa ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature);
  if (ku !== 'omit') exts.push(new x509.KeyUsagesExtension(ku, true));
  exts.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (o.authorityKeyId) exts.push(new x509.AuthorityKeyIdentifierExtension(o.authorityKeyId));
  else if (o.issuer) exts.push(await x509.AuthorityKeyIdentifierExtension.create(o.issuer.keys.publicKey));
  if (o.eku) exts.push(new x509.ExtendedKeyUsageExtension(o.eku));
  exts.push(...(o.extensions ?? []));
  const serial = o.serial ?? (serialCounter++).toString(16).padStart(4, '0');
  const params = {
    serialNumber: serial,
    subject: o.subject,
    issuer: o.issuerName ?? o.issuer?.name ?? o.subject,
    notBefore: o.notBefore ?? new Date('2024-01-01T00:00:00Z'),
    notAfter: o.notAfter ?? new Date('2034-01-01T00:00:00Z'),
    signingAlgorithm: KEY_PARAMS[issuerKind].sign,
    publicKey: keys.publicKey,
    signingKey: o.signingKey ?? o.issuer?.keys.privateKey ?? keys.privateKey,
    extensions: exts,
  };
  const created = o.layer
    ? await createCertificateWithTrustedLayer(params, o.layer)
    : o.layerValue
      ? await createCertificateWithTrustedLayerValue(params, o.layerValue)
      : await x509.X509CertificateGenerator.create(params);
  const der = new Uint8Array(created.rawData);
  return { name: o.subject, kind, keys, der, pem: created.toString('pem'), cert: parseCertificate(der), serial };
}

/** A time inside every default validity window. */
export const AT = new Date('2025-06-01T00:00:00Z');

export interface Chain {
  root: Issued;
  intermediate: Issued;
  leaf: Issued;
  store: TrustStore;
}

/** root (self-signed CA) -> intermediate CA -> leaf, ECDSA P-256 by default. */
export async function makeChain(o: { kind?: KeyKind; leaf?: Partial<CertOptions>; intermediate?: Partial<CertOptions>; root?: Partial<CertOptions>; label?: string } = {}): Promise<Chain> {
  const kind = o.kind ?? 'p256';
  const root = await makeCert({ subject: 'CN=Test Root CA, O=vtpm-verify tests', kind, ca: true, ...o.root });
  const intermediate = await makeCert({ subject: 'CN=Test Intermediate CA, O=vtpm-verify tests', issuer: root, ca: 0, ...o.intermediate });
  const leaf = await makeCert({ subject: 'CN=Test AK, O=vtpm-verify tests', issuer: intermediate, ca: false, ...o.leaf });
  const store = TrustStore.fromCertificates([{ certificate: root.cert, label: o.label ?? 'ek-ca', origin: 'test-root' }]);
  return { root, intermediate, leaf, store };
}

/** A copy of the DER with one byte changed (e.g. in the signature). */
export function flipByte(der: Uint8Array, index: number): Uint8Array {
  const out = Uint8Array.from(der);
  const i = index < 0 ? out.length + index : index;
  out[i] = out[i]! ^ 0x01;
  return out;
}

export async function makeCrl(o: {
  issuer: Issued;
  revoked?: { serial: string; date?: Date; reason?: x509.X509CrlReason }[];
  thisUpdate?: Date;
  nextUpdate?: Date | null;
  signingKey?: CryptoKey;
  extensions?: x509.Extension[];
  /** leave out the authority key identifier (a CRL only its name and signature tie to a key) */
  omitAuthorityKeyId?: boolean;
}): Promise<Crl> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: o.issuer.name,
    thisUpdate: o.thisUpdate ?? new Date('2025-05-01T00:00:00Z'),
    ...(o.nextUpdate === null ? {} : { nextUpdate: o.nextUpdate ?? new Date('2025-07-01T00:00:00Z') }),
    entries: (o.revoked ?? []).map((r) => ({ serialNumber: r.serial, revocationDate: r.date ?? new Date('2025-05-15T00:00:00Z'), ...(r.reason !== undefined ? { reason: r.reason } : {}) })),
    signingAlgorithm: KEY_PARAMS[o.issuer.kind].sign,
    signingKey: o.signingKey ?? o.issuer.keys.privateKey,
    extensions: [...(o.omitAuthorityKeyId ? [] : [await x509.AuthorityKeyIdentifierExtension.create(o.issuer.keys.publicKey)]), ...(o.extensions ?? [])],
  });
  return parseCrl(new Uint8Array(crl.rawData));
}

/**
 * A CRL written field by field, for what @peculiar/x509 refuses to write (a
 * serial listed twice). Serials are the INTEGER content octets in hex, as
 * Certificate.serial gives them; ECDSA P-256 issuers only.
 */
export function makeRawCrl(o: { issuer: Issued; revoked: { serial: string; date: Date }[]; thisUpdate?: Date; nextUpdate?: Date }): Crl {
  if (o.issuer.kind !== 'p256') throw new Error('makeRawCrl signs with ECDSA P-256 only');
  const alg = sequence(oid('1.2.840.10045.4.3.2'));
  const entries = o.revoked.map((r) => sequence(tlv(0x02, Buffer.from(r.serial, 'hex')), x509Time(r.date)));
  const tbs = sequence(
    smallInteger(1),
    alg,
    Buffer.from(o.issuer.cert.subject.der),
    x509Time(o.thisUpdate ?? new Date('2025-05-01T00:00:00Z')),
    x509Time(o.nextUpdate ?? new Date('2025-07-01T00:00:00Z')),
    ...(entries.length > 0 ? [sequence(...entries)] : []),
  );
  const signature = sign('sha256', tbs, KeyObject.from(o.issuer.keys.privateKey));
  return parseCrl(sequence(tbs, alg, bitStringBytes(signature)));
}

const tempDirs: string[] = [];
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix = 'vtpm-x509-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function writeTemp(dir: string, name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
