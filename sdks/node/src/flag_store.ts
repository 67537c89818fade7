/** flag_store.ts — FlagStore: the C core's flag store, fed and queried from JavaScript. */
import {
  ABSENT,
  DATA_OFFSET,
  HDR_OUT,
  HDR_SLOT,
  HDR_USER_LEN,
  HDR_VALUE_LENS,
  KIND_OFFSET,
  MAX_NAMES,
  native,
  NUMBER_OFFSET,
  type NativeStore,
  SK_ERR_BAD_ATTRIBUTE,
  SK_ERR_BAD_KEY,
  SK_ERR_BAD_OPERATOR,
  SK_ERR_BAD_ROLLOUT,
  SK_ERR_BAD_VALUE,
  SK_ERR_TOO_MANY_RULES,
  SK_ERR_TOO_MANY_VALUES,
  SK_IGNORED_STALE,
  SK_OK,
  SK_SERVE_FALLTHROUGH,
  SK_SERVE_RULE,
  SK_VALUE_BOOL,
  SK_VALUE_NUMBER,
  SK_VALUE_OTHER,
  SK_VALUE_TEXT,
} from './native';
import {
  attributeText,
  checkFlag,
  type Attributes,
  type CheckedFlag,
  type CheckedServe,
  type Flag,
  type FlagType,
  FlagValidationError,
  VARIANT_ON,
} from './wire';

export type Reason = 'FLAG_NOT_FOUND' | 'OFF' | 'RULE_MATCH' | 'ROLLOUT';

/** What a flag served and why. */
export interface Evaluation {
  /** True exactly when a boolean flag serves "on"; false for every other type. */
  enabled: boolean;
  /** The served variant's value (boolean flags: true/false); null when the flag is not stored. */
  value: unknown;
  /** The served variant's key ("on"/"off" for boolean flags); null when the flag is not stored. */
  variant: string | null;
  reason: Reason;
  /** Index of the matching rule when reason is RULE_MATCH, else null. */
  ruleIndex: number | null;
  /** The user's bucket: 0-99 when a rollout percentage applied, 0-999 when a split did, else null. */
  bucket: number | null;
  /** The evaluated flag's version; null when the flag is not stored. */
  version: number | null;
}

const REASONS: readonly Reason[] = ['FLAG_NOT_FOUND', 'OFF', 'RULE_MATCH', 'ROLLOUT'];

/** What JavaScript keeps per stored flag: where the core's glue knows it, and its wire form. */
interface Entry {
  slot: number;
  /** Distinct rule attributes (and bucket_by), in first-use order: only these are sent. */
  names: string[];
  /** Only a percentage between 1 and 99, or a split, hashes the user key; else it is not sent. */
  hashesUser: boolean;
  /** Not a version 1 flag: evaluated with typed attributes (sk_flag_evaluate_typed). */
  typed: boolean;
  type: FlagType;
  /** The variants' keys and values by index, as the core numbers them. */
  variantKeys: string[];
  variantValues: unknown[];
  flag: Flag;
}

const NOT_FOUND: Evaluation = Object.freeze({
  enabled: false,
  value: null,
  variant: null,
  reason: 'FLAG_NOT_FOUND',
  ruleIndex: null,
  bucket: null,
  version: null,
}) as Evaluation;

const encoder = new TextEncoder();
/** Strings longer than this go through TextEncoder at once; shorter ones are copied inline. */
const INLINE_LIMIT = 24;

function distinctNames(checked: CheckedFlag): string[] {
  const names = new Set<string>();
  for (const rule of checked.rules) {
    for (const condition of rule.conditions) names.add(condition.attribute);
  }
  if (checked.bucketBy !== null) names.add(checked.bucketBy);
  return [...names];
}

/**
 * A deep copy, frozen: evaluate() hands out variant values as they are stored, so neither the
 * caller who passed the flag nor one who reads a json value can change later answers.
 */
