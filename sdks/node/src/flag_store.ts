/** flag_store.ts — FlagStore: the C core's flag store, fed and queried from JavaScript. */
import {
  ABSENT,
  DATA_OFFSET,
  HDR_OUT,
  HDR_SLOT,
  HDR_USER_LEN,
  HDR_VALUE_LENS,
  native,
  type NativeStore,
  SK_ERR_BAD_ATTRIBUTE,
  SK_ERR_BAD_KEY,
  SK_ERR_BAD_OPERATOR,
  SK_ERR_BAD_ROLLOUT,
  SK_ERR_TOO_MANY_RULES,
  SK_ERR_TOO_MANY_VALUES,
  SK_IGNORED_STALE,
  SK_OK,
} from './native';
import {
  attributeText,
  checkFlag,
  type Attributes,
  type CheckedFlag,
  type Flag,
  FlagValidationError,
} from './wire';

export type Reason = 'FLAG_NOT_FOUND' | 'OFF' | 'RULE_MATCH' | 'ROLLOUT';

/** Why a flag evaluated as it did. */
export interface Evaluation {
  enabled: boolean;
  reason: Reason;
  /** Index of the matching rule when reason is RULE_MATCH, else null. */
  ruleIndex: number | null;
  /** The user's bucket 0-99 when a percentage between 1 and 99 applied, else null. */
  bucket: number | null;
  /** The evaluated flag's version; null when the flag is not stored. */
  version: number | null;
}

const REASONS: readonly Reason[] = ['FLAG_NOT_FOUND', 'OFF', 'RULE_MATCH', 'ROLLOUT'];

/** What JavaScript keeps per stored flag: where the core's glue knows it, and its wire form. */
interface Entry {
  slot: number;
  /** Distinct rule attributes, in first-use order: only these are converted per evaluation. */
  names: string[];
  /** Only a percentage between 1 and 99 hashes the user key; otherwise it is not sent. */
  hashesUser: boolean;
  flag: Flag;
}

const encoder = new TextEncoder();
/** Strings longer than this go through TextEncoder at once; shorter ones are copied inline. */
const INLINE_LIMIT = 24;

function distinctNames(checked: CheckedFlag): string[] {
  const names: string[] = [];
  for (const rule of checked.rules) {
    if (!names.includes(rule.attribute)) names.push(rule.attribute);
  }
  return names;
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
    let status = core.begin(checked.key, checked.enabled, checked.rollout, checked.version);
    if (status === SK_ERR_BAD_KEY) fail(status, 'key');
    if (status === SK_ERR_BAD_ROLLOUT) fail(status, 'rollout_percentage');
    if (status !== SK_OK) fail(status, 'flag');
    checked.rules.forEach((rule, index) => {
      status = core.addRule(rule.attribute, rule.operator);
      if (status === SK_ERR_TOO_MANY_RULES) fail(status, 'rules');
      if (status === SK_ERR_BAD_ATTRIBUTE) fail(status, `rules[${index}].attribute`);
      if (status === SK_ERR_BAD_OPERATOR) fail(status, `rules[${index}].operator`);
      if (status !== SK_OK) fail(status, `rules[${index}]`);
      if (core.addValues(rule.values) !== -1) {
        status = this.#words[HDR_OUT] | 0;
        fail(status, status === SK_ERR_TOO_MANY_VALUES ? `rules[${index}].values` : `rules[${index}]`);
      }
    });
    const existing = this.#entries.get(checked.key);
    const slot = existing?.slot ?? this.#freeSlots.pop() ?? this.#nextSlot++;
    const names = distinctNames(checked);
    status = core.commit(slot, checked.key, names);
    if (status === SK_OK) {
      const hashesUser = checked.rollout > 0 && checked.rollout < 100;
      this.#entries.set(checked.key, { slot, names, hashesUser, flag: stored });
      return true;
    }
    if (existing === undefined) this.#freeSlots.push(slot);
    if (status === SK_IGNORED_STALE) return false;
    throw new Error(`@sidekick-flags/node: storing ${checked.key} failed: ${native.statusName(status)}`);
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

  /** Whether the flag is on for this user. Never throws for a missing flag or odd attributes. */
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes | null): boolean {
    const entry = this.#entries.get(flagKey);
    // Not stored: the core would answer FLAG_NOT_FOUND; the map mirrors its keys exactly.
    if (entry === undefined) return false;
    this.#stage(entry, userKey, attributes);
    return this.#nativeIsEnabled();
  }

  /** As isEnabled, with the reason, matching rule, bucket and version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes | null): Evaluation {
    const entry = this.#entries.get(flagKey);
    if (entry === undefined) {
      return { enabled: false, reason: 'FLAG_NOT_FOUND', ruleIndex: null, bucket: null, version: null };
    }
    this.#stage(entry, userKey, attributes);
    this.#nativeEvaluate();
    const out = this.#words;
    const ruleIndex = out[HDR_OUT + 2] | 0;
    const bucket = out[HDR_OUT + 3] | 0;
    const reason = REASONS[out[HDR_OUT + 1]] ?? 'FLAG_NOT_FOUND';
    return {
      enabled: out[HDR_OUT] === 1,
      reason,
      ruleIndex: ruleIndex < 0 ? null : ruleIndex,
      bucket: bucket < 0 ? null : bucket,
      version: reason === 'FLAG_NOT_FOUND' ? null : out[HDR_OUT + 5] * 2 ** 32 + out[HDR_OUT + 4],
    };
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
