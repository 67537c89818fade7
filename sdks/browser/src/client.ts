/**
 * SidekickBrowserClient: keeps a wasm FlagStore in sync with the server's /stream over EventSource.
 *
 * Browsers' EventSource cannot send headers, so the client key travels as `?sdk_key=` (the server
 * accepts only client keys there). EventSource reconnects by itself after a dropped connection,
 * sending the last event id, so the server can resume; when it gives up (readyState CLOSED, e.g.
 * after an HTTP error) or the server says goodbye, this client opens a new one after the shared
 * back-off (a new EventSource cannot send the cursor: that connection gets a full replay). The
 * protocol itself (replay swap on `ready`, `resumed`, newer-only deltas, goodbye) is the shared
 * StreamState, so evaluation never sees a half-replayed state and keeps answering from the
 * last-known flags while disconnected. An optional localStorage entry caches flags and cursor.
 */

import {
  type Attributes,
  type Evaluation,
  FlagStore,
  type WasmSource,
  type WireFlag,
  isCoreLoaded,
  loadCore,
} from './core.js';
import { Backoff } from './vendor/backoff.js';
import { ThrottledCacheWriter, cacheOwner, decodeCache, encodeCache } from './vendor/cache_format.js';
import { type StoreAdapter, type StreamOutcome, StreamState } from './vendor/stream_state.js';

/** The minimal EventSource surface the client uses (the browser's, or a polyfill's). */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceFactory = new (url: string) => EventSourceLike;

/** Where the client's flags come from: the server, or (until it answers) the persistent cache. */
export type ReadySource = 'server' | 'cache';

/** The part of the Web Storage API the cache uses (window.localStorage by default). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface ClientOptions {
  /** Flags (wire format) to evaluate before, or without, the first connection. */
  bootstrap?: WireFlag[];
  /** Called with the keys each change touched (a delta, or what a replay changed). */
  onFlagsChanged?: (changedKeys: string[]) => void;
  /** The same callback under its first name (kept; prefer onFlagsChanged). */
  onChange?: (keys: string[]) => void;
  /** Called with stream problems the client recovered from (bad events, reconnects). */
  onError?: (error: Error) => void;
  /** Where loadCore finds the wasm module when it has not been loaded yet. */
  wasm?: WasmSource;
  /** A localStorage key under which to keep the flags and the cursor between visits (opt-in). */
  cacheKey?: string;
  /** The storage for cacheKey (default: globalThis.localStorage). */
  storage?: StorageLike;
  /** First reconnect delay cap in ms after EventSource gives up (default 1000). */
  initialBackoffMs?: number;
  /** Longest reconnect delay in ms (default 30000). */
  maxBackoffMs?: number;
  /** EventSource implementation (default: the global one). */
  EventSource?: EventSourceFactory;
}

export interface InitOptions {
  /** Reject if the first full replay has not arrived within this many ms (default 10000). */
  timeoutMs?: number;
}

const CLOSED = 2;

const STORE_ADAPTER: StoreAdapter<FlagStore> = {
  create: () => new FlagStore(),
  upsert: (store, flag) => store.upsert(flag as WireFlag),
  remove: (store, key, version) => store.delete(key, version),
  free: (store) => store.free(),
};

export class SidekickBrowserClient {
  readonly #streamUrl: string;
  readonly #options: ClientOptions;
  readonly #owner: string;
  readonly #backoff: Backoff;
  #state: StreamState<FlagStore> | null = null;
  #cache: ThrottledCacheWriter | null = null;
  #source: EventSourceLike | null = null;
  #openedAt: number | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #ready = false;
  #readySource: ReadySource | null = null;
  #stoppedReason: string | null = null;
  // Pending init() calls: settled with no argument on `ready`, with an error on close().
  #readyWaiters: Array<(error?: Error) => void> = [];

  constructor(url: string, clientKey: string, options: ClientOptions = {}) {
    const base = url.replace(/\/+$/, '');
    this.#streamUrl = `${base}/stream?sdk_key=${encodeURIComponent(clientKey)}`;
    this.#owner = cacheOwner(`${base}/stream`, clientKey);
    this.#options = options;
    this.#backoff = new Backoff({ initialMs: options.initialBackoffMs, maxMs: options.maxBackoffMs });
    if (isCoreLoaded()) this.#createState();
  }

  /** True once the server's full replay has been applied (see readySource). */
  get ready(): boolean {
    return this.#ready;
  }

  /** Whether the client holds a flag set: the server's, or the persistent cache's. */
  get isReady(): boolean {
    return this.#readySource !== null;
  }

  /** 'server' once the server's flags are in, 'cache' while only the cache's are, else null. */
  get readySource(): ReadySource | null {
    return this.#readySource;
  }

  /** Why the client stopped for good (the server revoked its key), or null. */
  get stoppedReason(): string | null {
    return this.#stoppedReason;
  }

  /** The resume cursor: the id of the last applied stream event that carried one. */
  get cursor(): string | null {
    return this.#state?.cursor ?? null;
  }

  /** The live store (null until the wasm core is loaded). */
  get store(): FlagStore | null {
    return this.#state?.store ?? null;
  }

