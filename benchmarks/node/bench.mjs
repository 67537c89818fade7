// bench.mjs — ns per flag evaluation in Node: the Sidekick addon and wasm core against peers.
//
// One process, one run, one table. Each (SDK, scenario) pair gets its own generated loop so no
// call site is shared between SDKs (a shared, megamorphic call site would tax whoever runs last).
// Each call passes that user's own attributes object (USERS[i], ATTRIBUTES[i]). The figure is the
// median of ROUNDS timed rounds after a warm-up, the rounds interleaved across every cell; "true"
// is the share of the 10,000 users for whom the flag was on, which shows every SDK computed the
// same scenario.
// Usage: node --expose-gc benchmarks/node/bench.mjs [--rounds N] [--only name,name]
import { ALL } from './peers.mjs';
import { ATTRIBUTES, SCENARIOS, USERS } from './scenarios.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index === -1 ? fallback : args[index + 1];
};
const ROUNDS = Number(option('--rounds', 25));
// Short rounds: on a shared machine a short round is likelier to catch a quiet moment.
const ROUND_MS = 25;
const only = option('--only', '').split(',').filter(Boolean);

function makeLoop(isAsync) {
  const body = isAsync
    ? 'return (async () => { let on = 0; for (let i = 0; i < n; i++) { const u = i % 10000; if (await fn(users[u], attributes[u])) on++; } return on; })();'
    : 'let on = 0; for (let i = 0; i < n; i++) { const u = i % 10000; if (fn(users[u], attributes[u])) on++; } return on;';
  return new Function('fn', 'users', 'attributes', 'n', body);
}

async function timeLoop(loop, fn, n) {
  // Collect the previous cell's garbage now, not inside this cell's timed loop.
  globalThis.gc?.();
  const start = process.hrtime.bigint();
  await loop(fn, USERS, ATTRIBUTES, n);
  return Number(process.hrtime.bigint() - start);
}

/** Warms one cell up and picks its iteration count so one round takes about ROUND_MS. */
async function prepare(sdk, scenario) {
  const fn = sdk.evaluators[scenario];
  const loop = makeLoop(sdk.async);
  const on = await loop(fn, USERS, ATTRIBUTES, USERS.length);
  let n = 1000;
  for (;;) {
    const ns = await timeLoop(loop, fn, n);
    if (ns >= ROUND_MS * 1e6 || n >= 1 << 26) {
      n = Math.max(1000, Math.round((n * ROUND_MS * 1e6) / ns));
      break;
    }
    n *= 2;
  }
  return { fn, loop, n, on: on / USERS.length, samples: [] };
}

const rows = [];
for (const setup of ALL) {
  if (only.length > 0 && !only.includes(setup.name)) continue;
  let sdk;
  try {
    sdk = await setup();
  } catch (error) {
    console.error(`${setup.name}: setup failed: ${error.message}`);
    continue;
  }
  if (sdk === null) {
    console.error(`${setup.name}: skipped (not built)`);
    continue;
  }
  const results = {};
  for (const { name } of SCENARIOS) results[name] = await prepare(sdk, name);
  rows.push({ sdk: sdk.name, results, close: sdk.close });
}
// Rounds go across every cell in turn, so a burst of load elsewhere on the machine lands on
// all SDKs alike; each cell reports its median round (the best round would flatter whoever
// happened to catch the quietest moment).
for (let round = 0; round < ROUNDS; round++) {
  for (const row of rows) {
    for (const cell of Object.values(row.results)) {
      cell.samples.push((await timeLoop(cell.loop, cell.fn, cell.n)) / cell.n);
    }
  }
  console.error(`round ${round + 1}/${ROUNDS}`);
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
for (const row of rows) {
  for (const cell of Object.values(row.results)) cell.ns = median(cell.samples);
  await row.close?.();
}

const reference = rows.find((row) => row.sdk.startsWith('Sidekick Node-API'));
const header = SCENARIOS.map((s) => `${s.name} ns (true)`);
console.log(`node ${process.version}, median of ${ROUNDS} interleaved rounds of ~${ROUND_MS} ms, ns per evaluation, each user's own attributes object`);
console.log(`S1..S4: ${SCENARIOS.map((s) => `${s.name} ${s.description}`).join('; ')}\n`);
console.log(`| SDK | ${header.join(' | ')} | × addon (S1/S2/S3/S4) |`);
console.log(`|---|${header.map(() => '---:').join('|')}|---|`);
for (const row of rows) {
  const cells = SCENARIOS.map(({ name }) => {
    const { ns, on } = row.results[name];
    return `${ns.toFixed(ns < 100 ? 1 : 0)} (${on.toFixed(2)})`;
  });
  const ratios = reference
    ? SCENARIOS.map(({ name }) => (row.results[name].ns / reference.results[name].ns).toFixed(1)).join(' / ')
    : '';
  console.log(`| ${row.sdk} | ${cells.join(' | ')} | ${ratios} |`);
}
process.exit(0);
