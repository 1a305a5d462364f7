// Certification path validation, in our own code (RFC 5280 section 6, with
// the TCG profiles' allowances). Pure: certificates, trust anchors, CRLs and
// an explicit time in; a result listing every check out. Nothing is fetched.
//
// For each candidate path from path-builder.ts, every certificate is checked:
//   signature by the next certificate's (or the anchor's) key, issuer name
//   chaining, AKI/SKI agreement where both exist, validity at `at` with
//   inclusive bounds, critical extensions we do not process, revocation from
//   the CRLs given whose scope covers it (user/CA certificates only, IDP
//   distribution point against its cRLDistributionPoints; signature and
//   validity of each CRL checked first; one not current or not signed by the
//   issuer is left out while another is usable);
// every issuer (intermediates and the anchor certificate): cA, pathLen,
//   keyCertSign, and the anchor's validity;
// the target: the required EKU, the anchor's label, the TrustedLayer extension.
// The first valid candidate wins; otherwise the candidate whose worst
// failure is least severe is reported. The result of a valid path carries the
// decoded TrustedLayer extension: the only way to get a VerifiedTrustedLayer.

import { fail, pass, type CheckResult } from '../verify/checks.js';
import type { ValidationCache } from './cache.js';
import type { PathValidationMemo } from './path-memo.js';
import { displayName, findExtension, parseCertificate, type Certificate } from './certificate.js';
import type { Crl, RevokedEntry } from './crl.js';
import { CRL_REASONS } from './crl.js';
import { EKU_BY_ROLE, OID, extensionName } from './oids.js';
import { describeGeneralName, generalNameKey, type GeneralName, type KeyUsageName } from './extensions.js';
import { buildCandidatePaths, type CandidatePath } from './path-builder.js';
import { keyStrengthBits } from './public-key.js';
import { verifySignature, verifySignatureAsync, type SignatureCheck } from './signature.js';
import type { TcgAttributes } from './tcg.js';
import { decodeTrustedLayer, type TrustedLayerClaim, type VerifiedTrustedLayer } from './trusted-layer.js';
import type { TrustAnchor, TrustStore } from './trust-store.js';
import { ParseError, VtpmError } from '../errors.js';
import { splitDerOrPem } from './pem.js';

/**
 * Critical extensions a path may carry. RFC 5280 requires rejecting any other
 * critical extension. certificatePolicies is processed with
 * user-initial-policy-set = anyPolicy and no explicit-policy requirement
 * (RFC 5280 6.1.1), so a critical one constrains nothing we rely on; STM,
 * Infineon and Intel EK CAs mark it critical. subjectAltName is critical in
 * TCG EK certificates with an empty subject; subjectDirectoryAttributes holds
 * the TCG TPM specification attributes.
 */
export const PROCESSED_CRITICAL_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.certificatePolicies,
  OID.subjectDirectoryAttributes,
  OID.trustedLayer,
]);

export const DEFAULT_MAX_DEPTH = 8;

export interface ValidationOptions {
  /** the validation time (never "now" implicitly: the caller decides) */
  at: Date | number;
  /** 'ek' (2.23.133.8.1), 'ak' (2.23.133.8.3) or an EKU OID the target must carry */
  requireEku?: 'ek' | 'ak' | string;
  /**
   * A keyUsage bit the target's keyUsage, when it has one, must include. The
   * walker asks for digitalSignature: it verifies quotes with the certified
   * key. requireEku 'ak' implies it.
   */
  requireKeyUsage?: KeyUsageName;
  /** when given, the anchor must carry one of these labels */
  allowedLabels?: readonly string[];
  /** CRLs to consult; a certificate whose issuer has none here is not checked for revocation */
  crls?: readonly Crl[];
  /** verified links and parsed certificates to reuse */
  cache?: ValidationCache;
  /** valid results to reuse for the same chain while no validity boundary is crossed (validateChain) */
  memo?: PathValidationMemo;
  /** at most this many certificates in the path, anchor excluded (default 8) */
  maxDepth?: number;
  /**
   * Signature outcomes computed for this validation ahead of time (by
   * validateChainAsync, off the event loop), by "issuerFingerprint>certFingerprint";
   * a link not in it is verified here.
   */
  verifiedSignatures?: ReadonlyMap<string, SignatureCheck>;
}

export interface CertRef {
  /** 0 = the target; path length = the anchor */
  index: number;
  role: 'leaf' | 'intermediate' | 'anchor';
  subject: string;
  serial: string;
  fingerprint: string;
}

/** A CheckResult that names the certificate it is about. */
export interface ChainCheck extends CheckResult {
  certificate?: CertRef;
}

declare const validPath: unique symbol;

interface PathResultBase {
  /** validation time, ms since the epoch */
  readonly at: number;
  readonly target: Certificate;
  /** every check that ran, per certificate from the target up to the anchor */
  readonly checks: readonly ChainCheck[];
  /** the checks with status warn */
  readonly warnings: readonly ChainCheck[];
}

export interface ValidPath extends PathResultBase {
  readonly valid: true;
  readonly [validPath]: true;
  /** target first, anchor excluded; empty when the target is itself an anchor */
  readonly path: readonly Certificate[];
  readonly anchor: TrustAnchor;
  /** the target's TrustedLayer extension, null when absent */
  readonly layer: VerifiedTrustedLayer | null;
  readonly tcg: TcgAttributes | null;
}

