/** client.ts — SidekickClient: keeps a FlagStore in sync with a Sidekick server over SSE. */
import { type Evaluation, FlagStore } from './flag_store';
import { readCacheFile, writeCacheFile } from './stream_cache';
import { Backoff, parseRetryAfter } from './vendor/backoff.js';
import { ThrottledCacheWriter, cacheOwner, decodeCache, encodeCache } from './vendor/cache_format.js';
import { EventStreamParser } from './vendor/sse.js';
import { type StoreAdapter, type StreamOutcome, StreamState } from './vendor/stream_state.js';
import type { Attributes, Flag } from './wire';

/** A change the client applied to its flags (the deprecated `onChange` shape). */
export type FlagChange =
  | { type: 'UPSERT'; key: string; flag: Flag }
  | { type: 'DELETE'; key: string };

/** Where the client's flags come from: the server, or (until it answers) a persistent cache. */
export type ReadySource = 'server' | 'cache';

export interface SidekickClientOptions {
  /** Flags (wire format) to evaluate before, or without, the first connection. */
  bootstrap?: Iterable<Flag>;
  /** Called with the keys each change touched: a live delta, or what a replay changed. */
  onFlagsChanged?: (changedKeys: string[]) => void;
  /** Deprecated (use onFlagsChanged): called once per changed key with the change. */
  onChange?: (change: FlagChange) => void;
  /** Called with connection and callback errors (the client keeps reconnecting). */
  onError?: (error: Error) => void;
  /** A file that keeps the flags and the resume cursor between runs (opt-in). */
  cachePath?: string;
  /** First reconnection delay cap; doubles per failed attempt up to maxBackoffMs. Default 1 s. */
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

class Closed extends Error {}

/** The server said goodbye: this connection ends on purpose. */
class Goodbye extends Error {}

const STORE_ADAPTER: StoreAdapter<FlagStore> = {
  create: () => new FlagStore(),
  upsert: (store, flag) => store.upsert(flag as Flag),
  remove: (store, key, version) => store.delete(key, version),
};

/**
 * A Sidekick SDK client: every flag in memory, evaluated in-process by the C core, kept current by
 * the server's stream. The protocol (replay swap, resume by cursor, goodbye) is the shared
 * StreamState; the reconnection delays are the shared Backoff; while disconnected the client keeps
 * answering from the last state it had.
 */
export class SidekickClient {
  readonly #streamUrl: string;
  readonly #sdkKey: string;
  readonly #options: SidekickClientOptions;
  readonly #fetch: typeof fetch;
  readonly #state: StreamState<FlagStore>;
  readonly #backoff: Backoff;
  readonly #cache: ThrottledCacheWriter | null = null;
  #readySource: ReadySource | null = null;
  #running: Promise<void> | null = null;
  #abort: AbortController | null = null;
  #closed = false;
  #readyOnce = false;
  #stoppedReason: string | null = null;
  #lastError: Error | undefined;
  #waiters: { resolve: (source: ReadySource) => void; reject: (error: Error) => void }[] = [];
  #wakeSleep: (() => void) | null = null;
  /** Streams that reached `ready` or `resumed` (1 + reconnects). */
  connections = 0;

