/**
 * backoff.ts — the reconnection policy every Sidekick SDK follows: the n-th consecutive failed
 * attempt waits random() × min(max, initial × 2^n) (full jitter, so a fleet does not reconnect in
 * step); a connection that stayed up resetAfterMs starts the sequence over; a delay the server
 * asked for (429/503 Retry-After, a goodbye's reconnect_after_ms) is used once, as it is.
 * Pinned by tests/vectors/stream/backoff.json.
 */

export const BACKOFF_INITIAL_MS = 1_000;
export const BACKOFF_MAX_MS = 30_000;
export const BACKOFF_RESET_AFTER_MS = 60_000;

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  resetAfterMs?: number;
  /** A source of numbers in [0, 1); Math.random by default (tests inject their own). */
  random?: () => number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
  private readonly random: () => number;
  private serverDelayMs: number | null = null;
  /** Consecutive failed attempts since the last healthy connection. */
  attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? BACKOFF_INITIAL_MS;
    this.maxMs = options.maxMs ?? BACKOFF_MAX_MS;
    this.resetAfterMs = options.resetAfterMs ?? BACKOFF_RESET_AFTER_MS;
    this.random = options.random ?? Math.random;
  }

  /** The wait before the next connection attempt. */
  nextDelayMs(): number {
    if (this.serverDelayMs !== null) {
      const delay = this.serverDelayMs;
      this.serverDelayMs = null;
      return delay;
    }
    const cap = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return this.random() * cap;
  }

  /** A connection was up this long; a healthy one starts the sequence over. */
  connectionLasted(durationMs: number): void {
    if (durationMs >= this.resetAfterMs) this.attempt = 0;
  }

  /** The server asked for this delay: the next wait is exactly it. */
  serverDelay(delayMs: number): void {
    this.serverDelayMs = Math.max(0, delayMs);
  }
}

/** A Retry-After header in whole seconds, as milliseconds; null when absent or not seconds. */
export function parseRetryAfter(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  return /^[0-9]+$/.test(text) ? Number(text) * 1000 : null;
}
