// Reads a live Sidekick /stream with the React Native client's SSE parser (compiled from
// sdks/react-native/src/sse.ts) and prints every event as one JSON line, until stdin closes.
// Node's http stands in for React Native's XMLHttpRequest: both hand the parser decoded text.
'use strict';

const http = require('node:http');
const path = require('node:path');

const [url, key, compiled] = process.argv.slice(2);
const { EventStreamParser } = require(path.join(compiled, 'sse.js'));

const parser = new EventStreamParser((event) => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
});

const request = http.get(
  new URL('stream', url.endsWith('/') ? url : `${url}/`),
  { headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' } },
  (response) => {
    if (response.statusCode !== 200) {
      process.stderr.write(`HTTP ${response.statusCode}\n`);
      process.exit(2);
    }
    response.setEncoding('utf8');
    response.on('data', (text) => parser.push(text));
    response.on('end', () => process.exit(3));
  },
);
request.on('error', (error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(4);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
