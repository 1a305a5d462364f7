// Plain-JSON views of certificates and path results, for --json output and
// reports. Hex lowercase; times ISO 8601 UTC.

import { displayName, type Certificate } from './certificate.js';
import { extensionName } from './oids.js';
import { describeKey } from './public-key.js';
import type { TrustAnchor } from './trust-store.js';
import type { TrustedLayerClaim } from './trusted-layer.js';
import type { ChainCheck, PathValidation } from './validate.js';

function hex(bytes: Uint8Array | undefined): string | undefined {
  return bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') : undefined;
}

export interface CertificateSummary {
  subject: string;
  displayName: string;
  issuer: string;
  serial: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  key: string;
  signatureAlgorithm: string;
  ca: boolean;
  pathLen?: number;
  keyUsage?: string[];
  extKeyUsage?: string[];
  subjectKeyId?: string;
  authorityKeyId?: string;
  criticalExtensions: string[];
  selfIssued: boolean;
  strictDer: boolean;
}

export function summarizeCertificate(cert: Certificate): CertificateSummary {
  const out: CertificateSummary = {
    subject: cert.subject.text,
    displayName: displayName(cert),
    issuer: cert.issuer.text,
    serial: cert.serial,
    fingerprint: cert.fingerprint,
    notBefore: new Date(cert.notBefore).toISOString(),
    notAfter: new Date(cert.notAfter).toISOString(),
    key: describeKey(cert.publicKey),
    signatureAlgorithm: cert.signatureAlgorithm.name,
    ca: cert.ext.basicConstraints?.ca === true,
    criticalExtensions: cert.extensions.filter((e) => e.critical).map((e) => extensionName(e.oid)),
    selfIssued: cert.selfIssued,
    strictDer: cert.derDeviations.length === 0,
  };
  if (cert.ext.basicConstraints?.pathLen !== undefined) out.pathLen = cert.ext.basicConstraints.pathLen;
  if (cert.ext.keyUsage) out.keyUsage = [...cert.ext.keyUsage];
  if (cert.ext.extKeyUsage) out.extKeyUsage = [...cert.ext.extKeyUsage];
  const ski = hex(cert.ext.subjectKeyId);
  if (ski) out.subjectKeyId = ski;
  const aki = hex(cert.ext.authorityKeyId);
  if (aki) out.authorityKeyId = aki;
  return out;
}

export function summarizeAnchor(anchor: TrustAnchor): CertificateSummary & { labels: readonly string[]; origins: readonly string[] } {
  return { ...summarizeCertificate(anchor.certificate), labels: anchor.labels, origins: anchor.origins };
}

export function summarizeLayer(layer: TrustedLayerClaim | null): Record<string, unknown> | null {
  if (!layer) return null;
  const out: Record<string, unknown> = { kind: layer.kind };
  if (layer.instanceId) out['instanceId'] = hex(layer.instanceId);
  if (layer.deepAttestation !== undefined) out['deepAttestation'] = layer.deepAttestation;
  if (layer.migrationService !== undefined) out['migrationService'] = layer.migrationService;
  if (layer.ignoredFields.length) out['ignoredFields'] = layer.ignoredFields;
  return out;
}

/** The whole result as plain JSON: verdict, path (target first), anchor, TCG attributes, layer, checks. */
export function summarizeValidation(result: PathValidation): Record<string, unknown> {
  const base = {
    valid: result.valid,
    at: new Date(result.at).toISOString(),
    path: result.path.map(summarizeCertificate),
    anchor: result.anchor ? summarizeAnchor(result.anchor) : null,
    tcg: result.target.tcg,
    checks: result.checks.map(plainCheck),
    warnings: result.warnings.map(plainCheck),
  };
  if (result.valid) return { ...base, code: null, layer: summarizeLayer(result.layer) };
  return {
    ...base,
    code: result.code,
    message: result.message,
    certificate: result.certificate,
    target: summarizeCertificate(result.target),
    layer: null,
    unverifiedLayer: summarizeLayer(result.unverifiedLayer),
  };
}

function plainCheck(c: ChainCheck): ChainCheck {
  return { ...c };
}
