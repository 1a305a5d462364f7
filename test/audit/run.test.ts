// The audit runner on its own (src/audit/run.ts), over an in-process
// simulator without HTTP: at most `concurrency` attestations at once, each VM
// on its own nonce chain and delivered exactly once; a transport error is
// retried without holding a slot, a bug in one VM becomes that VM's result,
// a failing result sink stops the audit, an abort stops starting VMs.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runAudit, type AuditTarget } from '../../src/audit/run.js';
import { setupVerifier } from '../../src/cli/verifier-setup.js';
import { TransportError } from '../../src/errors.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { ResponseBudget } from '../../src/transport/response-budget.js';
import { countingFront } from './front.js';
import { parseEvidenceBytes } from '../../src/transport/evidence.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { resultDurationMs } from '../../src/report/format.js';
import { summarize } from '../../src/report/summary.js';
import type { EvidenceSource, LayerRequest } from '../../src/verify/walker.js';
import { ParseGate } from '../../src/verify/parse-gate.js';

async function fleet(t: TestContext, vms: number) {
  const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: vms } });
  t.after(() => sim.close());
  const setup = await setupVerifier({ trust: [sim.trustDir] });
  const client = new EvidenceClient();
  t.after(() => client.close());
  const profile = { policy: setup.policy, policySource: setup.policySource, trust: setup.trust, crls: [] };
  const targets: AuditTarget[] = sim.inventory().map((e, index) => ({ index, name: e.name, url: e.url, tags: e.tags, profile, client }));
  return { sim, setup, targets };
}

