/** sse.test.ts — the SSE parser against the text/event-stream rules the server relies on. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type ServerSentEvent, SseParser } from '../src/index';

function parse(chunks: (string | Uint8Array)[]): { events: ServerSentEvent[]; parser: SseParser } {
  const events: ServerSentEvent[] = [];
  const parser = new SseParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(chunk);
  return { events, parser };
}

test('named events, comments and a data-less event', () => {
  const { events } = parse([
    'event: connected\ndata: true\n\n: keep-alive\n\nevent: update\ndata: {"type":"UPSERT"}\n\n',
    'event: empty\n\n',
  ]);
  assert.deepEqual(
    events.map((event) => [event.event, event.data]),
    [
      ['connected', 'true'],
      ['update', '{"type":"UPSERT"}'],
    ],
  );
});

test('multi-line data, default event name, id and retry', () => {
  const { events, parser } = parse(['id: 7\nretry: 2500\ndata: a\ndata:b\ndata\n\n']);
  assert.deepEqual(events, [{ event: 'message', data: 'a\nb\n', id: '7' }]);
  assert.equal(parser.retryMs, 2500);
});

test('CRLF and CR line ends, split anywhere', () => {
  const whole = 'event: ready\r\ndata: {"flags": 2}\r\n\r\nevent: update\rdata: x\r\r';
  for (let cut = 0; cut <= whole.length; cut++) {
    const { events } = parse([whole.slice(0, cut), whole.slice(cut)]);
    assert.deepEqual(
      events.map((event) => [event.event, event.data]),
      [
        ['ready', '{"flags": 2}'],
        ['update', 'x'],
      ],
      `cut at ${cut}`,
    );
  }
});

test('a multi-byte character split between chunks, and a leading BOM', () => {
  const bytes = new TextEncoder().encode('\ufeffdata: café ✓\n\n');
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { events } = parse([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.deepEqual(events.map((event) => event.data), ['café ✓'], `cut at ${cut}`);
  }
});

test('an unfinished event is not dispatched', () => {
  const { events } = parse(['event: update\ndata: half']);
  assert.deepEqual(events, []);
});
