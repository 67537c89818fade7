/** stream_vectors.test.ts — tests/vectors/stream against this package's shared stream code and addon store. */
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { FlagStore } from '../src/index';
import { Backoff, parseRetryAfter } from '../src/vendor/backoff.js';
import { EventStreamParser } from '../src/vendor/sse.js';
import { type StoreAdapter, StreamState } from '../src/vendor/stream_state.js';

const RUNNER = pathToFileURL(path.resolve(__dirname, '../../../shared-ts/test/stream_vectors.mjs')).href;

const adapter: StoreAdapter<FlagStore> = {
  create: () => new FlagStore(),
  upsert: (store, flag) => store.upsert(flag),
  remove: (store, key, version) => store.delete(key, version),
};

function versionsOf(store: FlagStore): Record<string, number> {
  return Object.fromEntries(store.flags().map((flag) => [flag.key, flag.version ?? 0]));
}

test('stream vectors', async (t) => {
  const { runStreamVectors } = (await import(RUNNER)) as {
    runStreamVectors: (...args: unknown[]) => Promise<void>;
  };
  await runStreamVectors(t, { EventStreamParser, StreamState, Backoff, parseRetryAfter }, adapter, versionsOf);
});
