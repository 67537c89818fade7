/**
 * What the Chromium suites need: a static server for the SDK and a page (with a same-origin proxy
 * to the Sidekick server, so a page's request shows the server's real status), a real Sidekick
 * server from the repository's e2e harness, and headless Debian Chromium driven by playwright-core.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';

import { chromium } from 'playwright-core';

import { repoRoot } from './vectors_load.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

// Paths the static server may serve, relative to the repository root.
const SERVED = [/^\/sdks\/browser\/(dist|dist\/vendor|test)\/[\w.-]+$/, /^\/tests\/vectors\/[\w/.-]+\.json$/];

export const PAGE = '/sdks/browser/test/page.html';

async function readBody(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Serves the SDK files on 127.0.0.1 and forwards `/proxy/<path>` to target() (the Sidekick
 * server's URL, known only once it runs), streaming responses through. Resolves to
 * { origin, close, refuseStreams(bool), cutStreams() } — the last two let a test take the stream
 * away from a page (503 on reconnect, dropped connections) while the server keeps running.
 */
export function startStaticServer(target) {
  const streams = new Set();
  let refusing = false;
  const proxy = async (request, response, url) => {
    if (refusing && url.pathname === '/proxy/stream') {
      response.writeHead(503, { 'content-type': 'text/plain' }).end('refused by the test');
      return;
    }
    const abort = new AbortController();
    const upstream = await fetch(`${target()}${url.pathname.slice(6)}${url.search}`, {
      method: request.method,
      headers: {
        ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
        ...(request.headers['content-type'] ? { 'content-type': request.headers['content-type'] } : {}),
      },
      body: ['GET', 'HEAD'].includes(request.method) ? undefined : await readBody(request),
      signal: abort.signal,
    });
    response.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'text/plain',
      'cache-control': 'no-cache',
    });
    const stream = { response, abort };
    streams.add(stream);
    response.on('close', () => {
      streams.delete(stream);
      abort.abort();
    });
    try {
      for await (const chunk of upstream.body ?? []) response.write(chunk);
    } catch {
      // The test cut this stream, or the page went away.
    }
    response.end();
  };
  const server = createServer(async (request, response) => {
    try {
      const url = new URL(request.url, 'http://127.0.0.1');
      if (url.pathname.startsWith('/proxy/')) {
        await proxy(request, response, url);
        return;
      }
      if (!SERVED.some((pattern) => pattern.test(url.pathname)) || url.pathname.includes('..')) {
        response.writeHead(404).end();
        return;
      }
      const body = await readFile(`${repoRoot}${url.pathname.slice(1)}`);
      response.writeHead(200, { 'content-type': TYPES[extname(url.pathname)] ?? 'application/octet-stream' });
      response.end(body);
    } catch (error) {
      if (!response.headersSent) response.writeHead(error.code === 'ENOENT' ? 404 : 500);
      response.end(String(error));
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const origin = `http://127.0.0.1:${server.address().port}`;
      resolve({
        origin,
        refuseStreams(value) {
          refusing = value;
        },
        cutStreams() {
          for (const { response, abort } of streams) {
            abort.abort();
            response.destroy();
          }
          streams.clear();
        },
        close() {
          this.cutStreams();
          server.closeAllConnections();
          return new Promise((done) => server.close(done));
        },
      });
    });
  });
}

/**
 * Starts `python -m tests.e2e.server` (real daphne, fresh database, one key per role) allowing
 * the page's origin for CORS; resolves to its JSON line plus stop().
 */
export function startSidekickServer(corsOrigin, { timeoutMs = 120000 } = {}) {
  const child = spawn(`${repoRoot}.venv/bin/python`, ['-m', 'tests.e2e.server', '--keepalive', '1'], {
    cwd: repoRoot,
    env: { ...process.env, SIDEKICK_CORS_ORIGINS: corsOrigin },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGTERM'), 20000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`the Sidekick server did not start within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Sidekick server exited (${code}) before it was ready:\n${stderr}`));
    });
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ ...JSON.parse(line), stop });
    });
  });
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Calls the Sidekick REST API from the test (Node), with a key. */
export async function rest(server, key, method, path, body) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
