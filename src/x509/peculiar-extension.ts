// Minting certificates that carry the TrustedLayer extension with
// @peculiar/x509 (for the simulator's AK certificates, and tests):
//
//   const cert = await createCertificateWithTrustedLayer(
//     { serialNumber, subject, issuer, notBefore, notAfter, publicKey, signingKey, extensions },
//     { kind: 'virtual', instanceId, deepAttestation, migrationService });
//
// Why not just `new x509.Extension(TRUSTED_LAYER_OID, false, value)`: the
// generator re-parses every extension, and asn1js prints an OID arc above
// 2^53 as "{hex}", which it then cannot encode: the UUID-based OID
// 2.25.328412993189898150595886742112143934701 comes out as "2.25". So the
// certificate is generated with a placeholder OID of the same encoded length,
// the real OID is written into the tbsCertificate, and the tbsCertificate is
// signed again with the same key and algorithm.
//
// @peculiar/x509 is imported lazily: it costs ~350 ms at start-up.

import { webcrypto } from 'node:crypto';
import type { X509Certificate, X509CertificateCreateWithKeyParams } from '@peculiar/x509';
import { InternalError } from '../errors.js';
import { parseCertificate } from './certificate.js';
import { encodeTrustedLayer, type TrustedLayerInput } from './trusted-layer-encode.js';

/** 06 14 69 83 ee ...: the DER of the TrustedLayer OID (20 content octets). */
const REAL_OID_DER = Buffer.from('06146983ee9285acb098ca88d3b5dedfaff89790896d', 'hex');
/** 1.3 followed by nineteen arcs of 127: also 20 content octets, and never a real extension. */
const PLACEHOLDER_OID = `1.3${'.127'.repeat(19)}`;
const PLACEHOLDER_DER = Buffer.from(`0614 2b${'7f'.repeat(19)}`.replace(' ', ''), 'hex');

function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}

function derInteger(unsigned: Uint8Array): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const v = unsigned.subarray(i);
  return tlv(0x02, v[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** WebCrypto ECDSA signatures are r||s; X.509 wants SEQUENCE { r INTEGER, s INTEGER }. */
function p1363ToDer(sig: Uint8Array): Buffer {
  const half = sig.length / 2;
  return tlv(0x30, Buffer.concat([derInteger(sig.subarray(0, half)), derInteger(sig.subarray(half))]));
}

export async function createCertificateWithTrustedLayer(params: X509CertificateCreateWithKeyParams, layer: TrustedLayerInput): Promise<X509Certificate> {
  return createCertificateWithTrustedLayerValue(params, encodeTrustedLayer(layer));
}

/** The same with the extension's value given as bytes, unchecked: for tests of malformed extensions. */
export async function createCertificateWithTrustedLayerValue(params: X509CertificateCreateWithKeyParams, value: Uint8Array): Promise<X509Certificate> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const generated = await x509.X509CertificateGenerator.create({
    ...params,
    extensions: [...(params.extensions ?? []), new x509.Extension(PLACEHOLDER_OID, false, value)],
  });
  const parsed = parseCertificate(new Uint8Array(generated.rawData));
  const tbs = Buffer.from(parsed.tbs);
  const at = tbs.indexOf(PLACEHOLDER_DER);
  if (at < 0 || tbs.indexOf(PLACEHOLDER_DER, at + 1) >= 0) throw new InternalError('TrustedLayer placeholder OID not found exactly once in the generated certificate');
  REAL_OID_DER.copy(tbs, at);

  const alg = parsed.signatureAlgorithm;
  const hash = { sha1: 'SHA-1', sha224: 'SHA-224', sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' }[alg.hash ?? 'sha256'];
  let signature: Buffer;
  if (alg.scheme === 'ecdsa') {
    signature = p1363ToDer(new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash }, params.signingKey as webcrypto.CryptoKey, tbs)));
  } else if (alg.scheme === 'rsa-pkcs1') {
    signature = Buffer.from(await webcrypto.subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, params.signingKey as webcrypto.CryptoKey, tbs));
  } else if (alg.scheme === 'rsa-pss') {
    signature = Buffer.from(await webcrypto.subtle.sign({ name: 'RSA-PSS', saltLength: alg.pss!.saltLength }, params.signingKey as webcrypto.CryptoKey, tbs));
  } else if (alg.scheme === 'ed25519') {
    signature = Buffer.from(await webcrypto.subtle.sign({ name: 'Ed25519' }, params.signingKey as webcrypto.CryptoKey, tbs));
  } else {
    throw new InternalError(`cannot re-sign a certificate signed with ${alg.name}`);
  }
  const der = tlv(0x30, Buffer.concat([tbs, alg.der, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
  return new x509.X509Certificate(der);
}