/** Evidence straight from the simulated layers (no HTTP), through a hook that sees every request. */
function direct(sim: RunningSimulator, hook: (req: LayerRequest) => Promise<void> | void = () => undefined): EvidenceSource {
  return async (req) => {
    await hook(req);
    const name = decodeURIComponent(new URL(req.uri).pathname.slice('/l/'.length));
    return parseEvidenceBytes(sim.platform.layer(name).evidence({ nonce: req.nonce, pcrs: req.pcrs, ...(req.instance ? { instance: req.instance } : {}) }));
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test('bounded concurrency; every VM once, each on its own nonce chain, with its name, tags and attempts', async (t) => {
  const { sim, setup, targets } = await fleet(t, 30);
  let inFlight = 0;
  let most = 0;
  const results: AttestationResult[] = [];
  const stats = await runAudit(targets, {
    concurrency: 4,
    retries: 0,
    cache: setup.cache,
    // a top-layer request holds its VM's slot for a few turns of the event loop
    source: () =>
      direct(sim, async (req) => {
        if (req.position !== 0) return;
        inFlight++;
        most = Math.max(most, inFlight);
        for (let i = 0; i < 3; i++) await tick();
        inFlight--;
      }),
    onResult: (r) => results.push(r),
  });
  assert.equal(most, 4);
  assert.deepEqual(stats, { completed: 30, attempts: 30, retried: 0, skipped: 0 });
  assert.deepEqual(results.map((r) => r.name).sort(), targets.map((x) => x.name).sort());
  assert.ok(results.every((r) => r.verdict === 'trusted' && r.attempts === 1 && r.tags?.includes('sim')));
  assert.equal(new Set(results.map((r) => r.nonce)).size, 30, 'a fresh top nonce per VM');
});

test('a transport error is retried (its slot freed while it waits); a bug in one VM is that VM\'s result', async (t) => {
  const { sim, setup, targets } = await fleet(t, 6);
  const failures = new Map<string, number>();
  const slept: number[] = [];
  const results = new Map<string, AttestationResult>();
  const stats = await runAudit(targets, {
    concurrency: 1,
    retries: 2,
    cache: setup.cache,
    sleep: async (ms) => void slept.push(ms),
    random: () => 0,
    source: (target) =>
      direct(sim, (req) => {
        if (req.position !== 0) return;
        const n = (failures.get(target.name!) ?? 0) + 1;
        failures.set(target.name!, n);
        if (target.name === 'vm-0002' && n === 1) throw new TransportError('TRANSPORT_RESET', 'reset', {});
        if (target.name === 'vm-0003') throw new TransportError('TRANSPORT_REFUSED', 'refused', {});
        if (target.name === 'vm-0004') throw new TypeError('a bug');
      }),
    onResult: (r) => results.set(r.name!, r),
  });
  assert.deepEqual([results.get('vm-0002')!.verdict, results.get('vm-0002')!.attempts], ['trusted', 2]);
  assert.deepEqual([results.get('vm-0003')!.verdict, results.get('vm-0003')!.attempts, results.get('vm-0003')!.error?.code], ['incomplete', 3, 'TRANSPORT_REFUSED']);
  const bug = results.get('vm-0004')!;
  assert.deepEqual([bug.verdict, bug.attempts, bug.error?.code], ['incomplete', 1, 'INTERNAL_ERROR'], 'a bug is reported, not retried');
  assert.equal(results.size, 6);
  assert.deepEqual(stats, { completed: 6, attempts: 9, retried: 2, skipped: 0 });
  assert.deepEqual(slept, [125, 125, 250], 'backoff 250 ms doubling, jitter factor 0.5');
});

test('a result that cannot be written stops the audit; an abort stops starting VMs', async (t) => {
  const { sim, setup, targets } = await fleet(t, 10);
  let delivered = 0;
  await assert.rejects(
    runAudit(targets, {
      concurrency: 2,
      retries: 0,
      cache: setup.cache,
      source: () => direct(sim),
      onResult: () => {
        if (++delivered === 3) throw new Error('disk full');
      },
    }),
    /disk full/,
  );
  assert.ok(delivered < 10, `stopped after ${delivered}`);

  const abort = new AbortController();
  const seen: string[] = [];
  const stats = await runAudit(targets, {
    concurrency: 1,
    retries: 0,
    cache: setup.cache,
    signal: abort.signal,
    source: () => direct(sim),
    onResult: (r) => {
      seen.push(r.name!);
      if (seen.length === 4) abort.abort();
    },
  });
  assert.deepEqual(stats, { completed: 4, attempts: 4, retried: 0, skipped: 6 });
});

test('a stop during a retry backoff makes no further attempt: the last result stands, counted once', async (t) => {
  const { sim, setup, targets } = await fleet(t, 1);
  const abort = new AbortController();
  let attempts = 0;
  const results: AttestationResult[] = [];
  const stats = await runAudit(targets, {
    concurrency: 1,
    retries: 3,
    cache: setup.cache,
    signal: abort.signal,
    // SIGTERM arrives while the VM waits to be tried again
    sleep: async () => abort.abort(),
    source: () =>
      direct(sim, (req) => {
        if (req.position !== 0) return;
        attempts++;
        throw new TransportError('TRANSPORT_REFUSED', 'refused', {});
      }),
    onResult: (r) => results.push(r),
  });
  assert.equal(attempts, 1);
  assert.deepEqual([results[0]!.verdict, results[0]!.attempts, results[0]!.error?.code], ['incomplete', 1, 'TRANSPORT_REFUSED']);
  assert.deepEqual(stats, { completed: 1, attempts: 1, retried: 0, skipped: 0 });
});

test('a stop while a VM waits for a free slot to be retried makes no further attempt: its last result stands', async (t) => {
  const { sim, setup, targets } = await fleet(t, 2);
  const abort = new AbortController();
  const attempts = [0, 0];
  const results: AttestationResult[] = [];
  const stats = await runAudit(targets.slice(0, 2), {
    concurrency: 1,
    retries: 3,
    cache: setup.cache,
    signal: abort.signal,
    sleep: async () => undefined,
    source: (target, signal) =>
      direct(sim, async (req) => {
        if (req.position !== 0) return;
        if (signal?.aborted) throw new TransportError('TRANSPORT_ABORTED', 'request aborted', {});
        attempts[target.index]!++;
        // the first VM's host is down; the second VM holds the only slot while the first waits for it to
        // be tried again, and SIGTERM comes then
        if (target.index === 0) throw new TransportError('TRANSPORT_REFUSED', 'refused', {});
        for (let i = 0; i < 5; i++) await tick();
        abort.abort();
        throw new TransportError('TRANSPORT_ABORTED', 'request aborted', {});
      }),
    onResult: (r) => results.push(r),
  });
  assert.deepEqual(attempts, [1, 1], 'the first VM is not tried again once stopped');
  assert.deepEqual(results.map((r) => [r.name, r.verdict, r.attempts, r.error?.code]), [[targets[0]!.name, 'incomplete', 1, 'TRANSPORT_REFUSED']]);
  assert.deepEqual(stats, { completed: 1, attempts: 2, retried: 0, skipped: 1 });
});

test('a VM has a deadline for its whole attestation (every layer and attempt): a chain of slow layers is cut, and not retried', async (t) => {
  const { sim, setup, targets } = await fleet(t, 1);
  let clock = 0;
  const results: AttestationResult[] = [];
  const stats = await runAudit([{ ...targets[0]!, timeoutMs: 1_000 }], {
    concurrency: 1,
    retries: 2,
    cache: setup.cache,
    now: () => clock,
    sleep: async () => undefined,
    // every layer answers just inside its own 1 s timeout, 2.5 s after it was asked (a fake clock, no waiting)
    source: () => direct(sim, () => void (clock += 2_500)),
    onResult: (r) => results.push(r),
  });
  const r = results[0]!;
  assert.equal(r.verdict, 'incomplete');
  assert.equal(r.error?.code, 'TRANSPORT_TIMEOUT');
  assert.match(r.error?.message ?? '', /took longer than its deadline \(4 x 1000 ms/);
  assert.equal(r.layers.filter((l) => l.status === 'trusted').length, 2, 'the layers asked in time were attested');
  assert.deepEqual(stats, { completed: 1, attempts: 1, retried: 0, skipped: 0 }, 'no retry once the deadline has passed');
});

test('a request cut short by what was left of the VM\'s deadline says the deadline cut it, and is not retried', async (t) => {
  const { setup, targets } = await fleet(t, 1);
  // a real server: 503 at once the first time (the fake clock then says the VM has used 3.95 s of its 4 s), then
  // it accepts and never answers, so the second attempt's request gets the 50 ms left and times out
  let clock = 0;
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    if (requests === 1) {
      clock = 3_950;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"busy"}');
      return;
    }
    clock += 100;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/l/vm`;
  const results: AttestationResult[] = [];
  const stats = await runAudit([{ ...targets[0]!, url, timeoutMs: 1_000 }], {
    concurrency: 1,
    retries: 3,
    cache: setup.cache,
    now: () => clock,
    sleep: async () => undefined,
    onResult: (r) => results.push(r),
  });
  const r = results[0]!;
  assert.equal(r.verdict, 'incomplete');
  assert.equal(r.error?.code, 'TRANSPORT_TIMEOUT');
  assert.match(r.error?.message ?? '', /took longer than its deadline \(4 x 1000 ms/, 'not "no complete response within 50 ms"');
  assert.equal(requests, 2);
  assert.deepEqual(stats, { completed: 1, attempts: 2, retried: 1, skipped: 0 }, 'no retry once the deadline has passed');
});

test('a stop cancels the VMs in flight: their cut-short attempts are not results, they count as not audited', async (t) => {
  const { sim, setup, targets } = await fleet(t, 3);
  const abort = new AbortController();
  const results: AttestationResult[] = [];
  const stats = await runAudit(targets, {
    concurrency: 3,
    retries: 1,
    cache: setup.cache,
    signal: abort.signal,
    source: (target) =>
      direct(sim, (req) => {
        // the first VM finishes; SIGTERM comes while the others are at their second layer
        if (target.index === 0 || req.position === 0) return;
        abort.abort();
        throw new TransportError('TRANSPORT_ABORTED', 'request aborted', {});
      }),
    onResult: (r) => results.push(r),
  });
  assert.deepEqual(results.map((r) => [r.name, r.verdict]), [[targets[0]!.name, 'trusted']]);
  assert.deepEqual(stats, { completed: 1, attempts: 3, retried: 0, skipped: 2 });
});

test('the deadline counts only a VM\'s own attempts: its backoff and its wait for a free slot do not', async (t) => {
  const { sim, setup, targets } = await fleet(t, 2);
  let clock = 0;
  let refused = false;
  const results = new Map<string, AttestationResult>();
  await runAudit(targets.map((x) => ({ ...x, timeoutMs: 1_000 })), {
    concurrency: 1,
    retries: 1,
    cache: setup.cache,
    now: () => clock,
    sleep: async () => void (clock += 500),
    source: (target) =>
      direct(sim, (req) => {
        if (target.index === 0 && req.position === 0 && !refused) {
          refused = true;
          clock += 100;
          throw new TransportError('TRANSPORT_REFUSED', 'refused', {});
        }
        // the other VM holds the only slot for almost 3 s; every layer takes 0.6 s
        clock += target.index === 1 && req.position === 0 ? 2_970 : 600;
      }),
    onResult: (r) => results.set(r.name!, r),
  });
  const first = results.get(targets[0]!.name!)!;
  assert.equal(first.verdict, 'trusted', first.reason);
  assert.equal(first.attempts, 2);
  // its duration in the reports is both attempts' (0.1 s refused, then 3 layers of 0.6 s), without the waits between
  assert.equal(first.attemptsMs, 1_900);
  assert.equal(resultDurationMs(first), 1_900);
  const second = results.get(targets[1]!.name!)!;
  assert.equal(second.attempts, 1);
  assert.equal(second.attemptsMs, undefined, 'one attempt: its startedAt..finishedAt says it all');
  // the summary's slowest hosts count it so (the other VM's one attempt took real milliseconds, this clock aside)
  assert.deepEqual(summarize([...results.values()]).slowest.map((h) => [h.name, h.ms])[0], [first.name, 1_900]);
});

test('a stop signal is listened to once, however many requests are in flight (no leak warning at concurrency 16)', async (t) => {
  const { targets } = await fleet(t, 40);
  const abort = new AbortController();
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`);
  };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  let mostListeners = 0;
  const results: AttestationResult[] = [];
  // real HTTP requests to the simulator: each one in flight listens for the stop
  const stats = await runAudit(targets, {
    concurrency: 16,
    retries: 0,
    signal: abort.signal,
    onResult: (r) => {
      results.push(r);
      mostListeners = Math.max(mostListeners, getEventListeners(abort.signal, 'abort').length);
    },
  });
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(stats.completed, 40);
  assert.ok(results.every((r) => r.verdict === 'trusted'), results.map((r) => r.error?.code).join(','));
  assert.deepEqual(warnings, []);
  assert.equal(mostListeners, 1);
  assert.equal(getEventListeners(abort.signal, 'abort').length, 0, 'the audit leaves no listener behind');
});

