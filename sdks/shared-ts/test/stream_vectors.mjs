// stream_vectors.mjs — runs tests/vectors/stream/*.json against one package's compiled copy of the
// shared stream code (parser, state machine, back-off) and that package's real flag store. Each
// package's test suite calls it once with its own build: Node (addon store), browser (wasm store),
// React Native (the compiled TypeScript).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tests/vectors/stream');

function load(name) {
  return JSON.parse(readFileSync(path.join(VECTORS, name), 'utf8'));
}

/**
 * `t` is a node:test context; `shared` holds the package's compiled EventStreamParser, StreamState,
 * Backoff and parseRetryAfter; `adapter` is a StoreAdapter over the package's store, and
 * `versionsOf(store)` lists {key: version} for what the store holds.
 */
export async function runStreamVectors(t, shared, adapter, versionsOf) {
  const { EventStreamParser, StreamState, Backoff, parseRetryAfter } = shared;
  const encoder = new TextEncoder();

  for (const vector of load('sse_parsing.json').cases) {
    await t.test(`sse: ${vector.name}`, () => {
      const body = encoder.encode(vector.input);
      for (let cut = 0; cut <= body.length; cut++) {
        const events = [];
        const parser = new EventStreamParser((event) => events.push(event));
        const decoder = new TextDecoder('utf-8');
        parser.push(decoder.decode(body.subarray(0, cut), { stream: true }));
        parser.push(decoder.decode(body.subarray(cut), { stream: true }));
        assert.deepEqual(events, vector.events, `split at byte ${cut}`);
        assert.equal(parser.lastEventId, vector.last_event_id);
        assert.equal(parser.retryMs, vector.retry_ms);
      }
    });
  }

  for (const vector of load('state_machine.json').cases) {
    await t.test(`state: ${vector.name}`, () => {
      const state = new StreamState(adapter, vector.initial.flags, vector.initial.cursor);
      const notifications = [];
      let errors = 0;
      let reconnectAfterMs = null;
      for (const step of vector.steps) {
        if (step.disconnect) {
          state.disconnected();
          continue;
        }
        const data = typeof step.data === 'string' ? step.data : JSON.stringify(step.data);
        const outcome = state.handle({ event: step.event, data, id: step.id ?? null });
        if (outcome.changedKeys.length > 0) notifications.push(outcome.changedKeys);
        if (outcome.error !== null) errors += 1;
        if (outcome.reconnectAfterMs !== null) reconnectAfterMs = outcome.reconnectAfterMs;
      }
      const expect = vector.expect;
      assert.deepEqual(versionsOf(state.store), expect.flags);
      assert.deepEqual(
        Object.fromEntries(state.flags().map((flag) => [flag.key, flag.version ?? 0])),
        expect.flags,
      );
      assert.equal(state.cursor, expect.cursor);
      assert.deepEqual(notifications, expect.notifications);
      assert.equal(state.syncedOnce, expect.ready);
      assert.equal(state.stopped, expect.stopped);
      assert.equal(reconnectAfterMs, expect.reconnect_after_ms);
      assert.equal(errors, expect.errors);
      state.dispose();
    });
  }

  const backoff = load('backoff.json');
  for (const vector of backoff.cases) {
    await t.test(`backoff: ${vector.name}`, () => {
      const draws = [];
      const policy = backoff.policy;
      const sequence = new Backoff({
        initialMs: policy.initial_ms,
        maxMs: policy.max_ms,
        resetAfterMs: policy.reset_after_ms,
        random: () => draws.pop(),
      });
      for (const step of vector.steps) {
        if (step.op === 'failure') {
          draws.push(step.random);
          const delay = sequence.nextDelayMs();
          assert.ok(step.min_ms <= delay && delay <= step.max_ms, `${delay} outside [${step.min_ms}, ${step.max_ms}]`);
          assert.ok(Math.abs(delay - step.delay_ms) < 1e-6, `${delay} != ${step.delay_ms}`);
        } else if (step.op === 'connected') {
          sequence.connectionLasted(step.for_ms);
        } else if (step.op === 'server_delay') {
          sequence.serverDelay(step.ms);
        } else {
          assert.fail(`unknown op ${step.op}`);
        }
      }
    });
  }
  await t.test('backoff: Retry-After values', () => {
    for (const vector of backoff.retry_after) assert.equal(parseRetryAfter(vector.header), vector.delay_ms, String(vector.header));
  });
}
