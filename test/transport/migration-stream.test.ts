// The migration notification client against real event-stream servers on
// 127.0.0.1. Backoff waits go through an injected sleep that records the
// delay and returns at once: no test sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  backoffDelay,
  formatMigrationEvent,
  migrationEvents,
  migrationsUrl,
  parseMigrationEvent,
  type MigrationEvent,
  type MigrationStreamOptions,
  type MigrationStreamStatus,
} from '../../src/transport/migration-stream.js';
import type { VtpmError } from '../../src/errors.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { drip, flood, startHttp, startTcp, until, type Outflow, type TestServer } from './servers.js';

const INSTANCE = '5a'.repeat(32);
const OTHER = '6b'.repeat(32);

function eventText(seq: number, data: Record<string, unknown> = {}, id: string | null = String(seq)): string {
  const body = { instance: INSTANCE, seq, from: 'https://host-a.example/da', to: 'https://host-b.example/da', time: '2026-11-26T12:00:00Z', ...data };
  return `${id === null ? '' : `id: ${id}\n`}event: migration\ndata: ${JSON.stringify(body)}\n\n`;
}

function openStream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
}

interface Run {
  events: MigrationEvent[];
  statuses: MigrationStreamStatus[];
  delays: number[];
  error?: VtpmError;
}

/** Consumes the stream until `stop(run)` holds (then aborts) or it ends. */
async function consume(server: TestServer, stop: (run: Run) => boolean, options: Partial<MigrationStreamOptions> = {}): Promise<Run> {
  const ac = new AbortController();
  const run: Run = { events: [], statuses: [], delays: [] };
  const check = (): void => {
    if (stop(run)) ac.abort();
  };
  try {
    for await (const event of migrationEvents({
      service: `${server.url}/ctl/`,
      instance: INSTANCE,
      signal: ac.signal,
      idleTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      random: () => 0,
      sleep: async (ms) => {
        run.delays.push(ms);
      },
      onStatus: (s) => {
        run.statuses.push(s);
        check();
      },
      ...options,
    })) {
      run.events.push(event);
      check();
    }
  } catch (err) {
    run.error = err as VtpmError;
  }
  return run;
}

const seqs = (run: Run): number[] => run.events.map((e) => e.seq);
const errorsOf = (run: Run): (string | undefined)[] => run.statuses.filter((s) => s.type === 'disconnected').map((s) => (s as { error?: VtpmError }).error?.code);

test('events are parsed into typed, validated migrations; other event types and comments are skipped', async () => {
  const server = await startHttp((req, res) => {
    openStream(res);
    res.write(': hello\n\n');
    res.write('event: ping\ndata: {}\n\n');
    res.write(eventText(1) + eventText(2, { from: 'https://host-b.example/da', to: 'http://host-c.example:8080/' }));
  });
  try {
    const run = await consume(server, (r) => r.events.length === 2);
    assert.equal(run.error, undefined);
    assert.deepEqual(run.events[0], { instance: INSTANCE, seq: 1, from: 'https://host-a.example/da', to: 'https://host-b.example/da', time: new Date('2026-11-26T12:00:00Z') });
    assert.equal(run.events[1]!.to, 'http://host-c.example:8080/');
    const req = server.requests[0]!;
    assert.equal(req.url, `/ctl/v1/migrations?instance=${INSTANCE}`);
    assert.equal(req.headers['accept'], 'text/event-stream');
    assert.equal(req.headers['last-event-id'], undefined);
    assert.deepEqual(run.statuses[0], { type: 'connected', url: `${server.url}/ctl/v1/migrations?instance=${INSTANCE}`, resumeAfter: undefined });
    assert.ok(run.statuses.some((s) => s.type === 'ignored' && s.event === 'ping'));
  } finally {
    await server.close();
  }
});

