/** flag_store.test.ts — FlagStore's JavaScript surface beyond the shared vectors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ABI_VERSION,
  attributeText,
  bucket,
  FlagStore,
  FlagValidationError,
  murmur3_32,
  SidekickClient,
  SidekickTimeoutError,
} from '../src/index';

test('the addon was built from the ABI this package expects', () => {
  assert.equal(ABI_VERSION, 2);
});

test('attribute values convert as the contract says', () => {
  assert.equal(attributeText('x'), 'x');
  assert.equal(attributeText(true), 'true');
  assert.equal(attributeText(false), 'false');
  assert.equal(attributeText(42), '42');
  assert.equal(attributeText(-0), '0');
  assert.equal(attributeText(1e21), '1000000000000000000000');
  assert.equal(attributeText(-1e21), '-1000000000000000000000');
  assert.equal(attributeText(12345678901234567890n), '12345678901234567890');
  for (const dropped of [1.5, NaN, Infinity, null, undefined, [1], { a: 1 }, Symbol('s')]) {
    assert.equal(attributeText(dropped), undefined, String(dropped));
  }
});

test('upsert, get, flags, size, has, delete, clear', () => {
  const store = new FlagStore([{ key: 'a', is_enabled: true, version: 2, extra: 'kept' }]);
  assert.equal(store.size, 1);
  assert.equal(store.has('a'), true);
  const copy = store.get('a');
  assert.deepEqual(copy, { key: 'a', is_enabled: true, version: 2, extra: 'kept' });
  (copy as { key: string }).key = 'changed';
  assert.equal(store.get('a')?.key, 'a', 'get returns a copy');
  assert.equal(store.upsert({ key: 'a', is_enabled: false, version: 1 }), false, 'stale');
  assert.equal(store.isEnabled('a', 'u'), true);
  assert.equal(store.version('a'), 2);
  assert.equal(store.upsert({ key: 'b' }), true);
  assert.equal(store.isEnabled('b', 'u'), false, 'is_enabled defaults to false');
  assert.deepEqual(store.flags().map((flag) => flag.key).sort(), ['a', 'b']);
  assert.equal(store.delete('a', 3), true);
  assert.equal(store.get('a'), undefined);
  assert.equal(store.upsert({ key: 'a', is_enabled: true, version: 3 }), false, 'tombstone');
  store.clear();
  assert.equal(store.size, 0);
  assert.equal(store.upsert({ key: 'a', is_enabled: true, version: 1 }), true);
});

test('validation errors name the field and leave the store alone', () => {
  const store = new FlagStore([{ key: 'x', is_enabled: true, version: 1 }]);
  assert.throws(
    () =>
      store.upsert({
        key: 'x',
        is_enabled: false,
        version: 2,
        rules: [{ attribute: 'plan', operator: 'Equals', values: ['a'] }, { attribute: 'plan', operator: 'Is', values: [] }],
      }),
    (error: unknown) =>
      error instanceof FlagValidationError &&
      error.field === 'rules[1].operator' &&
      error.message.startsWith('rules[1].operator: '),
  );
  assert.equal(store.isEnabled('x', 'u'), true);
  assert.equal(store.version('x'), 2 - 1);
});

test('slots are reused and evaluations stay with their own flag', () => {
  const store = new FlagStore();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 200; i++) {
      store.upsert({ key: `f${i}`, is_enabled: i % 2 === 0, rules: [{ attribute: `a${i}`, operator: 'Equals', values: [`v${i}`] }] });
    }
    for (let i = 0; i < 200; i += 3) store.delete(`f${i}`);
  }
  for (let i = 0; i < 200; i++) {
    const expected = i % 3 === 0 ? 'FLAG_NOT_FOUND' : i % 2 === 0 ? 'RULE_MATCH' : 'OFF';
    assert.equal(store.evaluate(`f${i}`, 'u', { [`a${i}`]: `v${i}` }).reason, expected, `f${i}`);
  }
});

test('long and non-ASCII strings go through the shared buffer intact', () => {
  const store = new FlagStore();
  const long = 'é'.repeat(100_000) + '@acme.com';
  store.upsert({ key: 'long', is_enabled: true, rollout_percentage: 0, rules: [{ attribute: 'email', operator: 'EndsWith', values: ['@acme.com'] }] });
  store.upsert({ key: 'half', is_enabled: true, rollout_percentage: 50 });
  assert.equal(store.isEnabled('long', 'ü'.repeat(70_000), { email: long }), true);
  for (const user of ['ascii-user', 'üser', '用户-7', 'x'.repeat(30) + '✓', '😀']) {
    const evaluation = store.evaluate('half', user);
    assert.equal(evaluation.bucket, bucket('half', user), user);
    assert.equal(evaluation.bucket, murmur3_32(`half:${user}`) % 100, user);
  }
  assert.equal(store.isEnabled('long', 'u', { email: 'short@acme.com' }), true, 'after growing');
});

test('a client answers from its bootstrap and init times out when nothing listens', async () => {
  const client = new SidekickClient('http://127.0.0.1:9', 'sk_server_x', {
    bootstrap: [{ key: 'boot', is_enabled: true, version: 1 }],
    initialBackoffMs: 50,
    maxBackoffMs: 200,
  });
  try {
    assert.equal(client.isEnabled('boot', 'u'), true);
    await assert.rejects(client.init({ timeoutMs: 500 }), SidekickTimeoutError);
    assert.equal(client.isEnabled('boot', 'u'), true);
  } finally {
    await client.close();
  }
});

test('the addon loads and evaluates in worker threads, each with its own stores', async () => {
  const { Worker } = await import('node:worker_threads');
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { FlagStore } = require(workerData.index);
    const store = new FlagStore([{ key: 'w', is_enabled: true, rollout_percentage: 50 }]);
    let on = 0;
    for (let i = 0; i < 1000; i++) if (store.isEnabled('w', 'user-' + i)) on++;
    parentPort.postMessage(on);
  `;
  const index = require.resolve('../src/index');
  const runs = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(source, { eval: true, workerData: { index } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  const here = new FlagStore([{ key: 'w', is_enabled: true, rollout_percentage: 50 }]);
  let on = 0;
  for (let i = 0; i < 1000; i++) if (here.isEnabled('w', `user-${i}`)) on++;
  assert.deepEqual(runs, [on, on, on]);
});
