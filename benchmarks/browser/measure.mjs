/**
 * Times `(userIndex) => boolean` functions: ns per call and the true-ratio. Every subject is given
 * each user's own attributes object (see scenarios.mjs). The figure is the median of all rounds,
 * the rounds interleaved across subjects: on a shared machine the best round would only tell who
 * happened to run during a quiet moment.
 */

const ROUNDS_PER_PASS = 3;
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
  for (let r = 0; r < ROUNDS_PER_PASS; r++) {
    const start = now();
    hits = loop(evaluate, users, iterations);
    samples.push(((now() - start) * 1e6) / iterations);
  }
  return { samples, trueRatio: hits / iterations };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Runs every subject over every scenario, the whole grid `passes` times (so a burst of load from
 * elsewhere cannot land on one subject only; a subject is set up afresh each pass because some
 * peers hold one global provider), and reports each cell's median over all its rounds. Returns
 * rows {subject, scenario, ns, rounds, trueRatio} or {subject, scenario, error}.
 */
export async function runAll(subjectList, scenarios, log = () => {}, passes = 5) {
  const cells = new Map();
  for (let pass = 0; pass < passes; pass++) {
    for (const subject of subjectList) {
      for (const scenario of scenarios) {
        const id = `${subject.name}|${scenario.id}`;
        const cell = cells.get(id) ?? { subject: subject.name, scenario: scenario.id, samples: [] };
        cells.set(id, cell);
        if (cell.error !== undefined) continue;
        try {
          const { evaluate, close } = await subject.setup(scenario);
          const { samples, trueRatio } = measure(evaluate, scenario.users.length);
          await close();
          cell.samples.push(...samples);
          cell.trueRatio = trueRatio;
          log({ pass, subject: subject.name, scenario: scenario.id, samples, trueRatio });
        } catch (error) {
          cell.error = String(error?.message ?? error);
          log({ pass, subject: subject.name, scenario: scenario.id, error: cell.error });
        }
      }
    }
  }
  return [...cells.values()].map(({ samples, ...cell }) =>
    cell.error !== undefined ? cell : { ...cell, ns: median(samples), rounds: samples.length },
  );
}
