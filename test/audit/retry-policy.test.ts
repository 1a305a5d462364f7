// Which failures the audit attempts again, on real HTTP servers on 127.0.0.1
// that count the requests each VM's layers get. An answer that says the
// request itself is wrong or not allowed (404, 401/403, another 4xx, a
// redirect, a URL or scheme we refuse) is the same the next time: asked once.
// A connection failure, a reset, a 5xx, 408 or 429 is weather: asked again.
// Retry-After on 429 and 503 sets the least wait before the next attempt.
// The backoff's sleep and the clock are injected: no test waits.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runAudit, type AuditTarget } from '../../src/audit/run.js';
import { setupVerifier } from '../../src/cli/verifier-setup.js';
import { SimulatorService } from '../../src/simulator/service.js';
import { buildPlatform } from '../../src/simulator/platform.js';
import { writeTrustAnchors } from '../../src/simulator/start.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { countingFront } from './front.js';
import { tempDir } from '../helpers/tmp.js';

/** What the front answers a layer's n-th request with (undefined: forward it to the simulator). */
type Answer = (n: number) => { status: number; headers?: Record<string, string> } | 'reset' | undefined;

/**
 * A simulated platform whose layer URLs (in the AK certificates too) name a front on 127.0.0.1 that answers per
 * layer as told, else forwards to the simulator, and counts each layer's requests.
 */
async function platformBehindFront(t: TestContext, vms: number, answers: Record<string, Answer>) {
  const service = await SimulatorService.listen({});
  t.after(() => service.close());
  let last = '';
  const { origin: front, hits: paths } = await countingFront(t, service.origin, (path, n, req, res) => {
    const name = path.replace(/^\/l\//, '');
    last = name;
    const answer = answers[name]?.(n);
    if (answer === undefined) return false;
    if (answer === 'reset') req.socket.destroy();
    else {
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end('{"error":"no"}');
    }
    return true;
  });
  // requests per layer name
  const hits = { get: (name: string) => paths.get(`/l/${name}`) };
  const platform = buildPlatform({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: vms }, origin: front });
  service.attach(platform);
  const dir = tempDir(t, 'vtpm-retry-policy-');
  await writeTrustAnchors(join(dir, 'trust'), platform.trustAnchors());
  const setup = await setupVerifier({ trust: [join(dir, 'trust')] });
  const client = new EvidenceClient();
  t.after(() => client.close());
  const profile = { policy: setup.policy, policySource: setup.policySource, trust: setup.trust, crls: [] };
  const targets: AuditTarget[] = platform.inventory().map((e, index) => ({ index, name: e.name, url: `${front}/l/${e.name}`, tags: e.tags, profile, client }));
  return { targets, hits, setup, front, lastAsked: () => last };
}

const always = (status: number, headers?: Record<string, string>): Answer => () => ({ status, ...(headers ? { headers } : {}) });
const first = (status: number, headers?: Record<string, string>): Answer => (n) => (n === 1 ? { status, ...(headers ? { headers } : {}) } : undefined);

