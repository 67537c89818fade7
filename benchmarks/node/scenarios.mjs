// scenarios.mjs — the four benchmark scenarios in Sidekick's wire format, and their inputs.
//
// S1 enabled, 100%, no rules; S2 50% rollout over 10,000 users; S3 five rules on
// email/plan/country that do not match, then 50%; S4 one EndsWith "@acme.com" rule that matches.

export const USERS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
// One attributes object per user, with that user's own values, as a server builds per request: a
// single shared object would let an SDK that caches its last-seen attributes skip the work.
const PLANS = ['pro', 'free', 'team'];
const COUNTRIES = ['DE', 'US', 'GB', 'FR'];
export const ATTRIBUTES = USERS.map((user, i) => ({
  email: `${user}@acme.com`,
  plan: PLANS[i % PLANS.length],
  country: COUNTRIES[i % COUNTRIES.length],
}));

export const S3_RULES = [
  { attribute: 'email', operator: 'EndsWith', values: ['@example.org'] },
  { attribute: 'plan', operator: 'Equals', values: ['enterprise'] },
  { attribute: 'country', operator: 'Equals', values: ['NZ'] },
  { attribute: 'email', operator: 'StartsWith', values: ['admin@'] },
  { attribute: 'plan', operator: 'Equals', values: ['internal'] },
];

export const SCENARIOS = [
  { name: 'S1', description: 'enabled, 100%, no rules',
    flag: { key: 's1', is_enabled: true, rollout_percentage: null, rules: [], version: 1 } },
  { name: 'S2', description: '50% rollout, 10,000 users',
    flag: { key: 's2', is_enabled: true, rollout_percentage: 50, rules: [], version: 1 } },
  { name: 'S3', description: 'five missed rules, then 50%',
    flag: { key: 's3', is_enabled: true, rollout_percentage: 50, rules: S3_RULES, version: 1 } },
  { name: 'S4', description: 'one EndsWith "@acme.com" hit',
    flag: { key: 's4', is_enabled: true, rollout_percentage: 0, version: 1,
      rules: [{ attribute: 'email', operator: 'EndsWith', values: ['@acme.com'] }] } },
];