test('a stream that drops mid-event resumes with Last-Event-ID after the last seq', async () => {
  const lastEventIds: (string | undefined)[] = [];
  const server = await startHttp((req, res) => {
    lastEventIds.push(req.headers['last-event-id'] as string | undefined);
    openStream(res);
    if (lastEventIds.length === 1) {
      res.write(eventText(1) + eventText(2));
      res.write(eventText(3).slice(0, 40)); // half of event 3, then the connection dies
      setImmediate(() => req.socket.destroy());
    } else {
      // the controller replays what follows Last-Event-ID
      const after = Number(req.headers['last-event-id']);
      for (let seq = after + 1; seq <= 4; seq++) res.write(eventText(seq));
    }
  });
  try {
    const run = await consume(server, (r) => r.events.length === 4);
    assert.deepEqual(seqs(run), [1, 2, 3, 4]);
    assert.deepEqual(lastEventIds, [undefined, '2']);
    assert.deepEqual(errorsOf(run), ['TRANSPORT_RESET']);
    assert.ok(run.statuses.some((s) => s.type === 'connected' && s.resumeAfter === 2));
  } finally {
    await server.close();
  }
});

test('duplicate seqs are dropped, also across a reconnection by a controller that replays everything', async () => {
  let connection = 0;
  const server = await startHttp((req, res) => {
    connection++;
    openStream(res);
    const last = connection === 1 ? 3 : 5;
    for (let seq = 1; seq <= last; seq++) res.write(eventText(seq));
    if (connection === 1) res.write(eventText(2)); // a repeat within one connection too
    res.end();
  });
  try {
    const run = await consume(server, (r) => r.events.length === 5);
    assert.deepEqual(seqs(run), [1, 2, 3, 4, 5]);
    const dups = run.statuses.filter((s) => s.type === 'skipped' && s.reason === 'duplicate').map((s) => (s as { seq: number }).seq);
    assert.deepEqual(dups, [2, 1, 2, 3]);
    assert.deepEqual(errorsOf(run), [undefined]); // the server ended the first stream cleanly
  } finally {
    await server.close();
  }
});

test('one event with a huge seq does not make every later one a duplicate: a repeat is at or below the last seq and time both', async () => {
  // an event injected into the unsigned stream (or a controller counting again from 1): before, seq 2 and 3 were "duplicates" for good
  const at = (minute: number): string => new Date(Date.UTC(2026, 10, 26, 12, minute)).toISOString();
  const server = await startHttp((req, res) => {
    openStream(res);
    res.write(eventText(1, { time: at(0) }));
    res.write(eventText(Number.MAX_SAFE_INTEGER, { time: at(1) }));
    res.write(eventText(1, { time: at(0) })); // a true repeat: seq and time at or below the last
    res.write(eventText(2, { time: at(2) }));
    res.write(eventText(2, { time: at(2) }));
    res.write(eventText(3, { time: at(3) }));
    res.end();
  });
  try {
    const run = await consume(server, (r) => r.statuses.some((x) => x.type === 'disconnected'));
    assert.deepEqual(seqs(run), [1, Number.MAX_SAFE_INTEGER, 2, 3]);
    const dups = run.statuses.filter((s) => s.type === 'skipped' && s.reason === 'duplicate').map((s) => (s as { seq: number }).seq);
    assert.deepEqual(dups, [1, 2]);
  } finally {
    await server.close();
  }
});

test('resuming from a saved cursor: events at or below it from before it was saved are repeats, later ones are new; a time far ahead counts as now', async () => {
  const saved = Date.UTC(2026, 10, 26, 12, 0);
  let connection = 0;
  const server = await startHttp((req, res) => {
    connection++;
    openStream(res);
    if (connection === 1) {
      // a controller reinstalled since the cursor (seq 50) was saved: it counts from 1, and replays all it has
      res.write(eventText(1, { time: new Date(saved - 60_000).toISOString() }));
      res.write(eventText(2, { time: new Date(saved + 60_000).toISOString() }));
      // one event dated years ahead: it cannot make the next days' events repeats
      res.write(eventText(Number.MAX_SAFE_INTEGER - 1, { time: '2100-01-01T00:00:00Z' }));
      res.write(eventText(3, { time: new Date(Date.now() + 11 * 60_000).toISOString() }));
    }
    res.end();
  });
  try {
    const run = await consume(server, (r) => r.statuses.some((x) => x.type === 'disconnected'), { afterSeq: 50, afterTime: saved });
    assert.deepEqual(seqs(run), [2, Number.MAX_SAFE_INTEGER - 1, 3]);
    assert.ok(run.statuses.some((s) => s.type === 'skipped' && s.reason === 'duplicate' && s.seq === 1));
  } finally {
    await server.close();
  }
});

