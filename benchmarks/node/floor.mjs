// floor.mjs — the floor: a Map of precompiled flags and MurmurHash3 in plain JavaScript.
//
// Not an SDK: the least work any in-process evaluator of these semantics must do, written
// tightly, so the table shows how much each SDK adds on top.

function murmur3Ascii(text) {
  // ASCII keys only (the benchmark's); enough for a floor.
  const length = text.length;
  let h = 0;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    let k =
      text.charCodeAt(i) |
      (text.charCodeAt(i + 1) << 8) |
      (text.charCodeAt(i + 2) << 16) |
      (text.charCodeAt(i + 3) << 24);
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
      k ^= text.charCodeAt(i + 2) << 16;
    // falls through
    case 2:
      k ^= text.charCodeAt(i + 1) << 8;
    // falls through
    case 1:
      k ^= text.charCodeAt(i);
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

const MATCHERS = {
  Equals: (value, values) => values.includes(value),
  NotEquals: (value, values) => !values.includes(value),
  Contains: (value, values) => values.some((v) => value.includes(v)),
  StartsWith: (value, values) => values.some((v) => value.startsWith(v)),
  EndsWith: (value, values) => values.some((v) => value.endsWith(v)),
};

export class FloorEvaluator {
  #flags = new Map();

  upsert(flag) {
    this.#flags.set(flag.key, {
      prefix: `${flag.key}:`,
      enabled: flag.is_enabled,
      rollout: flag.rollout_percentage ?? 100,
      rules: flag.rules.map((rule) => ({ ...rule, match: MATCHERS[rule.operator] })),
    });
  }

  isEnabled(key, user, attributes) {
    const flag = this.#flags.get(key);
    if (flag === undefined || !flag.enabled) return false;
    const rules = flag.rules;
    for (let i = 0; i < rules.length; i++) {
      const value = attributes[rules[i].attribute];
      if (typeof value === 'string' && rules[i].match(value, rules[i].values)) return true;
    }
    if (flag.rollout >= 100) return true;
    if (flag.rollout <= 0) return false;
    return murmur3Ascii(flag.prefix + user) % 100 < flag.rollout;
  }
}
