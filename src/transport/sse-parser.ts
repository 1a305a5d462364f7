// A server-sent events parser (WHATWG HTML, "9.2.6 Interpreting an event
// stream"), bounded for hostile servers. Pure: bytes in, events out.
//
// Lines end with CRLF, LF or CR (a CR at the end of one chunk may pair with an
// LF at the start of the next); ":" starts a comment; "field: value" loses
// one leading space of the value; "data" lines join with "\n"; an empty line
// dispatches the event; an event with no data is dropped; an event cut off by
// the end of the stream is discarded. The "retry" field is ignored on purpose:
// a server does not get to set our reconnection delay.

import { transportError, type TransportContext } from './errors.js';

export interface SseEvent {
  /** the event field, "message" when absent */
  type: string;
  /** data lines joined with "\n" */
  data: string;
  /** this event's own id field, if it had one */
  id: string | undefined;
  /** the stream's last event id at dispatch (persists across events) */
  lastEventId: string;
}

export interface SseLimits {
  /** longest line, characters; an endless line is cut off here */
  maxLineChars: number;
  /** largest event (its data plus type), characters */
  maxEventChars: number;
}

export const SSE_DEFAULTS: SseLimits = {
  maxLineChars: 64 * 1024,
  maxEventChars: 256 * 1024,
};

const LINE_END = /\r\n|\r|\n/g;

export class SseParser {
  private readonly limits: SseLimits;
  private readonly ctx: TransportContext;
  private readonly decoder = new TextDecoder('utf-8');
  /** the start of a line whose end has not arrived */
  private pending = '';
  /** the previous chunk ended with CR: an LF opening this one belongs to it */
  private skipLeadingLf = false;
  private type = '';
  private data = '';
  private hasData = false;
  private ownId: string | undefined;
  private lastId = '';

  constructor(limits: Partial<SseLimits> = {}, ctx: TransportContext = {}) {
    this.limits = { ...SSE_DEFAULTS, ...limits };
    this.ctx = ctx;
  }

  get lastEventId(): string {
    return this.lastId;
  }

  /** Feeds the next bytes; returns the events they complete. Throws TRANSPORT_SSE_* over a cap. */
  push(chunk: Uint8Array): SseEvent[] {
    let text = this.decoder.decode(chunk, { stream: true });
    if (this.skipLeadingLf && text.length > 0) {
      if (text.charCodeAt(0) === 10) text = text.slice(1);
      this.skipLeadingLf = false;
    }
    const events: SseEvent[] = [];
    let start = 0;
    LINE_END.lastIndex = 0;
    for (let m = LINE_END.exec(text); m !== null; m = LINE_END.exec(text)) {
      const piece = text.slice(start, m.index);
      this.checkLine(this.pending.length + piece.length);
      const line = this.pending === '' ? piece : this.pending + piece;
      this.pending = '';
      this.line(line, events);
      start = m.index + m[0].length;
      if (m[0] === '\r' && start === text.length) this.skipLeadingLf = true;
    }
    const rest = text.slice(start);
    this.checkLine(this.pending.length + rest.length);
    this.pending += rest;
    return events;
  }

  private checkLine(length: number): void {
    if (length > this.limits.maxLineChars) {
      throw transportError('TRANSPORT_SSE_LINE_TOO_LONG', `event stream line exceeds ${this.limits.maxLineChars} characters`, this.ctx, {
        max: this.limits.maxLineChars,
        actual: length,
      });
    }
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === '') {
      this.dispatch(events);
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) return; // comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* ' ' */) value = value.slice(1);
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        if (this.data.length + value.length + 1 + this.type.length > this.limits.maxEventChars) {
          throw transportError('TRANSPORT_SSE_EVENT_TOO_LARGE', `event stream event exceeds ${this.limits.maxEventChars} characters`, this.ctx, {
            max: this.limits.maxEventChars,
          });
        }
        this.data += `${value}\n`;
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\u0000')) {
          this.lastId = value;
          this.ownId = value;
        }
        break;
      default:
        // "retry" and unknown fields: ignored
        break;
    }
  }

  private dispatch(events: SseEvent[]): void {
    if (this.hasData) {
      events.push({ type: this.type === '' ? 'message' : this.type, data: this.data.slice(0, -1), id: this.ownId, lastEventId: this.lastId });
    }
    this.type = '';
    this.data = '';
    this.hasData = false;
    this.ownId = undefined;
  }
}
