// --shard I/N: which VMs of an inventory this run audits, so that N machines
// (a Kubernetes indexed Job) split one fleet between them.
//
// Rendezvous (highest-random-weight) hashing on the VM's key (its name, else
// its url): every shard i scores the VM by mixing i into SHA-256(key), and
// the VM goes to the shard with the highest score. The choice depends only on the VM's own key and N,
// never on its position: reordering the inventory changes nothing, adding or
// removing a VM moves no other VM, and changing N from 3 to 4 moves only the
// VMs the new shard wins (about a quarter) instead of nearly all of them as
// hash-mod-N would.

import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';

export interface Shard {
  /** 0-based, as Kubernetes' JOB_COMPLETION_INDEX */
  index: number;
  count: number;
}

export const MAX_SHARDS = 10_000;

/** "I/N" with 0 <= I < N. */
export function parseShard(text: string): Shard {
  const m = /^(\d{1,5})\/(\d{1,5})$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1 && count <= MAX_SHARDS) || !(index >= 0 && index < count)) {
    throw new UsageError('USAGE', `--shard: expected I/N with N from 1 to ${MAX_SHARDS} and I from 0 to N-1 (0-based, like JOB_COMPLETION_INDEX), got ${JSON.stringify(text)}`, {
      option: 'shard',
      value: text,
    });
  }
  return { index, count };
}

/** murmur3's 32-bit finalizer: a fast, well-mixing permutation of 32-bit integers. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The shard (0..count-1) a VM with this key belongs to. */
export function shardOf(key: string, count: number): number {
  if (count === 1) return 0;
  // One SHA-256 of the key; each shard's score mixes the shard number into it
  // (hashing the key once per shard would cost N hashes per VM).
  const digest = createHash('sha256').update(key, 'utf8').digest();
  const a = digest.readUInt32BE(0);
  const b = digest.readUInt32BE(4);
  let best = 0;
  let bestScore = -1;
  for (let i = 0; i < count; i++) {
    const s = fmix32(a ^ fmix32((Math.imul(i + 1, 0x9e3779b9) + b) >>> 0));
    if (s > bestScore) {
      best = i;
      bestScore = s;
    }
  }
  return best;
}

/** The items of `shard`, in their original order. */
export function selectShard<T extends { key: string }>(items: readonly T[], shard: Shard | undefined): T[] {
  if (!shard || shard.count === 1) return [...items];
  return items.filter((item) => shardOf(item.key, shard.count) === shard.index);
}
