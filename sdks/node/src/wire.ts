/** wire.ts — the flag wire format's TypeScript types and the checks the C core cannot make. */

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

/** A flag's type; only boolean flags have a rollout and the implicit variants "on"/"off". */
export type FlagType = 'boolean' | 'string' | 'number' | 'json';

/** One condition: the attribute's value compared with values; negate inverts it when present. */
export interface Condition {
  attribute: string;
  operator: Operator;
  values: string[];
  negate?: boolean;
}

/** What a rule or the fallthrough serves: one variant, or a split of 1000 weights. */
export type Serve = { variant: string } | { split: { variant: string; weight: number }[] };

/** A rule: one condition written inline (version 1), or `conditions` AND-ed (version 2). */
export type Rule = (Condition | { conditions: Condition[] }) & { serve?: Serve };

export interface Variant {
  key: string;
  value: unknown;
  name?: string | null;
}

/** A flag as the REST API and the stream send it; unknown fields are ignored. */
export interface Flag {
  key: string;
  type?: FlagType;
  is_enabled?: boolean;
  rollout_percentage?: number | null;
  description?: string | null;
  rules?: Rule[];
  variants?: Variant[] | null;
  off_variant?: string | null;
  fallthrough?: Serve | null;
  bucket_by?: string | null;
  version?: number;
  updated_at?: string;
  [extra: string]: unknown;
}

/** Attribute values as an application passes them: strings, numbers, booleans and BigInts
 * compare; null, lists and objects are present without a comparable value. */
export type AttributeValue = string | boolean | number | bigint | null | undefined | unknown;
export type Attributes = Readonly<Record<string, AttributeValue>>;

/** A flag that failed validation; `field` is its path, e.g. `rules[0].operator`. */
export class FlagValidationError extends Error {
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'FlagValidationError';
    this.field = field;
  }
}

export interface CheckedCondition {
  attribute: string;
  operator: number;
  values: string[];
  negate: boolean;
}

/** A serve by variant index: one variant (weights null) or a split. */
export interface CheckedServe {
  variants: number[];
  weights: number[] | null;
}

export interface CheckedRule {
  conditions: CheckedCondition[];
  serve: CheckedServe;
}

/** A flag's fields after validation, ready for the core (which checks them again). */
export interface CheckedFlag {
  key: string;
  type: FlagType;
  /** sk_flag_type */
  typeCode: number;
  enabled: boolean;
  rollout: number;
  version: number;
  rules: CheckedRule[];
  variantKeys: string[];
  variantValues: unknown[];
  fallthrough: CheckedServe | null;
  offVariant: number;
  bucketBy: string | null;
  /** A version 1 flag: boolean, one text condition per rule serving on, no negate or bucket_by. */
  simple: boolean;
}

/** Numbered as sk_operator. */
const OPERATORS: readonly Operator[] = [
  'Equals',
  'NotEquals',
  'Contains',
  'StartsWith',
  'EndsWith',
  'Gt',
  'Gte',
  'Lt',
  'Lte',
  'SemverEq',
  'SemverGt',
  'SemverLt',
];
const FIRST_NUMERIC = 5;
const FIRST_SEMVER = 9;
const FLAG_TYPES: readonly FlagType[] = ['boolean', 'string', 'number', 'json'];
export const VARIANT_OFF = 0;
export const VARIANT_ON = 1;
const BOOLEAN_VARIANT_KEYS = ['off', 'on'];
const BOOLEAN_VARIANT_VALUES = [false, true];
const MAX_RULES = 100;
const MAX_VALUES_PER_RULE = 10_000;
const MAX_CONDITIONS = 20;
const MAX_VARIANTS = 100;
const MAX_JSON_VALUE_BYTES = 64 * 1024;
const SPLIT_TOTAL = 1000;
const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const NUMERIC_ID = '(?:0|[1-9][0-9]*)';
const PRE_ID = '(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)';
const SEMVER = new RegExp(
  `^${NUMERIC_ID}\\.${NUMERIC_ID}\\.${NUMERIC_ID}(?:-${PRE_ID}(?:\\.${PRE_ID})*)?` +
    '(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$',
);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : JSON.stringify(value) ?? typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function fail(path: string, message: string): never {
  throw new FlagValidationError(path, message);
}

