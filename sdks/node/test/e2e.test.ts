/** e2e.test.ts — the Node SDK against a real Sidekick server: replay, deltas, restart, auth. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { type FlagChange, SidekickAuthError, SidekickClient } from '../src/index';
import { SidekickServerProcess, waitFor } from './server_harness';

describe('SidekickClient against a real server', { timeout: 180_000 }, () => {
  let server: SidekickServerProcess;
  let client: SidekickClient;
  const changes: FlagChange[] = [];
  const errors: Error[] = [];

  before(async () => {
    server = await SidekickServerProcess.start();
    const created = await server.rest('POST', '/api/flags', {
      key: 'replayed',
      is_enabled: true,
      rollout_percentage: null,
      rules: [],
    });
    assert.ok(created.status === 201 || created.status === 200, JSON.stringify(created));
    client = new SidekickClient(server.info.url, server.info.server_key, {
      onChange: (change) => changes.push(change),
      onError: (error) => errors.push(error),
      initialBackoffMs: 100,
      maxBackoffMs: 1_000,
      readTimeoutMs: 5_000,
    });
    await client.init({ timeoutMs: 30_000 });
  });

  after(async () => {
    await client?.close();
    await server?.close();
  });

  test('init returns with the replayed flags', () => {
    assert.equal(client.initialized, true);
    assert.equal(client.isEnabled('replayed', 'user-1'), true);
    const evaluation = client.evaluate('replayed', 'user-1');
    assert.equal(evaluation.reason, 'ROLLOUT');
    assert.equal(evaluation.version, 1);
  });

  test('an UPSERT delta reaches the client', async () => {
    const written = await server.rest('POST', '/api/flags', {
      key: 'acme_only',
      is_enabled: true,
      rollout_percentage: 0,
      rules: [{ attribute: 'email', operator: 'EndsWith', values: ['@acme.com'] }],
    });
    assert.equal(written.status, 201, JSON.stringify(written));
    await waitFor(() => client.isEnabled('acme_only', 'u', { email: 'jane@acme.com' }), 'acme_only on for acme');
    assert.equal(client.isEnabled('acme_only', 'u', { email: 'jane@example.com' }), false);
    assert.ok(changes.some((change) => change.type === 'UPSERT' && change.key === 'acme_only'));

    const patched = await server.rest('PATCH', '/api/flags/acme_only', { is_enabled: false });
    assert.equal(patched.status, 200, JSON.stringify(patched));
    await waitFor(
      () => !client.isEnabled('acme_only', 'u', { email: 'jane@acme.com' }),
      'acme_only switched off',
    );
    assert.equal(client.evaluate('acme_only', 'u').version, 2);
  });

  test('a DELETE delta removes the flag', async () => {
    const deleted = await server.rest('DELETE', '/api/flags/acme_only');
    assert.equal(deleted.status, 204, JSON.stringify(deleted));
    await waitFor(() => client.evaluate('acme_only', 'u').reason === 'FLAG_NOT_FOUND', 'acme_only deleted');
    assert.ok(changes.some((change) => change.type === 'DELETE' && change.key === 'acme_only'));
  });

  test('the client keeps its flags while the server is down and catches up after a restart', async () => {
    await server.command('stop');
    await waitFor(() => errors.length > 0, 'the client noticed the disconnection');
    assert.equal(client.isEnabled('replayed', 'user-1'), true, 'last-known state while disconnected');

    await server.command('start');
    const hidden = await server.rest('POST', '/api/flags', { key: 'acme_only_private' });
    assert.equal(hidden.status, 201, JSON.stringify(hidden));
    const written = await server.rest('POST', '/api/flags', {
      key: 'after_restart',
      is_enabled: true,
      rollout_percentage: null,
      rules: [],
    });
    assert.equal(written.status, 201, JSON.stringify(written));
    const removed = await server.rest('DELETE', '/api/flags/replayed');
    assert.equal(removed.status, 204, JSON.stringify(removed));
    await waitFor(
      () => client.isEnabled('after_restart', 'u') && !client.isEnabled('replayed', 'user-1'),
      'the reconnected client has the writes made after the restart',
      20_000,
    );
  });

  test('a refused key rejects init with SidekickAuthError', async () => {
    const refused = new SidekickClient(server.info.url, 'sk_server_not_a_real_key');
    try {
      await assert.rejects(refused.init({ timeoutMs: 15_000 }), (error: unknown) => {
        return error instanceof SidekickAuthError && error.status === 401;
      });
    } finally {
      await refused.close();
    }
  });

  test('a client key streams only the client-side flags', async () => {
    const marked = await server.rest('PATCH', '/api/flags/after_restart', { client_side: true });
    assert.equal(marked.status, 200, JSON.stringify(marked));
    const browserish = new SidekickClient(server.info.url, server.info.client_key);
    try {
      await browserish.init({ timeoutMs: 15_000 });
      assert.equal(browserish.isEnabled('after_restart', 'u'), true);
      // Written without client_side, so not for client keys: the SDK does not know it.
      assert.equal(browserish.evaluate('acme_only_private', 'u').reason, 'FLAG_NOT_FOUND');
      assert.equal(client.evaluate('acme_only_private', 'u').reason, 'OFF');
    } finally {
      await browserish.close();
    }
  });
});
