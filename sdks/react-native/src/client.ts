/** SidekickMobileClient: keeps the flag set in a native store over the stream, evaluates in JSI. */

import { createNativeStore, type NativeStore } from './native';
import { EventStreamParser, type ServerSentEvent } from './sse';
import type { Attributes, Evaluation, FlagChange, WireFlag } from './types';

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
  /** Called for a stream problem the client recovers from by itself; default console.warn. */
  onError?: (error: Error) => void;
}

type Listener = (change: FlagChange) => void;

// XHR keeps the whole response in responseText; past this size the client reconnects (and
// re-bootstraps) so that a long-lived connection cannot grow without bound.
const MAX_RESPONSE_CHARS = 4 * 1024 * 1024;

/** An error the server answered with (a bad key, a missing route): retrying will not help. */
export class SidekickHttpError extends Error {
  constructor(readonly status: number) {
    super(`Sidekick stream refused with HTTP ${status}`);
    this.name = 'SidekickHttpError';
  }
}

export class SidekickMobileClient {
  private store: NativeStore;
  // Filled during a replay and swapped in on `ready`, so evaluation never sees a half-loaded set.
  private staging: NativeStore | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly parser = new EventStreamParser((event) => this.onEvent(event));
  private readonly options: Required<Omit<SidekickMobileOptions, 'bootstrap'>>;
  private xhr: XMLHttpRequestLike | null = null;
  private seen = 0;
  private attempt = 0;
  private reconnectTimer: number | undefined;
  private idleTimer: number | undefined;
  private closed = false;
  private readyOnce = false;
  private initPromise: Promise<void> | null = null;
  private settleInit: ((error?: Error) => void) | null = null;