/**
 * Validates a wire flag, version 1 or 2, in the order and with the field paths of the Python
 * binding (the shared vectors pin the paths). Throws FlagValidationError at the first fault.
 */
export function checkFlag(flag: unknown): CheckedFlag {
  if (!isObject(flag)) fail('flag', `must be an object, got ${describe(flag)}`);
  const key = flag.key;
  if (key === undefined) fail('key', 'is required');
  if (typeof key !== 'string') fail('key', `must be a string, got ${describe(key)}`);
  if (!KEY.test(key)) {
    fail('key', `must be 1-100 of A-Z a-z 0-9 _ - . starting with a letter or digit, got ${describe(key)}`);
  }
  const enabled = flag.is_enabled === undefined ? false : flag.is_enabled;
  if (typeof enabled !== 'boolean') fail('is_enabled', `must be a boolean, got ${describe(enabled)}`);
  const rawRollout = flag.rollout_percentage ?? null;
  if (rawRollout !== null && (!Number.isInteger(rawRollout) || (rawRollout as number) < 0 || (rawRollout as number) > 100)) {
    fail('rollout_percentage', `must be an integer from 0 to 100 or null, got ${describe(rawRollout)}`);
  }
  // -1 is the core's spelling of null.
  const rollout = rawRollout === null ? -1 : (rawRollout as number);
  const type = flag.type === undefined ? 'boolean' : flag.type;
  if (typeof type !== 'string' || !FLAG_TYPES.includes(type as FlagType)) {
    fail('type', `must be one of ${FLAG_TYPES.join(', ')}, got ${describe(type)}`);
  }
  const flagType = type as FlagType;
  const boolean = flagType === 'boolean';
  let variantKeys = BOOLEAN_VARIANT_KEYS;
  let variantValues: unknown[] = BOOLEAN_VARIANT_VALUES;
  if (boolean) {
    for (const field of ['variants', 'off_variant', 'fallthrough']) {
      if (flag[field] !== undefined && flag[field] !== null) fail(field, 'is for non-boolean flags only');
    }
  } else {
    if (rollout !== -1) fail('rollout_percentage', `must be null on a ${flagType} flag, got ${rollout}`);
    [variantKeys, variantValues] = checkVariants(flag.variants, flagType);
  }
  const variantIndex = new Map(variantKeys.map((variantKey, index) => [variantKey, index]));
  const bucketBy = flag.bucket_by ?? null;
  if (bucketBy !== null && (typeof bucketBy !== 'string' || bucketBy.length === 0)) {
    fail('bucket_by', `must be a non-empty string or null, got ${describe(bucketBy)}`);
  }
  const rules = checkRules(flag.rules === undefined ? [] : flag.rules, flagType, variantIndex);
  let fallthrough: CheckedServe | null = null;
  let offVariant = VARIANT_OFF;
  if (!boolean) {
    if (flag.fallthrough === undefined || flag.fallthrough === null) {
      fail('fallthrough', `is required on a ${flagType} flag`);
    }
    fallthrough = checkServe(flag.fallthrough, 'fallthrough', variantIndex);
    const offKey = flag.off_variant;
    const off = typeof offKey === 'string' ? variantIndex.get(offKey) : undefined;
    if (off === undefined) {
      fail('off_variant', `must name a variant (${variantKeys.join(', ')}), got ${describe(offKey)}`);
    }
    offVariant = off;
  }
  const version = flag.version === undefined || flag.version === null ? 0 : flag.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    fail('version', `must be an integer from 0 to 2**53-1, got ${describe(version)}`);
  }
  const simple =
    boolean &&
    bucketBy === null &&
    rules.every(
      (rule) =>
        rule.conditions.length === 1 &&
        rule.serve.weights === null &&
        rule.serve.variants[0] === VARIANT_ON &&
        !rule.conditions[0].negate &&
        rule.conditions[0].operator < FIRST_NUMERIC,
    );
  return {
    key,
    type: flagType,
    typeCode: FLAG_TYPES.indexOf(flagType),
    enabled,
    rollout,
    version,
    rules,
    variantKeys,
    variantValues,
    fallthrough,
    offVariant,
    bucketBy: bucketBy as string | null,
    simple,
  };
}

