/**
 * stream_v2.test.ts — the Node SDK's stream v2 behaviour: a persistent cache with the server down
 * (a real server, stopped and started), a refused key stopping the client, and, from a scripted
 * HTTP listener until the server sends them, 429 Retry-After, Last-Event-ID and goodbye.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { SidekickAuthError, SidekickClient } from '../src/index';
import { SidekickServerProcess, waitFor } from './server_harness';

const FAST = { initialBackoffMs: 50, maxBackoffMs: 200, readTimeoutMs: 5_000 };

describe('stream v2 against a real server', { timeout: 180_000 }, () => {
  let server: SidekickServerProcess;
  let folder: string;

  before(async () => {
    server = await SidekickServerProcess.start();
    folder = mkdtempSync(path.join(os.tmpdir(), 'sidekick-node-cache-'));
  });

  after(async () => {
    await server?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  test('a persistent cache answers with the server down, then the client converges', async () => {
    const created = await server.rest('POST', '/api/flags', { key: 'cache_me', is_enabled: true });
    assert.equal(created.status, 201, JSON.stringify(created));
    const cachePath = path.join(folder, 'flags.json');
    const first = new SidekickClient(server.info.url, server.info.server_key, { cachePath, ...FAST });
    assert.equal(await first.init({ timeoutMs: 30_000 }), 'server');
    await first.close();
    assert.match(readFileSync(cachePath, 'utf8'), /cache_me/);

    await server.command('stop');
    const changed: string[][] = [];
    const client = new SidekickClient(server.info.url, server.info.server_key, {
      cachePath,
      onFlagsChanged: (keys) => changed.push(keys),
      ...FAST,
    });
    try {
      assert.equal(client.isReady, true);
      assert.equal(client.readySource, 'cache');
      assert.equal(client.isEnabled('cache_me', 'u'), true);
      assert.equal(await client.init({ timeoutMs: 1_000 }), 'cache');
      assert.equal(client.initialized, false);
      await server.command('start');
      const patched = await server.rest('PATCH', '/api/flags/cache_me', { is_enabled: false });
      assert.equal(patched.status, 200, JSON.stringify(patched));
      await waitFor(() => !client.isEnabled('cache_me', 'u'), 'converged after the restart', 30_000);
      assert.equal(client.readySource, 'server');
      assert.ok(changed.some((keys) => keys.includes('cache_me')), JSON.stringify(changed));
    } finally {
      await client.close();
    }
    assert.match(readFileSync(cachePath, 'utf8'), /"is_enabled":false/);
  });

  test('a refused key stops the client', async () => {
    const refused = new SidekickClient(server.info.url, 'sk_server_not_a_real_key', FAST);
    try {
      await assert.rejects(refused.init({ timeoutMs: 15_000 }), SidekickAuthError);
      assert.match(refused.stoppedReason ?? '', /401/);
    } finally {
      await refused.close();
    }
  });
});

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** A real HTTP listener answering each request with the next scripted reply (the last repeats). */
async function scripted(replies: Reply[]): Promise<{
  url: string;
  seen: { at: number; headers: IncomingHttpHeaders }[];
  close: () => Promise<void>;
}> {
  const seen: { at: number; headers: IncomingHttpHeaders }[] = [];
  const listener = createServer((request, response) => {
    const reply = replies[Math.min(seen.length, replies.length - 1)] as Reply;
    seen.push({ at: Date.now(), headers: request.headers });
    response.writeHead(reply.status, {
      'Content-Type': reply.status === 200 ? 'text/event-stream' : 'application/json',
      ...reply.headers,
    });
    response.end(reply.body);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        listener.closeAllConnections();
        listener.close(() => resolve());
      }),
  };
}

function replay(keys: string[], cursor?: string): string {
  const updates = keys.map(
    (key) => `event: update\ndata: {"type":"UPSERT","flag":{"key":"${key}","is_enabled":true,"version":1}}\n\n`,
  );
  const id = cursor === undefined ? '' : `id: ${cursor}\n`;
  return `event: connected\ndata: true\n\n${updates.join('')}event: ready\n${id}data: {"flags":${keys.length}}\n\n`;
}