export interface InvalidPath extends PathResultBase {
  readonly valid: false;
  /** the failing check that decided */
  readonly failure: ChainCheck;
  readonly code: string;
  readonly message: string;
  readonly certificate: CertRef | null;
  /** the candidate path reported (target first), or the longest chain found */
  readonly path: readonly Certificate[];
  readonly anchor: TrustAnchor | null;
  /** the target's extension as claimed: for display only, never to follow */
  readonly unverifiedLayer: TrustedLayerClaim | null;
}

export type PathValidation = ValidPath | InvalidPath;

/** Most severe first: the reported failure of a path is its most severe one. */
const SEVERITY = [
  'CHAIN_UNTRUSTED_ROOT',
  'CHAIN_TOO_LONG',
  'CHAIN_BAD_SIGNATURE',
  'CHAIN_WEAK_KEY',
  'CHAIN_UNSUPPORTED_ALGORITHM',
  'CHAIN_NAME_MISMATCH',
  'CHAIN_KEY_ID_MISMATCH',
  'CRL_BAD_SIGNATURE',
  'CHAIN_REVOKED',
  'CHAIN_NOT_CA',
  'CHAIN_PATHLEN',
  'CHAIN_KEY_USAGE',
  'CHAIN_CRITICAL_EXTENSION',
  'CHAIN_EXPIRED',
  'CHAIN_NOT_YET_VALID',
  'CRL_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_UNSUPPORTED',
  'CHAIN_EKU',
  'CHAIN_ANCHOR_NOT_ALLOWED',
];

