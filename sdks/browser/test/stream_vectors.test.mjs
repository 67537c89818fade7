/** tests/vectors/stream through the browser bundle's shared stream code and its wasm store. */
import { readFile } from 'node:fs/promises';
import { before, test } from 'node:test';

import * as sdk from '../dist/index.js';
import { Backoff, parseRetryAfter } from '../dist/vendor/backoff.js';
import { EventStreamParser } from '../dist/vendor/sse.js';
import { StreamState } from '../dist/vendor/stream_state.js';
import { runStreamVectors } from '../../shared-ts/test/stream_vectors.mjs';

before(async () => {
  await sdk.loadCore(await readFile(new URL('../dist/sidekick.wasm', import.meta.url)));
});

const adapter = {
  create: () => new sdk.FlagStore(),
  upsert: (store, flag) => store.upsert(flag),
  remove: (store, key, version) => store.delete(key, version),
  free: (store) => store.free(),
};

function versionsOf(store) {
  return Object.fromEntries(store.flags().map((flag) => [flag.key, flag.version ?? 0]));
}

test('stream vectors', async (t) => {
  await runStreamVectors(t, { EventStreamParser, StreamState, Backoff, parseRetryAfter }, adapter, versionsOf);
});
