/** Incremental Server-Sent Events parser: text chunks in, complete events out. */

export interface ServerSentEvent {
  event: string;
  data: string;
}

/**
 * Parses the text/event-stream format as the WHATWG spec describes it: lines end in CRLF, LF or
 * CR; `event:` and `data:` fields; comment lines start with ':'; a blank line dispatches. Chunks may
 * split anywhere, so an unfinished line (or a CR that may be half of CRLF) waits for the next one.
 */
export class EventStreamParser {
  private pending = '';
  private eventName = '';
  private dataLines: string[] = [];

  constructor(private readonly dispatch: (event: ServerSentEvent) => void) {}

  /** Feeds the next piece of the response text. */
  push(chunk: string): void {
    let text = this.pending + chunk;
    let start = 0;
    for (;;) {
      const lf = text.indexOf('\n', start);
      const cr = text.indexOf('\r', start);
      if (lf < 0 && cr < 0) {
        break;
      }
      let end: number;
      let next: number;
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        if (cr === text.length - 1) {
          break; // a CR at the end of the chunk may be the first half of a CRLF
        }
        end = cr;
        next = text[cr + 1] === '\n' ? cr + 2 : cr + 1;
      } else {
        end = lf;
        next = lf + 1;
      }
      this.line(text.slice(start, end));
      start = next;
    }
    text = text.slice(start);
    this.pending = text;
  }

  /** Forgets any partial event, as a new connection must. */
  reset(): void {
    this.pending = '';
    this.eventName = '';
    this.dataLines = [];
  }

  private line(line: string): void {
    if (line === '') {
      if (this.dataLines.length > 0) {
        this.dispatch({ event: this.eventName || 'message', data: this.dataLines.join('\n') });
      }
      this.eventName = '';
      this.dataLines = [];
      return;
    }
    if (line.startsWith(':')) {
      return; // a comment: the server's keep-alive
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'event') {
      this.eventName = value;
    } else if (field === 'data') {
      this.dataLines.push(value);
    }
  }
}
