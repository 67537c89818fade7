/**
 * SidekickBrowserClient: keeps a wasm FlagStore in sync with the server's /stream over EventSource.
 *
 * Browsers' EventSource cannot send headers, so the client key travels as `?sdk_key=` (the server
 * accepts only client keys there). EventSource reconnects by itself after a dropped connection;
 * when it gives up (readyState CLOSED, e.g. after an HTTP error) this client opens a new one after
 * a capped, jittered back-off. Every (re)connection replays the whole flag set into a fresh store
 * that replaces the live one on `ready`, so evaluation never sees a half-replayed state and keeps
 * answering from the last-known flags while disconnected.
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

/** The minimal EventSource surface the client uses (the browser's, or a polyfill's). */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceFactory = new (url: string) => EventSourceLike;

export interface ClientOptions {
  /** Flags (wire format) to evaluate before, or without, the first connection. */
  bootstrap?: WireFlag[];
  /** Called with the keys whose flag changed (a delta, or a replay that differed). */
  onChange?: (keys: string[]) => void;
  /** Called with stream problems the client recovered from (bad events, reconnects). */
  onError?: (error: Error) => void;
  /** Where loadCore finds the wasm module when it has not been loaded yet. */
  wasm?: WasmSource;
  /** First reconnect delay cap in ms after EventSource gives up (default 500). */
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

function changedKeys(before: FlagStore, after: FlagStore): string[] {
  const keys = new Set<string>();
  for (const flag of after.flags()) {
    if (before.get(flag.key)?.version !== flag.version || flag.version === undefined) {
      keys.add(flag.key);
    }
  }
  for (const flag of before.flags()) if (!after.has(flag.key)) keys.add(flag.key);
  return [...keys];
}

export class SidekickBrowserClient {
  readonly #streamUrl: string;
  readonly #options: ClientOptions;
  #store: FlagStore | null = null;
  // The store a replay is being written into; it replaces #store on `ready`.
  #incoming: FlagStore | null = null;
  #source: EventSourceLike | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #attempt = 0;
  #closed = false;
  #ready = false;
  // Pending init() calls: settled with no argument on `ready`, with an error on close().
  #readyWaiters: Array<(error?: Error) => void> = [];

  constructor(url: string, clientKey: string, options: ClientOptions = {}) {
    const base = url.replace(/\/+$/, '');
    this.#streamUrl = `${base}/stream?sdk_key=${encodeURIComponent(clientKey)}`;
    this.#options = options;
    if (isCoreLoaded()) this.#createStore();
  }

  /** True once a full replay has been applied. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The live store (null until the wasm core is loaded). */
  get store(): FlagStore | null {
    return this.#store;
  }

  /**
   * Loads the core if needed, connects, and resolves once the server's full replay is applied.
   * On timeout it rejects, but keeps connecting in the background; evaluation meanwhile answers
   * from the bootstrap flags.
   */
  async init({ timeoutMs = 10000 }: InitOptions = {}): Promise<void> {
    if (this.#closed) throw new Error('Sidekick: init() after close()');
    await loadCore(this.#options.wasm);
    if (this.#closed) throw new Error('Sidekick: closed during init()');
    if (this.#store === null) this.#createStore();
    if (this.#source === null && this.#retryTimer === null) this.#connect();
    if (this.#ready) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters = this.#readyWaiters.filter((waiter) => waiter !== done);
        reject(new Error(`Sidekick: no flags from ${this.#streamUrl.split('?')[0]} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (error?: Error): void => {
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      this.#readyWaiters.push(done);
    });
  }

  /** Whether the flag is on for this user; false for an unknown flag or before the core loads. */
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes | null): boolean {
    const store = this.#store;
    return store === null ? false : store.isEnabled(flagKey, userKey, attributes);
  }

  /** As isEnabled, with the reason, the matching rule, the bucket and the flag's version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes | null): Evaluation {
    const store = this.#store;
    if (store === null) {
      return { enabled: false, reason: 'FLAG_NOT_FOUND', ruleIndex: null, bucket: null, version: null };
    }
    return store.evaluate(flagKey, userKey, attributes);
  }

  /** Closes the stream and releases the stores; the client answers false afterwards. */
  close(): void {
    this.#closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#source?.close();
    this.#source = null;
    this.#incoming?.free();
    this.#incoming = null;
    this.#store?.free();
    this.#store = null;
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const settle of waiters) settle(new Error('Sidekick: closed before the flags arrived'));
  }

  #createStore(): void {
    const store = new FlagStore();
    for (const flag of this.#options.bootstrap ?? []) store.upsert(flag);
    this.#store = store;
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
    source.addEventListener('connected', () => this.#onConnected());
    source.addEventListener('update', (event) => this.#onUpdate(event.data));
    source.addEventListener('ready', () => this.#onReady());
    source.addEventListener('error', () => this.#onError(source));
  }

  #onConnected(): void {
    this.#incoming?.free();
    this.#incoming = new FlagStore();
  }

  #onUpdate(data: unknown): void {
    let event: { type?: unknown; flag?: unknown; key?: unknown; version?: unknown };
    try {
      event = JSON.parse(String(data)) as typeof event;
    } catch {
      this.#report(new Error(`Sidekick: unreadable stream event: ${String(data).slice(0, 200)}`));
      return;
    }
    const target = this.#incoming ?? this.#store;
    if (target === null) return;
    try {
      if (event.type === 'UPSERT') {
        const applied = target.upsert(event.flag as WireFlag);
        if (applied && target === this.#store) this.#notify([(event.flag as WireFlag).key]);
      } else if (event.type === 'DELETE' && typeof event.key === 'string') {
        const version = typeof event.version === 'number' ? event.version : 0;
        const removed = target.delete(event.key, version);
        if (removed && target === this.#store) this.#notify([event.key]);
      }
    } catch (error) {
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #onReady(): void {
    const incoming = this.#incoming;
    if (incoming !== null) {
      this.#incoming = null;
      const previous = this.#store;
      this.#store = incoming;
      if (previous !== null) {
        const keys = changedKeys(previous, incoming);
        previous.free();
        if (keys.length > 0) this.#notify(keys);
      }
    }
    this.#attempt = 0;
    this.#ready = true;
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #onError(source: EventSourceLike): void {
    // A replay cut short is discarded: the next connection starts a new one.
    this.#incoming?.free();
    this.#incoming = null;
    if (this.#closed || source !== this.#source || source.readyState !== CLOSED) return;
    source.close();
    this.#source = null;
    const cap = Math.min(
      this.#options.maxBackoffMs ?? 30000,
      (this.#options.initialBackoffMs ?? 500) * 2 ** this.#attempt,
    );
    this.#attempt = Math.min(this.#attempt + 1, 30);
    // Full jitter spreads a fleet of browsers reconnecting after a server restart.
    const delay = Math.random() * cap;
    this.#report(new Error(`Sidekick: stream closed, reconnecting in ${Math.round(delay)} ms`));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (!this.#closed) this.#connect();
    }, delay);
  }

  #notify(keys: string[]): void {
    try {
      this.#options.onChange?.(keys);
    } catch (error) {
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