test('asked once: 404, 401, 403, 400, 410, a redirect, a refused scheme; asked again: 408, 429, 500, 503, a reset, a refused connection', async (t) => {
  const answers: Record<string, Answer> = {
    'vm-0001': always(404),
    'vm-0002': always(401),
    'vm-0003': always(403),
    'vm-0004': always(400),
    'vm-0005': always(410),
    'vm-0006': always(302, { location: 'http://127.0.0.1:1/elsewhere' }),
    'vm-0007': first(408),
    'vm-0008': first(429),
    'vm-0009': always(500),
    'vm-0010': first(503),
    'vm-0011': (n) => (n === 1 ? 'reset' : undefined),
  };
  const { targets, hits, setup } = await platformBehindFront(t, 11, answers);
  // a port nothing listens on (bound, then closed), and a scheme the audit does not speak
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const extra: AuditTarget[] = [
    { ...targets[0]!, index: 11, name: 'refused', url: `http://127.0.0.1:${closedPort}/l/refused` },
    { ...targets[0]!, index: 12, name: 'ftp', url: `ftp://127.0.0.1:${closedPort}/l/ftp` },
  ];
  const results = new Map<string, AttestationResult>();
  const slept: number[] = [];
  const stats = await runAudit([...targets, ...extra], {
    concurrency: 4,
    retries: 2,
    cache: setup.cache,
    sleep: async (ms) => void slept.push(ms),
    random: () => 0,
    onResult: (r) => results.set(r.name!, r),
  });
  const outcome = (name: string) => {
    const r = results.get(name)!;
    return [r.verdict, r.attempts, r.error?.code, r.error?.details?.['status']];
  };
  assert.deepEqual(outcome('vm-0001'), ['incomplete', 1, 'TRANSPORT_HTTP_STATUS', 404]);
  assert.deepEqual(outcome('vm-0002'), ['incomplete', 1, 'TRANSPORT_HTTP_STATUS', 401]);
  assert.deepEqual(outcome('vm-0003'), ['incomplete', 1, 'TRANSPORT_HTTP_STATUS', 403]);
  assert.deepEqual(outcome('vm-0004'), ['incomplete', 1, 'TRANSPORT_HTTP_STATUS', 400]);
  assert.deepEqual(outcome('vm-0005'), ['incomplete', 1, 'TRANSPORT_HTTP_STATUS', 410]);
  assert.deepEqual(outcome('vm-0006'), ['incomplete', 1, 'TRANSPORT_REDIRECT', 302]);
  for (const name of ['vm-0001', 'vm-0002', 'vm-0003', 'vm-0004', 'vm-0005', 'vm-0006']) assert.equal(hits.get(name), 1, `${name} is asked once`);
  assert.deepEqual(outcome('vm-0007'), ['trusted', 2, undefined, undefined], '408: asked again');
  assert.deepEqual(outcome('vm-0008'), ['trusted', 2, undefined, undefined], '429: asked again');
  assert.deepEqual(outcome('vm-0009'), ['incomplete', 3, 'TRANSPORT_HTTP_STATUS', 500], '500: asked 1 + 2 times');
  assert.deepEqual(outcome('vm-0010'), ['trusted', 2, undefined, undefined], '503: asked again');
  assert.deepEqual(outcome('vm-0011'), ['trusted', 2, undefined, undefined], 'a reset: asked again');
  for (const [name, n] of [['vm-0007', 2], ['vm-0008', 2], ['vm-0009', 3], ['vm-0010', 2], ['vm-0011', 2]] as const) assert.equal(hits.get(name), n, name);
  assert.deepEqual(outcome('refused'), ['incomplete', 3, 'TRANSPORT_REFUSED', undefined]);
  assert.deepEqual(outcome('ftp'), ['incomplete', 1, 'TRANSPORT_BAD_SCHEME', undefined]);
  // 11 VMs asked once, four asked twice (one more attempt each), two asked three times (two more each)
  assert.deepEqual(stats, { completed: 13, attempts: 13 + 4 + 2 * 2, retried: 6, skipped: 0 });
  assert.equal(slept.length, 4 + 2 * 2);
});

