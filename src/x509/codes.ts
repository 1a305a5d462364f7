// Stable error codes of the X.509 area. CERT_ and CRL_MALFORMED are about
// bytes that are not a well-formed certificate or CRL (bad input, exit 2);
// CHAIN_ and the other CRL_ codes are checks over well-formed certificates
// that failed (exit 1); LAYER_EXT_ is the TrustedLayer extension of
// protocol.md section 4; TRUST_ is the trust store configuration.

import type { CodeTable } from '../errors.js';

export const CERT_CODES = {
  CERT_PEM_INVALID: { kind: 'input', summary: 'a PEM block is broken: unterminated armor or invalid base64 inside' },
  CERT_NO_CERTIFICATE: { kind: 'input', summary: 'the input holds no certificate (neither DER nor a PEM CERTIFICATE block)' },
  CERT_TOO_LARGE: { kind: 'input', summary: 'a certificate, bundle or field is larger than its cap (64 KiB per certificate, 4096 per bundle)' },
  CERT_MALFORMED: { kind: 'input', summary: 'the bytes are not a well-formed X.509 certificate (wrong tag, missing field, trailing data, duplicate extension)' },
  CERT_NOT_DER: { kind: 'input', summary: 'a BER-only encoding DER forbids (indefinite or non-minimal length, constructed string, non-minimal integer, bad boolean)' },
  CERT_BAD_TIME: { kind: 'input', summary: 'a validity time is not in the RFC 5280 form (YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ) or not a real date' },
  CERT_EXTENSION_MALFORMED: { kind: 'input', summary: 'a known extension (basicConstraints, keyUsage, SAN, cRLDistributionPoints, ...) does not decode' },
  CERT_NON_DER: {
    kind: 'verification',
    summary: 'warning: a tolerated departure from DER (SET OF out of order, explicit DEFAULT value, non-zero padding bits, empty extensions list); the signature covers the bytes as sent',
  },
} as const satisfies CodeTable;

export const CHAIN_CODES = {
  CHAIN_UNTRUSTED_ROOT: { kind: 'verification', summary: 'no path from the certificate to a configured trust anchor (issuer not found, or a self-signed certificate that is not an anchor)' },
  CHAIN_TOO_LONG: { kind: 'verification', summary: 'the path would be longer than the depth cap (8 certificates by default)' },
  CHAIN_BAD_SIGNATURE: { kind: 'verification', summary: "a certificate's signature does not verify with its issuer's public key" },
  CHAIN_UNSUPPORTED_ALGORITHM: { kind: 'verification', summary: 'a signature or key algorithm vtpm-verify does not support, or an RSA issuing key it never uses (a modulus over 8192 bits; an exponent even, under 3 or of 2^256 and over; a negative INTEGER)' },
  CHAIN_WEAK_ALGORITHM: { kind: 'verification', summary: 'warning: a certificate in the path, or a CRL its revocation is judged on, is signed with SHA-1, or an issuing key is an RSA key under 2048 bits or an EC key under 256 bits' },
  CHAIN_WEAK_KEY: { kind: 'verification', summary: 'an issuing key in the path (intermediate or anchor) is too small to trust its signatures: RSA under 1024 bits, EC under 160 bits' },
  CHAIN_NAME_MISMATCH: { kind: 'verification', summary: "a certificate's issuer name does not match its issuer's subject name" },
  CHAIN_KEY_ID_MISMATCH: { kind: 'verification', summary: "a certificate's authority key identifier does not match its issuer's subject key identifier" },
  CHAIN_EXPIRED: { kind: 'verification', summary: 'a certificate in the path (or the anchor) is past its notAfter at the validation time' },
  CHAIN_NOT_YET_VALID: { kind: 'verification', summary: 'a certificate in the path (or the anchor) is before its notBefore at the validation time' },
  CHAIN_NOT_CA: { kind: 'verification', summary: 'an issuing certificate is not a CA (basicConstraints missing or cA false)' },
  CHAIN_PATHLEN: { kind: 'verification', summary: "more intermediate CAs follow a CA than its pathLenConstraint allows" },
  CHAIN_KEY_USAGE: { kind: 'verification', summary: 'a keyUsage forbids the use: issuer without keyCertSign, CRL issuer without cRLSign, AK without digitalSignature' },
  CHAIN_CRITICAL_EXTENSION: { kind: 'verification', summary: 'a certificate carries a critical extension vtpm-verify does not process, or an intermediate carries name constraints (binding whatever their criticality)' },
  CHAIN_REVOKED: { kind: 'verification', summary: 'a certificate in the path is listed in a verified CRL of its issuer' },
  CHAIN_EKU: { kind: 'verification', summary: 'the certificate lacks the required extended key usage (tcg-kp-EKCertificate 2.23.133.8.1, tcg-kp-AIKCertificate 2.23.133.8.3)' },
  CHAIN_ANCHOR_NOT_ALLOWED: { kind: 'verification', summary: "the path ends at a trust anchor whose labels are not among those allowed here" },
} as const satisfies CodeTable;

