// tests/vectors/stream through the React Native package's compiled TypeScript (its vendored copy
// of the shared stream code). The store is a small versioned map with the core's rule (a write
// applies unless both versions are set and it is not newer; deletes leave tombstones): JSI needs
// a React Native runtime, and the native store's own version rule is pinned by the evaluation
// vectors through tests/mobile.
'use strict';

const path = require('node:path');
const { pathToFileURL } = require('node:url');
const test = require('node:test');

const compiled = process.env.SIDEKICK_RN_COMPILED ?? path.join(__dirname, '..', '..', '..', 'build', 'mobile', 'rn-ts');
const { EventStreamParser } = require(path.join(compiled, 'vendor', 'sse.js'));
const { StreamState } = require(path.join(compiled, 'vendor', 'stream_state.js'));
const { Backoff, parseRetryAfter } = require(path.join(compiled, 'vendor', 'backoff.js'));

function held(store, key) {
  return store.flags.get(key)?.version ?? store.tombstones.get(key) ?? 0;
}

const adapter = {
  create: () => ({ flags: new Map(), tombstones: new Map() }),
  upsert(store, flag) {
    const version = flag.version ?? 0;
    const current = held(store, flag.key);
    if (version && current && version <= current) return false;
    store.flags.set(flag.key, flag);
    store.tombstones.delete(flag.key);
    return true;
  },
  remove(store, key, version) {
    const current = store.flags.get(key);
    if (current === undefined) {
      if (version) store.tombstones.set(key, Math.max(version, store.tombstones.get(key) ?? 0));
      return false;
    }
    if (version && current.version && version <= current.version) return false;
    store.flags.delete(key);
    if (version) store.tombstones.set(key, version);
    return true;
  },
};

function versionsOf(store) {
  return Object.fromEntries([...store.flags.values()].map((flag) => [flag.key, flag.version ?? 0]));
}

test('stream vectors', async (t) => {
  const runner = pathToFileURL(path.join(__dirname, '..', '..', 'shared-ts', 'test', 'stream_vectors.mjs')).href;
  const { runStreamVectors } = await import(runner);
  await runStreamVectors(t, { EventStreamParser, StreamState, Backoff, parseRetryAfter }, adapter, versionsOf);
});