test('backoff grows exponentially up to its maximum, then maxConsecutiveFailures ends it with the last error', async () => {
  const server = await startHttp((req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"error":"controller restarting"}');
  });
  try {
    const run = await consume(server, () => false, { backoff: { initialMs: 100, maxMs: 1000 }, maxConsecutiveFailures: 7 });
    assert.deepEqual(run.delays, [100, 200, 400, 800, 1000, 1000]);
    assert.equal(run.error?.code, 'TRANSPORT_HTTP_STATUS');
    assert.equal(run.error?.details['serverError'], 'controller restarting');
    assert.equal(server.requests.length, 7);
    const attempts = run.statuses.filter((s) => s.type === 'retrying').map((s) => (s as { attempt: number }).attempt);
    assert.deepEqual(attempts, [1, 2, 3, 4, 5, 6]);
  } finally {
    await server.close();
  }
});

test('a connection that delivered an event resets the backoff', async () => {
  let connection = 0;
  const server = await startHttp((req, res) => {
    connection++;
    if (connection === 3) {
      openStream(res);
      res.end(eventText(1));
    } else {
      res.writeHead(500);
      res.end();
    }
  });
  try {
    const run = await consume(server, (r) => r.statuses.filter((s) => s.type === 'retrying').length === 5, { backoff: { initialMs: 10, maxMs: 10_000 } });
    assert.deepEqual(seqs(run), [1]);
    // failures 1, 2; then a delivering connection (reset to 1); then failures 2, 3
    assert.deepEqual(run.delays, [10, 20, 10, 20, 40]);
  } finally {
    await server.close();
  }
});

test('backoffDelay: exponential, capped, with jitter taking off at most the jitter fraction', () => {
  const b = { initialMs: 500, maxMs: 30_000 };
  assert.deepEqual([1, 2, 3, 4, 7, 8, 50].map((n) => backoffDelay(n, b, () => 0)), [500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
  assert.equal(backoffDelay(1, b, () => 0.999999), 250);
  assert.equal(backoffDelay(3, { ...b, jitter: 0.2 }, () => 0.5), 1800);
  assert.equal(backoffDelay(3, { ...b, jitter: 0 }, () => 0.9), 2000);
});

test('errors that retrying cannot fix end the stream at once: 4xx, redirect, wrong content type', async () => {
  const server = await startHttp((req, res) => {
    if (req.url!.startsWith('/bad')) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"missing instance"}');
    } else if (req.url!.startsWith('/moved')) {
      res.writeHead(301, { location: 'http://elsewhere.example/' });
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html></html>');
    }
  });
  try {
    for (const [path, code] of [
      ['/bad', 'TRANSPORT_HTTP_STATUS'],
      ['/moved', 'TRANSPORT_REDIRECT'],
      ['/html', 'TRANSPORT_SSE_CONTENT_TYPE'],
    ] as const) {
      const before = server.requests.length;
      const run = await consume(server, () => false, { service: `${server.url}${path}` });
      assert.equal(run.error?.code, code, path);
      assert.equal(server.requests.length, before + 1, `${path}: no retry`);
      assert.deepEqual(run.delays, []);
    }
  } finally {
    await server.close();
  }
});