function checkVariants(raw: unknown, flagType: FlagType): [string[], unknown[]] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_VARIANTS) {
    fail('variants', `must be a list of 1 to ${MAX_VARIANTS} variants on a ${flagType} flag`);
  }
  const keys: string[] = [];
  const values: unknown[] = [];
  raw.forEach((variant: unknown, index) => {
    const path = `variants[${index}]`;
    if (!isObject(variant)) fail(path, `must be an object, got ${describe(variant)}`);
    const variantKey = variant.key;
    if (typeof variantKey !== 'string' || !KEY.test(variantKey)) {
      fail(`${path}.key`, `must follow the key rule (1-100 of A-Z a-z 0-9 _ - .), got ${describe(variantKey)}`);
    }
    if (keys.includes(variantKey)) fail(`${path}.key`, `duplicate variant key ${describe(variantKey)}`);
    if (!Object.hasOwn(variant, 'value')) fail(`${path}.value`, 'is required');
    checkVariantValue(flagType, variant.value, `${path}.value`);
    const name = variant.name;
    if (name !== undefined && name !== null && typeof name !== 'string') {
      fail(`${path}.name`, `must be a string, got ${describe(name)}`);
    }
    keys.push(variantKey);
    values.push(variant.value);
  });
  return [keys, values];
}

function checkVariantValue(flagType: FlagType, value: unknown, path: string): void {
  if (flagType === 'string' && typeof value !== 'string') {
    fail(path, `must be a string for a string flag, got ${describe(value)}`);
  }
  if (flagType === 'number') {
    if (typeof value !== 'number') fail(path, `must be a number for a number flag, got ${describe(value)}`);
    if (!Number.isFinite(value)) fail(path, `must be a finite number, got ${value}`);
  }
  if (flagType === 'json') {
    let encoded: string | undefined;
    try {
      encoded = JSON.stringify(value);
    } catch (error) {
      fail(path, `must be a JSON value (${(error as Error).message})`);
    }
    if (encoded === undefined) fail(path, 'must be a JSON value');
    const bytes = Buffer.byteLength(encoded, 'utf8');
    if (bytes > MAX_JSON_VALUE_BYTES) fail(path, `at most ${MAX_JSON_VALUE_BYTES} bytes of JSON, got ${bytes}`);
  }
}

function checkRules(raw: unknown, flagType: FlagType, variantIndex: Map<string, number>): CheckedRule[] {
  if (!Array.isArray(raw)) fail('rules', `must be a list, got ${describe(raw)}`);
  if (raw.length > MAX_RULES) fail('rules', `at most ${MAX_RULES} rules, got ${raw.length}`);
  return raw.map((rule: unknown, index): CheckedRule => {
    const path = `rules[${index}]`;
    if (!isObject(rule)) fail(path, `must be an object, got ${describe(rule)}`);
    let conditions: CheckedCondition[];
    if (Object.hasOwn(rule, 'conditions')) {
      for (const short of ['attribute', 'operator', 'values', 'negate']) {
        if (Object.hasOwn(rule, short)) fail(`${path}.${short}`, `a rule with "conditions" has no "${short}" of its own`);
      }
      const raws = rule.conditions;
      if (!Array.isArray(raws) || raws.length < 1 || raws.length > MAX_CONDITIONS) {
        fail(`${path}.conditions`, `must be a list of 1 to ${MAX_CONDITIONS} conditions`);
      }
      conditions = raws.map((condition: unknown, number) => {
        const where = `${path}.conditions[${number}]`;
        if (!isObject(condition)) fail(where, `must be an object, got ${describe(condition)}`);
        return checkCondition(condition, where);
      });
    } else {
      conditions = [checkCondition(rule, path)];
    }
    let serve: CheckedServe;
    if (Object.hasOwn(rule, 'serve')) {
      serve = checkServe(rule.serve, `${path}.serve`, variantIndex);
    } else if (flagType === 'boolean') {
      serve = { variants: [VARIANT_ON], weights: null };
    } else {
      fail(`${path}.serve`, `is required on a ${flagType} flag`);
    }
    return { conditions, serve };
  });
}

