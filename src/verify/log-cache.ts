// Replaying the same firmware log (and IMA list) against the same quoted PCR
// values always gives the same verification: it is a pure function of those
// bytes. A fleet audit meets the same logs again and again (every VM on a
// host is attested through that host's layers, and VMs built from one image
// boot with one firmware log), so this cache keeps the last few
// verifications. The key is the log sizes, a hash of samples of the logs, the
// quoted banks and the quoted values of the PCRs the logs extend (the only
// ones the verification reads; a host's PCR 23 is not among them, so every
// host of one firmware shares an entry); a hit is confirmed by comparing the
// log bytes in full with the cached ones (a byte compare costs a tenth of
// hashing them). Any difference in any byte that matters misses: nothing is
// trusted from the cache that a fresh replay would not give.
//
// The cached LogsVerification is shared between the layers that hit it:
// callers treat it as read-only (the walker copies its checks into the
// layer's own list).

import { createHash } from 'node:crypto';
import { verifyLogsAgainstQuote, type LogsToVerify, type LogsVerification } from '../eventlog/index.js';
import type { PcrValues } from '../tpm/pcrs.js';
import { FIRMWARE_LOGGED_PCRS } from '../eventlog/quote-replay.js';
import { IMA_PCR } from '../eventlog/ima/quote-replay.js';

export interface LogVerificationCacheStats {
  hits: number;
  misses: number;
}

export class LogVerificationCache {
  private readonly entries = new Map<string, { result: LogsVerification; bytes: number; eventLog: Uint8Array | undefined; ima: Uint8Array | undefined }>();
  /** per log pair: the PCR indexes its verification depends on (null: all of them) */
  private readonly relevant = new Map<string, number[] | null>();
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
  verify(logs: Pick<LogsToVerify, 'eventLog' | 'ima' | 'imaCheckMemory' | 'eventLogCheckMemory'>, verifiedPcrs: PcrValues): LogsVerification {
    const logsKey = logsCacheKey(logs);
    const known = this.relevant.get(logsKey);
    if (known !== undefined) {
      const key = entryKey(logsKey, verifiedPcrs, known);
      const hit = this.entries.get(key);
      if (hit && sameBytes(hit.eventLog, logs.eventLog) && sameBytes(hit.ima, logs.ima)) {
        this.stats.hits++;
        this.entries.delete(key); // most recently used goes last
        this.entries.set(key, hit);
        return hit.result;
      }
    }
    this.stats.misses++;
    // A malformed log throws here, and nothing is cached.
    const result = verifyLogsAgainstQuote(logs, verifiedPcrs);
    const bytes = (logs.eventLog?.length ?? 0) + (logs.ima?.length ?? 0);
    if (bytes <= this.maxInputBytes) {
      const found = relevantIndexes(logs, result);
      const relevant = known === undefined || sameIndexes(known, found) ? found : null;
      this.relevant.delete(logsKey);
      this.relevant.set(logsKey, relevant);
      if (this.relevant.size > 4 * this.maxEntries) this.relevant.delete(this.relevant.keys().next().value!);
      const key = entryKey(logsKey, verifiedPcrs, relevant);
      const old = this.entries.get(key);
      if (old) {
        // same key, other bytes (a sample collision): the newer one takes the slot
        this.entries.delete(key);
        this.inputBytes -= old.bytes;
      }
      // private copies: the caller's buffers may be reused
      this.entries.set(key, { result, bytes, eventLog: copy(logs.eventLog), ima: copy(logs.ima) });
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

/**
 * The PCR indexes a verification depends on: those the event log extends (in
 * any bank), PCRs 0-7 (compared even without events), and those the IMA list extends (and PCR 10). Without outcomes to tell (a log
 * that replayed nothing), every index counts. Other quoted PCRs (PCR 23 of a
 * host, application PCRs) do not change the verification, so they are not
 * part of the key: every host of one firmware shares one entry.
 */
function relevantIndexes(logs: Pick<LogsToVerify, 'eventLog' | 'ima'>, result: LogsVerification): number[] | null {
  const set = new Set<number>();
  if (logs.eventLog) {
    const outcomes = result.eventLog?.pcrs ?? [];
    if (outcomes.length === 0) return null;
    for (const o of outcomes) set.add(o.pcr);
    // quoted firmware PCRs the log has no event for are compared too (with their initial value)
    for (const pcr of FIRMWARE_LOGGED_PCRS) set.add(pcr);
  }
  if (logs.ima) {
    const outcomes = result.ima?.pcrs ?? [];
    if (outcomes.length === 0) return null;
    for (const o of outcomes) set.add(o.pcr);
    // the list must account for PCR 10 whether or not it has entries for it: its quoted value (or absence) counts
    set.add(IMA_PCR);
  }
  return [...set].sort((a, b) => a - b);
}

function sameIndexes(a: number[] | null, b: number[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * An entry's key names the set of indexes it was keyed on: an entry stored under every quoted index (null) must
 * not be found under a narrower set that another log, sharing this one's sampled key, made known, whose
 * signature string could be the same while the indexes this log depends on go uncompared.
 */
function entryKey(logsKey: string, pcrs: PcrValues, relevant: number[] | null): string {
  return `${logsKey}|${relevant === null ? 'all' : relevant.join(',')}|${pcrSignature(pcrs, relevant)}`;
}

/** Which banks are quoted, and the quoted values (or absence) of the relevant indexes in each. */
function pcrSignature(pcrs: PcrValues, relevant: number[] | null): string {
  let out = '';
  for (const bank of [...pcrs.keys()].sort()) {
    const values = pcrs.get(bank)!;
    out += `${bank}:`;
    const indexes = relevant ?? [...values.keys()].sort((a, b) => a - b);
    for (const i of indexes) {
      const v = values.get(i);
      out += v ? `${i}=${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')},` : `${i}=-,`;
    }
    out += ';';
  }
  return out;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function copy(b: Uint8Array | undefined): Uint8Array | undefined {
  return b === undefined ? undefined : Uint8Array.from(b);
}

/** The log sizes and a hash of samples of the logs; the log bytes themselves are compared on a hit. */
function logsCacheKey(logs: Pick<LogsToVerify, 'eventLog' | 'ima'>): string {
  const h = createHash('sha256');
  const length = Buffer.alloc(9);
  const part = (tag: number, bytes: Uint8Array | undefined): void => {
    // tag and length before each part, so no two inputs run together
    length[0] = tag;
    length.writeDoubleBE(bytes ? bytes.length : -1, 1);
    h.update(length);
    if (bytes) h.update(bytes);
  };
  // A sample of each log (its ends and 64 spread slices), so that logs of one
  // size rarely share a slot; the full compare on a hit is what decides.
  const sample = (tag: number, bytes: Uint8Array | undefined): void => {
    if (!bytes || bytes.length <= 8192) return part(tag, bytes);
    part(tag, bytes.subarray(0, 1024));
    part(tag, bytes.subarray(bytes.length - 1024));
    const step = Math.floor(bytes.length / 64);
    for (let i = 1; i < 64; i++) h.update(bytes.subarray(i * step, i * step + 16));
  };
  const size = (bytes: Uint8Array | undefined): string => (bytes ? String(bytes.length) : '-');
  sample(1, logs.eventLog);
  sample(2, logs.ima);
  return `${size(logs.eventLog)}:${size(logs.ima)}:${h.digest('hex')}`;
}