  /**
   * Loads the core if needed, connects, and resolves once the server's full replay is applied
   * ('server'). With a persistent cache loaded, a timeout resolves 'cache' instead of rejecting.
   * Otherwise a timeout rejects, but the client keeps connecting in the background; evaluation
   * meanwhile answers from the bootstrap flags.
   */
  async init({ timeoutMs = 10000 }: InitOptions = {}): Promise<ReadySource> {
    if (this.#closed) throw new Error('Sidekick: init() after close()');
    await loadCore(this.#options.wasm);
    if (this.#closed) throw new Error('Sidekick: closed during init()');
    if (this.#state === null) this.#createState();
    if (this.#source === null && this.#retryTimer === null) this.#connect();
    if (this.#ready) return 'server';
    return new Promise<ReadySource>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters = this.#readyWaiters.filter((waiter) => waiter !== done);
        if (this.#readySource === 'cache') resolve('cache');
        else reject(new Error(`Sidekick: no flags from ${this.#streamUrl.split('?')[0]} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (error?: Error): void => {
        clearTimeout(timer);
        if (error === undefined) resolve('server');
        else reject(error);
      };
      this.#readyWaiters.push(done);
    });
  }

  /** Whether the flag is on for this user; false for an unknown flag or before the core loads. */
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes | null): boolean {
    const store = this.store;
    return store === null ? false : store.isEnabled(flagKey, userKey, attributes);
  }

  /** As isEnabled, with the reason, the matching rule, the bucket and the flag's version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes | null): Evaluation {
    const store = this.store;
    if (store === null) {
      return { enabled: false, reason: 'FLAG_NOT_FOUND', ruleIndex: null, bucket: null, version: null };
    }
    return store.evaluate(flagKey, userKey, attributes);
  }

  /** Closes the stream, writes the cache and releases the stores; the client answers false afterwards. */
  close(): void {
    this.#closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#source?.close();
    this.#source = null;
    void this.#cache?.flush();
    this.#state?.dispose();
    this.#state = null;
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const settle of waiters) settle(new Error('Sidekick: closed before the flags arrived'));
  }

  #createState(): void {
    const key = this.#options.cacheKey;
    const storage = this.#options.storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
    let cached = null;
    if (key !== undefined && storage !== undefined) {
      try {
        cached = decodeCache(storage.getItem(key), this.#owner);
      } catch (error) {
        this.#report(error instanceof Error ? error : new Error(String(error))); // storage disabled
      }
      this.#cache = new ThrottledCacheWriter(
        () => encodeCache(this.#owner, { flags: this.#state?.flags() ?? [], cursor: this.#state?.cursor ?? null }),
        (text) => storage.setItem(key, text),
        (error) => this.#report(error),
      );
    }
    const report = (error: Error): void => this.#report(error);
    // The cache (newer, from this server) wins over the bootstrap list where both have a flag.
    this.#state = new StreamState(
      STORE_ADAPTER,
      [...(cached?.flags ?? []), ...(this.#options.bootstrap ?? [])],
      cached?.cursor ?? null,
      report,
    );
    if (cached !== null) this.#readySource = 'cache';
  }

  #report(error: Error): void {
    this.#options.onError?.(error);
  }

  #connect(): void {
    const Source = this.#options.EventSource ?? (globalThis.EventSource as EventSourceFactory | undefined);
    if (Source === undefined) {
      throw new Error('Sidekick: no EventSource here; pass one as options.EventSource');
    }
    const source = new Source(this.#streamUrl);
    this.#source = source;
    this.#openedAt = null;
    for (const name of ['connected', 'resumed', 'update', 'ready', 'goodbye']) {
      source.addEventListener(name, (event) => this.#onEvent(source, name, event));
    }
    source.addEventListener('open', () => {
      this.#openedAt = Date.now();
    });
    source.addEventListener('error', () => this.#onError(source));
  }

  #onEvent(source: EventSourceLike, name: string, event: MessageEvent): void {
    const state = this.#state;
    if (state === null || source !== this.#source) return;
    // EventSource keeps the last id it saw; only events after a resume or a replay carry new ones.
    const id = event.lastEventId === '' ? null : event.lastEventId;
    this.#actOn(state.handle({ event: name, data: String(event.data), id }));
  }

  #actOn(outcome: StreamOutcome): void {
    if (outcome.error !== null) this.#report(outcome.error);
    if (outcome.synced) {
      this.#ready = true;
      this.#readySource = 'server';
      const waiters = this.#readyWaiters;
      this.#readyWaiters = [];
      for (const resolve of waiters) resolve();
    }
    if (outcome.changedKeys.length > 0) this.#notify(outcome.changedKeys);
    if (outcome.synced || outcome.changedKeys.length > 0) this.#cache?.changed();
    if (outcome.goodbyeReason === null) return;
    // A goodbye ends this connection on purpose: close it so EventSource does not reconnect at once.
    if (outcome.reconnectAfterMs !== null) this.#backoff.serverDelay(outcome.reconnectAfterMs);
    this.#dropSource();
    if (outcome.stop) {
      this.#stoppedReason = 'the server revoked this key';
      this.#report(new Error('Sidekick: the server revoked this key; not reconnecting'));
      return;
    }
    this.#scheduleReconnect();
  }

  #onError(source: EventSourceLike): void {
    // A replay cut short is discarded: the next connection starts a new one.
    this.#state?.disconnected();
    if (this.#closed || source !== this.#source || source.readyState !== CLOSED) return;
    this.#dropSource();
    this.#scheduleReconnect();
  }

  #dropSource(): void {
    this.#source?.close();
    this.#source = null;
    this.#state?.disconnected();
    if (this.#openedAt !== null) this.#backoff.connectionLasted(Date.now() - this.#openedAt);
    this.#openedAt = null;
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const delay = this.#backoff.nextDelayMs();
    this.#report(new Error(`Sidekick: stream closed, reconnecting in ${Math.round(delay)} ms`));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (!this.#closed) this.#connect();
    }, delay);
  }

  #notify(keys: string[]): void {
    for (const callback of [this.#options.onFlagsChanged, this.#options.onChange]) {
      try {
        callback?.([...keys]);
      } catch (error) {
        this.#report(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}
