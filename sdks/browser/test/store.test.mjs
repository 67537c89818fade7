/** FlagStore behaviour beyond the shared vectors: value conversion, memory growth, validation. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, test } from 'node:test';

import { FlagStore, FlagValidationError, bucket, loadCore, murmur3_32 } from '../dist/index.js';

before(async () => {
  await loadCore(await readFile(new URL('../dist/sidekick.wasm', import.meta.url)));
});

function equalsFlag(key, values) {
  return {
    key,
    is_enabled: true,
    rollout_percentage: 0,
    rules: [{ attribute: 'n', operator: 'Equals', values }],
    version: 1,
  };
}

test('loadCore is idempotent', async () => {
  await loadCore();
  assert.equal(murmur3_32('hello'), 613153351);
});

test('attribute values convert as the contract says', () => {
  const store = new FlagStore();
  store.upsert(equalsFlag('n', ['1', '0', 'true', 'false', '1000000000000000000000', '-5']));
  const on = (value) => store.isEnabled('n', 'u', { n: value });
  assert.equal(on(1), true);
  assert.equal(on(1.0), true);
  assert.equal(on(-0), true, '-0 is "0"');
  assert.equal(on(true), true);
  assert.equal(on(false), true);
  assert.equal(on(1e21), true, 'large integers in decimal, not exponent notation');
  assert.equal(on(-5), true);
  assert.equal(on(10n ** 21n), true);
  for (const dropped of [1.5, null, undefined, NaN, Infinity, [1], { a: 1 }, () => 1]) {
    assert.equal(on(dropped), false, String(dropped));
  }
  assert.equal(store.isEnabled('n', 'u', null), false);
  assert.equal(store.isEnabled('n', 'u', 'not an object'), false);
  store.free();
});

test('NotEquals does not match an absent or dropped attribute', () => {
  const store = new FlagStore();
  store.upsert({
    key: 'ne',
    is_enabled: true,
    rollout_percentage: 0,
    rules: [{ attribute: 'plan', operator: 'NotEquals', values: ['free'] }],
  });
  assert.equal(store.isEnabled('ne', 'u', {}), false);
  assert.equal(store.isEnabled('ne', 'u', { plan: 1.5 }), false);
  assert.equal(store.isEnabled('ne', 'u', { plan: 'pro' }), true);
  assert.deepEqual(store.evaluate('ne', 'u', { plan: 'pro' }), {
    enabled: true,
    value: true,
    variant: 'on',
    reason: 'RULE_MATCH',
    ruleIndex: 0,
    bucket: null,
    version: 0,
  });
  store.free();
});

test('non-ASCII and long strings survive the scratch region growing', () => {
  const store = new FlagStore();
  const long = 'é'.repeat(50000) + '@acme.com';
  const many = Array.from({ length: 10000 }, (_, i) => `value-${i}-${'x'.repeat(20)}`);
  store.upsert({
    key: 'big',
    is_enabled: true,
    rollout_percentage: 0,
    rules: [
      { attribute: 'email', operator: 'EndsWith', values: ['@acme.com'] },
      { attribute: 'tag', operator: 'Equals', values: many },
      { attribute: 'city', operator: 'Equals', values: ['Zürich', '東京'] },
    ],
  });
  assert.equal(store.isEnabled('big', long, { email: long }), true);
  assert.equal(store.isEnabled('big', 'u', { tag: many[9999] }), true);
  assert.equal(store.isEnabled('big', 'u', { city: '東京' }), true);
  assert.equal(store.isEnabled('big', 'u', { city: 'Zurich' }), false);
  assert.equal(murmur3_32('東京'), murmur3_32(new TextEncoder().encode('東京')));
  assert.equal(bucket('big', 'u'), murmur3_32('big:u') % 100);
  store.free();
});

test('odd keys never throw', () => {
  const store = new FlagStore();
  store.upsert({ key: 'on', is_enabled: true });
  assert.equal(store.isEnabled('missing', 'u'), false);
  assert.equal(store.isEnabled('on', undefined), true);
  assert.equal(store.isEnabled('on', 42), true);
  assert.equal(store.isEnabled(undefined, 'u'), false);
  assert.equal(store.evaluate('missing', 'u').reason, 'FLAG_NOT_FOUND');
  store.free();
  assert.equal(store.isEnabled('on', 'u'), false, 'a freed store answers false');
});

test('upsert rejects with the field path and leaves the store unchanged', () => {
  const store = new FlagStore();
  store.upsert({ key: 'k', is_enabled: true, version: 2 });
  const cases = [
    [{ key: '-bad' }, 'key'],
    [{ key: 'k', is_enabled: 'yes' }, 'is_enabled'],
    [{ key: 'k', rollout_percentage: '50' }, 'rollout_percentage'],
    [{ key: 'k', rollout_percentage: 50.5 }, 'rollout_percentage'],
    [{ key: 'k', rollout_percentage: true }, 'rollout_percentage'],
    [{ key: 'k', rules: {} }, 'rules'],
    [{ key: 'k', rules: [{ attribute: 'a', operator: 'Like', values: [] }] }, 'rules[0].operator'],
    [{ key: 'k', rules: [{ attribute: 'a', operator: 'Equals', values: ['x', 3] }] }, 'rules[0].values[1]'],
    [{ key: 'k', version: -1 }, 'version'],
  ];
  for (const [flag, field] of cases) {
    assert.throws(
      () => store.upsert(flag),
      (error) => error instanceof FlagValidationError && error.field === field,
      field,
    );
  }
  assert.equal(store.size, 1);
  assert.equal(store.get('k').version, 2);
  store.free();
});

test('get returns a copy the caller cannot use to change the store', () => {
  const store = new FlagStore();
  const flag = { key: 'k', is_enabled: true, extra: { kept: true } };
  store.upsert(flag);
  flag.is_enabled = false;
  assert.equal(store.get('k').is_enabled, true);
  assert.deepEqual(store.get('k').extra, { kept: true });
  assert.deepEqual(store.flags().map((f) => f.key), ['k']);
  store.free();
});

test('a repeated user key is reused only while nothing else wrote over it', () => {
  const store = new FlagStore();
  store.upsert({ key: 'half', is_enabled: true, rollout_percentage: 50 });
  const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
  const expected = users.map((user) => bucket('half', user) < 50);
  for (let round = 0; round < 3; round++) {
    users.forEach((user, i) => {
      assert.equal(store.isEnabled('half', user), expected[i], user);
      murmur3_32(`other-${i}-${'z'.repeat(i)}`); // writes over the scratch strings
      assert.equal(store.isEnabled('half', user), expected[i], user);
      assert.equal(store.isEnabled('half', user), expected[i], user);
      assert.equal(store.evaluate('missing', `x${user}`).reason, 'FLAG_NOT_FOUND');
      assert.equal(store.isEnabled('half', user), expected[i], user);
    });
  }
  assert.equal(store.isEnabled('half', 'é'.repeat(30000)), bucket('half', 'é'.repeat(30000)) < 50);
  assert.equal(store.isEnabled('half', 'user-7'), expected[7], 'after the scratch region grew');
  store.free();
});

test('user keys of every length with a non-ASCII character anywhere hash as their UTF-8 bytes', () => {
  const store = new FlagStore();
  store.upsert({ key: 'half', is_enabled: true, rollout_percentage: 50 });
  const utf8 = new TextEncoder();
  for (let length = 1; length <= 70; length++) {
    for (const special of ['é', '東', '😀', '\u0080', '\u00ff', null]) {
      const positions = special === null ? [0] : [0, Math.floor(length / 2), length - 1];
      for (const at of positions) {
        const chars = Array.from({ length }, (_, i) => String.fromCharCode(97 + (i % 26)));
        if (special !== null) chars[at] = special;
        const user = chars.join('');
        const want = murmur3_32(utf8.encode(`half:${user}`)) % 100;
        assert.equal(store.evaluate('half', user).bucket, want, JSON.stringify(user));
        assert.equal(bucket('half', user), want, JSON.stringify(user));
      }
    }
  }
  store.free();
});

test('attribute values are rewritten whenever they or anything before them changed', () => {
  const store = new FlagStore();
  store.upsert({
    key: 'two',
    is_enabled: true,
    rollout_percentage: 0,
    rules: [
      { attribute: 'plan', operator: 'Equals', values: ['pro'] },
      { attribute: 'email', operator: 'EndsWith', values: ['@acme.com'] },
    ],
  });
  store.upsert({
    key: 'one',
    is_enabled: true,
    rollout_percentage: 0,
    rules: [{ attribute: 'email', operator: 'StartsWith', values: ['boss'] }],
  });
  const attrs = { plan: 'free', email: 'boss@acme.com' };
  assert.deepEqual(store.evaluate('two', 'u', attrs).ruleIndex, 1);
  assert.equal(store.isEnabled('one', 'u', attrs), true);
  attrs.email = 'intern@acme.org';
  assert.equal(store.isEnabled('two', 'u', attrs), false, 'same object, changed value');
  assert.equal(store.isEnabled('one', 'u', attrs), false);
  attrs.plan = 'pro';
  assert.equal(store.evaluate('two', 'u', attrs).ruleIndex, 0);
  assert.equal(store.isEnabled('two', 'u', { email: 'x@acme.com' }), true, 'fewer values');
  assert.equal(store.isEnabled('two', 'u', { plan: 'free' }), false);
  assert.equal(store.isEnabled('two', 'v', { plan: 'free', email: 'x@acme.com' }), true, 'new user');
  assert.equal(store.isEnabled('two', 'v', { plan: 'free', email: 'x@acme.co' }), false);
  // A longer first value written over the place of the second one, which then comes back.
  store.upsert({
    key: 'plan_only',
    is_enabled: true,
    rollout_percentage: 0,
    rules: [{ attribute: 'plan', operator: 'Equals', values: ['x'] }],
  });
  const w = { plan: 'p', email: 'e@acme.com' };
  assert.equal(store.isEnabled('two', 'w', w), true);
  assert.equal(store.isEnabled('plan_only', 'w', { plan: 'a-much-longer-plan-name-than-before' }), false);
  assert.equal(store.isEnabled('two', 'w', { plan: 'a-much-longer-plan-name-than-before', email: w.email }), true);
  assert.equal(store.isEnabled('two', 'w', w), true);
  murmur3_32('scratch overwritten');
  assert.equal(store.isEnabled('two', 'v', { plan: 'free', email: 'x@acme.co' }), false);
  assert.equal(store.isEnabled('two', 'v', { plan: 'free', email: 'x@acme.com' }), true);
  store.free();
});

test('a client without EventSource fails init() clearly and still answers from its bootstrap', async () => {
  const { SidekickBrowserClient } = await import('../dist/index.js');
  const client = new SidekickBrowserClient('http://127.0.0.1:9', 'sk_client_x', {
    bootstrap: [{ key: 'boot', is_enabled: true, version: 1 }],
  });
  assert.equal(client.isEnabled('boot', 'u'), true);
  // Node 20 has no EventSource; a runtime that has one times out against the closed port instead.
  await assert.rejects(client.init({ timeoutMs: 1000 }), /no EventSource|within 1000 ms/);
  assert.equal(client.isEnabled('boot', 'u'), true);
  client.close();
  assert.equal(client.isEnabled('boot', 'u'), false);
});

test('typed flags: numbers compare by value, getters fall back to the default', () => {
  const store = new FlagStore();
  store.upsert({
    key: 'limit',
    type: 'number',
    is_enabled: true,
    variants: [
      { key: 'low', value: 10 },
      { key: 'high', value: 1000 },
    ],
    off_variant: 'low',
    fallthrough: { variant: 'low' },
    rules: [{ conditions: [{ attribute: 'age', operator: 'Gte', values: ['18.5'] }], serve: { variant: 'high' } }],
    version: 3,
  });
  assert.equal(store.getNumber('limit', 'u', { age: 18.75 }, -1), 1000);
  assert.equal(store.getNumber('limit', 'u', { age: 18.25 }, -1), 10);
  assert.deepEqual(store.evaluate('limit', 'u', { age: 19 }), {
    enabled: false,
    value: 1000,
    variant: 'high',
    reason: 'RULE_MATCH',
    ruleIndex: 0,
    bucket: null,
    version: 3,
  });
  assert.equal(store.getString('limit', 'u', null, 'd'), 'd');
  assert.equal(store.getNumber('missing', 'u', null, 7), 7);
  assert.equal(store.isEnabled('limit', 'u', { age: 30 }), false);
  store.free();
});
