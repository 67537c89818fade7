// peers.mjs — each SDK under test, configured offline with the four scenarios.
//
// Every setup returns { name, async, evaluators: { S1: (user, attributes) => boolean, ... } }.
// Peers are configured the way their documentation says to run without a server; each one's
// own rules language expresses the same four scenarios.
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The floor is the browser benchmark's, so both benchmarks measure against the same evaluator.
import { FloorStore } from '../browser/scenarios.mjs';
import { SCENARIOS } from './scenarios.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const require = createRequire(import.meta.url);

function versionOf(name) {
  return JSON.parse(readFileSync(path.join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
}

function byScenario(make) {
  return Object.fromEntries(SCENARIOS.map((scenario) => [scenario.name, make(scenario)]));
}

export async function sidekickAddon() {
  const { FlagStore } = require(path.join(repo, 'sdks/node/dist/src/index.js'));
  const store = new FlagStore(SCENARIOS.map((scenario) => scenario.flag));
  return {
    name: 'Sidekick Node-API addon',
    async: false,
    evaluators: byScenario(({ flag }) => (user, attributes) => store.isEnabled(flag.key, user, attributes)),
  };
}

export async function sidekickWasm() {
  const dist = path.join(repo, 'sdks/browser/dist');
  if (!existsSync(path.join(dist, 'index.js'))) return null;
  const { loadCore, FlagStore } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  await loadCore(readFileSync(path.join(dist, 'sidekick.wasm')));
  const store = new FlagStore();
  for (const { flag } of SCENARIOS) store.upsert(flag);
  return {
    name: 'Sidekick wasm32 core in Node',
    async: false,
    evaluators: byScenario(({ flag }) => (user, attributes) => store.isEnabled(flag.key, user, attributes)),
  };
}

export async function floor() {
  const evaluator = new FloorStore();
  for (const { flag } of SCENARIOS) evaluator.upsert(flag);
  return {
    name: 'floor: pure-JS Map + murmur3',
    async: false,
    evaluators: byScenario(({ flag }) => (user, attributes) => evaluator.isEnabled(flag.key, user, attributes)),
  };
}

const UNLEASH_OPERATORS = { Equals: 'IN', EndsWith: 'STR_ENDS_WITH', StartsWith: 'STR_STARTS_WITH' };

export async function unleash() {
  const { Unleash, InMemStorageProvider } = require('unleash-client');
  const features = SCENARIOS.map(({ flag }) => {
    const strategies = flag.rules.map((rule) => ({
      name: 'default',
      parameters: {},
      constraints: [
        { contextName: rule.attribute, operator: UNLEASH_OPERATORS[rule.operator], values: rule.values },
      ],
    }));
    if (flag.rollout_percentage !== 0) {
      strategies.push({
        name: 'flexibleRollout',
        parameters: { rollout: String(flag.rollout_percentage ?? 100), stickiness: 'userId', groupId: flag.key },
        constraints: [],
      });
    }
    return { name: flag.key, enabled: flag.is_enabled, strategies };
  });
  const client = new Unleash({
    appName: 'sidekick-bench',
    url: 'http://127.0.0.1:9/api/',
    refreshInterval: 0,
    disableMetrics: true,
    bootstrap: { data: features },
    storageProvider: new InMemStorageProvider(),
  });
  client.on('error', () => {});
  client.on('warn', () => {});
  await new Promise((resolve) => client.once('ready', resolve));
  return {
    name: `unleash-client ${versionOf('unleash-client')}`,
    async: false,
    close: () => client.destroy(),
    evaluators: byScenario(({ flag }) => (user, attributes) =>
      client.isEnabled(flag.key, { userId: user, properties: attributes })),
  };
}

function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const GROWTHBOOK_CONDITIONS = {
  Equals: (values) => ({ $in: values }),
  EndsWith: (values) => ({ $regex: `(${values.map(escapeRegex).join('|')})$` }),
  StartsWith: (values) => ({ $regex: `^(${values.map(escapeRegex).join('|')})` }),
};

export async function growthbook() {
  const { GrowthBookClient } = require('@growthbook/growthbook');
  const features = Object.fromEntries(
    SCENARIOS.map(({ flag }) => {
      const rules = flag.rules.map((rule) => ({
        condition: { [rule.attribute]: GROWTHBOOK_CONDITIONS[rule.operator](rule.values) },
        force: true,
      }));
      const rollout = flag.rollout_percentage ?? 100;
      if (rollout > 0 && rollout < 100) rules.push({ force: true, coverage: rollout / 100, hashAttribute: 'id' });
      return [flag.key, { defaultValue: rollout >= 100, rules }];
    }),
  );
  const client = new GrowthBookClient().initSync({ payload: { features } });
  return {
    name: `@growthbook/growthbook ${versionOf('@growthbook/growthbook')} (GrowthBookClient)`,
    async: false,
    evaluators: byScenario(({ flag }) => (user, attributes) =>
      client.isOn(flag.key, { attributes: { id: user, ...attributes } })),
  };
}

const LD_OPERATORS = { Equals: 'in', EndsWith: 'endsWith', StartsWith: 'startsWith' };

export async function launchdarkly() {
  const ld = require('@launchdarkly/node-server-sdk');
  const testData = new ld.integrations.TestData();
  for (const { flag } of SCENARIOS) {
    const rollout = flag.rollout_percentage ?? 100;
    testData.usePreconfiguredFlag({
      key: flag.key,
      version: 1,
      on: flag.is_enabled,
      variations: [true, false],
      offVariation: 1,
      targets: [],
      prerequisites: [],
      salt: flag.key,
      rules: flag.rules.map((rule, index) => ({
        id: `r${index}`,
        variation: 0,
        clauses: [{ attribute: rule.attribute, op: LD_OPERATORS[rule.operator], values: rule.values, negate: false }],
      })),
      fallthrough:
        rollout >= 100
          ? { variation: 0 }
          : rollout <= 0
            ? { variation: 1 }
            : { rollout: { variations: [{ variation: 0, weight: rollout * 1000 }, { variation: 1, weight: (100 - rollout) * 1000 }] } },
    });
  }
  const silent = { error() {}, warn() {}, info() {}, debug() {} };
  const client = ld.init('sdk-bench-offline', {
    updateProcessor: testData.getFactory(),
    sendEvents: false,
    diagnosticOptOut: true,
    logger: silent,
  });
  await client.waitForInitialization({ timeout: 10 });
  return {
    name: `@launchdarkly/node-server-sdk ${versionOf('@launchdarkly/node-server-sdk')} (TestData)`,
    async: true,
    close: () => client.close(),
    evaluators: byScenario(({ flag }) => (user, attributes) =>
      client.variation(flag.key, { kind: 'user', key: user, ...attributes }, false)),
  };
}

const FLIPT_OPERATORS = { Equals: 'eq', EndsWith: 'suffix', StartsWith: 'prefix' };

export async function flipt() {
  const { FliptClient } = require('@flipt-io/flipt-client-js');
  const flags = SCENARIOS.map(({ flag }) => {
    const rollouts = flag.rules.map((rule, index) => ({
      type: 'SEGMENT_ROLLOUT_TYPE',
      rank: index + 1,
      segment: {
        value: true,
        segmentOperator: 'OR_SEGMENT_OPERATOR',
        segments: [
          {
            key: `${flag.key}-r${index}`,
            matchType: 'ALL_SEGMENT_MATCH_TYPE',
            constraints: [
              { type: 'STRING_CONSTRAINT_COMPARISON_TYPE', property: rule.attribute, operator: FLIPT_OPERATORS[rule.operator], value: rule.values[0] },
            ],
          },
        ],
      },
    }));
    const rollout = flag.rollout_percentage ?? 100;
    if (rollout > 0 && rollout < 100) {
      rollouts.push({ type: 'THRESHOLD_ROLLOUT_TYPE', rank: rollouts.length + 1, threshold: { percentage: rollout, value: true } });
    }
    return {
      key: flag.key,
      name: flag.key,
      description: '',
      enabled: rollout >= 100,
      type: 'BOOLEAN_FLAG_TYPE',
      rules: [],
      rollouts,
    };
  });
  const state = JSON.stringify({ namespace: { key: 'default' }, flags });
  // Flipt's engine loads the snapshot its server would serve; this fetcher serves it from memory.
  const fetcher = async () => new Response(state, { status: 200, headers: { 'content-type': 'application/json', etag: '"1"' } });
  const client = await FliptClient.init({ namespace: 'default', url: 'http://127.0.0.1:9', fetcher, updateInterval: 86_400 });
  return {
    name: `@flipt-io/flipt-client-js ${versionOf('@flipt-io/flipt-client-js')} (wasm engine)`,
    async: false,
    close: () => client.close?.(),
    evaluators: byScenario(({ flag }) => (user, attributes) =>
      client.evaluateBoolean({ flagKey: flag.key, entityId: user, context: attributes }).enabled),
  };
}

export async function openfeature() {
  const { OpenFeature, InMemoryProvider } = require('@openfeature/server-sdk');
  // The in-memory provider has no rules or rollouts of its own: its contextEvaluator hook runs
  // the floor's JavaScript evaluator, so this row is the floor plus OpenFeature's overhead.
  const evaluator = new FloorStore();
  const config = {};
  for (const { flag } of SCENARIOS) {
    evaluator.upsert(flag);
    config[flag.key] = {
      variants: { on: true, off: false },
      defaultVariant: 'off',
      disabled: false,
      contextEvaluator: (context) => (evaluator.isEnabled(flag.key, context.targetingKey, context) ? 'on' : 'off'),
    };
  }
  await OpenFeature.setProviderAndWait(new InMemoryProvider(config));
  const client = OpenFeature.getClient();
  return {
    name: `@openfeature/server-sdk ${versionOf('@openfeature/server-sdk')} (InMemoryProvider)`,
    async: true,
    close: () => OpenFeature.close(),
    evaluators: byScenario(({ flag }) => (user, attributes) =>
      client.getBooleanValue(flag.key, false, { targetingKey: user, ...attributes })),
  };
}

export const ALL = [sidekickAddon, sidekickWasm, floor, unleash, growthbook, launchdarkly, flipt, openfeature];
