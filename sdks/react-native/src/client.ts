/** SidekickMobileClient: keeps the flag set in a native store over the stream, evaluates in JSI. */

import { FlagStore } from './store';
import type {
  Attributes,
  CacheStorage,
  Evaluation,
  FlagChange,
  JsonValue,
  ReadySource,
  WireFlag,
} from './types';
import { Backoff, parseRetryAfter } from './vendor/backoff.js';
import { ThrottledCacheWriter, cacheOwner, decodeCache, encodeCache } from './vendor/cache_format.js';
import { EventStreamParser } from './vendor/sse.js';
import { type StoreAdapter, type StreamOutcome, StreamState } from './vendor/stream_state.js';

export interface SidekickMobileOptions {
  /** Flags (wire format) to evaluate before, or without, the first connection. */
  bootstrap?: readonly WireFlag[];
  /** How long init() waits for the first complete flag set; default 10 s. */
  initTimeoutMs?: number;
  /** First reconnect delay cap; default 1 s. */
  reconnectInitialDelayMs?: number;
  /** Largest reconnect delay cap; default 30 s. */
  reconnectMaxDelayMs?: number;
  /** A connection silent for this long is dropped and reopened; default 45 s (keep-alives: 15 s). */
  idleTimeoutMs?: number;
  /** Called with the keys each change touched (a delta, or what a replay changed). */
  onFlagsChanged?: (changedKeys: string[]) => void;
  /** Keeps the flags and the resume cursor between app launches (opt-in); read by init(). */
  cache?: CacheStorage;
  /** Called for a stream problem the client recovers from by itself; default console.warn. */
  onError?: (error: Error) => void;
}

type Listener = (change: FlagChange) => void;

// XHR keeps the whole response in responseText; past this size the client reconnects (and
// resumes from its cursor) so that a long-lived connection cannot grow without bound.
const MAX_RESPONSE_CHARS = 4 * 1024 * 1024;

const STORE_ADAPTER: StoreAdapter<FlagStore> = {
  create: () => new FlagStore(),
  upsert: (store, flag) => store.upsert(flag as WireFlag),
  remove: (store, key, version) => store.remove(key, version),
};

/** An error the server answered with (a bad key, a missing route): retrying will not help. */
export class SidekickHttpError extends Error {
  constructor(readonly status: number) {
    super(`Sidekick stream refused with HTTP ${status}`);
    this.name = 'SidekickHttpError';
  }
}

export class SidekickMobileClient {
  private state: StreamState<FlagStore>;
  private readonly listeners = new Set<Listener>();
  // Events left in a chunk after one that ended the connection (a goodbye) are not applied.
  private readonly parser = new EventStreamParser((event) => {
    if (this.xhr !== null) {
      this.onOutcome(this.state.handle(event));
    }
  });
  private readonly options: Required<Omit<SidekickMobileOptions, 'bootstrap' | 'cache' | 'onFlagsChanged'>>;
  private readonly backoff: Backoff;
  private readonly owner: string;
  private cacheWriter: ThrottledCacheWriter | null = null;
  private xhr: XMLHttpRequestLike | null = null;
  private seen = 0;
  private openedAt: number | null = null;
  private reconnectTimer: number | undefined;
  private idleTimer: number | undefined;
  private closed = false;
  private readyOnce = false;
  private source: ReadySource | null = null;
  private initPromise: Promise<ReadySource> | null = null;
  private settleInit: ((error?: Error) => void) | null = null;
  /** Why the client stopped for good (a refused or revoked key), or null. */
  stoppedReason: string | null = null;

  constructor(
    private readonly serverUrl: string,
    private readonly sdkKey: string,
    private readonly clientOptions: SidekickMobileOptions = {},
  ) {
    this.options = {
      initTimeoutMs: clientOptions.initTimeoutMs ?? 10_000,
      reconnectInitialDelayMs: clientOptions.reconnectInitialDelayMs ?? 1_000,
      reconnectMaxDelayMs: clientOptions.reconnectMaxDelayMs ?? 30_000,
      idleTimeoutMs: clientOptions.idleTimeoutMs ?? 45_000,
      onError: clientOptions.onError ?? ((error) => console.warn(error.message)),
    };
    this.backoff = new Backoff({
      initialMs: this.options.reconnectInitialDelayMs,
      maxMs: this.options.reconnectMaxDelayMs,
    });
    this.owner = cacheOwner(`${serverUrl.replace(/\/+$/, '')}/stream`, sdkKey);
    // A stale bootstrap with one bad flag must not stop the app; the server's set replaces it.
    this.state = new StreamState(STORE_ADAPTER, clientOptions.bootstrap ?? [], null, this.options.onError);
  }