export const CRL_CODES = {
  CRL_MALFORMED: { kind: 'input', summary: 'the bytes are not a well-formed DER X.509 CRL' },
  CRL_BAD_SIGNATURE: { kind: 'verification', summary: "a CRL naming a path certificate's issuer is not signed by that issuer, and no other CRL given for it can be used" },
  CRL_EXPIRED: { kind: 'verification', summary: "a CRL is past its nextUpdate at the validation time, and no other CRL given for its issuer can be used: revocation status unknown" },
  CRL_NOT_YET_VALID: { kind: 'verification', summary: 'a CRL has a thisUpdate after the validation time, and no other CRL given for its issuer can be used' },
  CRL_UNSUPPORTED: { kind: 'verification', summary: 'a current CRL of the issuer uses a feature vtpm-verify does not process (delta or indirect CRL, reason partitions, a distribution point named relative to the CRL issuer, unknown critical extension)' },
} as const satisfies CodeTable;

export const LAYER_EXT_CODES = {
  LAYER_EXT_MALFORMED: { kind: 'input', summary: 'the TrustedLayer extension is not strict DER of the protocol.md section 4 ASN.1' },
  LAYER_EXT_BAD_KIND: { kind: 'input', summary: 'TrustedLayer kind is neither physical(0) nor virtual(1)' },
  LAYER_EXT_INSTANCE_ID: { kind: 'input', summary: 'TrustedLayer instanceId is not exactly 32 bytes' },
  LAYER_EXT_BAD_URI: { kind: 'input', summary: 'a TrustedLayer URI is not an absolute http or https URI (or has credentials, a backslash, port 0 or an IPv4 address not written as four decimal parts without leading zeros, is too long, or sets a query parameter the challenger adds: `nonce`, `pcrs`, `instance`)' },
  LAYER_EXT_MISSING_FIELD: { kind: 'input', summary: 'a virtual TrustedLayer lacks instanceId or deepAttestation' },
  LAYER_EXT_INCONSISTENT: { kind: 'input', summary: 'a physical TrustedLayer names a deepAttestation service (the walk ends at a physical layer)' },
} as const satisfies CodeTable;

export const TRUST_CODES = {
  TRUST_LABEL_INVALID: { kind: 'input', summary: 'a trust anchor label is not a lowercase name ([a-z][a-z0-9-]*, at most 32 characters)' },
  TRUST_NO_ANCHORS: { kind: 'input', summary: 'the trust store configuration yields no trust anchor' },
} as const satisfies CodeTable;

export const X509_CODES = {
  ...CERT_CODES,
  ...CHAIN_CODES,
  ...CRL_CODES,
  ...LAYER_EXT_CODES,
  ...TRUST_CODES,
} as const satisfies CodeTable;
