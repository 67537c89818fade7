/**
 * Times `(userIndex) => boolean` functions: ns per call and the true-ratio. The figure is the best
 * of several rounds: on a shared machine the slower rounds measure the neighbours, not the code.
 */

const ROUNDS = 5;
const ROUND_MS = 150;

// One loop per subject (a fresh function each), so every call site stays monomorphic.
function makeLoop() {
  // eslint-disable-next-line no-new-func
  return new Function(
    'evaluate',
    'users',
    'iterations',
    `let hits = 0;
     let u = 0;
     for (let n = 0; n < iterations; n++) {
       if (evaluate(u) === true) hits++;
       if (++u === users) u = 0;
     }
     return hits;`,
  );
}

const now = () => performance.now();

export function measure(evaluate, users) {
  const loop = makeLoop();
  loop(evaluate, users, 20000); // warm-up: let the JIT settle
  let probe = 2000;
  let elapsed = 0;
  while (elapsed < 20) {
    probe *= 2;
    const start = now();
    loop(evaluate, users, probe);
    elapsed = now() - start;
  }
  const iterations = Math.max(users, Math.round((probe * ROUND_MS) / elapsed));
  const samples = [];
  let hits = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const start = now();
    hits = loop(evaluate, users, iterations);
    samples.push(((now() - start) * 1e6) / iterations);
  }
  samples.sort((a, b) => a - b);
  return { ns: samples[0], median: samples[Math.floor(ROUNDS / 2)], trueRatio: hits / iterations };
}

/**
 * Runs every subject over every scenario, the whole grid `passes` times (so a burst of load from
 * elsewhere cannot land on one subject only), keeping each cell's best pass. Returns rows
 * {subject, scenario, ns, median, trueRatio} or {subject, scenario, error}.
 */
export async function runAll(subjectList, scenarios, log = () => {}, passes = 3) {
  const best = new Map();
  for (let pass = 0; pass < passes; pass++) {
    for (const subject of subjectList) {
      for (const scenario of scenarios) {
        const id = `${subject.name}|${scenario.id}`;
        let row;
        try {
          const { evaluate, close } = await subject.setup(scenario);
          row = { subject: subject.name, scenario: scenario.id, ...measure(evaluate, scenario.users.length) };
          await close();
        } catch (error) {
          row = { subject: subject.name, scenario: scenario.id, error: String(error?.message ?? error) };
        }
        log({ pass, ...row });
        const previous = best.get(id);
        if (previous === undefined || (row.ns !== undefined && !(previous.ns <= row.ns))) best.set(id, row);
      }
    }
  }
  return [...best.values()];
}
