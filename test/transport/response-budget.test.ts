// The response-byte budget shared by many requests (src/transport/response-budget.ts),
// against real HTTP servers on 127.0.0.1: past the budget the response holding
// the most bytes is dropped, whichever response's bytes came last, and every
// byte is given back when a response ends, fails or is dropped.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { HttpClient } from '../../src/transport/http-client.js';
import { ResponseBudget } from '../../src/transport/response-budget.js';
import { assertRejectsCode } from '../helpers/assert.js';
import { startHttp, until } from './servers.js';

const KB = 1024;
const clients: HttpClient[] = [];
function client(budget: ResponseBudget, maxResponseBytes = 4 * 1024 * KB): HttpClient {
  const c = new HttpClient({ connectTimeoutMs: 10_000, timeoutMs: 10_000, budget, maxResponseBytes });
  clients.push(c);
  return c;
}
after(() => clients.forEach((c) => c.close()));

/** /hog sends `hogBytes` and keeps the response open until `release()`; /small sends `smallBytes` and ends. */
async function servers(hogBytes: number, smallBytes: number) {
  const open: ServerResponse[] = [];
  const server = await startHttp((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no length to refuse up front
    if (req.url === '/hog') {
      res.write(Buffer.alloc(hogBytes, 0x20));
      open.push(res);
    } else {
      res.end(Buffer.alloc(smallBytes, 0x20));
    }
  });
  return { server, release: () => open.forEach((r) => r.end()) };
}

test('past the budget the response holding the most is dropped, not the one whose bytes came last', async () => {
  const { server, release } = await servers(800 * KB, 300 * KB);
  try {
    const budget = new ResponseBudget(1024 * KB);
    // two clients (as an audit has one per TLS setting) sharing one budget
    const hogging = client(budget).get(`${server.url}/hog`, { layer: 1 });
    const hogged = assertRejectsCode(hogging, 'TRANSPORT_TOO_LARGE');
    await until(() => budget.held >= 800 * KB, 'the hog holds its 800 KB');
    const small = await client(budget).get(`${server.url}/small`, { layer: 2 });
    assert.equal(small.body.length, 300 * KB, 'the response that crossed the budget is whole');
    const err = await hogged;
    assert.equal(err.details['budget'], 1024 * KB);
    assert.ok((err.details['received'] as number) >= 800 * KB);
    assert.match(err.message, /passed their 1048576-byte budget, and this one held the most/);
    await until(() => budget.held === 0, 'every byte is given back');
    release();
  } finally {
    await server.close();
  }
});

test('within the budget both responses are read whole, and the bytes are given back', async () => {
  const { server, release } = await servers(600 * KB, 300 * KB);
  try {
    const budget = new ResponseBudget(1024 * KB);
    const c = client(budget);
    const hog = c.get(`${server.url}/hog`);
    await until(() => budget.held >= 600 * KB, 'the first response holds its 600 KB');
    const small = await c.get(`${server.url}/small`);
    assert.equal(small.body.length, 300 * KB);
    assert.equal(budget.held, 600 * KB, 'the finished response gave its bytes back');
    release();
    assert.equal((await hog).body.length, 600 * KB);
    assert.equal(budget.held, 0);
  } finally {
    await server.close();
  }
});

test('a response bigger than the whole budget is dropped on its own; one over its cap gives its bytes back', async () => {
  const { server, release } = await servers(2 * 1024 * KB, 300 * KB);
  try {
    const budget = new ResponseBudget(1024 * KB);
    const err = await assertRejectsCode(client(budget).get(`${server.url}/hog`), 'TRANSPORT_TOO_LARGE');
    assert.equal(err.details['budget'], 1024 * KB);
    await until(() => budget.held === 0, 'the dropped response gave its bytes back');
    // the per-response cap still applies first, below the budget
    const capped = await assertRejectsCode(client(budget, 100 * KB).get(`${server.url}/small`), 'TRANSPORT_TOO_LARGE');
    assert.equal(capped.details['max'], 100 * KB);
    await until(() => budget.held === 0, 'the capped response gave its bytes back');
    release();
  } finally {
    await server.close();
  }
});

