// Verifying a host's vplatformLog again and again (every VM on the host is
// attested through it) costs two SHA-256 per entry each time. A host's log
// only grows, so this cache keeps the last log it verified per platform and,
// when a new log starts with exactly those entries, replays only the new
// ones. The result is always the one verifyVplatformLog would give: a log
// that differs anywhere in the cached part is verified from scratch, and the
// platform key only chooses a cache slot, it is never trusted.
//
// Eviction is random, not least-recently-used: a fleet audit visits the VMs
// of many hosts in inventory order, which rarely groups them by host, so
// the hosts come round again and again. Past the bound, LRU would then evict
// every table just before it is needed (no hit at all); random eviction keeps
// a share of them (a test in test/verify/vplatform.test.ts counts the hits).

import { toHex } from '../util/bytes.js';
import {
  checkLogSize,
  judgeVplatformTable,
  parseVplatformEntry,
  VplatformTableBuilder,
  type VplatformEntry,
  type VplatformEntryInput,
  type VplatformTable,
  type VplatformVerification,
} from './vplatform.js';

/**
 * Whether an entry as received is the same as one parsed earlier (fast path:
 * exact field equality). Evidence carries instance ids as raw bytes, other
 * callers as hex: both compare with the parsed entry exactly.
 */
function sameEntry(input: VplatformEntryInput, parsed: VplatformEntry): boolean {
  if (typeof input !== 'object' || input === null || input.op !== parsed.op || input.pcr !== parsed.pcr || input.vm !== parsed.vm) return false;
  if (parsed.op === 'issuer') return input.certificate === parsed.certificate && input.instance === undefined;
  if (input.certificate !== undefined) return false;
  return input.instance instanceof Uint8Array ? toHex(input.instance) === parsed.instance : input.instance === parsed.instance;
}

interface Slot {
  builder: VplatformTableBuilder;
  table: VplatformTable;
}

export interface VplatformLogCacheStats {
  /** verified from scratch */
  full: number;
  /** the cached log plus new entries: only those replayed */
  extended: number;
  /** the cached log exactly */
  reused: number;
}

export class VplatformLogCache {
  private readonly slots = new Map<string, Slot>();
  private readonly maxEntries: number;
  private cachedEntries = 0;
  /** xorshift32 state: which slot goes when the cache is full (seeded, so runs are reproducible) */
  private random = 0x9e3779b9;
  readonly stats: VplatformLogCacheStats = { full: 0, extended: 0, reused: 0 };

  /** Platforms and entries cached now (entries never exceed `maxEntries`). */
  get size(): { platforms: number; entries: number } {
    return { platforms: this.slots.size, entries: this.cachedEntries };
  }

  /** `maxEntries`: entries kept over all platforms (a few hundred bytes each). */
  constructor(opts: { maxEntries?: number } = {}) {
    this.maxEntries = opts.maxEntries ?? 200_000;
  }

  /**
   * Same result as verifyVplatformLog(input, quotedPcr23). `platform` names
   * the log's host (e.g. its AK Name or URI) to find the previous log.
   */
  verify(platform: string, input: readonly VplatformEntryInput[], quotedPcr23: Uint8Array): VplatformVerification {
    checkLogSize(input);
    const slot = this.slots.get(platform);
    let builder: VplatformTableBuilder;
    let from = 0;
    if (slot && input.length >= slot.builder.length && this.prefixMatches(input, slot.builder)) {
      if (input.length === slot.builder.length) {
        this.stats.reused++;
        this.slots.delete(platform); // most recently used goes last
        this.slots.set(platform, slot);
        return judgeVplatformTable(slot.table, quotedPcr23);
      }
      builder = slot.builder.clone();
      from = slot.builder.length;
      this.stats.extended++;
    } else {
      builder = new VplatformTableBuilder();
      this.stats.full++;
    }
    for (let i = from; i < input.length; i++) builder.add(parseVplatformEntry(input[i], i));
    const table = builder.table();
    const result = judgeVplatformTable(table, quotedPcr23);
    // Only a log some TPM quoted is kept: junk logs do not evict good ones.
    if (result.table) this.store(platform, { builder, table });
    return result;
  }

  private prefixMatches(input: readonly VplatformEntryInput[], builder: VplatformTableBuilder): boolean {
    for (let i = 0; i < builder.length; i++) if (!sameEntry(input[i]!, builder.entryAt(i)!)) return false;
    return true;
  }

  private store(platform: string, slot: Slot): void {
    const old = this.slots.get(platform);
    if (old) {
      this.cachedEntries -= old.builder.length;
      this.slots.delete(platform);
    }
    if (slot.builder.length > this.maxEntries) return;
    // Make room by evicting other slots at random (see the top of this file).
    while (this.cachedEntries + slot.builder.length > this.maxEntries && this.slots.size > 0) {
      const victim = this.nextRandom() % this.slots.size;
      let i = 0;
      for (const [key, s] of this.slots) {
        if (i++ !== victim) continue;
        this.slots.delete(key);
        this.cachedEntries -= s.builder.length;
        break;
      }
    }
    this.slots.set(platform, slot);
    this.cachedEntries += slot.builder.length;
  }

  private nextRandom(): number {
    let x = this.random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.random = x >>> 0;
    return this.random;
  }
}
