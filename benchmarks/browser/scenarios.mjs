/**
 * The four benchmark scenarios in Sidekick's wire format, their users, and the floor: the fastest
 * plain-JavaScript evaluator of the same semantics (a Map of precompiled flags, MurmurHash3 in JS).
 */

export const USER_COUNT = 10000;

const users = Array.from({ length: USER_COUNT }, (_, i) => `user-${i}`);
const plainAttributes = users.map((user, i) => ({
  email: `${user}@example.com`,
  plan: i % 3 === 0 ? 'pro' : 'free',
  country: i % 2 === 0 ? 'US' : 'GB',
}));
const acmeAttributes = users.map((user) => ({ email: `${user}@acme.com`, plan: 'pro', country: 'US' }));

/** Five rules on email/plan/country that none of the users match. */
const missedRules = [
  { attribute: 'email', operator: 'Equals', values: ['nobody@other.com'] },
  { attribute: 'plan', operator: 'Equals', values: ['enterprise'] },
  { attribute: 'country', operator: 'Equals', values: ['NZ', 'AU'] },
  { attribute: 'email', operator: 'EndsWith', values: ['@competitor.com'] },
  { attribute: 'plan', operator: 'StartsWith', values: ['gold'] },
];

export const SCENARIOS = [
  {
    id: 'S1',
    title: 'on, 100%, no rules',
    flag: { key: 's1_on', is_enabled: true, rollout_percentage: null, rules: [], version: 1 },
    users,
    attributes: plainAttributes,
  },
  {
    id: 'S2',
    title: '50% rollout, 10,000 users',
    flag: { key: 's2_rollout', is_enabled: true, rollout_percentage: 50, rules: [], version: 1 },
    users,
    attributes: plainAttributes,
  },
  {
    id: 'S3',
    title: 'five missed rules, then 50%',
    flag: { key: 's3_rules', is_enabled: true, rollout_percentage: 50, rules: missedRules, version: 1 },
    users,
    attributes: plainAttributes,
  },
  {
    id: 'S4',
    title: 'EndsWith "@acme.com" matches',
    flag: {
      key: 's4_acme',
      is_enabled: true,
      rollout_percentage: 0,
      rules: [{ attribute: 'email', operator: 'EndsWith', values: ['@acme.com'] }],
      version: 1,
    },
    users,
    attributes: acmeAttributes,
  },
];

const utf8 = new TextEncoder();

/** MurmurHash3 x86_32 of a string's UTF-8 bytes (ASCII read in place), seed 0, unsigned. */
export function murmur3(text) {
  for (let i = 0; i < text.length; i++) {
    // Non-ASCII: hash the UTF-8 bytes, carried as a string of byte-valued code units.
    if (text.charCodeAt(i) > 0x7f) return murmur3Bytes(String.fromCharCode(...utf8.encode(text)));
  }
  return murmur3Bytes(text);
}

function murmur3Bytes(s) {
  const length = s.length;
  const blocks = length & ~3;
  let h = 0;
  for (let i = 0; i < blocks; i += 4) {
    let k =
      s.charCodeAt(i) |
      (s.charCodeAt(i + 1) << 8) |
      (s.charCodeAt(i + 2) << 16) |
      (s.charCodeAt(i + 3) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (length & 3) {
    case 3:
      k ^= s.charCodeAt(blocks + 2) << 16;
    // falls through
    case 2:
      k ^= s.charCodeAt(blocks + 1) << 8;
    // falls through
    case 1:
      k ^= s.charCodeAt(blocks);
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function attributeString(value) {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isInteger(value)) {
    return Math.abs(value) < 2 ** 53 ? String(value) : BigInt(value).toString();
  }
  return undefined;
}

const MATCHERS = {
  Equals: (actual, values) => values.includes(actual),
  NotEquals: (actual, values) => !values.includes(actual),
  Contains: (actual, values) => values.some((v) => actual.includes(v)),
  StartsWith: (actual, values) => values.some((v) => actual.startsWith(v)),
  EndsWith: (actual, values) => values.some((v) => actual.endsWith(v)),
};

/** The floor: flags precompiled into a Map, evaluated in plain JavaScript. */
export class FloorStore {
  #flags = new Map();

  upsert(flag) {
    this.#flags.set(flag.key, {
      prefix: `${flag.key}:`,
      enabled: flag.is_enabled === true,
      rollout: flag.rollout_percentage ?? 100,
      rules: (flag.rules ?? []).map((rule) => ({
        attribute: rule.attribute,
        match: MATCHERS[rule.operator],
        values: rule.values,
      })),
    });
  }

  isEnabled(key, user, attributes) {
    const flag = this.#flags.get(key);
    if (flag === undefined || !flag.enabled) return false;
    const rules = flag.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      const actual = attributes == null ? undefined : attributeString(attributes[rule.attribute]);
      if (actual !== undefined && rule.match(actual, rule.values)) return true;
    }
    if (flag.rollout >= 100) return true;
    if (flag.rollout <= 0) return false;
    return murmur3(flag.prefix + user) % 100 < flag.rollout;
  }
}
