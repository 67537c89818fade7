/**
 * Everything the browser benchmark measures, each set up offline for one scenario and returning
 * `(userIndex) => boolean`. Peers are configured with the closest equivalent of each scenario.
 */
import { FliptClient } from '@flipt-io/flipt-client-js';
import { GrowthBookClient } from '@growthbook/growthbook';
import { InMemoryProvider, OpenFeature } from '@openfeature/web-sdk';
import { UnleashClient } from 'unleash-proxy-client';

import { FloorStore } from './scenarios.mjs';

/** GrowthBook: feature rules with Mongo-style conditions; a forced rule with coverage for %. */
function growthbookFeature(flag) {
  const condition = (rule) => {
    const [first] = rule.values;
    switch (rule.operator) {
      case 'Equals':
        return { [rule.attribute]: rule.values.length === 1 ? first : { $in: rule.values } };
      case 'EndsWith':
        return { [rule.attribute]: { $regex: `${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` } };
      case 'StartsWith':
        return { [rule.attribute]: { $regex: `^${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` } };
      default:
        throw new Error(`no GrowthBook mapping for ${rule.operator}`);
    }
  };
  const rules = flag.rules.map((rule) => ({ condition: condition(rule), force: true }));
  const rollout = flag.rollout_percentage ?? 100;
  if (rollout >= 100) return { defaultValue: true, rules };
  if (rollout > 0) rules.push({ force: true, coverage: rollout / 100, hashAttribute: 'id' });
  return { defaultValue: false, rules };
}

/** Flipt's evaluation snapshot (the document its client fetches) for one boolean flag. */
function fliptSnapshot(flag) {
  const operators = { Equals: 'eq', StartsWith: 'prefix', EndsWith: 'suffix' };
  const rollouts = [];
  flag.rules.forEach((rule, i) => {
    const constraints = rule.values.map((value) => ({
      type: 'STRING_CONSTRAINT_COMPARISON_TYPE',
      property: rule.attribute,
      operator: operators[rule.operator],
      value,
    }));
    rollouts.push({
      type: 'SEGMENT_ROLLOUT_TYPE',
      rank: rollouts.length + 1,
      segment: {
        value: true,
        segmentOperator: 'OR_SEGMENT_OPERATOR',
        // One segment per value, any of them matching: Sidekick's "any listed value".
        segments: constraints.map((constraint, j) => ({
          key: `rule${i}_${j}`,
          matchType: 'ALL_SEGMENT_MATCH_TYPE',
          constraints: [constraint],
        })),
      },
    });
  });
  const rollout = flag.rollout_percentage ?? 100;
  if (rollout > 0 && rollout < 100) {
    rollouts.push({
      type: 'THRESHOLD_ROLLOUT_TYPE',
      rank: rollouts.length + 1,
      threshold: { percentage: rollout, value: true },
    });
  }
  return {
    namespace: { key: 'default' },
    flags: [
      {
        key: flag.key,
        name: flag.key,
        description: '',
        // A boolean flag answers `enabled` when no rollout applies.
        enabled: rollout >= 100,
        type: 'BOOLEAN_FLAG_TYPE',
        rules: [],
        rollouts,
      },
    ],
  };
}

/**
 * The subjects. `sidekick` is the SDK module (already loaded: loadCore done). Each entry:
 * { name, note, setup: async (scenario) => ({ evaluate, close }) }.
 */
export function subjects(sidekick) {
  return [
    {
      name: 'Sidekick wasm (this SDK)',
      note: 'FlagStore.isEnabled: the C core in WebAssembly',
      async setup(s) {
        const store = new sidekick.FlagStore();
        store.upsert(s.flag);
        const { users, attributes } = s;
        const key = s.flag.key;
        return { evaluate: (i) => store.isEnabled(key, users[i], attributes[i]), close: () => store.free() };
      },
    },
    {
      name: 'floor: Map + JS MurmurHash3',
      note: 'plain JavaScript evaluator of the same semantics',
      async setup(s) {
        const store = new FloorStore();
        store.upsert(s.flag);
        const { users, attributes } = s;
        const key = s.flag.key;
        return { evaluate: (i) => store.isEnabled(key, users[i], attributes[i]), close() {} };
      },
    },
    {
      name: '@growthbook/growthbook',
      note: 'GrowthBookClient.isOn(key, {attributes}) — local evaluation, FNV hash',
      async setup(s) {
        const gb = new GrowthBookClient();
        gb.initSync({ payload: { features: { [s.flag.key]: growthbookFeature(s.flag) } } });
        const contexts = s.users.map((id, i) => ({ attributes: { id, ...s.attributes[i] } }));
        const key = s.flag.key;
        return { evaluate: (i) => gb.isOn(key, contexts[i]), close: () => gb.destroy?.() };
      },
    },
    {
      name: '@flipt-io/flipt-client-js',
      note: "Flipt's Rust engine in WebAssembly, offline snapshot through a custom fetcher",
      async setup(s) {
        const body = JSON.stringify(fliptSnapshot(s.flag));
        const client = await FliptClient.init({
          namespace: 'default',
          url: 'http://127.0.0.1:9',
          updateInterval: 3600,
          fetcher: async () =>
            new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }),
        });
        const key = s.flag.key;
        const { users, attributes } = s;
        return {
          evaluate: (i) =>
            client.evaluateBoolean({ flagKey: key, entityId: users[i], context: attributes[i] }).enabled,
          close: () => client.close?.(),
        };
      },
    },
    {
      name: '@openfeature/web-sdk InMemoryProvider',
      note: 'getBooleanValue; the contextEvaluator is the floor evaluator (context swapped in place)',
      async setup(s) {
        const floor = new FloorStore();
        floor.upsert(s.flag);
        const key = s.flag.key;
        await OpenFeature.setProviderAndWait(
          new InMemoryProvider({
            [key]: {
              variants: { on: true, off: false },
              defaultVariant: 'off',
              disabled: false,
              contextEvaluator: (ctx) => (floor.isEnabled(key, ctx.targetingKey, ctx.attributes) ? 'on' : 'off'),
            },
          }),
        );
        await OpenFeature.setContext({ targetingKey: '' });
        // The web SDK holds one static context; setContext is async (it re-runs providers), so
        // the benchmark swaps the user inside the held context object to measure evaluation only.
        const context = OpenFeature.getContext();
        const client = OpenFeature.getClient();
        const { users, attributes } = s;
        return {
          evaluate: (i) => {
            context.targetingKey = users[i];
            context.attributes = attributes[i];
            return client.getBooleanValue(key, false);
          },
          close: () => OpenFeature.clearProviders(),
        };
      },
    },
    {
      name: 'unleash-proxy-client',
      note: 'no local evaluation: looks up the answer Unleash computed server-side for ONE context (true-ratio 1.00 everywhere); a new user is a network round trip',
      lookupOnly: true,
      async setup(s) {
        const client = new UnleashClient({
          url: 'http://127.0.0.1:9/api/frontend',
          clientKey: 'offline',
          appName: 'bench',
          disableRefresh: true,
          disableMetrics: true,
          bootstrap: [
            { name: s.flag.key, enabled: true, variant: { name: 'disabled', enabled: false }, impressionData: false },
          ],
        });
        await client.ready;
        const key = s.flag.key;
        return { evaluate: () => client.isEnabled(key), close: () => client.stop() };
      },
    },
  ];
}