function frozenCopy<T>(value: T): T {
  const freeze = (item: unknown): void => {
    if (item === null || typeof item !== 'object') return;
    Object.freeze(item);
    for (const child of Object.values(item)) freeze(child);
  };
  const copy = structuredClone(value);
  freeze(copy);
  return copy;
}

function hasSplit(checked: CheckedFlag): boolean {
  const split = (serve: CheckedServe | null) => serve !== null && serve.weights !== null;
  return split(checked.fallthrough) || checked.rules.some((rule) => split(rule.serve));
}

function cloneFlag(flag: Flag): Flag {
  return structuredClone(flag);
}

/**
 * Flags by key with version-aware writes, evaluated by the Sidekick C core.
 *
 * Per evaluation, JavaScript writes the user key and the values of the flag's own rule attributes
 * into a buffer shared with the addon and makes one argument-less native call: the flag key and
 * attribute names were handed to the core once, at upsert.
 */
export class FlagStore {
  readonly #native: NativeStore;
  readonly #nativeIsEnabled: () => boolean;
  readonly #nativeEvaluate: () => void;
  readonly #entries = new Map<string, Entry>();
  readonly #freeSlots: number[] = [];
  #nextSlot = 0;
  #words!: Uint32Array;
  #bytes!: Uint8Array;
  #kinds!: Uint8Array;
  #numbers!: Float64Array;

  constructor(flags?: Iterable<Flag>) {
    this.#native = native.createStore();
    this.#nativeIsEnabled = this.#native.isEnabled;
    this.#nativeEvaluate = this.#native.evaluate;
    this.#adopt(this.#native.scratch);
    if (flags !== undefined) {
      for (const flag of flags) this.upsert(flag);
    }
  }

