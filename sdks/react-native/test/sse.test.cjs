// The React Native client's SSE parser (compiled from src/sse.ts by `make test-mobile`) under
// node --test: every way a stream can be cut into chunks yields the same events.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const test = require('node:test');

const compiled = process.env.SIDEKICK_RN_COMPILED ?? path.join(__dirname, '..', '..', '..', 'build', 'mobile', 'rn-ts');
const { EventStreamParser } = require(path.join(compiled, 'sse.js'));

function parse(chunks) {
  const events = [];
  const parser = new EventStreamParser((event) => events.push(event));
  for (const chunk of chunks) {
    parser.push(chunk);
  }
  return events;
}

const STREAM =
  'event: connected\ndata: true\n\n' +
  ': keep-alive\n\n' +
  'event: update\r\ndata: {"type":"UPSERT","flag":{"key":"caf\u00e9"}}\r\n\r\n' +
  'event: update\rdata: {"type":"DELETE",\rdata: "key":"k","version":3}\r\r' +
  'data:no-space\n\n' +
  'event: ready\ndata: {"flags": 1}\n\n';

const EXPECTED = [
  { event: 'connected', data: 'true', id: null },
  { event: 'update', data: '{"type":"UPSERT","flag":{"key":"caf\u00e9"}}', id: null },
  { event: 'update', data: '{"type":"DELETE",\n"key":"k","version":3}', id: null },
  { event: 'message', data: 'no-space', id: null },
  { event: 'ready', data: '{"flags": 1}', id: null },
];

test('a whole stream in one chunk', () => {
  assert.deepEqual(parse([STREAM]), EXPECTED);
});

test('every split point, including between CR and LF', () => {
  for (let cut = 1; cut < STREAM.length; cut += 1) {
    assert.deepEqual(parse([STREAM.slice(0, cut), STREAM.slice(cut)]), EXPECTED, `cut at ${cut}`);
  }
});

test('one character at a time', () => {
  assert.deepEqual(parse(STREAM.split('')), EXPECTED);
});

test('an event without data is not dispatched, and an unfinished one waits', () => {
  assert.deepEqual(parse(['event: ready\n\n', 'event: update\ndata: x']), []);
});

test('reset forgets a half-received event', () => {
  const events = [];
  const parser = new EventStreamParser((event) => events.push(event));
  parser.push('event: update\ndata: half');
  parser.reset();
  parser.push('event: ready\ndata: {}\n\n');
  assert.deepEqual(events, [{ event: 'ready', data: '{}', id: null }]);
});