  constructor(
    private readonly serverUrl: string,
    private readonly sdkKey: string,
    options: SidekickMobileOptions = {},
  ) {
    this.options = {
      initTimeoutMs: options.initTimeoutMs ?? 10_000,
      reconnectInitialDelayMs: options.reconnectInitialDelayMs ?? 1_000,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 30_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 45_000,
      onError: options.onError ?? ((error) => console.warn(error.message)),
    };
    this.store = createNativeStore();
    for (const flag of options.bootstrap ?? []) {
      try {
        this.store.upsert(flag);
      } catch (error) {
        // A stale cache with one bad flag must not stop the app; the server's set replaces it.
        this.options.onError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  /**
   * Connects and resolves once the server's full flag set is loaded. Rejects on timeout or when
   * the server refuses the key; after a timeout the client keeps reconnecting in the background
   * and evaluates the bootstrap (or last-known) flags meanwhile.
   */
  init(): Promise<void> {
    if (this.initPromise !== null) {
      return this.initPromise;
    }
    this.initPromise = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        settle(new Error(`Sidekick: no flag set within ${this.options.initTimeoutMs} ms`));
      }, this.options.initTimeoutMs);
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        this.settleInit = null;
        if (error === undefined) {
          resolve();
        } else {
          reject(error);
        }
      };
      this.settleInit = settle;
    });
    this.connect();
    return this.initPromise;
  }

  /** Synchronous, in-process: no bridge round trip and no network. */
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes): boolean {
    return this.store.isEnabled(flagKey, userKey, attributes);
  }

  /** As isEnabled, with the reason, matching rule, bucket and version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes): Evaluation {
    return this.store.evaluate(flagKey, userKey, attributes);
  }

  /** How many flags the client holds. */
  get size(): number {
    return this.store.size();
  }

  /** True once a full flag set has arrived from the server at least once. */
  get isReady(): boolean {
    return this.readyOnce;
  }

  /** Calls listener after each applied change; returns the function that unsubscribes it. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Stops streaming; the last-known flags stay readable. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.idleTimer);
    this.dropConnection();
    this.settleInit?.(new Error('Sidekick: client closed before init completed'));
  }

  private connect(): void {
    if (this.closed) {
      return;
    }
    this.dropConnection();
    this.parser.reset();
    this.staging = null;
    this.seen = 0;
    const xhr = new XMLHttpRequest();
    this.xhr = xhr;
    xhr.open('GET', `${this.serverUrl.replace(/\/+$/, '')}/stream`, true);
    xhr.setRequestHeader('Authorization', `Bearer ${this.sdkKey}`);
    xhr.setRequestHeader('Accept', 'text/event-stream');
    xhr.setRequestHeader('Cache-Control', 'no-cache');
    // React Native delivers a streaming body through progress events with a growing responseText.
    xhr.onprogress = () => this.onProgress(xhr);
    xhr.onreadystatechange = () => {
      if (xhr !== this.xhr) {
        return;
      }
      if (xhr.readyState === XMLHttpRequest.HEADERS_RECEIVED && xhr.status !== 200) {
        this.onRefused(xhr.status);
      } else if (xhr.readyState === XMLHttpRequest.DONE) {
        this.onProgress(xhr);
        this.scheduleReconnect(new Error(`Sidekick stream ended (HTTP ${xhr.status})`));
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
      this.parser.push(text.slice(this.seen));
      this.seen = text.length;
      this.armIdleTimer();
    }
    if (this.seen > MAX_RESPONSE_CHARS && xhr === this.xhr) {
      this.attempt = 0;
      this.connect();
    }
  }

  private onRefused(status: number): void {
    const error = new SidekickHttpError(status);
    // 401/403/404 come from configuration and stay until someone fixes it: stop and say so.
    if (status === 401 || status === 403 || status === 404) {
      this.dropConnection();
      clearTimeout(this.idleTimer);
      this.options.onError(error);
      this.settleInit?.(error);
      return;
    }
    this.scheduleReconnect(error);
  }

  private onEvent(event: ServerSentEvent): void {
    switch (event.event) {
      case 'connected':
        this.staging = createNativeStore();
        break;
      case 'update':
        this.applyUpdate(event.data);
        break;
      case 'ready':
        if (this.staging !== null) {
          this.store = this.staging;
          this.staging = null;
        }
        this.readyOnce = true;
        this.attempt = 0;
        this.emit({ kind: 'reset', count: this.store.size() });
        this.settleInit?.();
        break;
      default:
        break; // future event types are ignored
    }
  }

  private applyUpdate(data: string): void {
    const target = this.staging ?? this.store;
    let message: { type?: unknown; flag?: unknown; key?: unknown; version?: unknown };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      this.options.onError(new Error('Sidekick stream: an update that is not JSON was skipped'));
      return;
    }
    try {
      if (message.type === 'UPSERT' && typeof message.flag === 'object' && message.flag !== null) {
        const flag = message.flag as WireFlag;
        if (target.upsert(flag) && target === this.store) {
          this.emit({ kind: 'upsert', key: flag.key, version: target.version(flag.key) });
        }
      } else if (message.type === 'DELETE' && typeof message.key === 'string') {
        const version = typeof message.version === 'number' ? message.version : 0;
        if (target.remove(message.key, version) && target === this.store) {
          this.emit({ kind: 'delete', key: message.key, version });
        }
      }
    } catch (error) {
      // One malformed flag must not stop the others: the core rejected it and changed nothing.
      this.options.onError(error instanceof Error ? error : new Error(String(error)));
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
    if (this.closed) {
      return;
    }
    this.options.onError(reason);
    // Full jitter over a capped exponential: a fleet of phones does not reconnect in lockstep.
    const cap = Math.min(
      this.options.reconnectMaxDelayMs,
      this.options.reconnectInitialDelayMs * 2 ** Math.min(this.attempt, 16),
    );
    this.attempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), Math.random() * cap);
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
    if (xhr !== null) {
      xhr.onprogress = null;
      xhr.onreadystatechange = null;
      xhr.onerror = null;
      xhr.abort();
    }
  }
}
