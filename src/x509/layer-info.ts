// What the deep-attestation walker reads from a VALID path: the TrustedLayer
// extension (verify before follow), the TPM's TCG attributes, the anchor's
// labels, the certified key, and the issuer certificate's hash for issuer
// binding (protocol.md 5.1). The parameter type is ValidPath, so an invalid
// or unvalidated certificate cannot be read this way.

import type { KeyObject } from 'node:crypto';
import { rfc4514 } from './name.js';
import { publicKeyObject } from './public-key.js';
import type { TcgAttributes } from './tcg.js';
import type { VerifiedTrustedLayer } from './trusted-layer.js';
import type { ValidPath } from './validate.js';

export interface VerifiedLayerInfo {
  /** the target certificate's TrustedLayer extension; null: it says nothing about virtualization */
  layer: VerifiedTrustedLayer | null;
  tcg: TcgAttributes | null;
  /** what the anchor the path ends at vouches for: 'ek-ca', 'vplatform-ca', ... */
  anchorLabels: readonly string[];
  anchorSubject: string;
  /** the anchor's subject as an RFC 4514 string (what policy facts carry) */
  anchorSubjectRfc4514: string;
  anchorFingerprint: string;
  /** SHA-256 of the target certificate (the AK certificate) */
  certificateFingerprint: string;
  /** SHA-256 of the DER of the certificate that issued the target (protocol.md 5.1 issuer binding) */
  issuerCertificateSha256: string;
  /** the certified key as node imported it (null when node cannot use it) */
  publicKey: KeyObject | null;
  /** the certified key's SubjectPublicKeyInfo DER, to compare with the quote's AK */
  spki: Uint8Array;
  /** validation time, ms since the epoch */
  at: number;
}

export function layerInfo(result: ValidPath): VerifiedLayerInfo {
  const target = result.target;
  const issuer = result.path.length > 1 ? result.path[1]! : result.anchor.certificate;
  return {
    layer: result.layer,
    tcg: result.tcg,
    anchorLabels: result.anchor.labels,
    anchorSubject: result.anchor.certificate.subject.text,
    anchorSubjectRfc4514: rfc4514(result.anchor.certificate.subject),
    anchorFingerprint: result.anchor.certificate.fingerprint,
    certificateFingerprint: target.fingerprint,
    issuerCertificateSha256: result.path.length === 0 ? target.fingerprint : issuer.fingerprint,
    publicKey: publicKeyObject(target.publicKey),
    spki: target.publicKey.der,
    at: result.at,
  };
}