function checkCondition(condition: Record<string, unknown>, path: string): CheckedCondition {
  const { attribute, operator, values } = condition;
  if (typeof attribute !== 'string' || attribute.length === 0) {
    fail(`${path}.attribute`, 'must be a non-empty string');
  }
  const op = typeof operator === 'string' ? OPERATORS.indexOf(operator as Operator) : -1;
  if (op < 0) fail(`${path}.operator`, `must be one of ${OPERATORS.join(', ')}, got ${describe(operator)}`);
  if (!Array.isArray(values)) fail(`${path}.values`, `must be a list, got ${describe(values)}`);
  if (values.length > MAX_VALUES_PER_RULE) {
    fail(`${path}.values`, `at most ${MAX_VALUES_PER_RULE} values, got ${values.length}`);
  }
  values.forEach((value: unknown, index) => {
    if (typeof value !== 'string') fail(`${path}.values[${index}]`, `must be a string, got ${describe(value)}`);
  });
  const negate = condition.negate === undefined ? false : condition.negate;
  if (typeof negate !== 'boolean') fail(`${path}.negate`, `must be a boolean, got ${describe(negate)}`);
  const strings = values as string[];
  if (op >= FIRST_NUMERIC && op < FIRST_SEMVER) {
    strings.forEach((value, index) => {
      if (!NUMBER.test(value)) {
        fail(`${path}.values[${index}]`, `must be a number in JSON's grammar for ${operator}, got ${describe(value)}`);
      }
    });
  } else if (op >= FIRST_SEMVER) {
    strings.forEach((value, index) => {
      if (!SEMVER.test(value)) {
        fail(`${path}.values[${index}]`, `must be a SemVer 2.0.0 version for ${operator}, got ${describe(value)}`);
      }
    });
  }
  return { attribute, operator: op, values: strings, negate };
}

function checkServe(raw: unknown, path: string, variantIndex: Map<string, number>): CheckedServe {
  if (!isObject(raw)) fail(path, `must be an object, got ${describe(raw)}`);
  const hasVariant = Object.hasOwn(raw, 'variant');
  if (hasVariant === Object.hasOwn(raw, 'split')) fail(path, 'must have exactly one of "variant" and "split"');
  if (hasVariant) return { variants: [variantOf(raw.variant, `${path}.variant`, variantIndex)], weights: null };
  const split = raw.split;
  if (!Array.isArray(split) || split.length < 1 || split.length > MAX_VARIANTS) {
    fail(`${path}.split`, `must be a list of 1 to ${MAX_VARIANTS} entries`);
  }
  const variants: number[] = [];
  const weights: number[] = [];
  split.forEach((entry: unknown, index) => {
    const where = `${path}.split[${index}]`;
    if (!isObject(entry)) fail(where, `must be an object, got ${describe(entry)}`);
    variants.push(variantOf(entry.variant, `${where}.variant`, variantIndex));
    const weight = entry.weight;
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > SPLIT_TOTAL) {
      fail(`${where}.weight`, `must be an integer from 0 to ${SPLIT_TOTAL}, got ${describe(weight)}`);
    }
    weights.push(weight);
  });
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  if (total !== SPLIT_TOTAL) fail(`${path}.split`, `weights must add up to ${SPLIT_TOTAL}, got ${total}`);
  return { variants, weights };
}

function variantOf(key: unknown, path: string, variantIndex: Map<string, number>): number {
  const index = typeof key === 'string' ? variantIndex.get(key) : undefined;
  if (index === undefined) fail(path, `must name a variant (${[...variantIndex.keys()].join(', ')}), got ${describe(key)}`);
  return index;
}

/**
 * The string the core compares for an attribute value, or undefined when the value never
 * matches: booleans as "true"/"false", integral numbers in decimal without a fraction (BigInt
 * spells out magnitudes where Number#toString would switch to exponent notation), -0 as "0".
 */
export function attributeText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isInteger(value)) return undefined;
      return value < 1e21 && value > -1e21 ? String(value) : BigInt(value).toString();
    case 'bigint':
      return value.toString();
    default:
      return undefined;
  }
}