  constructor(url: string, sdkKey: string, options: SidekickClientOptions = {}) {
    if (typeof url !== 'string' || url === '') throw new TypeError('SidekickClient: url is required');
    if (typeof sdkKey !== 'string' || sdkKey === '') {
      throw new TypeError('SidekickClient: sdkKey is required');
    }
    this.#streamUrl = `${url.replace(/\/+$/, '')}/stream`;
    this.#sdkKey = sdkKey;
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
    this.#backoff = new Backoff({ initialMs: options.initialBackoffMs, maxMs: options.maxBackoffMs });
    const owner = cacheOwner(this.#streamUrl, sdkKey);
    const cachePath = options.cachePath;
    const cached = cachePath === undefined ? null : decodeCache(readCacheFile(cachePath), owner);
    const report = (error: Error): void => this.#report(error);
    // The cache (newer, from this server) wins over the bootstrap list where both have a flag.
    this.#state = new StreamState(
      STORE_ADAPTER,
      [...(cached?.flags ?? []), ...(options.bootstrap ?? [])],
      cached?.cursor ?? null,
      report,
    );
    if (cached !== null) this.#readySource = 'cache';
    if (cachePath !== undefined) {
      this.#cache = new ThrottledCacheWriter(
        () => encodeCache(owner, { flags: this.#state.flags(), cursor: this.#state.cursor }),
        (text) => writeCacheFile(cachePath, text),
        report,
      );
    }
  }

  /**
   * Connects (once) and resolves when the server has delivered the flags ('server'). With a
   * persistent cache loaded, a timeout resolves 'cache' instead of rejecting (the client answers
   * from the cache and keeps connecting). Rejects with SidekickAuthError when the key is refused,
   * SidekickTimeoutError after timeoutMs (default 10 s; the client keeps connecting).
   */
  init({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<ReadySource> {
    if (this.#closed) return Promise.reject(new Error('SidekickClient is closed'));
    this.#running ??= this.#run();
    if (this.#readyOnce) return Promise.resolve('server');
    return new Promise<ReadySource>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== entry);
        if (this.#readySource === 'cache') resolve('cache');
        else reject(new SidekickTimeoutError(timeoutMs, this.#lastError));
      }, timeoutMs);
      const entry = {
        resolve: (source: ReadySource) => {
          clearTimeout(timer);
          resolve(source);
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
    return this.#state.store.isEnabled(flagKey, userKey, attributes);
  }

  /** As isEnabled, with the reason, matching rule, bucket and version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes | null): Evaluation {
    return this.#state.store.evaluate(flagKey, userKey, attributes);
  }

  /** The flags currently in use (copies). */
  flags(): Flag[] {
    return this.#state.store.flags();
  }

  /** Whether the client holds a flag set: the server's, or a persistent cache's. */
  get isReady(): boolean {
    return this.#readySource !== null;
  }

  /** 'server' once the server's flags are in, 'cache' while only a cache's are, else null. */
  get readySource(): ReadySource | null {
    return this.#readySource;
  }

  /** Whether the server's flags have been received at least once (see readySource). */
  get initialized(): boolean {
    return this.#readyOnce;
  }

  /** The resume cursor: the id of the last applied stream event that carried one. */
  get cursor(): string | null {
    return this.#state.cursor;
  }

  /** Why the client stopped for good (a refused or revoked key), or null. */
  get stoppedReason(): string | null {
    return this.#stoppedReason;
  }

  /** Closes the stream, writes the cache, stops reconnecting; evaluation keeps answering. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort?.abort();
    this.#wakeSleep?.();
    this.#settle(new Error('SidekickClient closed before the flags arrived'));
    await this.#running?.catch(() => undefined);
    await this.#cache?.flush();
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const openedAt = { at: null as number | null };
      try {
        await this.#connect(openedAt);
      } catch (error) {
        if (this.#closed) break;
        if (error instanceof SidekickAuthError) {
          this.#stoppedReason = error.message;
          this.#report(error);
          this.#settle(error);
          return;
        }
        if (!(error instanceof Goodbye)) {
          this.#lastError = error instanceof Error ? error : new Error(String(error));
          this.#report(this.#lastError);
        }
      } finally {
        this.#state.disconnected();
      }
      if (this.#state.stopped) {
        this.#stoppedReason = 'the server revoked this key';
        this.#report(new Error('Sidekick: the server revoked this key; not reconnecting'));
        this.#settle(new Error('Sidekick: the server revoked this key'));
        return;
      }
      if (this.#closed) break;
      if (openedAt.at !== null) this.#backoff.connectionLasted(Date.now() - openedAt.at);
      await this.#sleep(this.#backoff.nextDelayMs());
    }
  }

  /** One connection: returns or throws when it ends. */
  async #connect(openedAt: { at: number | null }): Promise<void> {
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
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.#sdkKey}`,
      Accept: 'text/event-stream',
    };
    const cursor = this.#state.cursor;
    if (cursor !== null) headers['Last-Event-ID'] = cursor;
    try {
      const response = await this.#fetch(this.#streamUrl, { headers, signal: abort.signal });
      if (response.status === 401 || response.status === 403) {
        throw new SidekickAuthError(response.status, await detailOf(response));
      }
      if (!response.ok || response.body === null) {
        const retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
        if ((response.status === 429 || response.status === 503) && retryAfter !== null) {
          this.#backoff.serverDelay(retryAfter);
        }
        throw new Error(`stream answered HTTP ${response.status}: ${await detailOf(response)}`);
      }
      openedAt.at = Date.now();
      let goodbye = false;
      const parser = new EventStreamParser((event) => {
        if (goodbye) return;
        goodbye = this.#actOn(this.#state.handle(event));
      });
      const decoder = new TextDecoder('utf-8');
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        lastActivity = Date.now();
        parser.push(decoder.decode(value, { stream: true }));
        if (goodbye) {
          abort.abort();
          throw new Goodbye();
        }
      }
      if (this.#closed) throw new Closed();
      throw new Error('the server closed the stream');
    } catch (error) {
      if (timedOut) throw new Error(`no data on the stream for ${readTimeoutMs} ms`);
      if (error instanceof Closed || this.#closed) return;
      throw error;
    } finally {
      clearInterval(watchdog);
    }
  }

  /** Acts on what one event did; returns true when the server said goodbye. */
  #actOn(outcome: StreamOutcome): boolean {
    if (outcome.error !== null) this.#report(outcome.error);
    if (outcome.synced) {
      this.connections += 1;
      this.#readyOnce = true;
      this.#readySource = 'server';
      this.#settle();
    }
    if (outcome.changedKeys.length > 0) this.#notify(outcome.changedKeys);
    if (outcome.synced || outcome.changedKeys.length > 0) this.#cache?.changed();
    if (outcome.goodbyeReason === null) return false;
    if (outcome.reconnectAfterMs !== null) this.#backoff.serverDelay(outcome.reconnectAfterMs);
    return true;
  }

  #notify(keys: string[]): void {
    const { onFlagsChanged, onChange } = this.#options;
    if (onFlagsChanged !== undefined) {
      try {
        onFlagsChanged([...keys]);
      } catch (error) {
        this.#report(error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (onChange === undefined) return;
    // The old shape reported a replay's upserts before its deletes; keep that order.
    const upserts: FlagChange[] = [];
    const deletes: FlagChange[] = [];
    for (const key of keys) {
      const flag = this.#state.store.get(key);
      if (flag === undefined) deletes.push({ type: 'DELETE', key });
      else upserts.push({ type: 'UPSERT', key, flag });
    }
    for (const change of [...upserts, ...deletes]) {
      try {
        onChange(change);
      } catch (error) {
        this.#report(error instanceof Error ? error : new Error(String(error)));
      }
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
      if (error === undefined) waiter.resolve('server');
      else waiter.reject(error);
    }
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
