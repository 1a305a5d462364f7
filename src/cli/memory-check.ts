// Large local inputs against the memory this process may use. The files a
// user gives `eventlog --ima` and `quote --ima` may be up to 64 MiB, which is
// up to two million IMA entries of 300–500 bytes of heap each, more with
// --json (an object per printed entry). node's heap limit follows the
// machine's (or the container's) memory: past it V8 ends the process with a
// fatal "heap out of memory" (exit 134), no envelope, no code. The parser asks
// this check as it goes, and a list that would not fit is refused with a
// typed error saying how to give node more.
//
// The share is of *live* memory: V8 lets garbage build up close to its limit
// before collecting, so a heap over the share is first collected in full, and
// the list refused only if it is still over. Full collections are spaced by
// an eighth more entries each, so a list just under the share costs a few.

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ParseError, UsageError } from '../errors.js';

/**
 * The share of the heap an IMA list's parsed entries may hold live: the rest
 * is for what is built from them. Measured on node 20, live bytes per entry
 * (parsed / then with checks and replays / then with --json's objects): a
 * binary list of 2 million 33-byte entries 356 / 412 / 572, a real binary
 * list 510 / 567 / 784, a real ASCII list (parsed lazily, from one string)
 * 299 / 364 / 792. Each share leaves a tenth spare for what is transient.
 */
export const IMA_PARSE_HEAP_SHARE = {
  text: { ascii: 0.7, binary: 0.7 },
  json: { ascii: 0.33, binary: 0.5 },
} as const;

/** The heap limit includes the young generation (3 semi-spaces of 16 MB on 64-bit), which never holds what is kept. */
const YOUNG_GENERATION_BYTES = 48 * 2 ** 20;

const MB = 2 ** 20;

type HeapFigures = { used_heap_size: number; heap_size_limit: number };

let fullGc: (() => void) | null | undefined;

/** A full garbage collection, where node can be made to give one (a context with V8's gc()); false where it cannot. */
function collectGarbage(): boolean {
  if (fullGc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      fullGc = runInNewContext('gc') as () => void;
    } catch {
      fullGc = null;
    }
  }
  if (typeof fullGc !== 'function') return false;
  fullGc();
  return true;
}

/**
 * The share of the heap a firmware event log's parse may leave live: each event is about 690 bytes parsed and
 * about 830 kept once replayed against the quote (measured on node 20, 100,000 minimal events: 66 MB parsed, 79
 * MB kept with the replay), so half the heap leaves room for that replay. A deep attestation keeps each layer's
 * logs until its walk ends: a bundle of 3 layers with 100,000-event logs (20 MB) ended a 256 MB heap.
 */
export const EVENTLOG_PARSE_HEAP_SHARE = 0.5;

/** Calls `refuse` when the live heap is over `share` of what is kept (collected in full first, spaced by an eighth more items). */
function heapCheck(share: (format: 'ascii' | 'binary') => number, heap: () => HeapFigures, collect: () => boolean, refuse: (items: number, usedMb: number, limitMb: number) => never) {
  let nextCollectionAt = 0;
  let lastItems = 0;
  const fits = ({ used_heap_size: used, heap_size_limit: limit }: HeapFigures, format: 'ascii' | 'binary'): boolean => used <= Math.max(limit - YOUNG_GENERATION_BYTES, limit / 2) * share(format);
  return (items: number, format: 'ascii' | 'binary'): void => {
    // a count lower than the last: another log (a walk's next layer) is being parsed, and the spacing after a
    // collection during the previous one must not let this one through unchecked up to that one's count
    if (items < lastItems) nextCollectionAt = 0;
    lastItems = items;
    let figures = heap();
    if (fits(figures, format) || items < nextCollectionAt) return;
    if (collect()) {
      nextCollectionAt = items + Math.ceil(items / 8);
      figures = heap();
      if (fits(figures, format)) return;
    }
    refuse(items, Math.round(figures.used_heap_size / MB), Math.round(figures.heap_size_limit / MB));
  };
}

/**
 * A ParseImaOptions.checkMemory for a command printing `output`. `heap` and
 * `collect` stand in for V8's in tests.
 */
