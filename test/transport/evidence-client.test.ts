// The evidence client against real HTTP servers on 127.0.0.1, honest and
// hostile. Timeouts are small, but every assertion is on an error code or a
// byte count, never on elapsed time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { HttpClient } from '../../src/transport/http-client.js';
import type { EvidenceRequest } from '../../src/transport/evidence.js';
import { exitCodeForKind } from '../../src/errors.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { closedPort, drip, flood, sampleEvidenceJson, sendJson, startHttp, startTcp, until, type Outflow, type TestServer } from './servers.js';

const REQUEST: EvidenceRequest = { nonce: Buffer.alloc(32, 1), pcrs: [{ bank: 'sha256', pcrs: [0, 23] }], instance: Buffer.alloc(32, 2) };

const clients: { close(): void }[] = [];
function client(options: ConstructorParameters<typeof EvidenceClient>[0] = {}): EvidenceClient {
  const c = new EvidenceClient({ connectTimeoutMs: 10_000, timeoutMs: 10_000, ...options });
  clients.push(c);
  return c;
}
after(() => clients.forEach((c) => c.close()));

test('happy path: the request is protocol-exact and the evidence comes back typed', async () => {
  const server = await startHttp((req, res) => sendJson(res, 200, sampleEvidenceJson()));
  try {
    const got = await client().fetch(`${server.url}/attest/`, REQUEST, { layer: 1 });
    const req = server.requests[0]!;
    assert.equal(req.method, 'GET');
    assert.equal(req.url, `/attest/v1/evidence?nonce=${'01'.repeat(32)}&pcrs=sha256:0,23&instance=${'02'.repeat(32)}`);
    assert.equal(req.headers['accept'], 'application/json');
    assert.equal(got.url, `${server.url}${req.url}`);
    assert.equal(got.evidence.version, 1);
    assert.equal(got.evidence.certificates.length, 2);
    assert.equal(got.evidence.vplatformLog?.length, 3);
    assert.equal(got.bytes, Buffer.byteLength(JSON.stringify(sampleEvidenceJson())));
  } finally {
    await server.close();
  }
});

test('connections are kept alive and reused across requests, sequential and concurrent', async () => {
  const server = await startHttp((req, res) => sendJson(res, 200, sampleEvidenceJson()));
  try {
    const c = client();
    for (let i = 0; i < 20; i++) await c.fetch(server.url, REQUEST);
    assert.equal(server.connections, 1, 'sequential requests share one connection');
    await Promise.all(Array.from({ length: 8 }, () => c.fetch(server.url, REQUEST)));
    assert.ok(server.connections <= 8, `${server.connections} connections for 8 concurrent requests`);
    const before = server.connections;
    await Promise.all(Array.from({ length: 8 }, () => c.fetch(server.url, REQUEST)));
    assert.equal(server.connections, before, 'a second burst reuses the pooled connections');
    assert.equal(server.requests.length, 36);
  } finally {
    await server.close();
  }
});

test('a shared HttpClient serves several evidence clients; closing one does not close it', async () => {
  const server = await startHttp((req, res) => sendJson(res, 200, sampleEvidenceJson()));
  const http = new HttpClient();
  try {
    const a = new EvidenceClient({ http });
    const b = new EvidenceClient({ http });
    await a.fetch(server.url, REQUEST);
    a.close();
    await b.fetch(server.url, REQUEST);
    assert.equal(server.connections, 1);
    http.close();
    await assertRejectsCode(b.fetch(server.url, REQUEST), 'TRANSPORT_ABORTED');
  } finally {
    http.close();
    await server.close();
  }
});

/**
 * A server whose every connection answers its first request and drops its second without a word, as a server
 * does when it closes an idle connection just as we reuse it (or restarts, or a NAT forgets the flow).
 */
function startDroppingServer(): ReturnType<typeof startHttp> {
  const perSocket = new WeakMap<object, number>();
  return startHttp((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n > 1) req.socket.destroy();
    else sendJson(res, 200, sampleEvidenceJson());
  });
}

test('a kept-alive connection the server dropped is retried once on a new connection', async () => {
  const server = await startDroppingServer();
  try {
    const c = client();
    await c.fetch(server.url, REQUEST);
    await c.fetch(server.url, REQUEST);
    assert.equal(server.connections, 2);
    assert.equal(server.requests.length, 3);
  } finally {
    await server.close();
  }
});

