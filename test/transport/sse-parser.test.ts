import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SseParser, type SseEvent } from '../../src/transport/sse-parser.js';
import { assertThrowsCode } from '../helpers/assert.js';

function parseAll(chunks: (string | Uint8Array)[], parser = new SseParser()): SseEvent[] {
  return chunks.flatMap((c) => parser.push(typeof c === 'string' ? Buffer.from(c) : c));
}

test('fields, multi-line data, comments and the default type', () => {
  const events = parseAll([': keep-alive\n', 'id: 7\nevent: migration\ndata: {"a":\ndata:1}\n\n', 'data: plain\n\n']);
  assert.deepEqual(events, [
    { type: 'migration', data: '{"a":\n1}', id: '7', lastEventId: '7' },
    { type: 'message', data: 'plain', id: undefined, lastEventId: '7' },
  ]);
});

test('one leading space is removed from a value, no more; a line without a colon is a field with no value', () => {
  const events = parseAll(['data:  two spaces\ndata\ndata:x\n\n']);
  assert.equal(events[0]!.data, ' two spaces\n\nx');
});

test('CRLF, LF and CR line ends, also when a CRLF is split between reads', () => {
  const viaCrlf = parseAll(['id: 1\r\ndata: a\r\n\r\n', 'id: 2\r', '\ndata: b\r', '\n\r', '\n']);
  const viaCr = parseAll(['id: 1\rdata: a\r\rid: 2\rdata: b\r\r']);
  const viaLf = parseAll(['id: 1\ndata: a\n\nid: 2\ndata: b\n\n']);
  assert.deepEqual(viaCrlf, viaLf);
  assert.deepEqual(viaCr, viaLf);
  assert.equal(viaLf.length, 2);
});

test('a CR at the end of a read followed by a lone LF is one line end, not two', () => {
  // were the LF a second line end, the empty line would dispatch "a" early
  const events = parseAll(['data: a\r', '\ndata: b\n\n']);
  assert.deepEqual(events.map((e) => e.data), ['a\nb']);
});

test('multi-byte UTF-8 split between reads, and a leading BOM', () => {
  const bytes = Buffer.from('\uFEFFdata: grüße ✓\n\n');
  const events = parseAll([...bytes].map((b) => Uint8Array.of(b)));
  assert.deepEqual(events.map((e) => e.data), ['grüße ✓']);
});

test('events without data are not dispatched; an unfinished event at the end is not either', () => {
  const p = new SseParser();
  assert.deepEqual(parseAll(['event: migration\nid: 3\n\n', 'data: unfinished\n'], p), []);
  assert.equal(p.lastEventId, '3');
});

test('the last event id persists; an id containing NUL is ignored; retry and unknown fields are ignored', () => {
  const events = parseAll(['id: 5\ndata: a\n\n', 'id: 6\u0000\nretry: 0\nfoo: bar\ndata: b\n\n']);
  assert.deepEqual(
    events.map((e) => [e.id, e.lastEventId]),
    [
      ['5', '5'],
      [undefined, '5'],
    ],
  );
});

test('property: any split of the stream into reads gives the same events', () => {
  const stream = Buffer.from(': hi\r\nid: 1\r\nevent: migration\r\ndata: {"x": "é"}\r\n\r\nid: 2\rdata: a\rdata: b\r\r: c\ndata: z\n\n');
  const whole = parseAll([stream]);
  assert.equal(whole.length, 3);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 20 }), (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
      const chunks = points.slice(1).map((end, i) => stream.subarray(points[i], end));
      assert.deepEqual(parseAll(chunks), whole);
    }),
    { numRuns: 300 },
  );
});

test('an endless line is cut off at the line cap, even when it arrives in small pieces', () => {
  const p = new SseParser({ maxLineChars: 1000 });
  p.push(Buffer.from('data: '));
  const err = assertThrowsCode(() => {
    for (let i = 0; i < 10_000; i++) p.push(Buffer.alloc(100, 0x61));
  }, 'TRANSPORT_SSE_LINE_TOO_LONG');
  assert.equal(err.details['max'], 1000);
  // a line exactly at the cap is fine
  assert.equal(parseAll([`data: ${'a'.repeat(994)}\n\n`], new SseParser({ maxLineChars: 1000 }))[0]!.data.length, 994);
});

test('an event made of many short data lines is cut off at the event cap', () => {
  const p = new SseParser({ maxEventChars: 1000 });
  assertThrowsCode(() => {
    for (let i = 0; i < 1000; i++) p.push(Buffer.from('data: 0123456789\n'));
  }, 'TRANSPORT_SSE_EVENT_TOO_LARGE');
});

test('the event cap applies per event, not to the stream', () => {
  const p = new SseParser({ maxEventChars: 100 });
  const events = parseAll(Array.from({ length: 1000 }, () => 'data: 0123456789\n\n'), p);
  assert.equal(events.length, 1000);
});
