/** The wire and evaluation types the React Native SDK shares with every other Sidekick SDK. */

export type Operator = 'Equals' | 'NotEquals' | 'Contains' | 'StartsWith' | 'EndsWith';

export interface WireRule {
  attribute: string;
  operator: Operator;
  values: string[];
}

/** A flag as the REST API and the stream send it; unknown fields are ignored. */
export interface WireFlag {
  key: string;
  is_enabled?: boolean;
  rollout_percentage?: number | null;
  description?: string | null;
  rules?: WireRule[];
  version?: number;
  updated_at?: string;
  [field: string]: unknown;
}

/**
 * Strings pass as they are, booleans as "true"/"false", integral numbers in decimal; any other
 * value never matches a rule.
 */
export type AttributeValue = string | number | boolean | null | undefined;
export type Attributes = Readonly<Record<string, AttributeValue>>;

export type Reason = 'FLAG_NOT_FOUND' | 'OFF' | 'RULE_MATCH' | 'ROLLOUT';

/** Why the core answered as it did. */
export interface Evaluation {
  enabled: boolean;
  reason: Reason;
  /** The matching rule's index when reason is RULE_MATCH, else null. */
  ruleIndex: number | null;
  /** The user's bucket 0..99 when a percentage between 1 and 99 applied, else null. */
  bucket: number | null;
  /** The evaluated flag's version; null when the flag was not found. */
  version: number | null;
}

/** What changed in the client's flag set, as the (older) onChange listeners see it. */
export type FlagChange =
  | { kind: 'upsert'; key: string; version: number }
  | { kind: 'delete'; key: string; version: number }
  | { kind: 'reset'; count: number };

/** Where the client's flags come from: the server, or (until it answers) the persistent cache. */
export type ReadySource = 'server' | 'cache';

/**
 * Where the persistent cache lives: a pair of callbacks over one string (AsyncStorage, MMKV, a
 * file). `get` returns null when nothing is stored; either may return a promise.
 */
export interface CacheStorage {
  get(): string | null | Promise<string | null>;
  set(text: string): void | Promise<void>;
}
