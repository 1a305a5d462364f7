// Public API of the X.509 area. Pure: bytes, anchors and a time in, results
// out; file loading lives in src/cli/trust-files.ts. The encoder
// (trusted-layer-encode.ts, asn1js) and the @peculiar/x509 helper
// (peculiar-extension.ts) are imported from their own modules so that
// validation never loads them.

export { CERT_CODES, CHAIN_CODES, CRL_CODES, LAYER_EXT_CODES, TRUST_CODES, X509_CODES } from './codes.js';
export { parseCertificate, displayName, findExtension, sha256Hex, MAX_CERTIFICATE_BYTES } from './certificate.js';
export type { Certificate } from './certificate.js';
export { splitDerOrPem, pemBlocks, toPem } from './pem.js';
export { parseCrl, parseCrls, CRL_REASONS } from './crl.js';
export type { Crl, RevokedEntry } from './crl.js';
export { ValidationCache } from './cache.js';
export type { CacheStats } from './cache.js';
export { TrustStore, buildTrustStore, checkLabel, WELL_KNOWN_LABELS, UNLABELLED, LABEL_PATTERN } from './trust-store.js';
export type { TrustAnchor, TrustSource, TrustProblem, BuiltTrustStore } from './trust-store.js';
export { validatePath, validateChain, PROCESSED_CRITICAL_EXTENSIONS, DEFAULT_MAX_DEPTH, MAX_CHAIN_CERTIFICATES } from './validate.js';
export type { ValidationOptions, PathValidation, ValidPath, InvalidPath, ChainCheck, CertRef, CertificateInput } from './validate.js';
export { layerInfo } from './layer-info.js';
export type { VerifiedLayerInfo } from './layer-info.js';
export { decodeTrustedLayer, checkTrustedLayer, defaultInstanceId, TRUSTED_LAYER_OID, INSTANCE_ID_BYTES } from './trusted-layer.js';
export type { TrustedLayerValue, TrustedLayerClaim, VerifiedTrustedLayer, LayerKind } from './trusted-layer.js';
export type { TcgAttributes } from './tcg.js';
export { summarizeCertificate, summarizeValidation, summarizeLayer, summarizeAnchor } from './describe.js';
export { OID, EKU_BY_ROLE } from './oids.js';