export function imaMemoryCheck(output: keyof typeof IMA_PARSE_HEAP_SHARE, heap: () => HeapFigures = getHeapStatistics, collect: () => boolean = collectGarbage): (entries: number, format: 'ascii' | 'binary') => void {
  return heapCheck((format) => IMA_PARSE_HEAP_SHARE[output][format], heap, collect, (entries, usedMb, limitMb) => {
    throw new ParseError(
      'IMA_TOO_LARGE',
      `the IMA list does not fit the memory node may use here: after ${entries} entries the heap holds ${usedMb} MB of its ${limitMb} MB limit${output === 'json' ? ' (with --json each entry is also printed from an object of its own)' : ''}; give node more, e.g. NODE_OPTIONS=--max-old-space-size=${Math.max(2 * limitMb, 1024)}`,
      { entries, heapUsedMB: usedMb, heapLimitMB: limitMb, cap: 'memory' },
    );
  });
}

/** A ParseEventLogOptions.checkMemory: a firmware log whose parse would not leave room for its replay is EVENTLOG_TOO_LARGE (cap memory). */
export function eventLogMemoryCheck(heap: () => HeapFigures = getHeapStatistics, collect: () => boolean = collectGarbage): (events: number) => void {
  const check = heapCheck(() => EVENTLOG_PARSE_HEAP_SHARE, heap, collect, (events, usedMb, limitMb) => {
    throw new ParseError(
      'EVENTLOG_TOO_LARGE',
      `the event log does not fit the memory node may use here: after ${events} events the heap holds ${usedMb} MB of its ${limitMb} MB limit; give node more, e.g. NODE_OPTIONS=--max-old-space-size=${Math.max(2 * limitMb, 1024)}`,
      { events, heapUsedMB: usedMb, heapLimitMB: limitMb, cap: 'memory' },
    );
  });
  return (events) => check(events, 'binary');
}

/**
 * Heap a JSON document takes parsed, measured on node 20: its strings (one byte a character, two where one is past
 * U+00FF) and about 31 bytes a value (3.9 million `{}`: 116 MB; 3.9 million strings of 57 characters: 319 MB; one
 * string of 250 MB: 249 MB), with a margin.
 */
export const JSON_PARSE_BYTES_PER_VALUE = 40;

/** Heap kept free of a bundle's text and parsed document, for the rest of the command. */
const BUNDLE_HEAP_MARGIN_BYTES = 8 * MB;

/**
 * An evidence bundle is read whole (up to MAX_BUNDLE_BYTES) and parsed: a bundle within its caps can need more heap
 * than node has, and past its limit V8 ends the process (a 91 MB bundle of 1.2 million values with a 128 MB heap,
 * one string of 250 MB with 256 MB: exit 134, no envelope). Its text is held on the heap while it is parsed, and
 * parsed it takes its strings again and about 31 bytes a value. `room(bytes)` refuses, with a typed FILE_TOO_LARGE (cap
 * memory), a step that would need more than the heap has left; `heap` stands in for V8's in tests.
 */
export function bundleMemoryCheck(path: string, heap: () => HeapFigures = getHeapStatistics, what = 'evidence bundle'): (bytes: number) => void {
  // what is read and parsed is held (in large-object space), so the whole limit counts, less a margin for the rest.
  // Not collected first: little is garbage this early, and a full collection with the text near the limit was
  // itself V8's fatal out-of-memory error.
  return (bytes) => {
    const figures = heap();
    if (bytes <= figures.heap_size_limit - BUNDLE_HEAP_MARGIN_BYTES - figures.used_heap_size) return;
    const usedMb = Math.round(figures.used_heap_size / MB);
    const limitMb = Math.round(figures.heap_size_limit / MB);
    const neededMb = Math.ceil(bytes / MB);
    throw new UsageError(
      'FILE_TOO_LARGE',
      `${what}: ${path} does not fit the memory node may use here: reading it needs about ${neededMb} MB more heap, and the heap holds ${usedMb} MB of its ${limitMb} MB limit; give node more, e.g. NODE_OPTIONS=--max-old-space-size=${Math.max(2 * (usedMb + neededMb), 1024)}`,
      { path, what, neededMB: neededMb, heapUsedMB: usedMb, heapLimitMB: limitMb, cap: 'memory' },
    );
  };
}
