/** sse.ts — an incremental Server-Sent Events parser (the text/event-stream format). */

export interface ServerSentEvent {
  /** The `event:` field; "message" when the server named none. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last `id:` seen on the stream, as the format says. */
  id: string;
}

/**
 * Turns chunks of a text/event-stream body into events. Lines may end in CRLF, LF or CR, and a
 * chunk may end anywhere, even inside a multi-byte character or between CR and LF.
 */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  readonly #onEvent: (event: ServerSentEvent) => void;
  #buffer = '';
  #eventType = '';
  #data: string[] = [];
  #lastId = '';
  #sawCarriageReturn = false;
  #bomChecked = false;
  /** The reconnection time the server asked for with `retry:`, if any. */
  retryMs: number | undefined;

  constructor(onEvent: (event: ServerSentEvent) => void) {
    this.#onEvent = onEvent;
  }

  /** Feeds one chunk of the body. */
  push(chunk: Uint8Array | string): void {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (!this.#bomChecked && text.length > 0) {
      this.#bomChecked = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR that ended the previous chunk already ended its line; skip the LF that completes it.
    if (this.#sawCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    this.#sawCarriageReturn = false;
    this.#buffer += text;
    let start = 0;
    for (;;) {
      const cr = this.#buffer.indexOf('\r', start);
      const lf = this.#buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      this.#line(this.#buffer.slice(start, end));
      if (end === cr) {
        if (end + 1 === this.#buffer.length) {
          this.#sawCarriageReturn = true;
          start = end + 1;
          break;
        }
        start = this.#buffer.charCodeAt(end + 1) === 0x0a ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
    }
    this.#buffer = this.#buffer.slice(start);
  }

  #line(line: string): void {
    if (line === '') {
      this.#dispatch();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#eventType = value;
        break;
      case 'data':
        this.#data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
  }

  #dispatch(): void {
    const type = this.#eventType;
    const data = this.#data;
    this.#eventType = '';
    this.#data = [];
    if (data.length === 0) return;
    this.#onEvent({ event: type === '' ? 'message' : type, data: data.join('\n'), id: this.#lastId });
  }
}
