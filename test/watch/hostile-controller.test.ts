// The watcher against a hostile Migration Controller: the simulated platform,
// its VM's certificate naming the controller at {origin}/m/migrations, where
// the test serves a controller of its own on 127.0.0.1 in place of the real
// one. Reconnection backoff is immediate (live-watch.ts); waits are on lines
// the watcher prints, never on time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WatchLine } from '../../src/watch/lines.js';
import { liveWatch } from './live-watch.js';

const OTHER = 'cd'.repeat(32);

/** Serves `stream` for every GET .../v1/migrations, in place of the simulator's controller. */
function hostileController(stream: (req: IncomingMessage, res: ServerResponse) => void) {
  const open = new Set<ServerResponse>();
  const controller = {
    connections: 0,
    handle(req: IncomingMessage, res: ServerResponse, path: string): void {
      if (!path.endsWith('/v1/migrations')) {
        res.writeHead(404).end();
        return;
      }
      controller.connections++;
      open.add(res);
      res.on('close', () => open.delete(res));
      stream(req, res);
    },
    close(): void {
      for (const res of open) res.destroy();
    },
  };
  return controller;
}

test('a controller whose events are all dropped, reconnecting without end, against a slow reader: its stream lines wait for the reader too, one at a time', { timeout: 60_000 }, async (t) => {
  // every connection: a dozen events that are dropped (another instance, another event type), then the end
  const controller = hostileController((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let text = '';
    for (let i = 1; i <= 12; i++) {
      const data = { instance: OTHER, seq: i, from: 'http://127.0.0.1:9/l/a', to: 'http://127.0.0.1:9/l/b', time: '2026-11-26T12:00:00Z' };
      text += i % 2 === 0 ? `id: ${i}\nevent: migration\ndata: ${JSON.stringify(data)}\n\n` : 'event: chatter\ndata: x\n\n';
    }
    res.end(text);
  });
  // a reader that takes each line one event-loop turn after it was printed (stdout's 'drain' coming later)
  let outstanding = 0;
  let maxOutstanding = 0;
  const w = await liveWatch(t, 'live-migration', {
    wrap: (deps) => ({
      ...deps,
      emit: (line: WatchLine) => {
        void deps.emit(line);
        maxOutstanding = Math.max(maxOutstanding, ++outstanding);
        return new Promise<void>((resolve) => setImmediate(() => (outstanding--, resolve())));
      },
    }),
  });
  // the VM's certificate names {origin}/m/migrations: the test's controller answers there from now on
  w.sim.mount('m', controller);
  const first = await w.lines.attested(1);
  assert.equal(first.verdict, 'trusted', first.reason);
  await w.lines.until(() => w.lines.of('stream').filter((l) => l.status === 'retrying').length >= 4);
  const { summary, error } = await w.stop();
  assert.equal(error, null);
  assert.equal(summary.notifications, 0);
  assert.ok(controller.connections >= 4, String(controller.connections));
  // one line waits for the reader at a time from the stream (and one from an attestation, none running here):
  // before, every status of a connection was printed at once, a dozen and more lines (and stdout 'drain'
  // listeners) piling up per reconnection while the reader did not read
  assert.ok(maxOutstanding <= 2, `at most 2 lines waiting for the reader at once, saw ${maxOutstanding}`);
  // what each connection printed: the first ten dropped events, then how many more, then the drop
  const stream = w.lines.of('stream').map((l) => l.status);
  const perConnection = stream.slice(stream.indexOf('connected'), stream.indexOf('retrying') + 1);
  assert.deepEqual(perConnection, ['connected', ...Array<string>(10).fill('').map((_, i) => (i % 2 === 0 ? 'ignored' : 'skipped')), 'skipped', 'disconnected', 'retrying']);
  assert.equal(w.lines.of('stream').find((l) => l.status === 'skipped' && /more events/.test(l.reason ?? ''))?.reason, '2 more events skipped or ignored');
});

test('a notification claiming a move that did not happen: the attestation decides (trusted, same path, no migrated line), and the destination its certificate contradicts is printed as a warning', { timeout: 60_000 }, async (t) => {
  let instance = '';
  let origin = '';
  const controller = hostileController((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // "moved from where it runs to vmm-b": the controller says so, nothing else does
    const data = { instance, seq: 1, from: `${origin}/l/vmm-a`, to: `${origin}/l/vmm-b`, time: '2026-11-26T12:00:00Z' };
    res.write(`id: 1\nevent: migration\ndata: ${JSON.stringify(data)}\n\n`);
  });
  const w = await liveWatch(t, 'live-migration');
  instance = w.sim.platform.layer('vm').instanceIdHex;
  origin = w.sim.origin;
  w.sim.mount('m', controller);
  const first = await w.lines.attested(1);
  assert.equal(first.verdict, 'trusted', first.reason);
  const second = await w.lines.attested(2);
  assert.equal(second.trigger, 'migration');
  assert.equal(second.verdict, 'trusted', second.reason);
  assert.deepEqual(second.platformPath, first.platformPath, 'the VM did not move');
  assert.equal(w.lines.of('migrated').length, 0);
  const destination = w.lines.of('finding').filter((f) => f.code === 'migration.destination');
  assert.equal(destination.length, 1, JSON.stringify(w.lines.of('finding')));
  assert.equal(destination[0]!.status, 'warn');
  assert.match(destination[0]!.message, /says the VM moved to .*\/l\/vmm-b; its verified AK certificate says it runs on .*\/l\/vmm-a/);
  await w.stop();
});
