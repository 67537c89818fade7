/** sse.ts — the exported SseParser: bytes or text in, the shared parser (src/vendor/sse.ts) inside. */
import { EventStreamParser } from './vendor/sse.js';

export interface ServerSentEvent {
  /** The `event:` field; "message" when the server named none. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last `id:` seen on the stream, as the format says ('' before any). */
  id: string;
}

/**
 * Turns chunks of a text/event-stream body into events. Lines may end in CRLF, LF or CR, and a
 * chunk may end anywhere, even inside a multi-byte character or between CR and LF.
 */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  readonly #parser: EventStreamParser;

  constructor(onEvent: (event: ServerSentEvent) => void) {
    this.#parser = new EventStreamParser((event) =>
      onEvent({ event: event.event, data: event.data, id: this.#parser.lastEventId ?? '' }),
    );
  }

  /** The reconnection time the server asked for with `retry:`, if any. */
  get retryMs(): number | undefined {
    return this.#parser.retryMs ?? undefined;
  }

  /** Feeds one chunk of the body. */
  push(chunk: Uint8Array | string): void {
    this.#parser.push(typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true }));
  }
}