function severity(code: string | undefined): number {
  const i = code === undefined ? -1 : SEVERITY.indexOf(code);
  return i < 0 ? SEVERITY.length : i;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function ok(id: string, message: string, certificate?: CertRef, extra: Partial<CheckResult> = {}): ChainCheck {
  return certificate ? { ...pass(id, message, extra), certificate } : pass(id, message, extra);
}

function bad(id: string, code: string, message: string, certificate?: CertRef, extra: Partial<CheckResult> = {}): ChainCheck {
  return certificate ? { ...fail(id, code, message, extra), certificate } : fail(id, code, message, extra);
}

export function certRef(cert: Certificate, index: number, role: CertRef['role']): CertRef {
  return { index, role, subject: cert.subject.text, serial: cert.serial, fingerprint: cert.fingerprint };
}

function label(ref: CertRef): string {
  return `[${ref.index}] ${ref.role} "${ref.subject || `(empty subject, serial ${ref.serial})`}"`;
}

function resolveEku(requireEku: string): string {
  return (EKU_BY_ROLE as Record<string, string>)[requireEku] ?? requireEku;
}

interface Evaluation {
  candidate: CandidatePath;
  checks: ChainCheck[];
  failure: ChainCheck | undefined;
  layer: TrustedLayerClaim | null;
}

/** Checks one candidate path; returns every check and the decisive failure, if any. */
function evaluate(candidate: CandidatePath, target: Certificate, at: number, options: ValidationOptions): Evaluation {
  const checks: ChainCheck[] = [];
  const { certs, anchor } = candidate;
  const n = certs.length;
  const cache = options.cache;
  const add = (c: ChainCheck): void => void checks.push(c);
  const refOf = (i: number): CertRef => (i === n ? certRef(anchor.certificate, n, 'anchor') : certRef(certs[i]!, i, i === 0 ? 'leaf' : 'intermediate'));

  // Per certificate of the path: its link to its issuer and its own properties.
  for (let i = 0; i < n; i++) {
    const cert = certs[i]!;
    const issuer = i + 1 < n ? certs[i + 1]! : anchor.certificate;
    const ref = refOf(i);
    const who = label(ref);

    // Signature by the issuer's key (cached once verified).
    const linkKey = `${issuer.fingerprint}>${cert.fingerprint}`;
    if (cache?.hasVerifiedLink(issuer.fingerprint, cert.fingerprint)) {
      add(ok(`chain.signature.${i}`, `${who}: signature verified by ${label(refOf(i + 1))} (cached)`, ref));
    } else {
      const sig = options.verifiedSignatures?.get(linkKey) ?? verifySignature(cert.signatureAlgorithm, cert.tbs, cert.signature, issuer.publicKey);
      if (sig.ok) {
        cache?.recordVerifiedLink(issuer.fingerprint, cert.fingerprint);
        add(ok(`chain.signature.${i}`, `${who}: ${cert.signatureAlgorithm.name} signature verified by ${label(refOf(i + 1))}`, ref));
      } else {
        add(bad(`chain.signature.${i}`, sig.code, `${who}: ${sig.reason} (${label(refOf(i + 1))})`, ref, { actual: cert.signatureAlgorithm.name }));
      }
    }
    if (cert.signatureAlgorithm.hash === 'sha1') {
      add({ id: `chain.weak-algorithm.${i}`, status: 'warn', code: 'CHAIN_WEAK_ALGORITHM', message: `${who}: signed with ${cert.signatureAlgorithm.name}`, certificate: ref });
    }

    // Name chaining, then AKI/SKI where both exist.
    if (cert.issuer.key === issuer.subject.key) {
      add(ok(`chain.name.${i}`, `${who}: issuer name matches ${label(refOf(i + 1))}`, ref));
    } else {
      add(bad(`chain.name.${i}`, 'CHAIN_NAME_MISMATCH', `${who}: issuer "${cert.issuer.text}" is not the subject of ${label(refOf(i + 1))}`, ref, { expected: cert.issuer.text, actual: issuer.subject.text }));
    }
    const aki = cert.ext.authorityKeyId;
    const ski = issuer.ext.subjectKeyId;
    if (aki && ski) {
      if (Buffer.compare(aki, ski) === 0) add(ok(`chain.key-id.${i}`, `${who}: authority key identifier matches the issuer's`, ref));
      else {
        add(bad(`chain.key-id.${i}`, 'CHAIN_KEY_ID_MISMATCH', `${who}: authority key identifier ${hex(aki)} is not the subject key identifier of ${label(refOf(i + 1))}`, ref, { expected: hex(aki), actual: hex(ski) }));
      }
    }

    checkValidity(cert, i, ref, at, add);
    checkCriticalExtensions(cert, i, ref, add);
    checkRevocation(cert, issuer, i, ref, label(refOf(i + 1)), at, options, add);

    if (cert.derDeviations.length > 0) {
      const kinds = [...new Set(cert.derDeviations.map((d) => `${d.kind} in ${d.field}`))];
      add({ id: `cert.der.${i}`, status: 'warn', code: 'CERT_NON_DER', message: `${who}: not strict DER, tolerated: ${kinds.join('; ')}`, certificate: ref, actual: cert.derDeviations });
    }
  }

  // Every issuer, the anchor certificate included: a CA that may sign, within its pathLen.
  for (let k = 1; k <= n; k++) {
    const ca = k === n ? anchor.certificate : certs[k]!;
    const ref = refOf(k);
    const who = label(ref);
    const bc = ca.ext.basicConstraints;
    if (k === n && !bc && ca.version < 3) {
      add(ok(`chain.ca.${k}`, `${who}: version ${ca.version} anchor, a CA by configuration`, ref));
    } else if (!bc || !bc.ca) {
      add(bad(`chain.ca.${k}`, 'CHAIN_NOT_CA', `${who}: issues certificates but is not a CA (${bc ? 'basicConstraints cA is false' : 'no basicConstraints'})`, ref));
    } else {
      add(ok(`chain.ca.${k}`, `${who}: CA`, ref));
    }
    if (bc?.pathLen !== undefined) {
      // Intermediate CAs below this one, self-issued ones not counted (RFC 5280 6.1.4 (l)).
      let below = 0;
      for (let j = 1; j < k; j++) if (!certs[j]!.selfIssued) below++;
      if (below > bc.pathLen) {
        add(bad(`chain.pathlen.${k}`, 'CHAIN_PATHLEN', `${who}: pathLenConstraint ${bc.pathLen}, but ${below} intermediate CA(s) follow it`, ref, { expected: bc.pathLen, actual: below }));
      } else {
        add(ok(`chain.pathlen.${k}`, `${who}: pathLenConstraint ${bc.pathLen} holds (${below} below)`, ref));
      }
    }
    const ku = ca.ext.keyUsage;
    if (ku && !ku.has('keyCertSign')) {
      add(bad(`chain.key-usage.${k}`, 'CHAIN_KEY_USAGE', `${who}: keyUsage lacks keyCertSign (${[...ku].join(', ') || 'none'})`, ref, { expected: 'keyCertSign', actual: [...ku] }));
    } else {
      add(ok(`chain.key-usage.${k}`, `${who}: ${ku ? 'keyUsage includes keyCertSign' : 'no keyUsage restriction'}`, ref));
    }
    checkIssuerKeySize(ca, k, ref, add);
  }
  // The anchor's own validity period (its signature is not checked: it is trusted by configuration).
  checkValidity(anchor.certificate, n, refOf(n), at, add);

  // The target: required EKU, key usage of an AK.
  const leafRef = refOf(0);
  if (options.requireEku) {
    const wanted = resolveEku(options.requireEku);
    const ekus = target.ext.extKeyUsage;
    if (ekus?.includes(wanted)) add(ok('chain.eku', `${label(leafRef)}: extended key usage includes ${wanted}`, leafRef));
    else {
      add(bad('chain.eku', 'CHAIN_EKU', `${label(leafRef)}: extended key usage lacks ${wanted} (${options.requireEku})`, leafRef, { expected: wanted, actual: ekus ?? [] }));
    }
  }
  // An AK signs quotes: a keyUsage that forbids signing contradicts the role (RFC 5280 4.2.1.3).
  const usage = options.requireKeyUsage ?? (options.requireEku && resolveEku(options.requireEku) === OID.tcgKpAikCertificate ? 'digitalSignature' : undefined);
  if (usage && target.ext.keyUsage && !target.ext.keyUsage.has(usage)) {
    add(bad('chain.key-usage.0', 'CHAIN_KEY_USAGE', `${label(leafRef)}: its keyUsage lacks ${usage} (${[...target.ext.keyUsage].join(', ') || 'none'})`, leafRef, { expected: usage, actual: [...target.ext.keyUsage] }));
  }

  // The anchor's labels against the policy.
  if (options.allowedLabels) {
    const allowed = anchor.labels.filter((l) => options.allowedLabels!.includes(l));
    if (allowed.length > 0) add(pass('chain.anchor-label', `anchor labelled ${allowed.join(', ')}`));
    else {
      add(bad('chain.anchor-label', 'CHAIN_ANCHOR_NOT_ALLOWED', `the path ends at an anchor labelled ${anchor.labels.join(', ')}, not ${options.allowedLabels.join(' or ')}`, refOf(n), { expected: options.allowedLabels, actual: anchor.labels }));
    }
  }

  // The TrustedLayer extension: decoded here, handed out only if the path is valid.
  let layer: TrustedLayerClaim | null = null;
  const ext = findExtension(target, OID.trustedLayer);
  if (!ext) {
    checks.push({ id: 'layer.extension', status: 'skip', message: 'no TrustedLayer extension (says nothing about virtualization)' });
  } else {
    try {
      layer = decodeTrustedLayer(ext.value);
      add(ok('layer.extension', `TrustedLayer: ${layer.kind}${layer.deepAttestation ? `, deep attestation at ${layer.deepAttestation}` : ''}`, leafRef));
    } catch (err) {
      if (!(err instanceof VtpmError)) throw err;
      add(bad('layer.extension', err.code, `${label(leafRef)}: ${err.message}`, leafRef));
    }
  }

  let failure: ChainCheck | undefined;
  for (const c of checks) if (c.status === 'fail' && (!failure || severity(c.code) < severity(failure.code))) failure = c;
  return { candidate, checks, failure, layer };
}

function checkValidity(cert: Certificate, i: number, ref: CertRef, at: number, add: (c: ChainCheck) => void): void {
  const who = label(ref);
  const window = { notBefore: iso(cert.notBefore), notAfter: iso(cert.notAfter) };
  if (at < cert.notBefore) {
    add(bad(`chain.validity.${i}`, 'CHAIN_NOT_YET_VALID', `${who}: not valid before ${window.notBefore} (validation time ${iso(at)})`, ref, { expected: window, actual: iso(at) }));
  } else if (at > cert.notAfter) {
    add(bad(`chain.validity.${i}`, 'CHAIN_EXPIRED', `${who}: expired at ${window.notAfter} (validation time ${iso(at)})`, ref, { expected: window, actual: iso(at) }));
  } else {
    add(ok(`chain.validity.${i}`, `${who}: valid ${window.notBefore} .. ${window.notAfter}`, ref));
  }
}

/**
 * Issuing key sizes, in bits. Under `fail` (less than about 80-bit security:
 * RSA-512 is factored in hours on rented machines, RSA-768 was factored in
 * 2009) whoever factors the key can issue any certificate under it: the path
 * fails. Under `warn` (112-bit security, NIST SP 800-131A's minimum) it is
 * accepted with a warning, as SHA-1 signatures are. AK keys are limited
 * where they are read (verify/ak.ts).
 */
const ISSUER_KEY_BITS = { rsa: { fail: 1024, warn: 2048 }, ec: { fail: 160, warn: 256 } } as const;

function checkIssuerKeySize(ca: Certificate, k: number, ref: CertRef, add: (c: ChainCheck) => void): void {
  const key = ca.publicKey;
  const family = key.algorithm === 'rsa' || key.algorithm === 'rsa-pss' ? 'rsa' : key.algorithm === 'ec' ? 'ec' : undefined;
  const bits = keyStrengthBits(key);
  // EdDSA keys have a fixed strength; a key of unknown size verifies nothing (CHAIN_UNSUPPORTED_ALGORITHM).
  if (!family || bits === undefined) return;
  const limits = ISSUER_KEY_BITS[family];
  const what = `${label(ref)}: a ${bits}-bit ${family === 'rsa' ? 'RSA' : `EC (${key.curve})`} key`;
  if (bits < limits.fail) {
    add(bad(`chain.key-size.${k}`, 'CHAIN_WEAK_KEY', `${what} issues certificates: under ${limits.fail} bits, its signatures cannot be trusted`, ref, { expected: `>= ${limits.fail} bits`, actual: bits }));
  } else if (bits < limits.warn) {
    add({ id: `chain.key-size.${k}`, status: 'warn', code: 'CHAIN_WEAK_ALGORITHM', message: `${what} issues certificates (under ${limits.warn} bits)`, certificate: ref, expected: `>= ${limits.warn} bits`, actual: bits });
  }
}

function checkCriticalExtensions(cert: Certificate, i: number, ref: CertRef, add: (c: ChainCheck) => void): void {
  // Only the target's TrustedLayer extension is read: on an intermediate it is never decoded, so a critical one
  // there is a critical extension not processed (RFC 5280 4.2), whatever its content.
  const processed = (oid: string): boolean => PROCESSED_CRITICAL_EXTENSIONS.has(oid) && !(i > 0 && oid === OID.trustedLayer);
  const unknown = cert.extensions.filter((e) => e.critical && !processed(e.oid)).map((e) => extensionName(e.oid));
  // An intermediate's name constraints bind the certificates below it whatever their criticality (RFC 5280
  // 6.1.4 (g)); not processing them, a path that violates a non-critical one would pass.
  const constrains = i > 0 && cert.extensions.some((e) => !e.critical && e.oid === OID.nameConstraints);
  if (unknown.length > 0 || constrains) {
    const names = [...unknown, ...(constrains ? ['nameConstraints (not critical, but binding all the same)'] : [])];
    add(bad(`chain.critical.${i}`, 'CHAIN_CRITICAL_EXTENSION', `${label(ref)}: ${unknown.length ? 'critical ' : ''}extension(s) not processed: ${names.join(', ')}`, ref, { actual: [...unknown, ...(constrains ? ['nameConstraints'] : [])] }));
  }
}

/** Why one CRL of the issuer cannot be used at the validation time. */
interface CrlProblem {
  code: string;
  message: string;
  /** signed by the issuer: its own CRL, not a namesake's or a forgery */
  authentic: boolean;
  /** a current CRL of the issuer that cannot be read: it decides even next to a usable one */
  binding: boolean;
  /** what follows when this problem decides */
  consequence?: string;
  extra?: Partial<CheckResult>;
}

/** The problem of one CRL naming the issuer, or null when it can be used: signed by the issuer, current at `at`, supported. */
/** Whether `issuer`'s key signed the CRL (remembered in the cache when it did). */
function signedBy(crl: Crl, issuer: Certificate, options: ValidationOptions): boolean {
  if (options.cache?.hasVerifiedLink(issuer.fingerprint, crl.fingerprint)) return true;
  if (!verifySignature(crl.signatureAlgorithm, crl.tbs, crl.signature, issuer.publicKey).ok) return false;
  options.cache?.recordVerifiedLink(issuer.fingerprint, crl.fingerprint);
  return true;
}

function crlProblem(crl: Crl, issuer: Certificate, issuerLabel: string, at: number, options: ValidationOptions): CrlProblem | null {
  const what = `CRL ${crl.fingerprint.slice(0, 16)} (thisUpdate ${iso(crl.thisUpdate)})`;
  const problem = (code: string, message: string, authentic = true, extra?: Partial<CheckResult>): CrlProblem => ({
    code,
    message: `${what} ${message}`,
    authentic,
    binding: code === 'CRL_UNSUPPORTED',
    ...(extra ? { extra } : {}),
  });
  if (!options.cache?.hasVerifiedLink(issuer.fingerprint, crl.fingerprint)) {
    const sig = verifySignature(crl.signatureAlgorithm, crl.tbs, crl.signature, issuer.publicKey);
    if (!sig.ok) return problem('CRL_BAD_SIGNATURE', `is not signed by ${issuerLabel}: ${sig.reason}`, false);
    options.cache?.recordVerifiedLink(issuer.fingerprint, crl.fingerprint);
  }
  if (issuer.ext.keyUsage && !issuer.ext.keyUsage.has('cRLSign')) {
    return problem('CHAIN_KEY_USAGE', `is signed by ${issuerLabel}, whose keyUsage lacks cRLSign`, true, { expected: 'cRLSign', actual: [...issuer.ext.keyUsage] });
  }
  if (at < crl.thisUpdate) return problem('CRL_NOT_YET_VALID', `is issued after the validation time ${iso(at)}`);
  if (crl.nextUpdate !== undefined && at > crl.nextUpdate) {
    return { ...problem('CRL_EXPIRED', `expired at its nextUpdate ${iso(crl.nextUpdate)}`), consequence: 'revocation status unknown' };
  }
  if (crl.unsupported.length > 0) return problem('CRL_UNSUPPORTED', `cannot be used: ${crl.unsupported.join('; ')}`);
  return null;
}

/**
 * Revocation of one certificate by the CRLs naming its issuer. An issuer
 * publishes a CRL after another, and the one it replaced or one of a
 * rolled-over key of the same name (no AKI to tell them apart) may be given
 * too: a CRL that is not current or not signed by this issuer is left out
 * while another one can be used, as `openssl verify -crl_check_all` does; it
 * decides (CRL_EXPIRED, CRL_BAD_SIGNATURE, ...) only when none can. Any
 * usable CRL that lists the serial revokes, and a current CRL of the issuer
 * that cannot be read (CRL_UNSUPPORTED) is never left out.
 */
function checkRevocation(
  cert: Certificate,
  issuer: Certificate,
  i: number,
  ref: CertRef,
  issuerLabel: string,
  at: number,
  options: ValidationOptions,
  add: (c: ChainCheck) => void,
): void {
  const id = `chain.revocation.${i}`;
  const who = label(ref);
  const isCa = cert.ext.basicConstraints?.ca === true;
  const named = (options.crls ?? []).filter((crl) => crl.issuer.key === cert.issuer.key);
  // a CRL of the issuer's name whose authority key identifier is another key's: another CA of that name, or the
  // issuer's rolled-over key, whose CRL says nothing of certificates this key issued. Unless this key signed it:
  // then it is the issuer's own CRL with a wrong identifier, and left out, the revocations it lists went unseen.
  const ofIssuer = named.filter((crl) => !(crl.authorityKeyId && issuer.ext.subjectKeyId && Buffer.compare(crl.authorityKeyId, issuer.ext.subjectKeyId) !== 0) || signedBy(crl, issuer, options));
  if (ofIssuer.length === 0) {
    const otherKey = named.length > 0 ? ` (${named.length} CRL(s) of its issuer's name are for another key: their authority key identifier is not the issuer's)` : '';
    add({ id, status: 'skip', message: `${who}: no CRL from its issuer given${otherKey}; revocation not checked`, certificate: ref });
    return;
  }
  // The CRLs whose scope includes this certificate (RFC 5280 5.2.5): the others say nothing about it.
  const outOfScope: string[] = [];
  const crls = ofIssuer.filter((crl) => {
    const why = crlScopeExcludes(crl, cert, isCa);
    if (why) outOfScope.push(why);
    return !why;
  });
  if (crls.length === 0) {
    const distinct = [...new Set(outOfScope)];
    const scopes = distinct.length > MAX_NAMES_SHOWN ? `${distinct.slice(0, MAX_NAMES_SHOWN).join('; ')}; and ${distinct.length - MAX_NAMES_SHOWN} more` : distinct.join('; ');
    add({ id, status: 'skip', message: `${who}: none of its issuer's ${ofIssuer.length} CRL(s) covers it (${scopes}); revocation not checked`, certificate: ref });
    return;
  }
  const usable: Crl[] = [];
  const problems: CrlProblem[] = [];
  for (const crl of crls) {
    const problem = crlProblem(crl, issuer, issuerLabel, at, options);
    if (problem) problems.push(problem);
    else usable.push(crl);
  }

  const weak = usable.filter((crl) => crl.signatureAlgorithm.hash === 'sha1');
  if (weak.length > 0) {
    const names = weak.map((crl) => `CRL ${crl.fingerprint.slice(0, 16)} (${crl.signatureAlgorithm.name})`).slice(0, MAX_NAMES_SHOWN).join(', ');
    add({ id: `chain.revocation-algorithm.${i}`, status: 'warn', code: 'CHAIN_WEAK_ALGORITHM', message: `${who}: its revocation is judged on ${weak.length} CRL(s) signed with SHA-1: ${names}`, certificate: ref });
  }
  const revocation = earliestRevocation(usable, cert.serial, at);
  if (revocation) {
    const { entry, crl } = revocation;
    const reason = entry.reason !== undefined ? `, reason ${CRL_REASONS[entry.reason] ?? entry.reason}` : '';
    const what = `CRL ${crl.fingerprint.slice(0, 16)} (thisUpdate ${iso(crl.thisUpdate)})`;
    add(bad(id, 'CHAIN_REVOKED', `${who}: revoked at ${iso(entry.date)}${reason} (${what})`, ref, { actual: { revocationDate: iso(entry.date), ...(entry.reason !== undefined ? { reason: CRL_REASONS[entry.reason] ?? entry.reason } : {}) } }));
    return;
  }
  const binding = problems.find((p) => p.binding);
  const decisive = binding ?? (usable.length === 0 ? worstCrlProblem(problems) : undefined);
  if (decisive) {
    const others = crls.length > 1 ? `; no other of its issuer's ${crls.length} CRLs ${binding ? 'revokes it' : 'can be used'}` : '';
    add(bad(id, decisive.code, `${who}: ${decisive.message}${decisive.consequence ? `; ${decisive.consequence}` : ''}${others}`, ref, decisive.extra));
    return;
  }
  const left = problems.length > 0 ? `; left out: ${problems.map((p) => p.message).join('; ')}` : '';
  const notCovering = outOfScope.length > 0 ? `; ${outOfScope.length} other CRL(s) of its issuer do not cover it` : '';
  add(ok(id, `${who}: not revoked (${usable.length} CRL(s) from its issuer checked${left}${notCovering})`, ref));
}

const MAX_NAMES_SHOWN = 3;

function describeNames(names: readonly GeneralName[]): string {
  const shown = names.slice(0, MAX_NAMES_SHOWN).map(describeGeneralName).join(', ');
  return names.length > MAX_NAMES_SHOWN ? `${shown}, and ${names.length - MAX_NAMES_SHOWN} more` : shown;
}

/**
 * Why a CRL of the issuer does not cover `cert`, or undefined when it does.
 * Scope comes from its issuingDistributionPoint: user or CA certificates
 * only, and a distributionPoint (fullName), which covers the certificates
 * with a cRLDistributionPoints entry of a matching name: one of its
 * distributionPoint fullName, or of its cRLIssuer when it has no
 * distributionPoint (RFC 5280 6.3.3 (b)(2)(i)). An entry named relative to
 * the CRL issuer matches nothing (not resolved), nor does a certificate
 * without cRLDistributionPoints. A CRL without a distributionPoint covers
 * every certificate of its issuer.
 */
function crlScopeExcludes(crl: Crl, cert: Certificate, isCa: boolean): string | undefined {
  if (crl.onlyUserCerts && isCa) return 'a CRL of user certificates only; this one is a CA';
  if (crl.onlyCaCerts && !isCa) return 'a CRL of CA certificates only; this one is not a CA';
  const idp = crl.distributionPoint;
  if (!idp) return undefined;
  const points = cert.ext.crlDistributionPoints ?? [];
  const idpKeys = new Set(idp.map(generalNameKey));
  for (const point of points) {
    const names = point.name ? ('fullName' in point.name ? point.name.fullName : []) : (point.crlIssuer ?? []);
    if (names.some((n) => idpKeys.has(generalNameKey(n)))) return undefined;
  }
  const own: string[] = [];
  for (const point of points) {
    if (!point.name) own.push(`cRLIssuer ${describeNames(point.crlIssuer ?? [])}`);
    else if ('fullName' in point.name) own.push(describeNames(point.name.fullName));
    else own.push('a name relative to the CRL issuer');
  }
  const shown = own.length > MAX_NAMES_SHOWN ? `${own.slice(0, MAX_NAMES_SHOWN).join(' | ')} | and ${own.length - MAX_NAMES_SHOWN} more` : own.join(' | ');
  return `distribution point ${describeNames(idp)}, ${own.length > 0 ? `not among its cRLDistributionPoints ${shown}` : 'and it has no cRLDistributionPoints'}`;
}

/** The earliest revocation of `serial` at or before `at` in the CRLs, with the CRL that lists it. */
function earliestRevocation(crls: readonly Crl[], serial: string, at: number): { entry: RevokedEntry; crl: Crl } | undefined {
  let found: { entry: RevokedEntry; crl: Crl } | undefined;
  for (const crl of crls) {
    const entry = crl.revoked.get(serial);
    if (entry && entry.date <= at && (!found || entry.date < found.entry.date)) found = { entry, crl };
  }
  return found;
}

/**
 * What to report when no CRL can be used: the issuer's own CRL first (out of
 * date, say: a fresh one is what is missing), then another key's signature;
 * among those, the most severe.
 */
function worstCrlProblem(problems: readonly CrlProblem[]): CrlProblem | undefined {
  let worst: CrlProblem | undefined;
  for (const p of problems) {
    if (!worst || (p.authentic && !worst.authentic) || (p.authentic === worst.authentic && severity(p.code) < severity(worst.code))) worst = p;
  }
  return worst;
}

/**
 * Validates `target` against the trust store, using `intermediates` (from the
 * evidence, in any order) and the store's own intermediates to build the path.
 */
export function validatePath(target: Certificate, intermediates: readonly Certificate[], store: TrustStore, options: ValidationOptions): PathValidation {
  const at = typeof options.at === 'number' ? options.at : options.at.getTime();
  const allowed = options.allowedLabels;
  const built = buildCandidatePaths(target, intermediates, store, {
    at,
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxCandidates: 16,
    ...(allowed ? { preferAnchor: (a: TrustAnchor) => a.labels.some((l) => allowed.includes(l)) } : {}),
  });

  if (built.candidates.length === 0) {
    const top = built.longest[built.longest.length - 1]!;
    const topRef = certRef(top, built.longest.length - 1, built.longest.length === 1 ? 'leaf' : 'intermediate');
    let failure: ChainCheck;
    if (built.tooLong) {
      failure = bad('chain.path', 'CHAIN_TOO_LONG', `no trust anchor within ${options.maxDepth ?? DEFAULT_MAX_DEPTH} certificates of ${displayName(target)}`, topRef);
    } else {
      const why = top.selfIssued
        ? `the self-issued ${label(topRef)} is not a trust anchor`
        : `no trust anchor or intermediate issued ${label(topRef)} (issuer "${top.issuer.text}")`;
      failure = bad('chain.path', 'CHAIN_UNTRUSTED_ROOT', `${why}${built.exhausted ? '; the path search stopped at its step cap' : ''}`, topRef, { expected: top.issuer.text });
    }
    return invalid(at, target, [failure], failure, built.longest, null, unverifiedLayerOf(target));
  }

  let best: Evaluation | undefined;
  for (const candidate of built.candidates) {
    const ev = evaluate(candidate, target, at, options);
    if (!ev.failure) {
      const checks: ChainCheck[] = [
        pass('chain.path', `path of ${candidate.certs.length} certificate(s) to anchor "${candidate.anchor.certificate.subject.text}" [${candidate.anchor.labels.join(', ')}]`),
        ...ev.checks,
      ];
      const result = {
        valid: true as const,
        at,
        target,
        checks,
        warnings: checks.filter((c) => c.status === 'warn'),
        path: candidate.certs,
        anchor: candidate.anchor,
        layer: ev.layer ? verified(ev.layer, target) : null,
        tcg: target.tcg,
      };
      return result as unknown as ValidPath;
    }
    if (!best || severity(ev.failure.code) > severity(best.failure!.code)) best = ev;
  }
  const chosen = best!;
  return invalid(
    at,
    target,
    [fail('chain.path', chosen.failure!.code!, `path of ${chosen.candidate.certs.length} certificate(s) to anchor "${chosen.candidate.anchor.certificate.subject.text}" does not validate`), ...chosen.checks.map(unverifiedLayerCheck)],
    chosen.failure!,
    chosen.candidate.certs,
    chosen.candidate.anchor,
    chosen.layer,
  );
}

/**
 * On a path that does not validate, the extension that decoded is a claim nobody vouched for: its check is not a
 * pass ("TrustedLayer: virtual, deep attestation at URL" listed among the passed checks of a forged certificate read
 * as if the URL were certified), but skipped, saying so.
 */
function unverifiedLayerCheck(c: ChainCheck): ChainCheck {
  if (c.id !== 'layer.extension' || c.status !== 'pass') return c;
  return { ...c, status: 'skip', message: `${c.message.replace(/^TrustedLayer: /, 'TrustedLayer (UNVERIFIED, not followed: the path does not validate): ')}` };
}

function verified(claim: TrustedLayerClaim, target: Certificate): VerifiedTrustedLayer {
  return Object.freeze({ ...claim, certificateFingerprint: target.fingerprint }) as unknown as VerifiedTrustedLayer;
}

function unverifiedLayerOf(target: Certificate): TrustedLayerClaim | null {
  const ext = findExtension(target, OID.trustedLayer);
  if (!ext) return null;
  try {
    return decodeTrustedLayer(ext.value);
  } catch {
    return null;
  }
}

function invalid(
  at: number,
  target: Certificate,
  checks: ChainCheck[],
  failure: ChainCheck,
  path: readonly Certificate[],
  anchor: TrustAnchor | null,
  unverifiedLayer: TrustedLayerClaim | null,
): InvalidPath {
  return {
    valid: false,
    at,
    target,
    checks,
    warnings: checks.filter((c) => c.status === 'warn'),
    failure,
    code: failure.code!,
    message: failure.message,
    certificate: failure.certificate ?? null,
    path,
    anchor,
    unverifiedLayer,
  };
}

/** Certificates as evidence carries them: PEM text, or DER/PEM bytes. */
export type CertificateInput = string | Uint8Array;

/**
 * Parses then validates a chain as evidence sends it (protocol.md section 2:
 * the target first, then intermediates in any order; the anchor may be
 * omitted). Parsing goes through options.cache when given. Throws ParseError
 * CERT_* when a certificate is malformed; every verdict is in the result.
 */
export function validateChain(certificates: readonly CertificateInput[], store: TrustStore, options: ValidationOptions): PathValidation {
  const parsed = parseChain(certificates, options);
  const memo = memoLookup(parsed, store, options);
  if (memo.known) return memo.known;
  return validateParsed(parsed, store, options, memo.key);
}

/**
 * validateChain with the signatures of the evidence's own links (each
 * certificate and the next one that names it as issuer) verified on libuv's
 * thread pool first, so that a fleet audit's event loop does not spend its
 * time in public-key operations. Same checks, same result: a link the path
 * builder does not take, or one not verified ahead, is verified as usual.
 */
export async function validateChainAsync(certificates: readonly CertificateInput[], store: TrustStore, options: ValidationOptions): Promise<PathValidation> {
  const parsed = parseChain(certificates, options);
  const memo = memoLookup(parsed, store, options);
  if (memo.known) return memo.known;
  const ahead: Promise<[string, SignatureCheck]>[] = [];
  for (let i = 0; i + 1 < parsed.length; i++) {
    const cert = parsed[i]!;
    const issuer = parsed[i + 1]!;
    if (cert.issuer.key !== issuer.subject.key || options.cache?.hasVerifiedLink(issuer.fingerprint, cert.fingerprint)) continue;
    ahead.push(verifySignatureAsync(cert.signatureAlgorithm, cert.tbs, cert.signature, issuer.publicKey).then((c) => [`${issuer.fingerprint}>${cert.fingerprint}`, c]));
  }
  const verifiedSignatures = ahead.length > 0 ? new Map(await Promise.all(ahead)) : undefined;
  return validateParsed(parsed, store, verifiedSignatures ? { ...options, verifiedSignatures } : options, memo.key);
}

function parseChain(certificates: readonly CertificateInput[], options: ValidationOptions): Certificate[] {
  const parsed: Certificate[] = [];
  certificates.forEach((input, i) => {
    const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
    for (const der of splitDerOrPem(bytes, `certificate ${i}`).ders) {
      if (parsed.length >= MAX_CHAIN_CERTIFICATES) {
        throw new ParseError('CERT_TOO_LARGE', `more than ${MAX_CHAIN_CERTIFICATES} certificates in one chain`, { max: MAX_CHAIN_CERTIFICATES });
      }
      parsed.push(options.cache ? options.cache.parseCertificate(der) : parseCertificate(der));
    }
  });
  if (parsed.length === 0) throw new ParseError('CERT_NO_CERTIFICATE', 'the chain holds no certificate', {});
  return parsed;
}

function memoLookup(parsed: readonly Certificate[], store: TrustStore, options: ValidationOptions): { key?: string; known?: ValidPath } {
  const memo = options.memo;
  if (!memo) return {};
  const at = typeof options.at === 'number' ? options.at : options.at.getTime();
  const key = memo.key(parsed, store, options.crls, `${options.requireEku ?? ''}|${options.requireKeyUsage ?? ''}|${(options.allowedLabels ?? []).join(',')}|${options.maxDepth ?? ''}`);
  const known = memo.get(key, at);
  return known ? { key, known } : { key };
}

function validateParsed(parsed: readonly Certificate[], store: TrustStore, options: ValidationOptions, memoKey: string | undefined): PathValidation {
  const result = validatePath(parsed[0]!, parsed.slice(1), store, options);
  if (result.valid && options.memo && memoKey !== undefined) options.memo.remember(memoKey, result, parsed, store, options.crls);
  return result;
}

/** Evidence chains longer than this are refused before any work. */
export const MAX_CHAIN_CERTIFICATES = 32;