test('a bad service URI is rejected before any I/O; a bad instance id is a usage error', async () => {
  const server = await startTcp((s) => s.destroy());
  try {
    const run = await consume(server, () => false, { service: `gopher://127.0.0.1:${server.port}/` });
    assert.equal(run.error?.code, 'TRANSPORT_BAD_SCHEME');
    assert.equal(server.connections, 0);
    const bad = await consume(server, () => false, { instance: 'abc' });
    assert.equal(bad.error?.code, 'USAGE');
    const noIdle = await consume(server, () => false, { idleTimeoutMs: 0 });
    assert.equal(noIdle.error?.code, 'USAGE');
    const hugeIdle = await consume(server, () => false, { idleTimeoutMs: 2 ** 31 });
    assert.equal(hugeIdle.error?.code, 'USAGE');
    assert.equal(server.connections, 0);
    assertThrowsCode(() => migrationsUrl('http://h/', Buffer.alloc(31)), 'USAGE');
    assert.equal(migrationsUrl('http://h/ctl', Buffer.alloc(32, 0xab)).href, `http://h/ctl/v1/migrations?instance=${'ab'.repeat(32)}`);
  } finally {
    await server.close();
  }
});

test('aborting stops the stream cleanly and closes the connection', async () => {
  let closed = false;
  const server = await startHttp((req, res) => {
    openStream(res);
    res.write(eventText(1));
    res.on('close', () => (closed = true));
  });
  try {
    const run = await consume(server, (r) => r.events.length === 1);
    assert.equal(run.error, undefined);
    assert.deepEqual(seqs(run), [1]);
    await until(() => closed, 'the server sees the connection closed');
  } finally {
    await server.close();
  }
});

test('breaking out of the loop closes the connection', async () => {
  let closed = false;
  const server = await startHttp((req, res) => {
    openStream(res);
    res.write(eventText(1) + eventText(2));
    res.on('close', () => (closed = true));
  });
  try {
    for await (const event of migrationEvents({ service: server.url, instance: INSTANCE })) {
      assert.equal(event.seq, 1);
      break;
    }
    await until(() => closed, 'the server sees the connection closed');
  } finally {
    await server.close();
  }
});

test('aborting during a backoff wait ends the stream without waiting it out', async () => {
  const server = await startHttp((req, res) => {
    res.writeHead(503);
    res.end();
  });
  try {
    const ac = new AbortController();
    const statuses: string[] = [];
    const iterate = (async () => {
      // the real sleep, with a delay no test would wait for
      for await (const _ of migrationEvents({
        service: server.url,
        instance: INSTANCE,
        signal: ac.signal,
        backoff: { initialMs: 3_600_000 },
        onStatus: (s) => {
          statuses.push(s.type);
          // abort once the (hour-long) wait has begun
          if (s.type === 'retrying') setImmediate(() => ac.abort());
        },
      })) {
        assert.fail('no event expected');
      }
    })();
    await iterate;
    assert.deepEqual(statuses, ['disconnected', 'retrying']);
  } finally {
    await server.close();
  }
});

/**
 * The first connection misbehaves as `first` makes it; later ones deliver
 * event 1. The client must drop the first with `code` and get the event.
 */
async function recoversFrom(first: (res: ServerResponse) => void, code: string, options: Partial<MigrationStreamOptions>): Promise<void> {
  let connection = 0;
  const server = await startHttp((req, res) => {
    if (++connection === 1) return first(res);
    res.writeHead(200, { 'content-type': 'text/event-stream' }); // headers and event in one write
    res.write(eventText(1));
  });
  try {
    const run = await consume(server, (r) => r.events.length === 1, options);
    assert.deepEqual(seqs(run), [1]);
    // on a slow machine a later connection may time out too; each time with this code
    const errors = errorsOf(run);
    assert.ok(errors.length >= 1 && errors.every((c) => c === code), errors.join());
  } finally {
    await server.close();
  }
}

test('an endless single line is capped: the connection is dropped and made again', async () => {
  let flow: Outflow | undefined;
  await recoversFrom(
    (res) => {
      openStream(res);
      res.write('data: ');
      flow = flood(res, Buffer.alloc(16 * 1024, 0x61));
    },
    'TRANSPORT_SSE_LINE_TOO_LONG',
    { limits: { maxLineChars: 64 * 1024 } },
  );
  await until(() => flow?.closed === true, 'the first connection is closed');
  assert.ok(flow!.written < 64 * 1024 * 1024, `the server wrote ${flow!.written} bytes of one line`);
});

