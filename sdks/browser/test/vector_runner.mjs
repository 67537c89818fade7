/**
 * Runs the shared test vectors (tests/vectors, format in their README) against the browser SDK's
 * exports; the same code runs in Node and inside Chromium.
 */

function hexToBytes(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** Returns one message per hash case that disagrees. */
export function checkHashCases(sdk, cases) {
  const failures = [];
  for (const c of cases) {
    const got = sdk.murmur3_32(hexToBytes(c.input_hex), c.seed);
    if (got !== c.expected) failures.push(`${c.name}: murmur3_32 gave ${got}, want ${c.expected}`);
  }
  return failures;
}

function applyOperation(store, op, index, failures, name) {
  if (op.op === 'clear') {
    store.clear();
    return null;
  }
  if (op.op === 'delete') return store.delete(op.key, op.version ?? 0);
  if (op.error === undefined) return store.upsert(op.flag);
  const before = JSON.stringify(store.flags());
  try {
    store.upsert(op.flag);
    failures.push(`${name}: operation ${index} upsert should fail on ${op.error}`);
  } catch (error) {
    if (!String(error.message).startsWith(op.error)) {
      failures.push(`${name}: operation ${index} error "${error.message}" does not name ${op.error}`);
    }
  }
  if (JSON.stringify(store.flags()) !== before) {
    failures.push(`${name}: operation ${index} rejected upsert changed the store`);
  }
  return null;
}

/**
 * Cases whose difference lives only in the JSON text, which JSON.parse erases: 1000.0 is the
 * JavaScript number 1000. Named so every other case runs and a new such case fails until looked at.
 */
export const JSON_TEXT_ONLY = new Set(['Refused: a non-integer split weight']);

const GETTERS = { boolean: 'getBoolean', string: 'getString', number: 'getNumber', json: 'getJson' };

/** Returns one message per disagreement in one evaluation case, on a fresh store. */
export function checkEvaluationCase(sdk, testCase) {
  const failures = [];
  const name = testCase.name;
  const store = new sdk.FlagStore();
  try {
    testCase.operations.forEach((op, i) => {
      let applied;
      try {
        applied = applyOperation(store, op, i, failures, name);
      } catch (error) {
        failures.push(`${name}: operation ${i} threw ${error.message}`);
        return;
      }
      const want = testCase.applied?.[i];
      if (want !== undefined && want !== null && applied !== want) {
        failures.push(`${name}: operation ${i} applied=${applied}, want ${want}`);
      }
    });
    if (testCase.count !== undefined && store.size !== testCase.count) {
      failures.push(`${name}: size ${store.size}, want ${testCase.count}`);
    }
    for (const ev of testCase.evaluations ?? []) {
      const got = store.evaluate(ev.flag, ev.user_key, ev.attributes);
      // evaluation/ files state no variant: a version 1 flag serves "on" exactly when enabled.
      const found = ev.reason !== 'FLAG_NOT_FOUND';
      const want = {
        enabled: ev.enabled,
        value: 'value' in ev ? ev.value : found ? ev.enabled : null,
        variant: 'variant' in ev ? ev.variant : found ? (ev.enabled ? 'on' : 'off') : null,
        reason: ev.reason,
        ruleIndex: ev.rule_index,
        bucket: ev.bucket,
        version: ev.version,
      };
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        failures.push(
          `${name}: evaluate(${ev.flag}, ${ev.user_key}, ${JSON.stringify(ev.attributes)}) ` +
            `gave ${JSON.stringify(got)}, want ${JSON.stringify(want)}`,
        );
      }
      const enabled = store.isEnabled(ev.flag, ev.user_key, ev.attributes);
      if (enabled !== ev.enabled) {
        failures.push(`${name}: isEnabled(${ev.flag}, ${ev.user_key}) gave ${enabled}`);
      }
    }
    for (const g of testCase.getters ?? []) {
      const got = store[GETTERS[g.getter]](g.flag, g.user_key, g.attributes, g.default);
      if (JSON.stringify(got) !== JSON.stringify(g.expected)) {
        failures.push(
          `${name}: ${GETTERS[g.getter]}(${g.flag}, ${g.user_key}, ${JSON.stringify(g.attributes)}) ` +
            `gave ${JSON.stringify(got)}, want ${JSON.stringify(g.expected)}`,
        );
      }
    }
  } finally {
    store.free();
  }
  return failures;
}

/** Runs every case of every evaluation file; returns [caseCount, failures]. */
export function checkEvaluationFiles(sdk, files) {
  let count = 0;
  const failures = [];
  for (const [file, doc] of Object.entries(files)) {
    for (const testCase of doc.cases) {
      if (JSON_TEXT_ONLY.has(testCase.name)) continue;
      count++;
      for (const failure of checkEvaluationCase(sdk, testCase)) failures.push(`${file}: ${failure}`);
    }
  }
  return [count, failures];
}
