/**
 * `make bench-browser`: ns per evaluation for S1-S4, the wasm SDK against the floor and the
 * browser peers, in Node and in headless Chromium (Debian's, driven by playwright-core), printed
 * as one Markdown table.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';

import { build } from 'esbuild';

// The SDK's Chromium suites' launcher: both run the same headless Chromium with the same flags.
import { launchChromium } from '../../sdks/browser/test/harness.mjs';
import { runInNode } from './node_entry.mjs';
import { SCENARIOS } from './scenarios.mjs';
import { subjects as subjectList } from './subjects.mjs';

const here = new URL('./', import.meta.url);
const wasmFile = new URL('../../sdks/browser/dist/sidekick.wasm', import.meta.url);

async function bundlePage() {
  const result = await build({
    entryPoints: [new URL('page_entry.mjs', here).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  });
  return result.outputFiles[0].contents;
}

async function runInChromium() {
  const bundle = await bundlePage();
  const wasm = await readFile(wasmFile);
  const page = '<!doctype html><meta charset="utf-8"><script type="module" src="/bench.js"></script>';
  const server = createServer((request, response) => {
    const routes = {
      '/': ['text/html', page],
      '/bench.js': ['text/javascript', bundle],
      '/sidekick.wasm': ['application/wasm', wasm],
    };
    const route = routes[new URL(request.url, 'http://127.0.0.1').pathname];
    if (route === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': route[0] }).end(route[1]);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launchChromium();
  try {
    const tab = await browser.newPage();
    tab.on('console', (message) => process.stderr.write(`  chromium ${message.text()}\n`));
    await tab.goto(`${origin}/`);
    await tab.waitForFunction(() => window.benchReady === true, null, { timeout: 60000 });
    const version = browser.version();
    const rows = await tab.evaluate((url) => window.runBenchmarks(url), `${origin}/sidekick.wasm`);
    return { rows, version };
  } finally {
    await browser.close();
    server.close();
  }
}

function table(title, rows) {
  const subjects = [...new Set(rows.map((row) => row.subject))];
  const cell = (subject, scenario) => {
    const row = rows.find((r) => r.subject === subject && r.scenario === scenario);
    if (row === undefined) return '—';
    if (row.error) return `error: ${row.error.slice(0, 60)}`;
    return `${row.ns.toFixed(row.ns < 100 ? 1 : 0)} (${row.trueRatio.toFixed(2)})`;
  };
  const ours = rows.filter((row) => row.subject.startsWith('Sidekick'));
  const ratio = (subject, scenario) => {
    const mine = ours.find((r) => r.scenario === scenario);
    const theirs = rows.find((r) => r.subject === subject && r.scenario === scenario);
    if (!mine?.ns || !theirs?.ns) return '—';
    return `${(theirs.ns / mine.ns).toFixed(1)}×`;
  };
  const rounds = Math.max(0, ...rows.map((row) => row.rounds ?? 0));
  const lines = [
    `### ${title}`,
    '',
    `Median of ${rounds} rounds per cell (interleaved across subjects), each user with its own attributes object.`,
    '',
    `ns per evaluation (true-ratio) | ${SCENARIOS.map((s) => `${s.id}: ${s.title}`).join(' | ')}`,
    `---|${SCENARIOS.map(() => '---:').join('|')}`,
  ];
  for (const subject of subjects) lines.push(`${subject} | ${SCENARIOS.map((s) => cell(subject, s.id)).join(' | ')}`);
  lines.push('', `time relative to Sidekick wasm | ${SCENARIOS.map((s) => s.id).join(' | ')}`);
  lines.push(`---|${SCENARIOS.map(() => '---:').join('|')}`);
  // A subject that does not evaluate (it looks up a server's answer) gets no ratio.
  const evaluating = subjectList({}).filter((s) => !s.lookupOnly).map((s) => s.name);
  for (const subject of subjects.filter((s) => !s.startsWith('Sidekick') && evaluating.includes(s))) {
    lines.push(`${subject} | ${SCENARIOS.map((s) => ratio(subject, s.id)).join(' | ')}`);
  }
  return lines.join('\n');
}

function notes() {
  const lines = ['', 'what each subject does | ', '---|---'];
  for (const subject of subjectList({})) lines.push(`${subject.name} | ${subject.note}`);
  return lines.join('\n');
}

const log = (row) => process.stderr.write(`  ${JSON.stringify(row)}\n`);
process.stderr.write(`Node ${process.version}\n`);
const nodeRows = await runInNode(log);
process.stderr.write('Chromium\n');
const { rows: chromiumRows, version } = await runInChromium();
console.log(table(`Node ${process.version} (WebAssembly in V8)`, nodeRows));
console.log('');
console.log(table(`Chromium ${version} (headless)`, chromiumRows));
console.log(notes());
process.exit(0);