test('a stop ends the waits at the gate on large logs: a VM whose layer waits there is not audited, and the audit ends without it parsing', async (t) => {
  const { sim, setup, targets } = await fleet(t, 1);
  // another walk holds the whole gate (and never ends in this test)
  const gate = new ParseGate(4 * 1024 * 1024, 1024 * 1024);
  const holder = gate.pass();
  holder.admit(4 * 1024 * 1024);
  t.after(() => holder.release());
  const abort = new AbortController();
  let layersParsed = 0;
  const results: AttestationResult[] = [];
  const audit = runAudit(targets, {
    concurrency: 1,
    retries: 0,
    cache: setup.cache,
    signal: abort.signal,
    parseGate: gate,
    // a 2 MiB IMA list comes with the top layer: it waits at the full gate; the stop comes while it does
    source: () => {
      const inner = direct(sim);
      return async (req) => {
        const evidence = await inner(req);
        layersParsed++;
        setImmediate(() => abort.abort());
        return { ...evidence, imaLog: '#'.repeat(2 * 1024 * 1024) };
      };
    },
    onResult: (r) => results.push(r),
  });
  // the audit must end on its own, the gate still held: what ends first?
  // (event-loop turns, not time: the source is in-process, so the audit needs a few; a hundred leave room)
  const released = (async () => {
    for (let turn = 0; turn < 100; turn++) await tick();
    return 'only when the holder let go';
  })();
  const first = await Promise.race([audit.then(() => 'the audit'), released]);
  holder.release();
  const stats = await audit;
  assert.equal(first, 'the audit');
  assert.equal(layersParsed, 1);
  assert.deepEqual(stats, { completed: 0, attempts: 1, retried: 0, skipped: 1 });
  assert.deepEqual(results, []);
  assert.equal(gate.heldBytes, 0);
});

