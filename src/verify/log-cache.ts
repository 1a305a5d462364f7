// Replaying the same firmware log (and IMA list) against the same quoted PCR
// values always gives the same verification: it is a pure function of those
// bytes. A fleet audit meets the same logs again and again (every VM on a
// host is attested through that host's layers, and VMs built from one image
// boot with one firmware log), so this cache keeps the last few
// verifications, keyed by a SHA-256 over the log bytes AND every quoted PCR
// value handed in. Any difference in any byte is another key: nothing is
// trusted from the cache that a fresh replay would not give.
//
// The cached LogsVerification is shared between the layers that hit it:
// callers treat it as read-only (the walker copies its checks into the
// layer's own list).

import { createHash } from 'node:crypto';
import { verifyLogsAgainstQuote, type LogsToVerify, type LogsVerification } from '../eventlog/index.js';
import type { PcrValues } from '../tpm/pcrs.js';

export interface LogVerificationCacheStats {
  hits: number;
  misses: number;
}

export class LogVerificationCache {
  private readonly entries = new Map<string, { result: LogsVerification; bytes: number }>();
  private readonly maxEntries: number;
  private readonly maxInputBytes: number;
  private inputBytes = 0;
  readonly stats: LogVerificationCacheStats = { hits: 0, misses: 0 };

  /**
   * A verification holds the parsed log: about ten times the log's size.
   * `maxEntries` and `maxInputBytes` (log bytes over all entries) bound the
   * memory; the least recently used entry goes first.
   */
  constructor(opts: { maxEntries?: number; maxInputBytes?: number } = {}) {
    this.maxEntries = opts.maxEntries ?? 32;
    this.maxInputBytes = opts.maxInputBytes ?? 2 * 1024 * 1024;
  }

  /** Same result as verifyLogsAgainstQuote(logs, verifiedPcrs) for logs without carried IMA state or custom quirks. */
  verify(logs: Pick<LogsToVerify, 'eventLog' | 'ima'>, verifiedPcrs: PcrValues): LogsVerification {
    const key = cacheKey(logs, verifiedPcrs);
    const hit = this.entries.get(key);
    if (hit) {
      this.stats.hits++;
      this.entries.delete(key); // most recently used goes last
      this.entries.set(key, hit);
      return hit.result;
    }
    this.stats.misses++;
    // A malformed log throws here, and nothing is cached.
    const result = verifyLogsAgainstQuote(logs, verifiedPcrs);
    const bytes = (logs.eventLog?.length ?? 0) + (logs.ima?.length ?? 0);
    if (bytes <= this.maxInputBytes) {
      this.entries.set(key, { result, bytes });
      this.inputBytes += bytes;
      for (const [k, e] of this.entries) {
        if (this.entries.size <= this.maxEntries && this.inputBytes <= this.maxInputBytes) break;
        this.entries.delete(k);
        this.inputBytes -= e.bytes;
      }
    }
    return result;
  }
}

function cacheKey(logs: Pick<LogsToVerify, 'eventLog' | 'ima'>, pcrs: PcrValues): string {
  const h = createHash('sha256');
  const length = Buffer.alloc(9);
  const part = (tag: number, bytes: Uint8Array | undefined): void => {
    // tag and length before each part, so no two inputs run together
    length[0] = tag;
    length.writeDoubleBE(bytes ? bytes.length : -1, 1);
    h.update(length);
    if (bytes) h.update(bytes);
  };
  part(1, logs.eventLog);
  part(2, logs.ima);
  for (const bank of [...pcrs.keys()].sort()) {
    h.update(`|${bank}`);
    const values = pcrs.get(bank)!;
    for (const index of [...values.keys()].sort((a, b) => a - b)) part(3 + index, values.get(index));
  }
  return h.digest('hex');
}
