/**
 * cache_format.ts — the persistent cache's content and its write throttle, shared by the Node
 * (file), browser (localStorage) and React Native (storage callbacks) packages, which each only
 * store the string. The content is the live flags and the resume cursor, tagged with its owner
 * (stream URL and a digest of the key) so that a cache written for another server or key is
 * ignored, as is one that does not parse: a cache is never fatal.
 */

import type { StreamFlag } from './stream_state.js';

const CACHE_FORMAT = 'sidekick-flag-cache';
const CACHE_VERSION = 1;
/** At most one write a second while flags change. */
export const CACHE_WRITE_INTERVAL_MS = 1_000;

export interface CachedState {
  flags: StreamFlag[];
  cursor: string | null;
}

/**
 * Who a cache belongs to. The key is digested (FNV-1a, 64 bits as two 32-bit halves) rather than
 * stored: the digest tells caches apart, and a cache file never holds a usable key.
 */
export function cacheOwner(streamUrl: string, sdkKey: string): string {
  let low = 0x811c9dc5;
  let high = 0x050c5d1f;
  for (let i = 0; i < sdkKey.length; i++) {
    const code = sdkKey.charCodeAt(i);
    low = Math.imul(low ^ code, 0x01000193) >>> 0;
    high = Math.imul(high ^ code ^ (low >>> 7), 0x01000193) >>> 0;
  }
  return `${streamUrl}#${high.toString(16).padStart(8, '0')}${low.toString(16).padStart(8, '0')}`;
}

export function encodeCache(owner: string, state: CachedState): string {
  return JSON.stringify({
    format: CACHE_FORMAT,
    version: CACHE_VERSION,
    owner,
    cursor: state.cursor,
    flags: state.flags,
  });
}

/** The cached state, or null when the text is absent, unreadable or not this client's. */
export function decodeCache(text: string | null | undefined, owner: string): CachedState | null {
  if (typeof text !== 'string' || text === '') return null;
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof document !== 'object' || document === null) return null;
  const fields = document as Record<string, unknown>;
  if (
    fields.format !== CACHE_FORMAT ||
    fields.version !== CACHE_VERSION ||
    fields.owner !== owner ||
    !Array.isArray(fields.flags)
  ) {
    return null;
  }
  const flags = (fields.flags as unknown[]).filter(
    (flag): flag is StreamFlag =>
      typeof flag === 'object' && flag !== null && typeof (flag as StreamFlag).key === 'string',
  );
  return { flags, cursor: typeof fields.cursor === 'string' ? fields.cursor : null };
}

/** Writes through `write` at most once per interval; `flush()` writes a pending change now. */
export class ThrottledCacheWriter {
  private readonly snapshot: () => string;
  private readonly write: (text: string) => void | Promise<void>;
  private readonly onError: (error: Error) => void;
  private readonly intervalMs: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastWriteAt = -Infinity;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    snapshot: () => string,
    write: (text: string) => void | Promise<void>,
    onError: (error: Error) => void,
    intervalMs: number = CACHE_WRITE_INTERVAL_MS,
  ) {
    this.snapshot = snapshot;
    this.write = write;
    this.onError = onError;
    this.intervalMs = intervalMs;
  }

  /** The flags or cursor changed: write now, or once the interval since the last write ends. */
  changed(): void {
    if (this.timer !== null) return;
    const wait = this.lastWriteAt + this.intervalMs - Date.now();
    if (wait <= 0) {
      this.writeNow();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.writeNow();
    }, wait);
  }

  /** Writes a pending change at once (on close) and resolves when every write has finished. */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.writeNow();
    }
    return this.writing;
  }

  private writeNow(): void {
    this.lastWriteAt = Date.now();
    const text = this.snapshot();
    // Writes are chained so an older snapshot never lands after a newer one.
    this.writing = this.writing
      .then(() => this.write(text))
      .catch((error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))));
  }
}
