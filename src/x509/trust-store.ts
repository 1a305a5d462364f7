// Trust anchors, each labelled by what it vouches for, plus intermediates
// supplied separately. Pure: it takes bytes and origins (the CLI's
// trust-files.ts reads folders), and reports every input it could not use.
//
// A trust anchor is a trusted public key and name (RFC 5280 6.1.1 (d)), given
// as a certificate. Whether that certificate is self-signed does not matter:
// a path ends where a certificate's issuer is an anchor and the anchor's key
// verifies its signature; nothing above an anchor is looked for. So the
// non-self-signed anchors of real vendor bundles (AMD Pluton Global Factory
// ICA, the STM roots issued by GlobalSign) work without "partial chain" modes.
// The anchor certificate's own constraints still apply: its validity period,
// basicConstraints (cA, pathLen) and keyUsage (keyCertSign), when present.
//
// Labels (lowercase names) say what an anchor vouches for; the well-known ones:
//   ek-ca         a physical TPM vendor's EK CA (vouches: key is in a genuine TPM)
//   ak-ca         a CA certifying AKs of physical TPMs (privacy / attestation CA)
//   vplatform-ca  a vPlatform CA certifying vTPM EKs and AKs (vouches for virtual TPMs)
//   unlabelled    what a trust path gets without a label
// A policy (validatePath's allowedLabels) decides which labels a layer accepts.

import { ParseError, VtpmError } from '../errors.js';
import type { ValidationCache } from './cache.js';
import { parseCertificate, type Certificate } from './certificate.js';
import { splitDerOrPem } from './pem.js';

export const WELL_KNOWN_LABELS = {
  'ek-ca': "a physical TPM vendor's EK CA: vouches that a key lives in a genuine hardware TPM",
  'ak-ca': 'a CA certifying attestation keys of physical TPMs',
  'vplatform-ca': 'a vPlatform CA: certifies the EKs and AKs of virtual TPMs',
  unlabelled: 'no label was given for this trust path',
} as const;

export const UNLABELLED = 'unlabelled';
/** The label of anchors that vouch for virtual TPMs only (a physical layer under one is refused by the walker). */
export const VPLATFORM_CA_LABEL = 'vplatform-ca';
/** Labels that say an anchor vouches for hardware TPMs (an anchor labelled vplatform-ca may end a walk only with one). */
export const HARDWARE_TPM_LABELS: ReadonlySet<string> = new Set(['ak-ca', 'ek-ca', 'tpm-vendor']);
export const LABEL_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

export function checkLabel(label: string): string {
  if (!LABEL_PATTERN.test(label)) {
    throw new ParseError('TRUST_LABEL_INVALID', `trust label ${JSON.stringify(label)} is not a lowercase name ([a-z][a-z0-9-]*, at most 32 characters)`, { label });
  }
  return label;
}

export interface TrustAnchor {
  readonly certificate: Certificate;
  /** what the anchor vouches for; an anchor given under several labels has them all */
  readonly labels: readonly string[];
  /** where it came from: "path/to/file.pem#3" */
  readonly origins: readonly string[];
}

export interface TrustSource {
  /** file path or other description; problems and anchors name it */
  origin: string;
  bytes: Uint8Array;
  role: 'anchor' | 'intermediate';
  /** for anchors; UNLABELLED when absent */
  label?: string;
}

export interface TrustProblem {
  origin: string;
  code: string;
  message: string;
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Certificates indexed by subject name and subject key identifier, for issuer lookup. */
export class IssuerIndex<T> {
  private readonly bySubject = new Map<string, T[]>();
  private readonly byKeyId = new Map<string, T[]>();

  constructor(items: readonly T[], certOf: (item: T) => Certificate) {
    for (const item of items) {
      const cert = certOf(item);
      pushTo(this.bySubject, cert.subject.key, item);
      if (cert.ext.subjectKeyId) pushTo(this.byKeyId, hex(cert.ext.subjectKeyId), item);
    }
  }

  /** Items whose subject matches the certificate's issuer name, or whose SKI matches its AKI. */
  candidatesFor(cert: Certificate): T[] {
    const byName = this.bySubject.get(cert.issuer.key) ?? [];
    const aki = cert.ext.authorityKeyId;
    const byKey = aki ? (this.byKeyId.get(hex(aki)) ?? []) : [];
    if (byKey.length === 0) return byName;
    return [...byName, ...byKey.filter((x) => !byName.includes(x))];
  }
}

export class TrustStore {
  readonly anchors: readonly TrustAnchor[];
  readonly intermediates: readonly Certificate[];
  private readonly anchorIndex: IssuerIndex<TrustAnchor>;
  private readonly anchorByFingerprint: Map<string, TrustAnchor>;