test('the retry is made on a new connection, not on another kept-alive one the server dropped too', async () => {
  // Three connections kept alive by concurrent requests, then dropped by the server together (a restart, a
  // fail-over, a NAT forgetting them) without a word: the retry of the next request must not take another of them.
  const server = await startDroppingServer();
  try {
    const c = client();
    await Promise.all([c.fetch(server.url, REQUEST), c.fetch(server.url, REQUEST), c.fetch(server.url, REQUEST)]);
    assert.equal(server.connections, 3);
    const got = await c.fetch(server.url, REQUEST, { layer: 1 });
    assert.equal(got.evidence.version, 1);
    assert.equal(server.connections, 4, 'the retry opened a connection of its own');
    assert.equal(server.requests.length, 5, 'one attempt on a dropped connection, one retry');
  } finally {
    await server.close();
  }
});

test('a fresh connection that is dropped is not retried: TRANSPORT_RESET', async () => {
  const server = await startHttp((req) => req.socket.destroy());
  try {
    const err = await assertRejectsCode(client().fetch(server.url, REQUEST, { layer: 2 }), 'TRANSPORT_RESET');
    assert.equal(err.details['layer'], 2);
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});

test('a body cut short of its Content-Length is TRANSPORT_RESET', async () => {
  const server = await startHttp((req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('{"version":1,');
    setImmediate(() => req.socket.destroy());
  });
  try {
    await assertRejectsCode(client().fetch(server.url, REQUEST), 'TRANSPORT_RESET');
  } finally {
    await server.close();
  }
});

test('DNS failure: TRANSPORT_DNS naming the layer', async () => {
  const err = await assertRejectsCode(client().fetch('http://no-such-host.invalid:8080/', REQUEST, { layer: 'vmm' }), 'TRANSPORT_DNS');
  assert.equal(err.details['layer'], 'vmm');
  assert.match(String(err.details['url']), /^http:\/\/no-such-host\.invalid:8080\/v1\/evidence\?/);
  assert.equal(exitCodeForKind(err.kind), 3);
});

test('connection refused: TRANSPORT_REFUSED', async () => {
  const port = await closedPort();
  await assertRejectsCode(client().fetch(`http://127.0.0.1:${port}`, REQUEST), 'TRANSPORT_REFUSED');
});

test('a TCP connect that never completes: TRANSPORT_CONNECT_TIMEOUT', async (t) => {
  // A listener with a full accept queue: the kernel drops further SYNs, so
  // connect() hangs. Node cannot listen without accepting; python3 can.
  const py = spawn('python3', ['-c', 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const port = await new Promise<number | undefined>((resolve) => {
    py.on('error', () => resolve(undefined));
    py.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  if (port === undefined) {
    t.skip('python3 is not available to hold a full accept queue');
    return;
  }
  const fillers: net.Socket[] = [];
  try {
    // fill the accept queue (backlog 0 admits one or two connections)
    for (let i = 0; i < 3; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => {}));
    const err = await assertRejectsCode(client({ connectTimeoutMs: 150, timeoutMs: 60_000 }).fetch(`http://127.0.0.1:${port}`, REQUEST, { layer: 1 }), 'TRANSPORT_CONNECT_TIMEOUT');
    assert.equal(err.details['timeoutMs'], 150);
  } finally {
    fillers.forEach((s) => s.destroy());
    py.stdin.end();
    py.kill();
  }
});

test('a server that accepts and never answers: TRANSPORT_TIMEOUT', async () => {
  const server = await startTcp(() => {});
  try {
    const err = await assertRejectsCode(client({ timeoutMs: 100 }).fetch(server.url, REQUEST), 'TRANSPORT_TIMEOUT');
    assert.equal(err.details['timeoutMs'], 100);
  } finally {
    await server.close();
  }
});

test('a slow-drip response that never ends: the total timeout fires and the connection is closed', async () => {
  let flow: Outflow | undefined;
  const server = await startHttp((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    flow = drip(res, ' ');
  });
  try {
    // the body is flowing (bytes do arrive), yet the request must end
    await assertRejectsCode(client({ timeoutMs: 150 }).fetch(server.url, REQUEST), 'TRANSPORT_TIMEOUT');
    await until(() => flow?.closed === true, 'the server sees the connection closed');
  } finally {
    await server.close();
  }
});

/** A server offering 1 GiB, with or without saying so in Content-Length. */
async function hugeServer(declareLength: boolean): Promise<{ server: TestServer; flow: () => Outflow | undefined }> {
  let flow: Outflow | undefined;
  const server = await startHttp((req, res) => {
    res.writeHead(200, declareLength ? { 'content-length': String(1024 ** 3) } : { 'content-type': 'application/json' }); // else chunked
    flow = flood(res, Buffer.alloc(64 * 1024, 0x20));
  });
  return { server, flow: () => flow };
}

test('a huge response with Content-Length is refused up front', async () => {
  const { server, flow } = await hugeServer(true);
  try {
    const err = await assertRejectsCode(client({ maxResponseBytes: 1024 * 1024 }).fetch(server.url, REQUEST, { layer: 1 }), 'TRANSPORT_TOO_LARGE');
    assert.equal(err.details['declared'], 1024 ** 3);
    assert.equal(err.details['max'], 1024 * 1024);
    await until(() => flow()?.closed === true, 'the server sees the connection closed');
    assert.ok(flow()!.written < 64 * 1024 * 1024, `server wrote ${flow()!.written} bytes before the client hung up`);
  } finally {
    await server.close();
  }
});

test('a Content-Length of 16 digits or more is refused up front too, not read up to the cap', async () => {
  for (const declared of ['1000000000000000', '99999999999999999', '0001000000000000000000']) {
    let flow: Outflow | undefined;
    const server = await startHttp((_req, res) => {
      res.writeHead(200, { 'content-length': declared });
      flow = flood(res, Buffer.alloc(64 * 1024, 0x20));
    });
    try {
      const err = await assertRejectsCode(client({ maxResponseBytes: 1024 * 1024 }).fetch(server.url, REQUEST, { layer: 1 }), 'TRANSPORT_TOO_LARGE');
      assert.equal(err.details['declared'], Number(declared), declared);
      assert.equal(err.details['received'], undefined, `${declared}: refused on the header, not after reading ${String(err.details['received'])} bytes`);
      await until(() => flow?.closed === true, 'the server sees the connection closed');
    } finally {
      await server.close();
    }
  }
});

test('a huge response without Content-Length: reading stops right at the cap, the socket is destroyed', async () => {
  const { server, flow } = await hugeServer(false);
  try {
    const cap = 256 * 1024;
    const err = await assertRejectsCode(client({ maxResponseBytes: cap }).fetch(server.url, REQUEST), 'TRANSPORT_TOO_LARGE');
    const received = err.details['received'] as number;
    assert.ok(received > cap && received <= cap + 128 * 1024, `read ${received} bytes for a ${cap}-byte cap`);
    await until(() => flow()?.closed === true, 'the server sees the connection closed');
    // only what fits in socket buffers was sent, out of 1 GiB offered
    assert.ok(flow()!.written < 64 * 1024 * 1024, `server wrote ${flow()!.written} bytes before the client hung up`);
  } finally {
    await server.close();
  }
});

test('a per-request cap overrides the client cap', async () => {
  const server = await startHttp((req, res) => sendJson(res, 200, sampleEvidenceJson()));
  try {
    await assertRejectsCode(client().fetch(server.url, REQUEST, { maxResponseBytes: 100 }), 'TRANSPORT_TOO_LARGE');
  } finally {
    await server.close();
  }
});

test('redirects are not followed: TRANSPORT_REDIRECT names the Location', async () => {
  const target = await startHttp((req, res) => sendJson(res, 200, sampleEvidenceJson()));
  const server = await startHttp((req, res) => {
    res.writeHead(302, { location: `${target.url}/elsewhere` });
    res.end();
  });
  try {
    const err = await assertRejectsCode(client().fetch(server.url, REQUEST, { layer: 2 }), 'TRANSPORT_REDIRECT');
    assert.equal(err.details['location'], `${target.url}/elsewhere`);
    assert.equal(err.details['status'], 302);
    assert.equal(target.requests.length, 0, 'the redirect target was never contacted');
  } finally {
    await server.close();
    await target.close();
  }
});

test('an error status carries the server error text, sanitized and truncated', async () => {
  const server = await startHttp((req, res) => {
    if (req.url!.includes('plain')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such layer');
    } else if (req.url!.includes('long')) {
      sendJson(res, 503, { error: 'x'.repeat(100_000) });
    } else {
      sendJson(res, 500, { error: 'TPM busy \u001b[2J\u001b[31m retry later' });
    }
  });
  try {
    const c = client();
    const err = await assertRejectsCode(c.fetch(server.url, REQUEST, { layer: 1 }), 'TRANSPORT_HTTP_STATUS');
    assert.equal(err.details['status'], 500);
    assert.equal(err.details['serverError'], 'TPM busy  [2J [31m retry later');
    assert.ok(!err.message.includes('\u001b'));
    assert.match(err.message, /^layer 1: endpoint answered HTTP 500: TPM busy/);
    const plain = await assertRejectsCode(c.fetch(`${server.url}/plain`, REQUEST), 'TRANSPORT_HTTP_STATUS');
    assert.equal(plain.details['status'], 404);
    assert.equal(plain.details['serverError'], 'no such layer');
    const long = await assertRejectsCode(c.fetch(`${server.url}/long`, REQUEST), 'TRANSPORT_HTTP_STATUS');
    assert.ok((long.details['serverError'] as string).length < 400);
  } finally {
    await server.close();
  }
});

test('a 429 or 503 carries its Retry-After (one header, its first 64 characters, sanitized); other statuses do not', async () => {
  const server = await startHttp((req, res) => {
    const [status, given] = decodeURIComponent(req.url!.split('?')[0]!.replace(/\/v1\/evidence$/, '').slice(1)).split('/');
    const value = given === 'long' ? '9'.repeat(5000) : given;
    res.writeHead(Number(status), { 'content-type': 'application/json', ...(value === undefined ? {} : { 'retry-after': value }) });
    res.end('{"error":"later"}');
  });
  try {
    const c = client();
    const retryAfter = async (path: string): Promise<unknown> => {
      const err = await assertRejectsCode(c.fetch(`${server.url}/${encodeURIComponent(path)}`, REQUEST), 'TRANSPORT_HTTP_STATUS');
      return err.details['retryAfter'];
    };
    assert.equal(await retryAfter('429/120'), '120');
    assert.equal(await retryAfter('503/Wed, 21 Oct 2015 07:28:00 GMT'), 'Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(await retryAfter('503/long'), '9'.repeat(64), 'a header of 5,000 digits is cut to 64');
    assert.equal(await retryAfter('503/a\tb'), 'a b', 'a control character is replaced');
    assert.equal(await retryAfter('503'), undefined, 'no header, no detail');
    assert.equal(await retryAfter('500/120'), undefined, 'only 429 and 503 say when to come back');
    assert.equal(await retryAfter('404/120'), undefined);
  } finally {
    await server.close();
  }
});

test('invalid JSON from the server is EVIDENCE_JSON (verification, exit 1) naming the layer', async () => {
  const server = await startHttp((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"version": 1, "quote": ');
  });
  try {
    const err = await assertRejectsCode(client().fetch(server.url, REQUEST, { layer: 3 }), 'EVIDENCE_JSON');
    assert.equal(err.details['layer'], 3);
    assert.equal(exitCodeForKind(err.kind), 1);
  } finally {
    await server.close();
  }
});

test('a missing or wrongly shaped field names the field path', async () => {
  const server = await startHttp((req, res) => {
    const json = sampleEvidenceJson() as any;
    if (req.url!.startsWith('/missing')) delete json.quote.signature;
    else json.vplatformLog[2].instance = 'nope';
    sendJson(res, 200, json);
  });
  try {
    const c = client();
    const missing = await assertRejectsCode(c.fetch(`${server.url}/missing`, REQUEST, { layer: 1 }), 'EVIDENCE_MISSING_FIELD');
    assert.equal(missing.details['field'], 'quote.signature');
    const shape = await assertRejectsCode(c.fetch(`${server.url}/shape`, REQUEST, { layer: 1 }), 'EVIDENCE_BAD_VALUE');
    assert.equal(shape.details['field'], 'vplatformLog[2].instance');
  } finally {
    await server.close();
  }
});

test('a non-http scheme is rejected before any I/O', async () => {
  const server = await startTcp((s) => s.destroy());
  try {
    for (const scheme of ['ftp', 'file', 'gopher', 'ws']) {
      const err = await assertRejectsCode(client().fetch(`${scheme}://127.0.0.1:${server.port}/`, REQUEST, { layer: 2 }), 'TRANSPORT_BAD_SCHEME');
      assert.equal(err.details['scheme'], scheme);
    }
    assert.equal(server.connections, 0);
  } finally {
    await server.close();
  }
});

test('an endpoint URI of 2,048 characters is asked (the protocol path and query may take the request past 2,048); one of 2,049 is TRANSPORT_BAD_URL before any I/O', async () => {
  const server = await startHttp((req, res) => sendJson(res, 200, sampleEvidenceJson()));
  try {
    const base = (n: number): string => `${server.url}/${'a'.repeat(n - server.url.length - 1)}`;
    assert.equal(base(2048).length, 2048);
    const got = await client().fetch(base(2048), REQUEST, { layer: 0 });
    assert.equal(got.evidence.version, 1);
    assert.ok(got.url.length > 2048, `request URL ${got.url.length} characters`);
    const err = await assertRejectsCode(client().fetch(base(2049), REQUEST, { layer: 0 }), 'TRANSPORT_BAD_URL');
    assert.equal(err.details['max'], 2048);
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});

test('a response that is not HTTP: TRANSPORT_PROTOCOL', async () => {
  const server = await startTcp((s) => s.once('data', () => s.end('SSH-2.0-OpenSSH_9.6\r\n\r\n')));
  try {
    await assertRejectsCode(client().fetch(server.url, REQUEST), 'TRANSPORT_PROTOCOL');
  } finally {
    await server.close();
  }
});

test('oversized response headers: TRANSPORT_PROTOCOL', async () => {
  const server = await startTcp((s) =>
    s.once('data', () => {
      s.write(`HTTP/1.1 200 OK\r\nX-Junk: ${'a'.repeat(100_000)}\r\n\r\n`);
    }),
  );
  try {
    await assertRejectsCode(client().fetch(server.url, REQUEST), 'TRANSPORT_PROTOCOL');
  } finally {
    await server.close();
  }
});

test('a 101 switching to a protocol never asked for is TRANSPORT_HTTP_STATUS at once, not a wait for the timeout', async () => {
  // the connection stays open: before, the request waited for its 10 s timeout and failed as TRANSPORT_TIMEOUT
  const server = await startTcp((s) => s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')));
  try {
    const err = await assertRejectsCode(client().fetch(server.url, REQUEST), 'TRANSPORT_HTTP_STATUS');
    assert.match(err.message, /HTTP 101/);
  } finally {
    await server.close();
  }
});

test('an AbortSignal cancels a request in flight, and one aborted before starts no I/O', async () => {
  const server = await startTcp(() => {});
  try {
    const ac = new AbortController();
    const pending = client({ timeoutMs: 60_000 }).fetch(server.url, REQUEST, { signal: ac.signal, layer: 1 });
    await until(() => server.connections === 1, 'the request reaches the server');
    ac.abort();
    const err = await assertRejectsCode(pending, 'TRANSPORT_ABORTED');
    assert.equal(err.details['layer'], 1);
    await assertRejectsCode(client().fetch(server.url, REQUEST, { signal: AbortSignal.abort() }), 'TRANSPORT_ABORTED');
    assert.equal(server.connections, 1);
  } finally {
    await server.close();
  }
});

test('option values are checked: every request has a positive timeout', async () => {
  assertThrowsCode(() => new HttpClient({ timeoutMs: -1 }), 'USAGE');
  assertThrowsCode(() => new HttpClient({ timeoutMs: 0 }), 'USAGE');
  assertThrowsCode(() => new HttpClient({ connectTimeoutMs: Number.POSITIVE_INFINITY }), 'USAGE');
  assertThrowsCode(() => new HttpClient({ maxResponseBytes: Number.NaN }), 'USAGE');
  await assertRejectsCode(client().fetch('http://127.0.0.1:1/', REQUEST, { timeoutMs: 0 }), 'USAGE');
  // past 2^31 - 1 ms node fires a timer after 1 ms: such a timeout failed every request at once as TRANSPORT_TIMEOUT
  assertThrowsCode(() => new HttpClient({ timeoutMs: 2 ** 31 }), 'USAGE');
  assertThrowsCode(() => new HttpClient({ connectTimeoutMs: 3e9 }), 'USAGE');
  await assertRejectsCode(client().fetch('http://127.0.0.1:1/', REQUEST, { timeoutMs: 3e9 }), 'USAGE');
  await assertRejectsCode(client().fetch('http://127.0.0.1:1/', REQUEST, { connectTimeoutMs: 2 ** 31 }), 'USAGE');
  await assertRejectsCode(new HttpClient().open('http://127.0.0.1:1/', { responseTimeoutMs: 2 ** 31 }), 'USAGE');
  new HttpClient({ timeoutMs: 2 ** 31 - 1, connectTimeoutMs: 2 ** 31 - 1 }).close();
});