test('a server that never answers: the response timeout fires, then it reconnects', async () => {
  await recoversFrom(() => {}, 'TRANSPORT_TIMEOUT', { responseTimeoutMs: 50 });
});

test('an error response whose body never ends is bounded by the response timeout', async () => {
  await recoversFrom(
    (res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.write('{"error": "');
      drip(res, '.');
    },
    'TRANSPORT_TIMEOUT',
    { responseTimeoutMs: 100 },
  );
});

test('a stream that goes quiet: the idle timeout fires, then it resumes', async () => {
  const server = await startHttp((req, res) => {
    const after = Number(req.headers['last-event-id'] ?? 0);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(after === 0 ? eventText(1) : eventText(after + 1)); // one event, then silence
  });
  try {
    const run = await consume(server, (r) => r.events.length === 2, { idleTimeoutMs: 50, responseTimeoutMs: 10_000 });
    assert.deepEqual(seqs(run), [1, 2]);
    const errors = errorsOf(run);
    assert.ok(errors.length >= 1 && errors.every((c) => c === 'TRANSPORT_IDLE_TIMEOUT'), errors.join());
  } finally {
    await server.close();
  }
});

test('invalid and foreign events are skipped and reported; valid ones still arrive', async () => {
  const server = await startHttp((req, res) => {
    openStream(res);
    res.write('id: 1\nevent: migration\ndata: {not json\n\n');
    res.write(eventText(2, {}, '7')); // id differs from seq
    res.write(eventText(3, {}, null)); // no id
    res.write(eventText(4, { instance: OTHER }));
    res.write(eventText(5, { time: 'yesterday' }));
    res.write(eventText(6, { from: 'file:///etc/passwd' }));
    res.write(eventText(7, { seq: -1 }, '-1'));
    res.write(eventText(8, { to: 42 }));
    res.write(eventText(9));
  });
  try {
    const run = await consume(server, (r) => r.events.length === 1);
    assert.deepEqual(seqs(run), [9]);
    const skipped = run.statuses.filter((s) => s.type === 'skipped') as { reason: string; error?: VtpmError }[];
    assert.deepEqual(
      skipped.map((s) => [s.reason, s.error?.code]),
      [
        ['invalid', 'MIGRATION_EVENT_INVALID'],
        ['invalid', 'MIGRATION_EVENT_INVALID'],
        ['invalid', 'MIGRATION_EVENT_INVALID'],
        ['foreign', 'MIGRATION_EVENT_FOREIGN'],
        ['invalid', 'MIGRATION_EVENT_INVALID'],
        ['invalid', 'MIGRATION_EVENT_INVALID'],
        ['invalid', 'MIGRATION_EVENT_INVALID'],
        ['invalid', 'MIGRATION_EVENT_INVALID'],
      ],
    );
    assert.equal(skipped[0]!.error!.kind, 'verification');
  } finally {
    await server.close();
  }
});

test('afterSeq resumes from a remembered position on the first connection', async () => {
  const server = await startHttp((req, res) => {
    openStream(res);
    res.write(eventText(41) + eventText(42));
  });
  try {
    const run = await consume(server, (r) => r.events.length === 1, { afterSeq: 41 });
    assert.equal(server.requests[0]!.headers['last-event-id'], '41');
    assert.deepEqual(seqs(run), [42]);
  } finally {
    await server.close();
  }
});

