// What a repeated validation can reuse: parsed certificates (keyed by the
// SHA-256 of their DER) and signature links that already verified (issuer
// certificate fingerprint + child fingerprint). A fleet audit or the
// deep-attestation walker shares one ValidationCache across thousands of
// chains; a link is only cached after its signature verified, and the key
// covers the child's exact bytes and the issuer's exact certificate, so a
// cached "yes" can never be reused for different bytes. Time-dependent checks
// (validity, CRLs) and policy checks always run again.
//
// Memory is bounded: least-recently-used entries are evicted beyond maxEntries.
// The cache is plain in-memory state passed in explicitly: the core stays pure.

import { parseCertificate, sha256Hex, type Certificate } from './certificate.js';

export interface CacheStats {
  parseHits: number;
  parseMisses: number;
  linkHits: number;
  linkMisses: number;
}

export class ValidationCache {
  readonly maxEntries: number;
  readonly stats: CacheStats = { parseHits: 0, parseMisses: 0, linkHits: 0, linkMisses: 0 };
  private readonly parsed = new Map<string, Certificate>();
  private readonly links = new Map<string, true>();

  constructor(options: { maxEntries?: number } = {}) {
    this.maxEntries = Math.max(16, options.maxEntries ?? 20_000);
  }

  /** parseCertificate through the cache; parse failures are not cached (they throw each time). */
  parseCertificate(der: Uint8Array): Certificate {
    const fingerprint = sha256Hex(der);
    const hit = this.parsed.get(fingerprint);
    if (hit) {
      this.stats.parseHits++;
      touch(this.parsed, fingerprint, hit);
      return hit;
    }
    this.stats.parseMisses++;
    const cert = parseCertificate(der, fingerprint);
    remember(this.parsed, fingerprint, cert, this.maxEntries);
    return cert;
  }

  /** Whether `signed` (a certificate or CRL fingerprint) was verified with the key of `issuer` before. */
  hasVerifiedLink(issuerFingerprint: string, signedFingerprint: string): boolean {
    const key = `${issuerFingerprint}>${signedFingerprint}`;
    if (this.links.has(key)) {
      this.stats.linkHits++;
      touch(this.links, key, true);
      return true;
    }
    this.stats.linkMisses++;
    return false;
  }

  recordVerifiedLink(issuerFingerprint: string, signedFingerprint: string): void {
    remember(this.links, `${issuerFingerprint}>${signedFingerprint}`, true, this.maxEntries);
  }

  get size(): { certificates: number; links: number } {
    return { certificates: this.parsed.size, links: this.links.size };
  }
}

function touch<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
}

function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next().value as string;
    map.delete(oldest);
  }
}
