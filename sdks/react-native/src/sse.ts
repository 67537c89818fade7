/** The text/event-stream parser: the one every TypeScript SDK shares (src/vendor/sse.ts). */
export { EventStreamParser, type ServerSentEvent } from './vendor/sse.js';
