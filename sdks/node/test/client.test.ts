/** client.test.ts — SidekickClient's protocol handling against a scripted SSE server. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';

import { type FlagChange, SidekickAuthError, SidekickClient } from '../src/index';
import { waitFor } from './server_harness';

type Script = (request: IncomingMessage, response: ServerResponse) => void;

/** An HTTP server answering its n-th request with the n-th script (the last one repeats). */
class ScriptedServer {
  readonly requests: IncomingMessage[] = [];
  readonly #server: Server;
  readonly #scripts: Script[];
  readonly #open = new Set<ServerResponse>();

  constructor(scripts: Script[]) {
    this.#scripts = scripts;
    this.#server = createServer((request, response) => {
      const script = this.#scripts[Math.min(this.requests.length, this.#scripts.length - 1)];
      this.requests.push(request);
      this.#open.add(response);
      response.on('close', () => this.#open.delete(response));
      script(request, response);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const response of this.#open) response.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

const servers: ScriptedServer[] = [];
after(async () => {
  for (const server of servers) await server.close();
});

async function serve(scripts: Script[]): Promise<{ server: ScriptedServer; url: string }> {
  const server = new ScriptedServer(scripts);
  servers.push(server);
  return { server, url: await server.listen() };
}

function open(response: ServerResponse): void {
  response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  response.flushHeaders();
}

function send(response: ServerResponse, event: string, data: unknown): void {
  response.write(`event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

function upsert(key: string, version: number, enabled = true): { type: 'UPSERT'; flag: object } {
  return { type: 'UPSERT', flag: { key, is_enabled: enabled, rollout_percentage: null, rules: [], version } };
}

test('sends the key, swaps in a reconnect replay only when it is complete, reports the changes', async () => {
  let releaseReplay: () => void = () => undefined;
  const { server, url } = await serve([
    (_request, response) => {
      open(response);
      send(response, 'connected', 'true');
      send(response, 'update', upsert('a', 1));
      send(response, 'ready', { flags: 1 });
      // A live delta, a duplicate of it and a stale one: only the first applies.
      send(response, 'update', upsert('a', 2, false));
      send(response, 'update', upsert('a', 2, true));
      send(response, 'update', upsert('a', 1, true));
      setTimeout(() => response.end(), 100);
    },
    (_request, response) => {
      open(response);
      send(response, 'connected', 'true');
      send(response, 'update', upsert('b', 1));
      releaseReplay = () => {
        send(response, 'ready', { flags: 1 });
      };
    },
  ]);
  const changes: FlagChange[] = [];
  const client = new SidekickClient(url, 'sk_server_secret', {
    onChange: (change) => changes.push(change),
    initialBackoffMs: 20,
    maxBackoffMs: 50,
  });
  try {
    await client.init({ timeoutMs: 10_000 });
    assert.equal(server.requests[0].headers.authorization, 'Bearer sk_server_secret');
    assert.equal(server.requests[0].url, '/stream');
    await waitFor(() => client.evaluate('a', 'u').version === 2, 'the live delta applied');
    assert.equal(client.isEnabled('a', 'u'), false, 'duplicate and stale deltas ignored');

    await waitFor(() => server.requests.length === 2, 'the client reconnected');
    await waitFor(() => client.isEnabled('a', 'u') === false && client.evaluate('b', 'u').reason === 'FLAG_NOT_FOUND', 'the old state answers');
    // Mid-replay: the old state still answers; nothing of the half-received replay shows.
    assert.equal(client.evaluate('a', 'u').version, 2);
    releaseReplay();
    await waitFor(() => client.isEnabled('b', 'u'), 'the replay was swapped in');
    assert.equal(client.evaluate('a', 'u').reason, 'FLAG_NOT_FOUND');
    assert.deepEqual(
      changes.map((change) => `${change.type} ${change.key}`),
      // The first replay, the live delta, then what the reconnect's replay changed.
      ['UPSERT a', 'UPSERT a', 'UPSERT b', 'DELETE a'],
    );
  } finally {
    await client.close();
  }
});

test('an unreadable event is reported and skipped without dropping the connection', async () => {
  const { server, url } = await serve([
    (_request, response) => {
      open(response);
      send(response, 'connected', 'true');
      send(response, 'update', '{"type": "UPSERT", "flag": ');
      send(response, 'update', upsert('ok', 1));
      send(response, 'update', { type: 'UPSERT', flag: { key: 'bad key!', version: 1 } });
      send(response, 'ready', { flags: 1 });
    },
  ]);
  const errors: Error[] = [];
  const client = new SidekickClient(url, 'k', { onError: (error) => errors.push(error) });
  try {
    await client.init({ timeoutMs: 10_000 });
    assert.equal(client.isEnabled('ok', 'u'), true);
    assert.equal(server.requests.length, 1);
    assert.equal(errors.length, 2);
    assert.match(errors[0].message, /unreadable update event/);
    assert.match(errors[1].message, /^key: /);
  } finally {
    await client.close();
  }
});

test('a silent stream is dropped and reconnected', async () => {
  const { server, url } = await serve([
    (_request, response) => {
      open(response);
      send(response, 'connected', 'true');
      send(response, 'ready', { flags: 0 });
    },
  ]);
  const client = new SidekickClient(url, 'k', { readTimeoutMs: 300, initialBackoffMs: 20 });
  try {
    await client.init({ timeoutMs: 10_000 });
    await waitFor(() => server.requests.length >= 2, 'a second connection after the silence');
  } finally {
    await client.close();
  }
});

test('a 403 rejects init with SidekickAuthError and stops reconnecting', async () => {
  const { server, url } = await serve([
    (_request, response) => {
      response.writeHead(403, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ detail: 'This key cannot read the stream.', errors: {} }));
    },
  ]);
  const client = new SidekickClient(url, 'k', { initialBackoffMs: 10 });
  try {
    await assert.rejects(client.init({ timeoutMs: 10_000 }), (error: unknown) => {
      return (
        error instanceof SidekickAuthError && error.status === 403 && /cannot read the stream/.test(error.message)
      );
    });
    const seen = server.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(server.requests.length, seen, 'no retry after a refused key');
  } finally {
    await client.close();
  }
});

test('a server error is retried with back-off until the stream works', async () => {
  const { server, url } = await serve([
    (_request, response) => {
      response.writeHead(503);
      response.end();
    },
    (_request, response) => {
      response.writeHead(503);
      response.end();
    },
    (_request, response) => {
      open(response);
      send(response, 'connected', 'true');
      send(response, 'update', upsert('late', 1));
      send(response, 'ready', { flags: 1 });
    },
  ]);
  const client = new SidekickClient(url, 'k', { initialBackoffMs: 20, maxBackoffMs: 40 });
  try {
    await client.init({ timeoutMs: 10_000 });
    assert.equal(server.requests.length, 3);
    assert.equal(client.isEnabled('late', 'u'), true);
  } finally {
    await client.close();
  }
});