test('a layer below that answers 404 ends its VM\'s attempts too', async (t) => {
  // the VMM answers 404: the VM answered, its VMM's answer will not change
  const a = await platformBehindFront(t, 1, { 'vmm-001': always(404) });
  const results: AttestationResult[] = [];
  await runAudit(a.targets, { concurrency: 1, retries: 2, cache: a.setup.cache, sleep: async () => undefined, onResult: (r) => results.push(r) });
  assert.deepEqual([results[0]!.verdict, results[0]!.attempts, results[0]!.error?.code, results[0]!.layers.findIndex((l) => l.status === 'unreachable')], ['incomplete', 1, 'TRANSPORT_HTTP_STATUS', 1]);
  assert.deepEqual([a.hits.get('vm-0001'), a.hits.get('vmm-001')], [1, 1]);

});

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');
const hms = (d: Date): string => `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
/** The obsolete HTTP-date forms a recipient must still read (RFC 9110 section 5.6.7). */
const rfc850 = (d: Date): string => `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${two(d.getUTCFullYear() % 100)} ${hms(d)} GMT`;
const asctime = (d: Date): string => `${DAYS[d.getUTCDay()]!.slice(0, 3)} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${hms(d)} ${d.getUTCFullYear()}`;

test('Retry-After on a 429 or 503 (seconds or an HTTP-date) is waited for, up to 60 s; one that is unusable or on another status is not; one past the VM\'s deadline ends its attempts and says so', async (t) => {
  let clock = Date.parse('2026-03-01T12:00:00Z');
  const at = (ms: number): Date => new Date(clock + ms);
  const answers: Record<string, Answer> = {
    'vm-0001': first(429, { 'retry-after': '3' }),
    'vm-0002': (n) => (n === 1 ? { status: 503, headers: { 'retry-after': at(7_000).toUTCString() } } : undefined),
    'vm-0003': (n) => (n === 1 ? { status: 503, headers: { 'retry-after': rfc850(at(2_000)) } } : undefined),
    'vm-0004': (n) => (n === 1 ? { status: 429, headers: { 'retry-after': asctime(at(4_000)) } } : undefined),
    'vm-0005': first(429, { 'retry-after': '600' }),
    'vm-0006': first(429, { 'retry-after': 'soon' }),
    'vm-0007': first(503, { 'retry-after': '-5' }),
    'vm-0008': first(503, { 'retry-after': 'Sun, 31 Feb 2026 12:00:00 GMT' }),
    'vm-0009': (n) => (n === 1 ? { status: 503, headers: { 'retry-after': at(-60_000).toUTCString() } } : undefined),
    'vm-0010': first(500, { 'retry-after': '30' }),
    // the VM's deadline is 4 x its 10 s timeout: 60 s (the cap of 100 s) is more than its 40 s
    'vm-0011': always(503, { 'retry-after': '100' }),
    // 25 s, then 25 s again, with 15 s left: the wait a server asks for is the VM's own time
    'vm-0012': always(429, { 'retry-after': '25' }),
  };
  const { targets, hits, setup, lastAsked } = await platformBehindFront(t, 12, answers);
  const waits = new Map<string, number[]>();
  const results = new Map<string, AttestationResult>();
  await runAudit(
    targets.map((x) => (x.name === 'vm-0011' || x.name === 'vm-0012' ? { ...x, timeoutMs: 10_000 } : x)),
    {
      concurrency: 1,
      retries: 2,
      cache: setup.cache,
      random: () => 0,
      now: () => clock,
      // with one VM at a time, the VM that waits is the one whose layer was asked last
      sleep: async (ms) => {
        waits.set(lastAsked(), [...(waits.get(lastAsked()) ?? []), ms]);
        clock += ms;
      },
      onResult: (r) => results.set(r.name!, r),
    },
  );
  const outcome = (name: string) => [results.get(name)!.verdict, results.get(name)!.attempts, hits.get(name), waits.get(name)];
  assert.deepEqual(outcome('vm-0001'), ['trusted', 2, 2, [3_000]], '429, Retry-After: 3');
  assert.deepEqual(outcome('vm-0002'), ['trusted', 2, 2, [7_000]], '503, an IMF-fixdate 7 s ahead');
  assert.deepEqual(outcome('vm-0003'), ['trusted', 2, 2, [2_000]], 'an RFC 850 date');
  assert.deepEqual(outcome('vm-0004'), ['trusted', 2, 2, [4_000]], 'an asctime date');
  assert.deepEqual(outcome('vm-0005'), ['trusted', 2, 2, [60_000]], '600 s is capped at 60 s');
  assert.deepEqual(outcome('vm-0006'), ['trusted', 2, 2, [125]], 'not a number nor a date: the backoff');
  assert.deepEqual(outcome('vm-0007'), ['trusted', 2, 2, [125]], 'a negative number: the backoff');
  assert.deepEqual(outcome('vm-0008'), ['trusted', 2, 2, [125]], 'no 31 February: the backoff');
  assert.deepEqual(outcome('vm-0009'), ['trusted', 2, 2, [125]], 'a date passed: the backoff');
  assert.deepEqual(outcome('vm-0010'), ['trusted', 2, 2, [125]], 'a 500 does not say when to come back');
  assert.deepEqual(outcome('vm-0011'), ['incomplete', 1, 1, undefined], 'asked once: the wait would pass its deadline');
  const r = results.get('vm-0011')!;
  assert.equal(r.error?.code, 'TRANSPORT_HTTP_STATUS');
  assert.equal(r.error?.details?.['retryAfter'], '100');
  assert.match(r.reason, /; not attempted again: the server asked to wait 60 s \(Retry-After: 100\), and only 40 s were left of the VM's deadline \(4 x its timeout\)$/);
  assert.deepEqual(outcome('vm-0012'), ['incomplete', 2, 2, [25_000]], 'asked twice: its second wait would pass its deadline');
  assert.match(results.get('vm-0012')!.reason, /the server asked to wait 25 s \(Retry-After: 25\), and only 15 s were left/);
});

test('a stop during a Retry-After wait ends the wait at once: the last result stands', async (t) => {
  const { targets, hits, setup } = await platformBehindFront(t, 1, { 'vm-0001': always(503, { 'retry-after': '60' }) });
  const abort = new AbortController();
  const results: AttestationResult[] = [];
  const audit = runAudit(targets, {
    concurrency: 1,
    retries: 2,
    cache: setup.cache,
    signal: abort.signal,
    // SIGTERM comes once the VM waits (the backoff's jitter is drawn just before), on the audit's own timer
    random: () => {
      queueMicrotask(() => abort.abort());
      return 0;
    },
    onResult: (r) => results.push(r),
  });
  // event-loop turns, not time: a 60 s timer that the stop does not end would lose this race
  const turns = (async () => {
    for (let turn = 0; turn < 100; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    return 'the turns';
  })();
  assert.equal(await Promise.race([audit.then(() => 'the audit'), turns]), 'the audit');
  assert.deepEqual(await audit, { completed: 1, attempts: 1, retried: 0, skipped: 0 });
  assert.deepEqual([results[0]!.verdict, results[0]!.attempts, results[0]!.error?.code, hits.get('vm-0001')], ['incomplete', 1, 'TRANSPORT_HTTP_STATUS', 1]);
});
