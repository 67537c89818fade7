/** The wire and evaluation types the React Native SDK shares with every other Sidekick SDK. */

export type Operator =
  | 'Equals'
  | 'NotEquals'
  | 'Contains'
  | 'StartsWith'
  | 'EndsWith'
  | 'Gt'
  | 'Gte'
  | 'Lt'
  | 'Lte'
  | 'SemverEq'
  | 'SemverGt'
  | 'SemverLt';

/** A JSON value: what a variant of a json flag may hold. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export type FlagType = 'boolean' | 'string' | 'number' | 'json';

/** One condition: the attribute, the operator, its values (text) and, optionally, negate. */
export interface WireCondition {
  attribute: string;
  operator: Operator;
  values: string[];
  negate?: boolean;
}

/** A served variant ({variant}) or a split of 1000 ({split: [{variant, weight}]}). */
export type WireServe = { variant: string } | { split: { variant: string; weight: number }[] };

/** A rule: one condition written inline, or several under `conditions` (all must hold). */
export type WireRule = (WireCondition | { conditions: WireCondition[] }) & { serve?: WireServe };

export interface WireVariant {
  key: string;
  value: JsonValue;
  name?: string | null;
}

/** A flag as the REST API and the stream send it; unknown fields are ignored. */
export interface WireFlag {
  key: string;
  is_enabled?: boolean;
  rollout_percentage?: number | null;
  description?: string | null;
  rules?: WireRule[];
  /** Version 2: boolean (the default) flags have no variants, the other types need them. */
  type?: FlagType;
  variants?: WireVariant[];
  off_variant?: string;
  fallthrough?: WireServe;
  bucket_by?: string | null;
  version?: number;
  updated_at?: string;
  [field: string]: unknown;
}

/**
 * Strings as text, numbers by value (18.5 compares as a number; an integral number also matches
 * its decimal text), booleans as booleans; null, arrays and objects are present without a
 * comparable value (they count for `negate`); undefined is not passed.
 */
export type AttributeValue = JsonValue | undefined;
export type Attributes = Readonly<Record<string, AttributeValue>>;

export type Reason = 'FLAG_NOT_FOUND' | 'OFF' | 'RULE_MATCH' | 'ROLLOUT';

/** What the core served, and why. */
export interface Evaluation {
  /** True exactly when a boolean flag serves on; false for every other type. */
  enabled: boolean;
  /** The served variant's value (true/false for boolean flags); null when not found. */
  value: JsonValue;
  /** The served variant's key ('on'/'off' for boolean flags); null when not found. */
  variant: string | null;
  reason: Reason;
  /** The matching rule's index when reason is RULE_MATCH, else null. */
  ruleIndex: number | null;
  /** 0..99 when a rollout percentage applied, 0..999 when a split did, else null. */
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
