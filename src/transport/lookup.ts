// Host-name lookups for evidence requests, bounded. node resolves a name
// with getaddrinfo on libuv's thread pool, the pool the audit also verifies
// signatures, compresses results and reads files on. A resolver that never
// answers holds a thread until it gives up (seconds, or minutes with several
// nameservers), whatever the request's timeout: four VMs named by such host
// names held the default pool's four threads, and every other VM of the
// audit, healthy and named in /etc/hosts, timed out behind them.
//
// So at most `maxLookups` getaddrinfo calls run at once, and the rest of the
// pool stays free for the work every VM needs (the launcher, bin/, gives the
// pool room for them: LOOKUP_THREADS); a name is looked up once at a time
// however many requests want it (the VMs of one VMM, retries); and a request
// that gave up while its lookup waited for a turn never starts one. IP
// literals never get here (node connects to them directly).

import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';

/** The thread pool's size when nothing says otherwise (libuv's default). */
const LIBUV_DEFAULT_POOL = 4;
/** Threads left to signatures, zlib and file I/O: the whole default pool. */
const RESERVED_THREADS = 4;
/** How many lookups the launcher makes room for, on top of the default pool. */
export const LOOKUP_THREADS = 8;

/**
 * How many lookups may run at once for a thread pool of `poolSize` threads:
 * what is left after RESERVED_THREADS, or half of a smaller pool (at least 1).
 */
export function lookupSlotsFor(poolSize: number): number {
  if (!Number.isInteger(poolSize) || poolSize < 1) poolSize = LIBUV_DEFAULT_POOL;
  return poolSize >= RESERVED_THREADS * 2 ? poolSize - RESERVED_THREADS : Math.max(1, Math.floor(poolSize / 2));
}

type Callback = (err: NodeJS.ErrnoException | null, address?: string | LookupAddress[], family?: number) => void;
type Options = LookupOneOptions | LookupAllOptions;
type Resolver = (hostname: string, options: Options, callback: Callback) => void;

interface Waiter {
  callback: Callback;
  /** true once the request gave up: its lookup need not run for it */
  abandoned: () => boolean;
}

interface Entry {
  hostname: string;
  options: Options;
  waiters: Waiter[];
}

/** Lookups by name and options, at most `slots` at once; one getaddrinfo per name and options at a time. */
export class BoundedLookup {
  private running = 0;
  private readonly entries = new Map<string, Entry>();
  private readonly queue: string[] = [];

  constructor(
    readonly slots: number,
    private readonly resolve: Resolver = dnsLookup as unknown as Resolver,
  ) {}

  /** Lookups running now (for tests and diagnostics). */
  get inFlight(): number {
    return this.running;
  }

  /** Lookups waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  /** A `lookup` for net.connect / http.request; `abandoned` says when the request no longer wants the answer. */
  lookup(hostname: string, options: Options, callback: Callback, abandoned: () => boolean = () => false): void {
    const o = options ?? {};
    const key = `${hostname}\0${o.family ?? 0}\0${o.hints ?? 0}\0${o.all === true}\0${(o as { order?: string }).order ?? ''}\0${o.verbatim ?? ''}`;
    const waiter: Waiter = { callback, abandoned };
    const entry = this.entries.get(key);
    if (entry) {
      entry.waiters.push(waiter);
      return;
    }
    this.entries.set(key, { hostname, options: o, waiters: [waiter] });
    if (this.running < this.slots) this.start(key);
    else this.queue.push(key);
  }

  private start(key: string): void {
    const entry = this.entries.get(key)!;
    this.running++;
    let done = false;
    const finish: Callback = (err, address, family) => {
      if (done) return;
      done = true;
      this.running--;
      // a request that asks for this name from now on starts a new lookup
      this.entries.delete(key);
      for (const w of entry.waiters) w.callback(err, address, family);
      this.next();
    };
    try {
      this.resolve(entry.hostname, entry.options, finish);
    } catch (err) {
      finish(err as NodeJS.ErrnoException);
    }
  }

  private next(): void {
    while (this.running < this.slots && this.queue.length > 0) {
      const key = this.queue.shift()!;
      const entry = this.entries.get(key)!;
      // every request behind it gave up (its timeout fired while it waited): no getaddrinfo for nobody
      entry.waiters = entry.waiters.filter((w) => !w.abandoned());
      if (entry.waiters.length === 0) {
        this.entries.delete(key);
        continue;
      }
      this.start(key);
    }
  }
}

/** libuv's largest pool. */
const LIBUV_MAX_POOL = 1024;

/** strtol's range on the 64-bit platforms node runs on (LONG_MIN..LONG_MAX): past it, strtol gives the bound. */
const LONG_MAX = 2n ** 63n - 1n;

/**
 * The thread pool's size as libuv reads UV_THREADPOOL_SIZE when the pool
 * starts: unset, 4; otherwise C's atoi of it ("12abc" is 12, "" and "x" are
 * 0), 0 taken as 1, and at most 1024. atoi is glibc's (int)strtol, and libuv
 * keeps the int in an unsigned: a negative number is past 1024, and so is a
 * number that wraps past 1024, but one that wraps to a small one is that
 * small one ("4294967296" is 0, so 1 thread; "4294967298" is 2).
 */
export function libuvPoolSize(value: string | undefined): number {
  if (value === undefined) return LIBUV_DEFAULT_POOL;
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(value)!;
  // at most 20 significant digits matter: anything longer is past LONG_MAX, clamped like it
  const digits = m[2]!.replace(/^0+/, '').slice(0, 20);
  let long = digits === '' ? 0n : BigInt(digits);
  if (long > LONG_MAX) long = m[1] === '-' ? -LONG_MAX - 1n : LONG_MAX;
  else if (m[1] === '-') long = -long;
  // (int) then unsigned: the low 32 bits
  const threads = Number(BigInt.asUintN(32, long));
  if (threads === 0) return 1;
  return Math.min(threads, LIBUV_MAX_POOL);
}

/** The process's lookups: every HttpClient shares one bound, as they share one thread pool. */
export const sharedLookup = new BoundedLookup(lookupSlotsFor(libuvPoolSize(process.env['UV_THREADPOOL_SIZE'])));
