/** client.ts — SidekickClient: keeps a FlagStore in sync with a Sidekick server over SSE. */
import { type Evaluation, FlagStore } from './flag_store';
import { type ServerSentEvent, SseParser } from './sse';
import type { Attributes, Flag } from './wire';

/** A change the client applied to its flags. */
export type FlagChange =
  | { type: 'UPSERT'; key: string; flag: Flag }
  | { type: 'DELETE'; key: string };

export interface SidekickClientOptions {
  /** Flags (wire format) to evaluate before, or without, the first connection. */
  bootstrap?: Iterable<Flag>;
  /** Called after each change to the flags: live deltas, and what a reconnect's replay changed. */
  onChange?: (change: FlagChange) => void;
  /** Called with connection and callback errors (the client keeps reconnecting). */
  onError?: (error: Error) => void;
  /** First reconnection delay; doubles per failed attempt up to maxBackoffMs. Default 500 ms. */
  initialBackoffMs?: number;
  /** Cap of the reconnection delay. Default 30 s. */
  maxBackoffMs?: number;
  /** Reconnect when the stream is silent this long (the server sends a keep-alive every 15 s). Default 45 s. */
  readTimeoutMs?: number;
  /** The fetch implementation; defaults to Node's global fetch. */
  fetch?: typeof fetch;
}

/** The server refused the key (401) or its role (403); the client stops reconnecting. */
export class SidekickAuthError extends Error {
  readonly status: number;

  constructor(status: number, detail: string) {
    super(`Sidekick refused the SDK key (HTTP ${status})${detail ? `: ${detail}` : ''}`);
    this.name = 'SidekickAuthError';
    this.status = status;
  }
}

/** init() gave up waiting for the first full state; the client keeps trying in the background. */
export class SidekickTimeoutError extends Error {
  constructor(timeoutMs: number, cause?: Error) {
    super(
      `Sidekick did not deliver the flags within ${timeoutMs} ms` +
        (cause ? ` (last error: ${cause.message})` : ''),
      { cause },
    );
    this.name = 'SidekickTimeoutError';
  }
}

interface UpdateEvent {
  type: 'UPSERT' | 'DELETE';
  flag?: Flag;
  key?: string;
  version?: number;
}

class Closed extends Error {}

/**
 * A Sidekick SDK client: every flag in memory, evaluated in-process by the C core, kept current by
 * the server's stream. While disconnected it keeps answering from the last state it had and
 * reconnects with capped, jittered exponential back-off; each (re)connection replays the whole
 * state into a fresh store that replaces the current one when the replay is complete, so
 * evaluations never see a half-loaded store.
 */
export class SidekickClient {
  readonly #streamUrl: string;
  readonly #sdkKey: string;
  readonly #options: SidekickClientOptions;
  readonly #fetch: typeof fetch;
  #store: FlagStore;
  #staging: FlagStore | null = null;
  #running: Promise<void> | null = null;
  #abort: AbortController | null = null;
  #closed = false;
  #readyOnce = false;
  #lastError: Error | undefined;
  #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #wakeSleep: (() => void) | null = null;

  constructor(url: string, sdkKey: string, options: SidekickClientOptions = {}) {
    if (typeof url !== 'string' || url === '') throw new TypeError('SidekickClient: url is required');
    if (typeof sdkKey !== 'string' || sdkKey === '') {
      throw new TypeError('SidekickClient: sdkKey is required');
    }
    this.#streamUrl = `${url.replace(/\/+$/, '')}/stream`;
    this.#sdkKey = sdkKey;
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
    this.#store = new FlagStore(options.bootstrap);
  }