test('a body handed over is not kept alive by the kept-alive connection it came on: dropped by its reader, it is garbage', async () => {
  // Bytes are counted against the budget only while a body is read. A kept-alive socket keeps the options it was
  // connected with (the request's lookup among them) for as long as it lives; a lookup closing over the exchange
  // kept its response, chunks and body alive with it: an audit's 32 sockets, reused from VM to VM, held 1.5 GB.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const size = 8 * 1024 * KB;
  const payload = Buffer.alloc(size, 0x20);
  const server = await startHttp((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': payload.length });
    res.end(payload);
  });
  try {
    const c = client(new ResponseBudget(64 * 1024 * KB), 16 * 1024 * KB);
    const settle = async (): Promise<void> => {
      // a WeakRef's target lives until the job that made it ends; a backing store is freed after the collection
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 20));
        gc();
      }
    };
    await settle();
    const before = process.memoryUsage().arrayBuffers;
    const body = new WeakRef((await c.get(`${server.url}/a`, { layer: 1 })).body);
    assert.equal(body.deref()?.length, size);
    await settle();
    assert.equal(body.deref(), undefined, 'the body is garbage once its reader dropped it');
    const kept = process.memoryUsage().arrayBuffers - before;
    assert.ok(kept < size / 2, `response bytes still held after the body was dropped: ${kept}`);
    // the connection was kept alive all along, and is reused
    const again = await c.get(`${server.url}/b`, { layer: 1 });
    assert.equal(again.body.length, size);
    assert.equal(server.connections, 1);
  } finally {
    await server.close();
  }
});

test('a body held after it is read (holdBody) stays counted until released; past the budget it is dropped like one being read, its signal saying why', async () => {
  const { server } = await servers(0, 600 * KB);
  const { server: tiny } = await servers(0, 100 * KB);
  const hog = await startHttp((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(Buffer.alloc(300 * KB, 0x20));
    setImmediate(() => res.end(Buffer.alloc(300 * KB, 0x20)));
  });
  try {
    const budget = new ResponseBudget(1024 * KB);
    const c = client(budget);
    const first = await c.get(`${server.url}/small`, { layer: 1, holdBody: true });
    assert.equal(first.body.length, 600 * KB);
    assert.equal(budget.held, 600 * KB, 'read whole, still counted');
    assert.equal(first.held?.bytes, 600 * KB);
    // without holdBody, a body is given back as soon as it is read
    const plain = await c.get(`${tiny.url}/small`, { layer: 1 });
    assert.equal(plain.held, undefined);
    assert.equal(budget.held, 600 * KB);
    // another response takes the budget past: the held body holds the most, and is dropped, not the one being read
    const second = await c.get(`${hog.url}/x`, { layer: 2, holdBody: true });
    assert.equal(first.held?.dropped.aborted, true);
    const reason = first.held?.dropped.reason as { code?: string; details?: Record<string, unknown> };
    assert.equal(reason.code, 'TRANSPORT_TOO_LARGE');
    assert.equal(reason.details?.['waitedFor'], 'parse-gate');
    assert.equal(second.held?.dropped.aborted, false);
    assert.equal(budget.held, 600 * KB);
    second.held?.release();
    second.held?.release();
    first.held?.release();
    assert.equal(budget.held, 0);
  } finally {
    await Promise.all([server.close(), tiny.close(), hog.close()]);
  }
});

test('EvidenceClient: a held body that is not evidence gives its bytes back at once', async () => {
  const { server } = await servers(0, 100 * KB);
  try {
    const budget = new ResponseBudget(1024 * KB);
    const c = new EvidenceClient({ http: client(budget) });
    await assertRejectsCode(c.fetch(server.url, { nonce: Buffer.alloc(32), pcrs: [{ bank: 'sha256', pcrs: [0] }] }, { layer: 0, holdBody: true }), 'EVIDENCE_JSON');
    assert.equal(budget.held, 0);
  } finally {
    await server.close();
  }
});