/** A parse gate that other walks hold whole (`holder`), until released or the test ends. */
function heldGate(t: TestContext): { gate: ParseGate; holder: ReturnType<ParseGate['pass']> } {
  const gate = new ParseGate(4 * 1024 * 1024, 1024 * 1024);
  const holder = gate.pass();
  holder.admit(4 * 1024 * 1024);
  t.after(() => holder.release());
  return { gate, holder };
}

/** The simulator's evidence with a 2 MiB IMA list in each answer: large logs, which wait at a full gate. */
function withLargeImaList(sim: RunningSimulator, onRequest: () => void = () => {}): () => EvidenceSource {
  return () => {
    const inner = direct(sim);
    return async (req) => {
      onRequest();
      return { ...(await inner(req)), imaLog: '#'.repeat(2 * 1024 * 1024) };
    };
  };
}

test('a wait at the gate on large logs ends at the VM\'s deadline: walks of hostile hosts holding the gate in turn cannot hold a VM (and its slot) past it', async (t) => {
  const { sim, setup, targets } = await fleet(t, 1);
  // other walks hold the whole gate, one after another (each within its own deadline, a slow layer below
  // its large logs): here one that does not let go during the test
  const { gate, holder } = heldGate(t);
  const results: AttestationResult[] = [];
  const timeoutMs = 50;
  const audit = runAudit(
    targets.map((target) => ({ ...target, timeoutMs })),
    {
      concurrency: 1,
      retries: 2,
      cache: setup.cache,
      parseGate: gate,
      // a 2 MiB IMA list comes with the top layer: it waits at the full gate
      source: withLargeImaList(sim),
      onResult: (r) => results.push(r),
    },
  );
  // the audit must end on its own, the gate still held
  const first = await Promise.race([audit.then(() => 'the audit'), new Promise<string>((resolve) => setTimeout(() => resolve('only when the holder let go'), 20 * 4 * timeoutMs))]);
  holder.release();
  const stats = await audit;
  assert.equal(first, 'the audit');
  assert.equal(stats.completed, 1);
  assert.equal(results.length, 1);
  const r = results[0]!;
  assert.equal(r.verdict, 'incomplete');
  assert.equal(r.error?.code, 'TRANSPORT_TIMEOUT');
  assert.match(r.error!.message, /deadline/);
  assert.equal(r.layers[0]?.status, 'unreachable');
  // not retried: its deadline is spent
  assert.equal(r.attempts, 1);
  // it parsed nothing, and left nothing queued or held at the gate
  assert.equal(gate.heldBytes, 0);
});

