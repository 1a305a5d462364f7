// Large local inputs against the memory this process may use. The files a
// user gives `eventlog --ima` and `quote --ima` may be up to 64 MiB, which is
// up to two million IMA entries of a few hundred bytes of heap each, more with
// --json (an object per printed entry). node's heap limit follows the
// machine's (or the container's) memory: past it V8 ends the process with a
// fatal "heap out of memory" (exit 134), no envelope, no code. The parser asks
// this check as it goes, and a list that would not fit is refused with a
// typed error saying how to give node more.

import { getHeapStatistics } from 'node:v8';
import { ParseError } from '../errors.js';

/**
 * The share of the heap limit an IMA list's entries may fill while parsing:
 * the rest is for what is built from them (checks and replays; with --json an
 * object per entry, measured at ~40% more than the parsed list).
 */
export const IMA_PARSE_HEAP_SHARE = { text: 0.6, json: 0.4 } as const;

const MB = 2 ** 20;

/** A ParseImaOptions.checkMemory for a command printing `output`; `heap` for tests. */
export function imaMemoryCheck(output: keyof typeof IMA_PARSE_HEAP_SHARE, heap: () => { used_heap_size: number; heap_size_limit: number } = getHeapStatistics): (entries: number) => void {
  const share = IMA_PARSE_HEAP_SHARE[output];
  return (entries) => {
    const { used_heap_size: used, heap_size_limit: limit } = heap();
    if (used <= limit * share) return;
    const usedMb = Math.round(used / MB);
    const limitMb = Math.round(limit / MB);
    throw new ParseError(
      'IMA_TOO_LARGE',
      `the IMA list does not fit the memory node may use here: after ${entries} entries the heap holds ${usedMb} MB of its ${limitMb} MB limit${output === 'json' ? ' (with --json each entry is also printed from an object of its own)' : ''}; give node more, e.g. NODE_OPTIONS=--max-old-space-size=${Math.max(2 * limitMb, 1024)}`,
      { entries, heapUsedMB: usedMb, heapLimitMB: limitMb, cap: 'memory' },
    );
  };
}
