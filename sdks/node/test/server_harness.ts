/** server_harness.ts — runs a real Sidekick server (daphne on a private database) for the e2e tests. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';

export const REPO_ROOT = path.resolve(__dirname, '../../../..');

// Drives the project's own harness (tests/e2e/server.py) and adds what the Node tests need
// beyond its command line: stopping and starting the server on the same port, on command.
const DRIVER = `
import json, sys
from tests.e2e.server import ServerGroup
group = ServerGroup(keepalive_seconds=1.0)
try:
    server = group.add_server()
    print(json.dumps(group.summary()), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "stop":
            server.stop()
        elif command == "start":
            server.start()
        print(json.dumps({"done": command}), flush=True)
finally:
    group.close()
`;

export interface ServerInfo {
  url: string;
  admin_key: string;
  server_key: string;
  client_key: string;
}

export class SidekickServerProcess {
  readonly info: ServerInfo;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: Interface;
  readonly #pending: ((line: string) => void)[] = [];
  readonly #stderr: string[];

  private constructor(child: ChildProcessWithoutNullStreams, lines: Interface, info: ServerInfo, stderr: string[]) {
    this.#child = child;
    this.#lines = lines;
    this.info = info;
    this.#stderr = stderr;
    lines.on('line', (line) => this.#pending.shift()?.(line));
  }

  static async start(timeoutMs = 90_000): Promise<SidekickServerProcess> {
    const python = path.join(REPO_ROOT, '.venv', 'bin', 'python');
    if (!existsSync(python)) throw new Error(`${python} is missing: run "make python-deps"`);
    const child = spawn(python, ['-c', DRIVER], { cwd: REPO_ROOT, stdio: 'pipe' });
    const stderr: string[] = [];
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => stderr.push(chunk));
    const lines = createInterface({ input: child.stdout });
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${stderr.join('')}`)), timeoutMs);
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve(line);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server harness exited with ${code}:\n${stderr.join('')}`));
      });
    });
    return new SidekickServerProcess(child, lines, JSON.parse(first) as ServerInfo, stderr);
  }

  /** Sends "stop" or "start" and waits until the harness has done it. */
  async command(name: 'stop' | 'start', timeoutMs = 90_000): Promise<void> {
    const reply = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`"${name}" took over ${timeoutMs} ms:\n${this.#stderr.join('')}`)), timeoutMs);
      this.#pending.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
    this.#child.stdin.write(`${name}\n`);
    assertDone(await reply, name);
  }

  /** REST call with the admin key; returns the status and parsed body. */
  async rest(method: string, route: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.info.url}${route}`, {
      method,
      headers: { Authorization: `Bearer ${this.info.admin_key}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
  }

  /** Closes the harness's stdin, which stops the server and drops its database. */
  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#lines.close();
    this.#child.stdin.end();
    await exited;
  }
}

function assertDone(line: string, name: string): void {
  const reply = JSON.parse(line) as { done?: string };
  if (reply.done !== name) throw new Error(`unexpected harness reply to ${name}: ${line}`);
}

/** Resolves once check() holds, polling every 20 ms; rejects with the message after timeoutMs. */
export async function waitFor(check: () => boolean, message: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
