/**
 * stream_state.ts — the stream protocol's state machine, free of I/O and of any one store type.
 *
 * A full replay (`connected` … `ready`) is built into a fresh store and swapped in whole on
 * `ready`; `resumed` keeps the live store and the deltas that follow apply to it; a delta applies
 * only when the store takes it (the core's newer-version rule); the cursor is the id of the last
 * applied event that carried one, never an event of a replay still in progress. `goodbye` asks
 * for a reconnection delay, or (`revoked`) for the client to stop. Pinned by
 * tests/vectors/stream/state_machine.json; the Python SDK's stream_state.py is its twin.
 */

import type { ServerSentEvent } from './sse.js';

/** A flag as the stream sends it; the state machine reads only its key and version. */
export interface StreamFlag {
  key: string;
  version?: number;
  [field: string]: unknown;
}

/** How the state machine reaches a package's store (Node addon, wasm, JSI). */
export interface StoreAdapter<S> {
  create(): S;
  /** Applies the flag unless the store holds a newer one; throws for an invalid flag. */
  upsert(store: S, flag: StreamFlag): boolean;
  /** Removes the key unless the store holds a version as new as `version`. */
  remove(store: S, key: string, version: number): boolean;
  /** Releases a store that is no longer used (wasm memory); optional. */
  free?(store: S): void;
}

/** What one event did, for the client to act on. */
export interface StreamOutcome {
  /** Keys whose flag changed in the live store (notify the app when non-empty). */
  changedKeys: string[];
  /** A replay completed (`ready`) or a resume began (`resumed`): the store is current. */
  synced: boolean;
  goodbyeReason: string | null;
  /** The delay a goodbye asked for before reconnecting. */
  reconnectAfterMs: number | null;
  /** The server revoked this client: do not reconnect. */
  stop: boolean;
  /** Why the event was skipped, when it could not be read. */
  error: Error | null;
}

/** The flags one store holds, by key, as the state machine applied them. */
type Held = Map<string, StreamFlag>;

export class StreamState<S> {
  private readonly adapter: StoreAdapter<S>;
  private readonly onInvalidFlag: (error: Error) => void;
  private live: { store: S; held: Held };
  private staging: { store: S; held: Held } | null = null;
  cursor: string | null;
  syncedOnce = false;
  stopped = false;

  constructor(
    adapter: StoreAdapter<S>,
    flags: Iterable<StreamFlag> = [],
    cursor: string | null = null,
    onInvalidFlag: (error: Error) => void = () => undefined,
  ) {
    this.adapter = adapter;
    this.onInvalidFlag = onInvalidFlag;
    this.live = { store: adapter.create(), held: new Map() };
    for (const flag of flags) this.upsert(this.live, flag);
    this.cursor = cursor;
  }

  /** The store evaluations read now. */
  get store(): S {
    return this.live.store;
  }

  /** The live flags as applied (what a persistent cache saves). */
  flags(): StreamFlag[] {
    return [...this.live.held.values()];
  }

  /** The connection ended: a replay cut short is dropped; the live store stays. */
  disconnected(): void {
    this.dropStaging();
  }

  /** Releases every store (browsers free wasm memory); the state is unusable afterwards. */
  dispose(): void {
    this.dropStaging();
    this.adapter.free?.(this.live.store);
  }

  handle(event: ServerSentEvent): StreamOutcome {
    const outcome: StreamOutcome = {
      changedKeys: [],
      synced: false,
      goodbyeReason: null,
      reconnectAfterMs: null,
      stop: false,
      error: null,
    };
    switch (event.event) {
      case 'connected':
        this.dropStaging();
        this.staging = { store: this.adapter.create(), held: new Map() };
        break;
      case 'resumed':
        this.dropStaging();
        this.syncedOnce = true;
        outcome.synced = true;
        break;
      case 'ready':
        this.swap(outcome);
        break;
      case 'update': {
        const payload = jsonObject(event.data);
        if (payload === null) {
          outcome.error = new Error(`unreadable update event: ${event.data.slice(0, 200)}`);
          return outcome;
        }
        this.apply(payload, outcome);
        break;
      }
      case 'goodbye': {
        const payload = jsonObject(event.data);
        if (payload === null) {
          outcome.error = new Error(`unreadable goodbye event: ${event.data.slice(0, 200)}`);
          return outcome;
        }
        const reason = typeof payload.reason === 'string' ? payload.reason : '';
        outcome.goodbyeReason = reason;
        if (reason === 'revoked') {
          this.stopped = true;
          outcome.stop = true;
        } else if (Number.isInteger(payload.reconnect_after_ms) && (payload.reconnect_after_ms as number) >= 0) {
          outcome.reconnectAfterMs = payload.reconnect_after_ms as number;
        }
        break;
      }
      default:
        break; // an event type from a newer server: ignore it
    }
    // Events of a replay in progress never move the cursor: it must name the live store.
    if (event.id !== null && this.staging === null) this.cursor = event.id;
    return outcome;
  }

  private swap(outcome: StreamOutcome): void {
    const fresh = this.staging;
    if (fresh === null) return;
    const previous = this.live;
    this.live = fresh;
    this.staging = null;
    this.syncedOnce = true;
    outcome.synced = true;
    outcome.changedKeys = changedKeys(previous.held, fresh.held);
    this.adapter.free?.(previous.store);
  }

  private apply(change: Record<string, unknown>, outcome: StreamOutcome): void {
    const target = this.staging ?? this.live;
    let key: string;
    let applied: boolean;
    const flag = change.flag;
    if (change.type === 'UPSERT' && typeof flag === 'object' && flag !== null && !Array.isArray(flag)) {
      key = String((flag as StreamFlag).key);
      applied = this.upsert(target, flag as StreamFlag);
    } else if (change.type === 'DELETE' && typeof change.key === 'string') {
      key = change.key;
      const version = Number.isInteger(change.version) ? (change.version as number) : 0;
      applied = this.adapter.remove(target.store, key, version);
      if (applied) target.held.delete(key);
    } else {
      return; // a change type from a newer server: ignore it
    }
    if (applied && target === this.live) outcome.changedKeys = [key];
  }

  private upsert(target: { store: S; held: Held }, flag: StreamFlag): boolean {
    try {
      if (!this.adapter.upsert(target.store, flag)) return false;
    } catch (error) {
      // One bad flag from the server (or a cache) must not stop the others.
      this.onInvalidFlag(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
    target.held.set(flag.key, flag);
    return true;
  }

  private dropStaging(): void {
    if (this.staging !== null) this.adapter.free?.(this.staging.store);
    this.staging = null;
  }
}

/** The keys whose flag differs between two sets, sorted. */
export function changedKeys(before: ReadonlyMap<string, StreamFlag>, after: ReadonlyMap<string, StreamFlag>): string[] {
  const keys: string[] = [];
  for (const [key, flag] of after) if (differs(before.get(key), flag)) keys.push(key);
  for (const key of before.keys()) if (!after.has(key)) keys.push(key);
  return keys.sort();
}

function differs(old: StreamFlag | undefined, fresh: StreamFlag): boolean {
  if (old === undefined) return true;
  const oldVersion = old.version ?? 0;
  const newVersion = fresh.version ?? 0;
  if (oldVersion !== 0 && newVersion !== 0) return oldVersion !== newVersion;
  // Unversioned flags (bootstrap files) can only be compared whole.
  return JSON.stringify(old) !== JSON.stringify(fresh);
}

function jsonObject(data: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