describe('stream v2 protocol details from a scripted listener', { timeout: 60_000 }, () => {
  test('429 Retry-After is waited out', async () => {
    const listener = await scripted([{ status: 429, body: '{"detail":"too many"}', headers: { 'Retry-After': '2' } }]);
    const client = new SidekickClient(listener.url, 'k', FAST);
    void client.init({ timeoutMs: 10_000 }).catch(() => undefined);
    try {
      await waitFor(() => listener.seen.length >= 2, 'a second attempt', 15_000);
      const [first, second] = listener.seen;
      // Without Retry-After the next attempt would come within the 200 ms back-off cap.
      assert.ok((second?.at ?? 0) - (first?.at ?? 0) >= 1_900);
    } finally {
      await client.close();
      await listener.close();
    }
  });

  test('a reconnect sends the cursor as Last-Event-ID', async () => {
    const listener = await scripted([
      { status: 200, body: replay(['a'], 'ep1:4') },
      { status: 200, body: replay(['a']) },
    ]);
    const client = new SidekickClient(listener.url, 'k', FAST);
    try {
      await client.init({ timeoutMs: 10_000 });
      await waitFor(() => listener.seen.length >= 2, 'a reconnect', 15_000);
      assert.equal(listener.seen[0]?.headers['last-event-id'], undefined);
      assert.equal(listener.seen[1]?.headers['last-event-id'], 'ep1:4');
      assert.equal(client.isEnabled('a', 'u'), true);
    } finally {
      await client.close();
      await listener.close();
    }
  });

  test('goodbye sets the next delay, and revoked stops the client', async () => {
    const goodbye = 'event: goodbye\ndata: {"reason":"max_age","reconnect_after_ms":1500}\n\n';
    const revoked = 'event: goodbye\ndata: {"reason":"revoked","reconnect_after_ms":0}\n\n';
    const listener = await scripted([
      { status: 200, body: replay(['a'], 'ep1:1') + goodbye },
      { status: 200, body: revoked },
    ]);
    const client = new SidekickClient(listener.url, 'k', FAST);
    try {
      await client.init({ timeoutMs: 10_000 });
      await waitFor(() => client.stoppedReason !== null, 'stopped after revoked', 15_000);
      const [first, second] = listener.seen;
      assert.ok((second?.at ?? 0) - (first?.at ?? 0) >= 1_400);
      // stoppedReason is set as the reconnect loop returns: no attempt can follow it.
      assert.equal(listener.seen.length, 2, 'no reconnect after revoked');
      assert.equal(client.isEnabled('a', 'u'), true);
    } finally {
      await client.close();
      await listener.close();
    }
  });

  test('the first connection resumes from the cached cursor', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'sidekick-node-cursor-'));
    const cachePath = path.join(folder, 'flags.json');
    const replies: Reply[] = [{ status: 200, body: replay(['a'], 'ep1:9') }];
    const listener = await scripted(replies);
    try {
      const first = new SidekickClient(listener.url, 'k', { cachePath, ...FAST });
      assert.equal(await first.init({ timeoutMs: 10_000 }), 'server');
      await first.close();
      replies[0] = { status: 200, body: 'event: resumed\ndata: {"revision": 9}\n\n' };
      const seenBefore = listener.seen.length;
      const second = new SidekickClient(listener.url, 'k', { cachePath, ...FAST });
      try {
        assert.equal(second.readySource, 'cache');
        assert.equal(second.cursor, 'ep1:9');
        assert.equal(await second.init({ timeoutMs: 10_000 }), 'server'); // `resumed` counts as in sync
        assert.equal(second.isEnabled('a', 'u'), true); // the cached store was kept
      } finally {
        await second.close();
      }
      assert.equal(listener.seen[seenBefore]?.headers['last-event-id'], 'ep1:9');
    } finally {
      await listener.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
