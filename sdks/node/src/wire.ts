/** wire.ts — the flag wire format's TypeScript types and the checks the C core cannot make. */

export type Operator = 'Equals' | 'NotEquals' | 'Contains' | 'StartsWith' | 'EndsWith';

export interface Rule {
  attribute: string;
  operator: Operator;
  values: string[];
}

/** A flag as the REST API and the stream send it; unknown fields are ignored. */
export interface Flag {
  key: string;
  is_enabled?: boolean;
  rollout_percentage?: number | null;
  description?: string | null;
  rules?: Rule[];
  version?: number;
  updated_at?: string;
  [extra: string]: unknown;
}

/** Attribute values as an application passes them; only strings, booleans and integers count. */
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

/** A flag's fields after the type checks, ready for the core (which checks values and limits). */
export interface CheckedFlag {
  key: string;
  enabled: boolean;
  rollout: number;
  version: number;
  rules: { attribute: string; operator: number; values: string[] }[];
}

const OPERATORS: Readonly<Record<string, number>> = {
  Equals: 0,
  NotEquals: 1,
  Contains: 2,
  StartsWith: 3,
  EndsWith: 4,
};

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : JSON.stringify(value) ?? typeof value;
}

/**
 * Checks the JSON types of a wire flag (JavaScript's side of validation: a string where a string
 * belongs, an integer where an integer belongs). Key charset, rollout range and limits are the
 * C core's to check; it reports them by status code.
 */
export function checkFlag(flag: unknown): CheckedFlag {
  if (flag === null || typeof flag !== 'object' || Array.isArray(flag)) {
    throw new FlagValidationError('flag', `expected an object, got ${describe(flag)}`);
  }
  const wire = flag as Record<string, unknown>;
  const key = wire.key;
  if (typeof key !== 'string') {
    throw new FlagValidationError('key', `expected a string, got ${describe(key)}`);
  }
  const isEnabled = wire.is_enabled === undefined ? false : wire.is_enabled;
  if (typeof isEnabled !== 'boolean') {
    throw new FlagValidationError('is_enabled', `expected a boolean, got ${describe(isEnabled)}`);
  }
  const rollout = wire.rollout_percentage ?? null;
  // -1 is the core's spelling of null, so the range is checked here as well as in the core.
  if (rollout !== null && (!Number.isInteger(rollout) || (rollout as number) < 0 || (rollout as number) > 100)) {
    throw new FlagValidationError(
      'rollout_percentage',
      `expected an integer 0-100 or null, got ${describe(rollout)}`,
    );
  }
  const rawRules = wire.rules === undefined ? [] : wire.rules;
  if (!Array.isArray(rawRules)) {
    throw new FlagValidationError('rules', `expected a list, got ${describe(rawRules)}`);
  }
  const rules = rawRules.map((rule: unknown, index) => checkRule(rule, `rules[${index}]`));
  const version = wire.version === undefined || wire.version === null ? 0 : wire.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new FlagValidationError(
      'version',
      `expected a non-negative integer, got ${describe(version)}`,
    );
  }
  return { key, enabled: isEnabled, rollout: rollout === null ? -1 : (rollout as number), version, rules };
}

function checkRule(rule: unknown, path: string): CheckedFlag['rules'][number] {
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) {
    throw new FlagValidationError(path, `expected an object, got ${describe(rule)}`);
  }
  const { attribute, operator, values } = rule as Record<string, unknown>;
  if (typeof attribute !== 'string' || attribute.length === 0) {
    throw new FlagValidationError(
      `${path}.attribute`,
      `expected a non-empty string, got ${describe(attribute)}`,
    );
  }
  const op = typeof operator === 'string' && Object.hasOwn(OPERATORS, operator) ? OPERATORS[operator] : undefined;
  if (op === undefined) {
    throw new FlagValidationError(
      `${path}.operator`,
      `expected one of ${Object.keys(OPERATORS).join(', ')}, got ${describe(operator)}`,
    );
  }
  if (!Array.isArray(values)) {
    throw new FlagValidationError(`${path}.values`, `expected a list, got ${describe(values)}`);
  }
  values.forEach((value: unknown, index) => {
    if (typeof value !== 'string') {
      throw new FlagValidationError(
        `${path}.values[${index}]`,
        `expected a string, got ${describe(value)}`,
      );
    }
  });
  return { attribute, operator: op, values: values as string[] };
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
