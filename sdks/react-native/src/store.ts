/**
 * FlagStore: the native store plus what the core does not hold, each flag's type and variant
 * values. The JSI code validates the whole wire flag and the core answers with the served
 * variant's index; the value is looked up here, so it never crosses JSI on evaluation and is
 * never held by native code (a jsi::Value outliving its call is tied to the runtime's thread).
 */

import { createNativeStore, type NativeEvaluation, type NativeStore } from './native';
import type {
  Attributes,
  Evaluation,
  FlagType,
  JsonValue,
  WireFlag,
  WireVariant,
} from './types';

interface StoredVariants {
  readonly type: FlagType;
  readonly keys: readonly string[];
  readonly values: readonly JsonValue[];
}

const BOOLEAN_VARIANTS: StoredVariants = {
  type: 'boolean',
  keys: ['off', 'on'],
  values: [false, true],
};

function deepFreeze(value: JsonValue): JsonValue {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) {
      deepFreeze(item);
    }
    Object.freeze(value);
  }
  return value;
}

// Called after the native upsert accepted the flag, so every field here is already valid.
function variantsOf(flag: WireFlag): StoredVariants {
  const type = (flag.type ?? 'boolean') as FlagType;
  if (type === 'boolean') {
    return BOOLEAN_VARIANTS;
  }
  const variants = flag.variants as readonly WireVariant[];
  return {
    type,
    keys: variants.map((variant) => variant.key),
    // A read-only copy: the caller's object (or a value a getter returned) cannot change what
    // the store serves.
    values: variants.map((variant) =>
      type === 'json' ? deepFreeze(JSON.parse(JSON.stringify(variant.value)) as JsonValue) : variant.value,
    ),
  };
}

export class FlagStore {
  private readonly variants = new Map<string, StoredVariants>();

  constructor(private readonly native: NativeStore = createNativeStore()) {}

  /** Applies a wire flag; false when its version is not newer. Throws "<field path>: ...". */
  upsert(flag: WireFlag): boolean {
    const applied = this.native.upsert(flag);
    if (applied) {
      this.variants.set(flag.key, variantsOf(flag));
    }
    return applied;
  }

  /** Removes a flag; version 0 is unconditional. True when a flag was removed. */
  remove(key: string, version: number): boolean {
    const removed = this.native.remove(key, version);
    if (removed) {
      this.variants.delete(key);
    }
    return removed;
  }

  clear(): void {
    this.native.clear();
    this.variants.clear();
  }

  size(): number {
    return this.native.size();
  }

  /** The stored version of a flag, 0 when absent or unversioned. */
  version(key: string): number {
    return this.native.version(key);
  }

  /** True when a boolean flag serves on; false for a missing flag or any other type. */
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes): boolean {
    return this.native.isEnabled(flagKey, userKey, attributes);
  }

  /** The served value and variant with the reason, matching rule, bucket and version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes): Evaluation {
    const answer = this.native.evaluate(flagKey, userKey, attributes);
    const stored = answer.variant === null ? undefined : this.variants.get(flagKey);
    return {
      enabled: answer.enabled,
      value: stored === undefined ? null : (stored.values[answer.variant as number] ?? null),
      variant: stored === undefined ? null : (stored.keys[answer.variant as number] ?? null),
      reason: answer.reason,
      ruleIndex: answer.ruleIndex,
      bucket: answer.bucket,
      version: answer.version,
    };
  }

  /** A boolean flag's answer, or defaultValue when it is missing or of another type. */
  getBoolean(flagKey: string, userKey: string, defaultValue: boolean, attributes?: Attributes): boolean {
    return this.typed('boolean', flagKey, userKey, attributes, defaultValue) as boolean;
  }

  /** A string flag's served value, or defaultValue when it is missing or of another type. */
  getString(flagKey: string, userKey: string, defaultValue: string, attributes?: Attributes): string {
    return this.typed('string', flagKey, userKey, attributes, defaultValue) as string;
  }

  /** A number flag's served value, or defaultValue when it is missing or of another type. */
  getNumber(flagKey: string, userKey: string, defaultValue: number, attributes?: Attributes): number {
    return this.typed('number', flagKey, userKey, attributes, defaultValue) as number;
  }

  /** A json flag's served value (frozen), or defaultValue when missing or of another type. */
  getJson<T = JsonValue>(flagKey: string, userKey: string, defaultValue: T, attributes?: Attributes): JsonValue | T {
    return this.typed('json', flagKey, userKey, attributes, defaultValue);
  }

  // Never throws: a bad argument or attribute gives the default, as a missing flag does.
  private typed<T>(
    type: FlagType,
    flagKey: string,
    userKey: string,
    attributes: Attributes | undefined,
    defaultValue: T,
  ): JsonValue | T {
    const stored = this.variants.get(flagKey);
    if (stored === undefined || stored.type !== type) {
      return defaultValue;
    }
    let answer: NativeEvaluation;
    try {
      answer = this.native.evaluate(flagKey, userKey, attributes);
    } catch {
      return defaultValue;
    }
    return answer.variant === null ? defaultValue : (stored.values[answer.variant] as JsonValue);
  }
}
