/** Runs the browser benchmark in Node: the wasm build, the floor and the browser peers. */
import { readFile } from 'node:fs/promises';

import * as sidekick from '../../sdks/browser/dist/index.js';
import { runAll } from './measure.mjs';
import { SCENARIOS } from './scenarios.mjs';
import { subjects } from './subjects.mjs';

export async function runInNode(log) {
  await sidekick.loadCore(await readFile(new URL('../../sdks/browser/dist/sidekick.wasm', import.meta.url)));
  return runAll(subjects(sidekick), SCENARIOS, log);
}