  /**
   * Reads the persistent cache (when configured), connects, and resolves 'server' once the
   * server's full flag set is loaded. With a cache read, a timeout resolves 'cache' instead of
   * rejecting. Rejects on timeout or when the server refuses the key; after a timeout the client
   * keeps reconnecting in the background and evaluates the bootstrap (or last-known) flags.
   */
  init(): Promise<ReadySource> {
    if (this.initPromise !== null) {
      return this.initPromise;
    }
    this.initPromise = new Promise<ReadySource>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.source === 'cache') {
          this.settleInit = null;
          resolve('cache');
        } else {
          settle(new Error(`Sidekick: no flag set within ${this.options.initTimeoutMs} ms`));
        }
      }, this.options.initTimeoutMs);
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        this.settleInit = null;
        if (error === undefined) {
          resolve('server');
        } else {
          reject(error);
        }
      };
      this.settleInit = settle;
    });
    void this.loadCache().then(() => this.connect());
    return this.initPromise;
  }

  /**
   * Synchronous, in-process: no bridge round trip and no network. False for a missing flag and
   * for a flag that is not boolean (read those with getString, getNumber or getJson).
   */
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes): boolean {
    return this.state.store.isEnabled(flagKey, userKey, attributes);
  }

  /** The served value and variant, with the reason, matching rule, bucket and version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes): Evaluation {
    return this.state.store.evaluate(flagKey, userKey, attributes);
  }

  /** A boolean flag's answer, or defaultValue when it is missing or of another type. */
  getBoolean(flagKey: string, userKey: string, defaultValue: boolean, attributes?: Attributes): boolean {
    return this.state.store.getBoolean(flagKey, userKey, defaultValue, attributes);
  }

  /** A string flag's served value, or defaultValue when it is missing or of another type. */
  getString(flagKey: string, userKey: string, defaultValue: string, attributes?: Attributes): string {
    return this.state.store.getString(flagKey, userKey, defaultValue, attributes);
  }

  /** A number flag's served value, or defaultValue when it is missing or of another type. */
  getNumber(flagKey: string, userKey: string, defaultValue: number, attributes?: Attributes): number {
    return this.state.store.getNumber(flagKey, userKey, defaultValue, attributes);
  }

  /** A json flag's served value (frozen), or defaultValue when it is missing or of another type. */
  getJson<T = JsonValue>(flagKey: string, userKey: string, defaultValue: T, attributes?: Attributes): JsonValue | T {
    return this.state.store.getJson(flagKey, userKey, defaultValue, attributes);
  }

  /** How many flags the client holds. */
  get size(): number {
    return this.state.store.size();
  }

  /** True once the client holds a flag set: the server's, or the persistent cache's. */
  get isReady(): boolean {
    return this.source !== null;
  }

  /** 'server' once the server's flags are in, 'cache' while only the cache's are, else null. */
  get readySource(): ReadySource | null {
    return this.source;
  }

  /** True once a full flag set has arrived from the server at least once. */
  get initialized(): boolean {
    return this.readyOnce;
  }

  /** The resume cursor: the id of the last applied stream event that carried one. */
  get cursor(): string | null {
    return this.state.cursor;
  }

  /**
   * Deprecated shape (prefer the onFlagsChanged option): calls listener after each applied
   * change; returns the function that unsubscribes it.
   */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Stops streaming and writes the cache; the last-known flags stay readable. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.idleTimer);
    this.dropConnection();
    this.settleInit?.(new Error('Sidekick: client closed before init completed'));
    return this.cacheWriter?.flush() ?? Promise.resolve();
  }

  private async loadCache(): Promise<void> {
    const storage = this.clientOptions.cache;
    if (storage === undefined) return;
    try {
      const cached = decodeCache(await storage.get(), this.owner);
      if (cached !== null && !this.readyOnce) {
        this.state = new StreamState(
          STORE_ADAPTER,
          [...cached.flags, ...(this.clientOptions.bootstrap ?? [])],
          cached.cursor,
          this.options.onError,
        );
        this.source = 'cache';
      }
    } catch (error) {
      // A cache is never fatal: the server's flags replace it.
      this.options.onError(error instanceof Error ? error : new Error(String(error)));
    }
    this.cacheWriter = new ThrottledCacheWriter(
      () => encodeCache(this.owner, { flags: this.state.flags(), cursor: this.state.cursor }),
      (text) => storage.set(text),
      this.options.onError,
    );
  }

  private connect(): void {
    if (this.closed || this.state.stopped) {
      return;
    }
    this.dropConnection();
    this.parser.reset();
    this.seen = 0;
    const xhr = new XMLHttpRequest();
    this.xhr = xhr;
    xhr.open('GET', `${this.serverUrl.replace(/\/+$/, '')}/stream`, true);
    xhr.setRequestHeader('Authorization', `Bearer ${this.sdkKey}`);
    xhr.setRequestHeader('Accept', 'text/event-stream');
    xhr.setRequestHeader('Cache-Control', 'no-cache');
    if (this.state.cursor !== null) {
      xhr.setRequestHeader('Last-Event-ID', this.state.cursor);
    }
    // React Native delivers a streaming body through progress events with a growing responseText.
    xhr.onprogress = () => this.onProgress(xhr);
    xhr.onreadystatechange = () => {
      if (xhr !== this.xhr) {
        return;
      }
      if (xhr.readyState === XMLHttpRequest.HEADERS_RECEIVED) {
        if (xhr.status === 200) {
          this.openedAt = Date.now();
        } else {
          this.onRefused(xhr.status, xhr.getResponseHeader('Retry-After'));
        }
      } else if (xhr.readyState === XMLHttpRequest.DONE) {
        this.onProgress(xhr);
        if (xhr === this.xhr) {
          this.scheduleReconnect(new Error(`Sidekick stream ended (HTTP ${xhr.status})`));
        }
      }
    };
    xhr.onerror = () => {
      if (xhr === this.xhr) {
        this.scheduleReconnect(new Error('Sidekick stream: network error'));
      }
    };
    xhr.send();
    this.armIdleTimer();
  }

  private onProgress(xhr: XMLHttpRequestLike): void {
    if (xhr !== this.xhr || xhr.status !== 200) {
      return;
    }
    const text = xhr.responseText;
    if (text.length > this.seen) {
      const chunk = text.slice(this.seen);
      this.seen = text.length;
      this.parser.push(chunk);
      if (xhr !== this.xhr) {
        return; // an event in the chunk (a goodbye) ended this connection
      }
      this.armIdleTimer();
    }
    if (this.seen > MAX_RESPONSE_CHARS && xhr === this.xhr) {
      this.connect();
    }
  }

  private onRefused(status: number, retryAfter: string | null): void {
    const error = new SidekickHttpError(status);
    // 401/403/404 come from configuration and stay until someone fixes it: stop and say so.
    if (status === 401 || status === 403 || status === 404) {
      this.dropConnection();
      clearTimeout(this.idleTimer);
      this.stoppedReason = error.message;
      this.options.onError(error);
      this.settleInit?.(error);
      return;
    }
    const delay = parseRetryAfter(retryAfter);
    if ((status === 429 || status === 503) && delay !== null) {
      this.backoff.serverDelay(delay);
    }
    this.scheduleReconnect(error);
  }

  private onOutcome(outcome: StreamOutcome): void {
    if (outcome.error !== null) {
      this.options.onError(outcome.error);
    }
    if (outcome.synced) {
      this.readyOnce = true;
      this.source = 'server';
      this.emit({ kind: 'reset', count: this.state.store.size() });
      this.settleInit?.();
    }
    if (outcome.changedKeys.length > 0) {
      this.notify(outcome.changedKeys);
    }
    if (outcome.synced || outcome.changedKeys.length > 0) {
      this.cacheWriter?.changed();
    }
    if (outcome.goodbyeReason === null) {
      return;
    }
    if (outcome.stop) {
      this.stoppedReason = 'the server revoked this key';
      this.dropConnection();
      clearTimeout(this.idleTimer);
      this.options.onError(new Error('Sidekick: the server revoked this key; not reconnecting'));
      return;
    }
    if (outcome.reconnectAfterMs !== null) {
      this.backoff.serverDelay(outcome.reconnectAfterMs);
    }
    this.scheduleReconnect(new Error(`Sidekick stream: goodbye (${outcome.goodbyeReason})`));
  }

  private notify(keys: string[]): void {
    try {
      this.clientOptions.onFlagsChanged?.([...keys]);
    } catch (error) {
      this.options.onError(error instanceof Error ? error : new Error(String(error)));
    }
    for (const key of keys) {
      const version = this.state.store.version(key);
      // A key the store no longer holds was deleted; version() answers 0 for it.
      this.emit(version > 0 || this.state.flags().some((flag) => flag.key === key)
        ? { kind: 'upsert', key, version }
        : { kind: 'delete', key, version });
    }
  }

  private emit(change: FlagChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.options.onError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  private scheduleReconnect(reason: Error): void {
    this.dropConnection();
    clearTimeout(this.idleTimer);
    if (this.closed || this.state.stopped) {
      return;
    }
    this.options.onError(reason);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), this.backoff.nextDelayMs());
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.scheduleReconnect(new Error('Sidekick stream: no data or keep-alive, reconnecting'));
    }, this.options.idleTimeoutMs);
  }

  private dropConnection(): void {
    const xhr = this.xhr;
    this.xhr = null;
    this.state.disconnected();
    if (this.openedAt !== null) {
      this.backoff.connectionLasted(Date.now() - this.openedAt);
      this.openedAt = null;
    }
    if (xhr !== null) {
      xhr.onprogress = null;
      xhr.onreadystatechange = null;
      xhr.onerror = null;
      xhr.abort();
    }
  }
}