  /**
   * Connects (once) and resolves when the server has delivered the whole flag set. Rejects with
   * SidekickAuthError when the key is refused, SidekickTimeoutError after timeoutMs (default
   * 10 s; the client keeps connecting in the background and answers from its bootstrap).
   */
  init({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('SidekickClient is closed'));
    this.#running ??= this.#run();
    if (this.#readyOnce) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== entry);
        reject(new SidekickTimeoutError(timeoutMs, this.#lastError));
      }, timeoutMs);
      const entry = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(entry);
    });
  }

  /** Whether the flag is on for this user, from memory; false for an unknown flag. */
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes | null): boolean {
    return this.#store.isEnabled(flagKey, userKey, attributes);
  }

  /** As isEnabled, with the reason, matching rule, bucket and version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes | null): Evaluation {
    return this.#store.evaluate(flagKey, userKey, attributes);
  }

  /** The flags currently in use (copies). */
  flags(): Flag[] {
    return this.#store.flags();
  }

  /** Whether a complete flag set has been received at least once. */
  get initialized(): boolean {
    return this.#readyOnce;
  }

  /** Closes the stream and stops reconnecting; evaluation keeps answering from the last state. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort?.abort();
    this.#wakeSleep?.();
    this.#settle(new Error('SidekickClient closed before the flags arrived'));
    await this.#running?.catch(() => undefined);
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#closed) {
      try {
        const gotReady = await this.#connect();
        if (gotReady) attempt = 0;
      } catch (error) {
        if (this.#closed) break;
        if (error instanceof SidekickAuthError) {
          this.#report(error);
          this.#settle(error);
          return;
        }
        this.#lastError = error instanceof Error ? error : new Error(String(error));
        this.#report(this.#lastError);
      }
      if (this.#closed) break;
      await this.#sleep(this.#backoff(attempt));
      attempt++;
    }
  }

  /** One connection: returns when the stream ends (true if it delivered a ready), throws on error. */
  async #connect(): Promise<boolean> {
    const abort = new AbortController();
    this.#abort = abort;
    const readTimeoutMs = this.#options.readTimeoutMs ?? 45_000;
    let lastActivity = Date.now();
    let timedOut = false;
    const watchdog = setInterval(
      () => {
        if (Date.now() - lastActivity > readTimeoutMs) {
          timedOut = true;
          abort.abort();
        }
      },
      Math.max(50, Math.min(5_000, readTimeoutMs / 3)),
    );
    let gotReady = false;
    try {
      const response = await this.#fetch(this.#streamUrl, {
        headers: { Authorization: `Bearer ${this.#sdkKey}`, Accept: 'text/event-stream' },
        signal: abort.signal,
      });
      if (response.status === 401 || response.status === 403) {
        throw new SidekickAuthError(response.status, await detailOf(response));
      }
      if (!response.ok || response.body === null) {
        throw new Error(`stream answered HTTP ${response.status}`);
      }
      const parser = new SseParser((event) => {
        if (this.#handle(event)) gotReady = true;
      });
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        lastActivity = Date.now();
        parser.push(value);
      }
      if (this.#closed) throw new Closed();
      throw new Error('the server closed the stream');
    } catch (error) {
      if (timedOut) throw new Error(`no data on the stream for ${readTimeoutMs} ms`);
      if (error instanceof Closed || this.#closed) return gotReady;
      if (gotReady && !(error instanceof SidekickAuthError)) {
        this.#lastError = error instanceof Error ? error : new Error(String(error));
        this.#report(this.#lastError);
        return true;
      }
      throw error;
    } finally {
      clearInterval(watchdog);
      this.#staging = null;
    }
  }

  /** Applies one stream event; returns true for `ready`. */
  #handle(event: ServerSentEvent): boolean {
    switch (event.event) {
      case 'connected':
        this.#staging = new FlagStore();
        return false;
      case 'update': {
        let update: UpdateEvent;
        try {
          update = JSON.parse(event.data) as UpdateEvent;
        } catch (error) {
          // One unreadable event must not drop a healthy connection (and loop on reconnects).
          this.#report(new Error(`unreadable update event: ${(error as Error).message}`));
          return false;
        }
        this.#applyUpdate(update);
        return false;
      }
      case 'ready':
        this.#promoteStaging();
        this.#readyOnce = true;
        this.#settle();
        return true;
      default:
        return false;
    }
  }

  #applyUpdate(update: UpdateEvent): void {
    const target = this.#staging ?? this.#store;
    const live = target === this.#store;
    try {
      if (update.type === 'UPSERT' && update.flag !== undefined) {
        if (target.upsert(update.flag) && live) {
          this.#notify({ type: 'UPSERT', key: update.flag.key, flag: update.flag });
        }
      } else if (update.type === 'DELETE' && typeof update.key === 'string') {
        if (target.delete(update.key, update.version ?? 0) && live) {
          this.#notify({ type: 'DELETE', key: update.key });
        }
      }
    } catch (error) {
      // One bad flag from the server must not stop the others.
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Swaps in the freshly replayed store and reports what differs from the one it replaces. */
  #promoteStaging(): void {
    const fresh = this.#staging;
    if (fresh === null) return;
    const previous = this.#store;
    this.#store = fresh;
    this.#staging = null;
    if (this.#options.onChange === undefined) return;
    for (const flag of fresh.flags()) {
      const version = fresh.version(flag.key);
      const changed =
        !previous.has(flag.key) ||
        previous.version(flag.key) !== version ||
        // Unversioned flags (bootstrap files, hand-made stores) can only be compared whole.
        (version === 0 && JSON.stringify(previous.get(flag.key)) !== JSON.stringify(flag));
      if (changed) this.#notify({ type: 'UPSERT', key: flag.key, flag });
    }
    for (const flag of previous.flags()) {
      if (!fresh.has(flag.key)) this.#notify({ type: 'DELETE', key: flag.key });
    }
  }

  #notify(change: FlagChange): void {
    const onChange = this.#options.onChange;
    if (onChange === undefined) return;
    try {
      onChange(change);
    } catch (error) {
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #report(error: Error): void {
    if (this.#options.onError !== undefined) {
      this.#options.onError(error);
    }
  }

  #settle(error?: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  /** Capped exponential back-off with equal jitter: between half and all of the capped delay. */
  #backoff(attempt: number): number {
    const initial = this.#options.initialBackoffMs ?? 500;
    const max = this.#options.maxBackoffMs ?? 30_000;
    const capped = Math.min(max, initial * 2 ** Math.min(attempt, 30));
    return capped / 2 + Math.random() * (capped / 2);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeSleep = done;
    });
  }
}

async function detailOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { detail?: unknown };
    return typeof body.detail === 'string' ? body.detail : '';
  } catch {
    return '';
  }
}
