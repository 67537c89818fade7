/**
 * sse.ts — an incremental text/event-stream parser shared by the Node, browser and React Native
 * SDKs. Text in (callers decode UTF-8 with a streaming decoder), events out. Lines end in CRLF, LF
 * or CR, also when a CR ends one chunk and its LF starts the next; a leading byte-order mark is
 * dropped; each event carries its own `id:` (null when it had none), because the resume cursor
 * must come only from events that carry one. Pinned by tests/vectors/stream/sse_parsing.json.
 */

export interface ServerSentEvent {
  /** The `event:` field; "message" when the server named none. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** This event's own `id:` field, or null when it carried none. */
  id: string | null;
}

export class EventStreamParser {
  private readonly onEvent: (event: ServerSentEvent) => void;
  private buffer = '';
  private afterCarriageReturn = false;
  private bomChecked = false;
  private eventType = '';
  private dataLines: string[] = [];
  private eventId: string | null = null;
  /** The spec's last-event-ID buffer: an `id:` with no data sets it too. */
  lastEventId: string | null = null;
  /** The reconnection time the server asked for with `retry:`, if any. */
  retryMs: number | null = null;

  constructor(onEvent: (event: ServerSentEvent) => void) {
    this.onEvent = onEvent;
  }

  /** Feeds the next piece of the body's text. */
  push(chunk: string): void {
    let text = chunk;
    if (!this.bomChecked && text.length > 0) {
      this.bomChecked = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.afterCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    if (text.length > 0) this.afterCarriageReturn = false;
    const buffer = this.buffer + text;
    let start = 0;
    for (;;) {
      const cr = buffer.indexOf('\r', start);
      const lf = buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      this.line(buffer.slice(start, end));
      if (end === cr) {
        if (end + 1 === buffer.length) {
          this.afterCarriageReturn = true;
          start = end + 1;
          break;
        }
        start = buffer.charCodeAt(end + 1) === 0x0a ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
    }
    this.buffer = buffer.slice(start);
  }

  /** Forgets a partial event and line, as a new connection must (the last id and retry stay). */
  reset(): void {
    this.buffer = '';
    this.afterCarriageReturn = false;
    this.bomChecked = false;
    this.eventType = '';
    this.dataLines = [];
    this.eventId = null;
  }

  private line(line: string): void {
    if (line === '') {
      if (this.dataLines.length > 0) {
        this.onEvent({
          event: this.eventType === '' ? 'message' : this.eventType,
          data: this.dataLines.join('\n'),
          id: this.eventId,
        });
      }
      this.eventType = '';
      this.dataLines = [];
      this.eventId = null;
      return;
    }
    if (line.startsWith(':')) return; // a comment: the server's keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') {
      this.eventType = value;
    } else if (field === 'data') {
      this.dataLines.push(value);
    } else if (field === 'id' && !value.includes('\0')) {
      this.eventId = value;
      this.lastEventId = value;
    } else if (field === 'retry' && /^[0-9]+$/.test(value)) {
      this.retryMs = Number(value);
    }
  }
}
