/**
 * The browser SDK in headless Chromium: every shared vector, and a page that follows a REAL
 * Sidekick server over EventSource with a client key (which must not be able to write).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { PAGE, launchChromium, rest, startSidekickServer, startStaticServer } from './harness.mjs';
import { loadEvaluationVectors, loadHashVectors } from './vectors_load.mjs';

let server = null;
let statics;
let browser;

before(async () => {
  statics = await startStaticServer(() => server.url);
  // allSettled, not all: when one fails, the other must still be kept so that after() stops it
  // (a Chromium left running keeps node --test alive forever).
  const [started, launched] = await Promise.allSettled([
    startSidekickServer(statics.origin),
    launchChromium(),
  ]);
  server = started.status === 'fulfilled' ? started.value : null;
  browser = launched.status === 'fulfilled' ? launched.value : null;
  for (const outcome of [started, launched]) {
    if (outcome.status === 'rejected') throw outcome.reason;
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await statics?.close();
});

async function openPage() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${statics.origin}${PAGE}`);
  await page.waitForFunction(() => window.pageReady === true, null, { timeout: 20000 });
  assert.deepEqual(errors, []);
  return page;
}

test('every shared vector passes inside Chromium', async () => {
  const page = await openPage();
  const hash = await loadHashVectors();
  const files = await loadEvaluationVectors();
  const result = await page.evaluate(
    async ({ hashCases, evaluationFiles }) => {
      await window.sidekick.loadCore();
      const hashFailures = window.vectors.checkHashCases(window.sidekick, hashCases);
      const [count, failures] = window.vectors.checkEvaluationFiles(window.sidekick, evaluationFiles);
      return { hashFailures, count, failures: failures.slice(0, 20) };
    },
    { hashCases: hash.cases, evaluationFiles: files },
  );
  assert.deepEqual(result.hashFailures, []);
  assert.ok(result.count >= 100, `only ${result.count} cases ran`);
  assert.deepEqual(result.failures, []);
  await page.close();
});

test('a page follows the server: replay, then a REST write flips isEnabled within a second', async (t) => {
  const created = await rest(server, server.admin_key, 'POST', '/api/flags', {
    key: 'browser_e2e',
    is_enabled: false,
    client_side: true, // the page reads it with a client key
    rules: [{ attribute: 'email', operator: 'EndsWith', values: ['@acme.com'] }],
  });
  assert.ok([200, 201].includes(created.status), JSON.stringify(created));

  const page = await openPage();
  const initial = await page.evaluate(
    async ({ url, key }) => {
      window.changes = [];
      window.client = new window.sidekick.SidekickBrowserClient(url, key, {
        onChange: (keys) => window.changes.push(...keys),
      });
      await window.client.init({ timeoutMs: 20000 });
      return {
        off: window.client.isEnabled('browser_e2e', 'u1', { email: 'a@acme.com' }),
        version: window.client.evaluate('browser_e2e', 'u1').version,
      };
    },
    { url: server.url, key: server.client_key },
  );
  assert.deepEqual(initial, { off: false, version: created.body.version });

  const started = performance.now();
  const flip = await rest(server, server.admin_key, 'PATCH', '/api/flags/browser_e2e', { is_enabled: true });
  assert.equal(flip.status, 200, JSON.stringify(flip));
  // One second from the write's response, as the issue asks.
  await page.waitForFunction(
    () => window.client.isEnabled('browser_e2e', 'u1', { email: 'a@acme.com' }),
    null,
    { timeout: 1000, polling: 10 },
  );
  t.diagnostic(`REST PATCH sent to isEnabled flipped in the page: ${Math.round(performance.now() - started)} ms`);
  const evaluation = await page.evaluate(() =>
    window.client.evaluate('browser_e2e', 'u1', { email: 'a@acme.com' }),
  );
  assert.deepEqual(evaluation, {
    enabled: true,
    reason: 'RULE_MATCH',
    ruleIndex: 0,
    bucket: null,
    version: flip.body.version,
  });

  const removed = await rest(server, server.admin_key, 'DELETE', '/api/flags/browser_e2e');
  assert.equal(removed.status, 204);
  await page.waitForFunction(
    () => window.client.evaluate('browser_e2e', 'u1').reason === 'FLAG_NOT_FOUND',
    null,
    { timeout: 5000, polling: 10 },
  );
  const changes = await page.evaluate(() => window.changes);
  assert.ok(changes.filter((key) => key === 'browser_e2e').length >= 2, JSON.stringify(changes));
  await page.evaluate(() => window.client.close());
  await page.close();
});

test('the client key in a page cannot write through the REST API', async () => {
  const created = await rest(server, server.admin_key, 'POST', '/api/flags', {
    key: 'browser_guarded',
    is_enabled: false,
  });
  assert.ok([200, 201].includes(created.status), JSON.stringify(created));
  const page = await openPage();
  const attempts = await page.evaluate(
    async ({ url, key }) => {
      const body = JSON.stringify({ key: 'browser_guarded', is_enabled: true });
      const json = { 'Content-Type': 'application/json' };
      const tries = {
        // Same origin through the test's proxy: the server's real answer is readable.
        proxiedBearer: ['/proxy/api/flags', { method: 'POST', headers: { ...json, Authorization: `Bearer ${key}` }, body }],
        proxiedQuery: [`/proxy/api/flags?sdk_key=${key}`, { method: 'POST', headers: json, body }],
        proxiedPatch: ['/proxy/api/flags/browser_guarded', { method: 'PATCH', headers: { ...json, Authorization: `Bearer ${key}` }, body }],
        proxiedDelete: ['/proxy/api/flags/browser_guarded', { method: 'DELETE', headers: { Authorization: `Bearer ${key}` } }],
        // Cross-origin straight to the server, as an attacker's page would.
        direct: [`${url}/api/flags`, { method: 'POST', headers: { ...json, Authorization: `Bearer ${key}` }, body }],
      };
      const results = {};
      for (const [name, [target, init]] of Object.entries(tries)) {
        try {
          results[name] = (await fetch(target, init)).status;
        } catch (error) {
          results[name] = `blocked: ${error.name}`;
        }
      }
      return results;
    },
    { url: server.url, key: server.client_key },
  );
  for (const name of ['proxiedBearer', 'proxiedQuery', 'proxiedPatch', 'proxiedDelete']) {
    assert.ok([401, 403].includes(attempts[name]), `${name}: ${JSON.stringify(attempts)}`);
  }
  assert.ok(
    [401, 403].includes(attempts.direct) || String(attempts.direct).startsWith('blocked'),
    JSON.stringify(attempts),
  );
  const after = await rest(server, server.admin_key, 'GET', '/api/flags/browser_guarded');
  assert.equal(after.status, 200);
  assert.equal(after.body.is_enabled, false);
  assert.equal(after.body.version, created.body.version);
  await page.close();
});

test('a page keeps its last-known flags while cut off, then reconnects and re-bootstraps', async () => {
  const created = await rest(server, server.admin_key, 'POST', '/api/flags', {
    key: 'browser_reconnect',
    is_enabled: true,
    client_side: true,
    rollout_percentage: 100,
  });
  assert.ok([200, 201].includes(created.status), JSON.stringify(created));
  const page = await openPage();
  // The stream goes through the test's proxy so the test can take it away.
  await page.evaluate(
    async ({ url, key }) => {
      window.problems = [];
      window.client = new window.sidekick.SidekickBrowserClient(url, key, {
        initialBackoffMs: 100,
        maxBackoffMs: 1000,
        onError: (error) => window.problems.push(error.message),
      });
      await window.client.init({ timeoutMs: 20000 });
    },
    { url: `${statics.origin}/proxy`, key: server.client_key },
  );
  assert.equal(await page.evaluate(() => window.client.isEnabled('browser_reconnect', 'u')), true);

  statics.refuseStreams(true);
  statics.cutStreams();
  // EventSource retries, meets a 503, gives up (CLOSED): the client's own back-off takes over.
  await page.waitForFunction(
    () => window.problems.some((message) => message.includes('reconnecting')),
    null,
    { timeout: 20000, polling: 50 },
  );
  const changed = await rest(server, server.admin_key, 'PATCH', '/api/flags/browser_reconnect', {
    is_enabled: false,
  });
  assert.equal(changed.status, 200);
  assert.equal(
    await page.evaluate(() => window.client.isEnabled('browser_reconnect', 'u')),
    true,
    'while cut off the page answers from its last-known flags',
  );

  statics.refuseStreams(false);
  await page.waitForFunction(() => !window.client.isEnabled('browser_reconnect', 'u'), null, {
    timeout: 20000,
    polling: 20,
  });
  assert.equal(
    await page.evaluate(() => window.client.evaluate('browser_reconnect', 'u').version),
    changed.body.version,
  );
  await page.evaluate(() => window.client.close());
  await page.close();
});

test('with no server a page answers from its bootstrap; init times out and close() settles it', async () => {
  const page = await openPage();
  const outcome = await page.evaluate(async () => {
    await window.sidekick.loadCore();
    const bootstrap = [{ key: 'boot', is_enabled: true, rules: [], version: 3 }];
    const unreachable = 'http://127.0.0.1:9';
    const client = new window.sidekick.SidekickBrowserClient(unreachable, 'sk_client_x', {
      bootstrap,
      initialBackoffMs: 50,
      maxBackoffMs: 200,
    });
    const before = client.isEnabled('boot', 'u');
    let timeout = null;
    await client.init({ timeoutMs: 500 }).catch((error) => {
      timeout = error.message;
    });
    const during = client.evaluate('boot', 'u');
    const pending = client.init({ timeoutMs: 60000 }).then(
      () => 'resolved',
      (error) => error.message,
    );
    client.close();
    return { before, timeout, during, closed: await pending, after: client.isEnabled('boot', 'u') };
  });
  assert.equal(outcome.before, true);
  assert.match(outcome.timeout, /within 500 ms/);
  assert.deepEqual(outcome.during, { enabled: true, reason: 'ROLLOUT', ruleIndex: null, bucket: null, version: 3 });
  assert.match(outcome.closed, /closed/);
  assert.equal(outcome.after, false);
  await page.close();
});

test('a page starts from its localStorage cache with the stream refused, then converges', async () => {
  const created = await rest(server, server.admin_key, 'POST', '/api/flags', {
    key: 'browser_cached',
    is_enabled: true,
    client_side: true,
  });
  assert.ok([200, 201].includes(created.status), JSON.stringify(created));
  const page = await openPage();
  const options = { initialBackoffMs: 100, maxBackoffMs: 500, cacheKey: 'sidekick-test-cache' };
  const first = await page.evaluate(
    async ({ url, key, options }) => {
      const client = new window.sidekick.SidekickBrowserClient(url, key, options);
      const source = await client.init({ timeoutMs: 20000 });
      client.close();
      return { source, cached: localStorage.getItem(options.cacheKey) ?? '' };
    },
    { url: `${statics.origin}/proxy`, key: server.client_key, options },
  );
  assert.equal(first.source, 'server');
  assert.match(first.cached, /browser_cached/);

  statics.refuseStreams(true);
  const fromCache = await page.evaluate(
    async ({ url, key, options }) => {
      window.changed = [];
      window.client = new window.sidekick.SidekickBrowserClient(url, key, {
        ...options,
        onFlagsChanged: (keys) => window.changed.push(keys),
      });
      const before = { source: window.client.readySource, on: window.client.isEnabled('browser_cached', 'u') };
      const source = await window.client.init({ timeoutMs: 500 });
      return { before, source, ready: window.client.ready };
    },
    { url: `${statics.origin}/proxy`, key: server.client_key, options },
  );
  assert.deepEqual(fromCache, { before: { source: 'cache', on: true }, source: 'cache', ready: false });

  const patched = await rest(server, server.admin_key, 'PATCH', '/api/flags/browser_cached', { is_enabled: false });
  assert.equal(patched.status, 200);
  statics.refuseStreams(false);
  await page.waitForFunction(() => !window.client.isEnabled('browser_cached', 'u'), null, {
    timeout: 20000,
    polling: 20,
  });
  const after = await page.evaluate(() => ({ source: window.client.readySource, changed: window.changed }));
  assert.equal(after.source, 'server');
  assert.ok(after.changed.some((keys) => keys.includes('browser_cached')), JSON.stringify(after.changed));
  await page.evaluate(() => window.client.close());
  await page.close();
});