  private constructor(anchors: TrustAnchor[], intermediates: Certificate[]) {
    this.anchors = anchors;
    this.intermediates = intermediates;
    this.anchorIndex = new IssuerIndex(anchors, (a) => a.certificate);
    this.anchorByFingerprint = new Map(anchors.map((a) => [a.certificate.fingerprint, a]));
  }

  /** Builds a store from parsed certificates; the same certificate twice merges labels and origins. */
  static fromCertificates(anchors: { certificate: Certificate; label?: string; origin: string }[], intermediates: Certificate[] = []): TrustStore {
    const merged = new Map<string, { certificate: Certificate; labels: string[]; origins: string[]; originSet: Set<string> }>();
    for (const a of anchors) {
      const label = checkLabel(a.label ?? UNLABELLED);
      const entry = merged.get(a.certificate.fingerprint);
      if (entry) {
        if (!entry.labels.includes(label)) entry.labels.push(label);
        // A Set, not origins.includes: one certificate repeated in thousands of bundles is quadratic otherwise.
        if (!entry.originSet.has(a.origin)) {
          entry.originSet.add(a.origin);
          entry.origins.push(a.origin);
        }
      } else {
        merged.set(a.certificate.fingerprint, { certificate: a.certificate, labels: [label], origins: [a.origin], originSet: new Set([a.origin]) });
      }
    }
    const seen = new Set<string>(merged.keys());
    const inters: Certificate[] = [];
    for (const c of intermediates) {
      if (seen.has(c.fingerprint)) continue;
      seen.add(c.fingerprint);
      inters.push(c);
    }
    return new TrustStore([...merged.values()].map(({ certificate, labels, origins }) => ({ certificate, labels, origins })), inters);
  }

  /** Anchors that may have issued this certificate (name or key identifier match). */
  issuerAnchors(cert: Certificate): TrustAnchor[] {
    return this.anchorIndex.candidatesFor(cert);
  }

  /** The anchor that is exactly this certificate, if any. */
  anchorOf(cert: Certificate): TrustAnchor | undefined {
    return this.anchorByFingerprint.get(cert.fingerprint);
  }

  labels(): string[] {
    return [...new Set(this.anchors.flatMap((a) => a.labels))].sort();
  }
}

export interface BuiltTrustStore {
  store: TrustStore;
  /** inputs that could not be used, each with its code; never dropped silently */
  problems: TrustProblem[];
}

/** Parses every source; a broken file or block becomes a problem, not an exception. */
export function buildTrustStore(sources: readonly TrustSource[], cache?: ValidationCache): BuiltTrustStore {
  const problems: TrustProblem[] = [];
  const anchors: { certificate: Certificate; label?: string; origin: string }[] = [];
  const intermediates: Certificate[] = [];
  for (const source of sources) {
    if (source.label !== undefined) checkLabel(source.label);
    let split;
    try {
      split = splitDerOrPem(source.bytes, source.origin);
    } catch (err) {
      if (!(err instanceof VtpmError)) throw err;
      problems.push({ origin: source.origin, code: err.code, message: err.message });
      continue;
    }
    for (const block of split.otherBlocks) {
      problems.push({ origin: `${source.origin}#${block.index}`, code: 'CERT_NO_CERTIFICATE', message: `PEM block ${block.index} is ${block.label}, not a certificate` });
    }
    split.ders.forEach((der, i) => {
      const origin = split.ders.length > 1 ? `${source.origin}#${i}` : source.origin;
      let certificate: Certificate;
      try {
        certificate = cache ? cache.parseCertificate(der) : parseCertificate(der);
      } catch (err) {
        if (!(err instanceof VtpmError)) throw err;
        problems.push({ origin, code: err.code, message: err.message });
        return;
      }
      if (source.role === 'anchor') anchors.push({ certificate, ...(source.label !== undefined ? { label: source.label } : {}), origin });
      else intermediates.push(certificate);
    });
  }
  return { store: TrustStore.fromCertificates(anchors, intermediates), problems };
}
