/** Every shared vector through the wasm core in Node's WebAssembly. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, test } from 'node:test';

import * as sdk from '../dist/index.js';
import { checkEvaluationFiles, checkHashCases } from './vector_runner.mjs';
import { loadEvaluationVectors, loadHashVectors } from './vectors_load.mjs';

before(async () => {
  await sdk.loadCore(await readFile(new URL('../dist/sidekick.wasm', import.meta.url)));
});

test('hash vectors', async () => {
  const doc = await loadHashVectors();
  assert.ok(doc.cases.length > 0);
  assert.deepEqual(checkHashCases(sdk, doc.cases), []);
});

test('evaluation vectors (hand-written, generated and typed)', async () => {
  const files = await loadEvaluationVectors();
  assert.ok(Object.keys(files).includes('typed/validation.json'), 'typed/ vectors are loaded');
  const [count, failures] = checkEvaluationFiles(sdk, files);
  assert.ok(count >= 100, `only ${count} cases found`);
  assert.deepEqual(failures.slice(0, 20), []);
});