test('HTTP 204 ends the stream without reconnecting', async () => {
  const server = await startHttp((req, res) => {
    res.writeHead(204);
    res.end();
  });
  try {
    const run = await consume(server, () => false);
    assert.equal(run.error, undefined);
    assert.deepEqual(run.events, []);
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});

test('a burst of 1,000 migrations arrives complete and in order', async () => {
  const server = await startHttp((req: IncomingMessage, res) => {
    openStream(res);
    let text = '';
    for (let seq = 1; seq <= 1000; seq++) text += eventText(seq);
    res.write(text);
  });
  try {
    const run = await consume(server, (r) => r.events.length === 1000);
    assert.deepEqual(seqs(run), Array.from({ length: 1000 }, (_, i) => i + 1));
  } finally {
    await server.close();
  }
});

test('parseMigrationEvent checks every field', () => {
  const ok = { id: '3', data: JSON.stringify({ instance: INSTANCE.toUpperCase(), seq: 3, from: 'http://a/', to: 'https://b/', time: '2026-01-01T00:00:00.5+01:00' }) };
  assert.equal(parseMigrationEvent(ok).instance, INSTANCE);
  assert.equal(parseMigrationEvent(ok).time.toISOString(), '2025-12-31T23:00:00.500Z');
  const bad = (patch: Record<string, unknown>, field: string): void => {
    const data = { ...JSON.parse(ok.data), ...patch };
    const err = assertThrowsCode(() => parseMigrationEvent({ id: String(data.seq), data: JSON.stringify(data) }), 'MIGRATION_EVENT_INVALID');
    assert.ok(err.message.includes(field), err.message);
  };
  bad({ instance: 'ab' }, 'data.instance');
  bad({ seq: 1.5 }, 'data.seq');
  bad({ seq: '3' }, 'data.seq');
  bad({ from: undefined }, 'data.from');
  bad({ to: 'ftp://b/' }, 'data.to');
  bad({ time: '2026-13-45T99:00:00Z' }, 'data.time');
  bad({ time: 1700000000 }, 'data.time');
  assertThrowsCode(() => parseMigrationEvent({ id: '3', data: '[]' }), 'MIGRATION_EVENT_INVALID');
  // URIs are kept as the URL parser writes them: a control character is percent-encoded, never raw
  const raw = parseMigrationEvent({ id: '3', data: ok.data.replace('"from":"http://a/"', '"from":"http://a/\\u001b[2J"') });
  assert.equal(raw.from, 'http://a/%1B[2J');
  // two destinations in one event: ambiguous, so neither is followed
  const twoTo = ok.data.replace('"to":', '"to":"https://evil.example/","to":');
  assert.match(assertThrowsCode(() => parseMigrationEvent({ id: '3', data: twoTo }), 'MIGRATION_EVENT_INVALID').message, /repeats a key \(\$\.to\)/);
});

test('an id that does not equal the seq is quoted short: a 60,000-character id line of control characters is not a 360 KB message', () => {
  const data = JSON.stringify({ instance: INSTANCE, seq: 3, from: 'http://a/', to: 'https://b/', time: '2026-01-01T00:00:00Z' });
  const err = assertThrowsCode(() => parseMigrationEvent({ id: '\u0001'.repeat(60_000), data }), 'MIGRATION_EVENT_INVALID');
  assert.ok(err.message.length < 300, `message of ${err.message.length} characters`);
  assert.match(err.message, /does not equal seq 3/);
  assert.ok(String(err.details['actual']).length <= 83);
  assert.doesNotMatch(err.message + String(err.details['actual']), /\u0001/);
  assert.equal(assertThrowsCode(() => parseMigrationEvent({ id: '4', data }), 'MIGRATION_EVENT_INVALID').details['actual'], '4');
});

test('a raw socket error while streaming is mapped, never internal', async () => {
  await assertRejectsCode(
    (async () => {
      const server = await startHttp((req, res) => {
        openStream(res);
        res.write(eventText(1));
        setImmediate(() => req.socket.destroy());
      });
      try {
        for await (const _ of migrationEvents({ service: server.url, instance: INSTANCE, maxConsecutiveFailures: 1, sleep: async () => {} })) {
          // the first connection delivers event 1; the second fails and ends it
        }
      } finally {
        await server.close();
      }
    })(),
    'TRANSPORT_RESET',
  );
});

test('formatMigrationEvent writes what the client reads back', async () => {
  const event: MigrationEvent = { instance: INSTANCE, seq: 12, from: 'https://a.example/da', to: 'https://b.example/da', time: new Date('2026-11-26T12:00:00Z') };
  assert.equal(formatMigrationEvent(event), eventText(12, { from: 'https://a.example/da', to: 'https://b.example/da' }));
  const server = await startHttp((req, res) => {
    openStream(res);
    res.write(formatMigrationEvent(event));
  });
  try {
    const run = await consume(server, (r) => r.events.length === 1);
    assert.deepEqual(run.events, [event]);
  } finally {
    await server.close();
  }
});

test('an onStatus that returns a promise (a slow reader of what it prints) holds the stream: nothing more is read, and no reconnection made, until it settles', async () => {
  // a controller whose events are all dropped: the stream never yields, so only onStatus can hold it back
  const server = await startHttp((req, res) => {
    openStream(res);
    let text = ': keep-alive\n';
    for (let i = 0; i < 12; i++) text += i % 2 === 0 ? eventText(i + 1, { instance: OTHER }) : 'event: other\ndata: x\n\n';
    res.end(text);
  });
  const ac = new AbortController();
  const statuses: MigrationStreamStatus[] = [];
  let outstanding = 0;
  let maxOutstanding = 0;
  try {
    for await (const _ of migrationEvents({
      service: `${server.url}/ctl/`,
      instance: INSTANCE,
      signal: ac.signal,
      random: () => 0,
      sleep: async () => {},
      onStatus: (s) => {
        statuses.push(s);
        if (statuses.filter((x) => x.type === 'retrying').length === 4) ac.abort();
        maxOutstanding = Math.max(maxOutstanding, ++outstanding);
        // a reader that takes the line one event-loop turn later
        return new Promise<void>((resolve) => setImmediate(() => (outstanding--, resolve())));
      },
    })) {
      assert.fail('no event is for this instance');
    }
    assert.equal(maxOutstanding, 1, 'every status waited for the one before it');
    assert.equal(server.requests.length, 4);
    const kinds = statuses.map((s) => s.type);
    assert.deepEqual(kinds.slice(0, 15), ['connected', ...Array<string>(12).fill('').map((_, i) => (i % 2 === 0 ? 'skipped' : 'ignored')), 'disconnected', 'retrying']);
  } finally {
    await server.close();
  }
});

test('aborting while onStatus holds the stream (a reader that never reads) ends it without waiting, and reports nothing more', async () => {
  const server = await startHttp((req, res) => {
    openStream(res);
    // one read holding three events: after the abort the other two are not reported
    res.write(eventText(1, { instance: OTHER }) + eventText(2, { instance: OTHER }) + eventText(3, { instance: OTHER }));
  });
  const ac = new AbortController();
  const statuses: MigrationStreamStatus[] = [];
  try {
    const done = (async () => {
      for await (const _ of migrationEvents({
        service: `${server.url}/ctl/`,
        instance: INSTANCE,
        signal: ac.signal,
        sleep: async () => {},
        onStatus: (s) => {
          statuses.push(s);
          return s.type === 'skipped' ? new Promise<void>(() => {}) : undefined;
        },
      })) {
        assert.fail('no event is for this instance');
      }
    })();
    await until(() => statuses.some((s) => s.type === 'skipped'), 'the first skipped event waits for the reader');
    ac.abort();
    await done;
    assert.deepEqual(
      statuses.map((s) => s.type),
      ['connected', 'skipped'],
    );
  } finally {
    await server.close();
  }
});

test('a body that breaks HTTP after the headers (a bad chunk size, trailers over the limit) is TRANSPORT_PROTOCOL, as for any other request, not a reset; what came before it still arrives', async () => {
  const head = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n';
  const chunk = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
  const bodies = [
    chunk(eventText(1)) + 'zz\r\n',
    chunk(eventText(2)) + `0\r\n${'x-trailer: y\r\n'.repeat(5000)}\r\n`,
  ];
  let connection = 0;
  const server = await startTcp((socket) => {
    const body = bodies[connection++];
    socket.on('error', () => {});
    socket.once('data', () => (body === undefined ? socket.destroy() : socket.write(head + body)));
  });
  try {
    const run = await consume(server, (r) => r.statuses.filter((s) => s.type === 'disconnected').length === 2);
    assert.deepEqual(seqs(run), [1, 2]);
    assert.deepEqual(errorsOf(run), ['TRANSPORT_PROTOCOL', 'TRANSPORT_PROTOCOL']);
  } finally {
    await server.close();
  }
});