test('an answer waiting its turn at the parse gate stays counted against the response budget: past it, the largest waiting is dropped (TRANSPORT_TOO_LARGE), not kept outside every bound', async (t) => {
  // 32 hostile VMs answering with 24 MiB IMA lists at --concurrency 32: two parsed at once, the other thirty read
  // whole and waiting, 0.7 GB counted by neither the budget (bodies being read) nor the gate (logs being parsed)
  const { setup, targets } = await fleet(t, 3);
  const { gate, holder } = heldGate(t);
  const listBytes = 2 * 1024 * 1024;
  const { origin } = await countingFront(t, new URL(targets[0]!.url).origin, (path, _n, req, res) => {
    if (!path.startsWith('/l/vm-')) return false;
    void (async () => {
      const evidence = (await (await fetch(`${new URL(targets[0]!.url).origin}${req.url}`)).json()) as Record<string, unknown>;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...evidence, imaLog: '#'.repeat(listBytes) }));
    })();
    return true;
  });
  // room for two of the three answers, not three
  const budget = new ResponseBudget(5 * 1024 * 1024);
  const client = new EvidenceClient({ budget });
  t.after(() => client.close());
  const results: AttestationResult[] = [];
  let firstResult: (() => void) | undefined;
  const first = new Promise<string>((resolve) => (firstResult = () => resolve('a result')));
  const audit = runAudit(
    targets.map((target) => ({ ...target, url: `${origin}${new URL(target.url).pathname}`, client })),
    {
      concurrency: 3,
      retries: 0,
      cache: setup.cache,
      parseGate: gate,
      onResult: (r) => {
        results.push(r);
        firstResult?.();
      },
    },
  );
  // the gate is held: none is parsed until it is released, but one is dropped by the budget meanwhile
  let guard: NodeJS.Timeout | undefined;
  const what = await Promise.race([first, new Promise<string>((resolve) => (guard = setTimeout(() => resolve('nothing within 30 s'), 30_000)))]);
  clearTimeout(guard);
  assert.equal(what, 'a result');
  assert.equal(results.length, 1);
  const dropped = results[0]!;
  assert.equal(dropped.verdict, 'incomplete');
  assert.equal(dropped.error?.code, 'TRANSPORT_TOO_LARGE');
  assert.equal(dropped.error?.details?.['waitedFor'], 'parse-gate');
  assert.equal(dropped.layers[0]?.status, 'unreachable');
  assert.equal(dropped.layers[0]?.checks.at(-1)?.id, 'evidence.fetch');
  // the two others are read whole and wait, their bodies counted
  for (let turn = 0; turn < 100_000 && budget.held <= 2 * listBytes; turn++) await tick();
  assert.ok(budget.held > 2 * listBytes && budget.held <= budget.maxBytes, `held ${budget.held}`);
  assert.equal(results.length, 1);
  holder.release();
  await audit;
  assert.equal(results.length, 3);
  for (const r of results.slice(1)) assert.notEqual(r.error?.code, 'TRANSPORT_TOO_LARGE', r.error?.message);
  assert.equal(budget.held, 0, 'every byte given back');
  assert.equal(gate.heldBytes, 0);
});

