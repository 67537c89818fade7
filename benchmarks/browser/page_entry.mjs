/** The browser benchmark inside a page: the same subjects and scenarios as in Node. */
import * as sidekick from '../../sdks/browser/dist/index.js';
import { runAll } from './measure.mjs';
import { SCENARIOS } from './scenarios.mjs';
import { subjects } from './subjects.mjs';

window.runBenchmarks = async (wasmUrl) => {
  await sidekick.loadCore(wasmUrl);
  return runAll(subjects(sidekick), SCENARIOS, (row) => console.log(JSON.stringify(row)));
};
window.benchReady = true;