  /** Number of stored flags. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Stores a wire flag unless the store already holds the same or a newer version (or a newer
   * delete). Returns whether it applied. Throws FlagValidationError naming the field at fault;
   * the store is then unchanged.
   */
  upsert(flag: Flag | Record<string, unknown>): boolean {
    const checked = checkFlag(flag);
    // Copied before the core sees it, so a flag that cannot be copied changes nothing.
    const stored = cloneFlag(flag as Flag);
    const core = this.#native;
    const fail = (status: number, field: string): never => {
      core.discard();
      throw new FlagValidationError(field, native.statusName(status));
    };
    let status = checked.simple
      ? core.begin(checked.key, checked.enabled, checked.rollout, checked.version)
      : core.beginTyped(
          checked.key,
          checked.typeCode,
          checked.enabled,
          checked.rollout,
          checked.type === 'boolean' ? 0 : checked.variantKeys.length,
          checked.version,
        );
    if (status === SK_ERR_BAD_KEY) fail(status, 'key');
    if (status === SK_ERR_BAD_ROLLOUT) fail(status, 'rollout_percentage');
    if (status !== SK_OK) fail(status, 'flag');
    if (!checked.simple) {
      if (checked.bucketBy !== null) {
        status = core.setBucketBy(checked.bucketBy);
        if (status !== SK_OK) fail(status, 'bucket_by');
      }
      if (checked.type !== 'boolean') {
        status = core.setOffVariant(checked.offVariant);
        if (status !== SK_OK) fail(status, 'off_variant');
      }
      if (checked.fallthrough !== null) {
        const { variants, weights } = checked.fallthrough;
        status = core.serve(SK_SERVE_FALLTHROUGH, variants, weights);
        if (status !== SK_OK) fail(status, 'fallthrough');
      }
    }
    checked.rules.forEach((rule, index) => {
      const path = `rules[${index}]`;
      if (checked.simple) {
        const [only] = rule.conditions;
        status = core.addRule(only.attribute, only.operator);
        if (status === SK_ERR_TOO_MANY_RULES) fail(status, 'rules');
        if (status === SK_ERR_BAD_ATTRIBUTE) fail(status, `${path}.attribute`);
        if (status === SK_ERR_BAD_OPERATOR) fail(status, `${path}.operator`);
        if (status !== SK_OK) fail(status, path);
        this.#addValues(only.values, path, fail);
        return;
      }
      status = core.beginRule();
      if (status === SK_ERR_TOO_MANY_RULES) fail(status, 'rules');
      if (status !== SK_OK) fail(status, path);
      rule.conditions.forEach((condition, number) => {
        const where = `${path}.conditions[${number}]`;
        status = core.addCondition(condition.attribute, condition.operator, condition.negate);
        if (status === SK_ERR_BAD_ATTRIBUTE) fail(status, `${where}.attribute`);
        if (status === SK_ERR_BAD_OPERATOR) fail(status, `${where}.operator`);
        if (status !== SK_OK) fail(status, where);
        this.#addValues(condition.values, where, fail);
      });
      status = core.serve(SK_SERVE_RULE, rule.serve.variants, rule.serve.weights);
      if (status !== SK_OK) fail(status, `${path}.serve`);
    });
    const existing = this.#entries.get(checked.key);
    const slot = existing?.slot ?? this.#freeSlots.pop() ?? this.#nextSlot++;
    const names = distinctNames(checked);
    if (names.length > MAX_NAMES) fail(SK_ERR_TOO_MANY_RULES, 'rules');
    status = core.commit(slot, checked.key, names);
    if (status === SK_OK) {
      this.#entries.set(checked.key, {
        slot,
        names,
        hashesUser: (checked.rollout > 0 && checked.rollout < 100) || hasSplit(checked),
        typed: !checked.simple,
        type: checked.type,
        variantKeys: checked.variantKeys,
        variantValues: frozenCopy(checked.variantValues),
        flag: stored,
      });
      return true;
    }
    if (existing === undefined) this.#freeSlots.push(slot);
    if (status === SK_IGNORED_STALE) return false;
    throw new Error(`@sidekick-flags/node: storing ${checked.key} failed: ${native.statusName(status)}`);
  }

  /** Hands a condition's values to the core; a rejected one fails at its path. */
  #addValues(values: string[], path: string, fail: (status: number, field: string) => never): void {
    const rejected = this.#native.addValues(values);
    if (rejected === -1) return;
    const status = this.#words[HDR_OUT] | 0;
    if (status === SK_ERR_TOO_MANY_VALUES) fail(status, `${path}.values`);
    if (status === SK_ERR_BAD_VALUE) fail(status, `${path}.values[${rejected}]`);
    fail(status, path);
  }

  /**
   * Removes a flag. With a version (a DELETE event's), it applies only when newer than the stored
   * flag and is remembered so an older upsert arriving later is ignored. Returns whether a flag
   * was removed.
   */
  delete(key: string, version = 0): boolean {
    if (typeof key !== 'string') throw new FlagValidationError('key', 'expected a string');
    if (!Number.isSafeInteger(version) || version < 0) {
      throw new FlagValidationError('version', `expected a non-negative integer, got ${version}`);
    }
    const entry = this.#entries.get(key);
    const status = this.#native.remove(key, version, entry?.slot ?? -1);
    if (status !== SK_OK) return false;
    if (entry !== undefined) {
      this.#entries.delete(key);
      this.#freeSlots.push(entry.slot);
    }
    return true;
  }

  /** Removes every flag and forgets every delete. */
  clear(): void {
    this.#native.clear();
    this.#entries.clear();
    this.#freeSlots.length = 0;
    this.#nextSlot = 0;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The stored wire flag (a copy), or undefined. */
  get(key: string): Flag | undefined {
    const entry = this.#entries.get(key);
    return entry === undefined ? undefined : cloneFlag(entry.flag);
  }

  /** Every stored flag (copies). */
  flags(): Flag[] {
    return [...this.#entries.values()].map((entry) => cloneFlag(entry.flag));
  }

  /** The stored version of a flag: 0 when absent or unversioned. */
  version(key: string): number {
    return this.#native.version(key);
  }

  /**
   * Whether a boolean flag is on for this user; false for a flag of any other type. Never throws
   * for a missing flag or odd attributes.
   */
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes | null): boolean {
    const entry = this.#entries.get(flagKey);
    // Not stored: the core would answer FLAG_NOT_FOUND; the map mirrors its keys exactly.
    if (entry === undefined) return false;
    if (entry.typed) {
      if (entry.type !== 'boolean') return false;
      this.#stageTyped(entry, userKey, attributes);
      this.#native.evaluateTyped();
      return this.#words[HDR_OUT] === 1;
    }
    this.#stage(entry, userKey, attributes);
    return this.#nativeIsEnabled();
  }

  /** The served value and variant, with the reason, matching rule, bucket and version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes | null): Evaluation {
    const entry = this.#entries.get(flagKey);
    if (entry === undefined) return { ...NOT_FOUND };
    if (entry.typed) {
      this.#stageTyped(entry, userKey, attributes);
      this.#native.evaluateTyped();
    } else {
      this.#stage(entry, userKey, attributes);
      this.#nativeEvaluate();
    }
    const out = this.#words;
    const reason = REASONS[out[HDR_OUT + 1]] ?? 'FLAG_NOT_FOUND';
    if (reason === 'FLAG_NOT_FOUND') return { ...NOT_FOUND };
    const enabled = out[HDR_OUT] === 1;
    // A version 1 flag's answer is its variant: on exactly when enabled.
    const variant = entry.typed ? out[HDR_OUT + 6] | 0 : enabled ? VARIANT_ON : 0;
    const ruleIndex = out[HDR_OUT + 2] | 0;
    const bucket = out[HDR_OUT + 3] | 0;
    return {
      enabled,
      value: entry.variantValues[variant] ?? null,
      variant: entry.variantKeys[variant] ?? null,
      reason,
      ruleIndex: ruleIndex < 0 ? null : ruleIndex,
      bucket: bucket < 0 ? null : bucket,
      version: out[HDR_OUT + 5] * 2 ** 32 + out[HDR_OUT + 4],
    };
  }

  /** A boolean flag's answer; defaultValue when the flag is missing or of another type. */
  getBoolean(flagKey: string, userKey: string, attributes?: Attributes | null, defaultValue = false): boolean {
    return this.#typedGet('boolean', flagKey, userKey, attributes, defaultValue) as boolean;
  }

  /** A string flag's served value; defaultValue when the flag is missing or of another type. */
  getString(flagKey: string, userKey: string, attributes?: Attributes | null, defaultValue = ''): string {
    return this.#typedGet('string', flagKey, userKey, attributes, defaultValue) as string;
  }

  /** A number flag's served value; defaultValue when the flag is missing or of another type. */
  getNumber(flagKey: string, userKey: string, attributes?: Attributes | null, defaultValue = 0): number {
    return this.#typedGet('number', flagKey, userKey, attributes, defaultValue) as number;
  }

  /**
   * A json flag's served value (a copy: the caller may change it); defaultValue when the flag is
   * missing or of another type.
   */
  getJson<T = unknown>(flagKey: string, userKey: string, attributes?: Attributes | null, defaultValue: T | null = null): T | null {
    const value = this.#typedGet('json', flagKey, userKey, attributes, defaultValue);
    return value === defaultValue ? defaultValue : (structuredClone(value) as T);
  }

  /** The typed getters' rule: the served value when the flag exists with that type; never throws. */
  #typedGet(type: FlagType, flagKey: string, userKey: string, attributes: Attributes | null | undefined, defaultValue: unknown): unknown {
    const entry = typeof flagKey === 'string' ? this.#entries.get(flagKey) : undefined;
    if (entry === undefined || entry.type !== type) return defaultValue;
    try {
      return this.evaluate(flagKey, userKey, attributes).value;
    } catch {
      return defaultValue;
    }
  }

  /** Writes the slot, user key and the flag's attribute values into the shared buffer. */
  #stage(entry: Entry, userKey: string, attributes: Attributes | null | undefined): void {
    let end = DATA_OFFSET;
    if (entry.hashesUser) end = this.#write(typeof userKey === 'string' ? userKey : String(userKey), end);
    // Read #words after each write: a write may have moved everything to a larger buffer.
    this.#words[HDR_SLOT] = entry.slot;
    this.#words[HDR_USER_LEN] = end - DATA_OFFSET;
    const names = entry.names;
    for (let i = 0; i < names.length; i++) {
      const text = attributes == null ? undefined : attributeText(attributes[names[i]]);
      if (text === undefined) {
        this.#words[HDR_VALUE_LENS + i] = ABSENT;
      } else {
        const start = end;
        end = this.#write(text, start);
        this.#words[HDR_VALUE_LENS + i] = end - start;
      }
    }
  }

  /**
   * As #stage for a typed evaluation: numbers (by value) and booleans go into the number words
   * with their kind; strings, and a BigInt's decimal digits, as text.
   */
  #stageTyped(entry: Entry, userKey: string, attributes: Attributes | null | undefined): void {
    // Sent whenever something may hash it: a rollout, a split, or bucket_by's fallback.
    const hashed = entry.hashesUser || entry.names.length > 0;
    let end = hashed ? this.#write(String(userKey), DATA_OFFSET) : DATA_OFFSET;
    this.#words[HDR_SLOT] = entry.slot;
    this.#words[HDR_USER_LEN] = end - DATA_OFFSET;
    const names = entry.names;
    for (let i = 0; i < names.length; i++) {
      const value = attributes == null ? undefined : attributes[names[i]];
      let kind = SK_VALUE_OTHER;
      let text: string | undefined;
      let number = 0;
      switch (typeof value) {
        case 'string':
          kind = SK_VALUE_TEXT;
          text = value;
          break;
        case 'number':
          kind = SK_VALUE_NUMBER;
          number = value;
          break;
        case 'bigint':
          kind = SK_VALUE_NUMBER;
          number = Number(value);
          text = value.toString();
          break;
        case 'boolean':
          kind = SK_VALUE_BOOL;
          number = value ? 1 : 0;
          break;
        case 'object':
          break;
        default:
          // undefined, functions, symbols: not passed.
          this.#words[HDR_VALUE_LENS + i] = ABSENT;
          continue;
      }
      this.#kinds[i] = kind;
      this.#numbers[i] = number;
      if (text === undefined) {
        this.#words[HDR_VALUE_LENS + i] = 0;
      } else {
        const start = end;
        end = this.#write(text, start);
        this.#words[HDR_VALUE_LENS + i] = end - start;
      }
    }
  }

  /** Writes text as UTF-8 at offset; returns the offset after it. */
  #write(text: string, offset: number): number {
    const length = text.length;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (offset + length * 3 > this.#bytes.length) this.#grow(offset + length * 3);
    const bytes = this.#bytes;
    if (length <= INLINE_LIMIT) {
      let i = 0;
      for (; i < length; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        bytes[offset + i] = code;
      }
      if (i === length) return offset + length;
    }
    return offset + encoder.encodeInto(text, bytes.subarray(offset)).written;
  }

  #grow(bytes: number): void {
    const previous = this.#bytes;
    this.#adopt(this.#native.grow(bytes));
    this.#bytes.set(previous);
  }

  #adopt(scratch: ArrayBuffer): void {
    this.#words = new Uint32Array(scratch, 0, DATA_OFFSET / 4);
    this.#bytes = new Uint8Array(scratch);
    this.#kinds = new Uint8Array(scratch, KIND_OFFSET, MAX_NAMES);
    this.#numbers = new Float64Array(scratch, NUMBER_OFFSET, MAX_NAMES);
  }
}

/** MurmurHash3 x86_32 (unsigned) of a string's UTF-8 bytes or of raw bytes, by the C core. */
export function murmur3_32(data: string | Uint8Array, seed = 0): number {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  return native.murmur3_32(bytes, seed >>> 0);
}

/** The rollout bucket 0-99 of a user for a flag, as the core computes it. */
export function bucket(flagKey: string, userKey: string): number {
  return murmur3_32(`${flagKey}:${userKey}`) % 100;
}