test('a wait at the gate ended by the VM\'s deadline is not retried, whatever the clock the deadline is read on says when its timer fires', async (t) => {
  // the wait's timer runs on the event loop's monotonic clock, the retry decision reads the audit's clock
  // (Date.now: a wall clock NTP may step back, or a millisecond behind the timer's): here a clock that does not move
  const { sim, setup, targets } = await fleet(t, 1);
  const { gate } = heldGate(t);
  const results: AttestationResult[] = [];
  let requests = 0;
  const stats = await runAudit(
    targets.map((target) => ({ ...target, timeoutMs: 25 })),
    {
      concurrency: 1,
      retries: 2,
      cache: setup.cache,
      parseGate: gate,
      now: () => 0,
      sleep: async () => undefined,
      source: withLargeImaList(sim, () => requests++),
      onResult: (r) => results.push(r),
    },
  );
  assert.equal(results[0]?.error?.code, 'TRANSPORT_TIMEOUT');
  assert.equal(results[0]?.error?.details?.['waitedFor'], 'parse-gate');
  assert.deepEqual(stats, { completed: 1, attempts: 1, retried: 0, skipped: 0 }, 'its deadline is spent: not attempted again');
  assert.equal(requests, 1, 'the VM was not asked again');
  assert.equal(gate.heldBytes, 4 * 1024 * 1024);
});
