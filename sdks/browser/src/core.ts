/**
 * The Sidekick evaluation core in WebAssembly: loading it, and a FlagStore over its C API.
 *
 * Every evaluation runs in the C core (evalcore/src compiled to wasm32). This module only turns
 * JavaScript values into the bytes the core reads: strings go into one preallocated scratch region
 * of the module's memory (no allocation per call), flag keys and rule attribute names are copied
 * into wasm memory once per upsert, and only the attributes a flag's rules reference are passed.
 */

/** The ABI this glue was written against (SK_ABI_VERSION in sidekick.h). */
export const ABI_VERSION = 2;

/** The store's answer with its reason, as the other SDKs report it. */
export interface Evaluation {
  enabled: boolean;
  reason: 'FLAG_NOT_FOUND' | 'OFF' | 'RULE_MATCH' | 'ROLLOUT';
  /** Index of the matching rule; null unless reason is RULE_MATCH. */
  ruleIndex: number | null;
  /** The user's bucket 0..99; null unless a percentage between 1 and 99 applied. */
  bucket: number | null;
  /** The evaluated flag's version; null when the flag is not found. */
  version: number | null;
}

/** A rule in the wire format. */
export interface WireRule {
  attribute: string;
  operator: 'Equals' | 'NotEquals' | 'Contains' | 'StartsWith' | 'EndsWith';
  values: string[];
}

/** A flag in the wire format (REST bodies and stream payloads); unknown fields are ignored. */
export interface WireFlag {
  key: string;
  is_enabled?: boolean;
  rollout_percentage?: number | null;
  rules?: WireRule[];
  version?: number;
  description?: string | null;
  updated_at?: string;
  [field: string]: unknown;
}

/** Attribute values: strings, booleans and integral numbers take part; anything else never matches. */
export type Attributes = Record<string, unknown>;

/** Thrown by FlagStore.upsert for an invalid flag; the message starts with the field path. */
export class FlagValidationError extends Error {
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'FlagValidationError';
    this.field = field;
  }
}

/** Where loadCore finds the module: a URL, fetched bytes, a Response, or a compiled module. */
export type WasmSource =
  | string
  | URL
  | Response
  | PromiseLike<Response>
  | ArrayBuffer
  | ArrayBufferView
  | WebAssembly.Module;

interface CoreExports {
  memory: WebAssembly.Memory;
  _initialize?: () => void;
  skw_alloc(size: number): number;
  skw_free(ptr: number): void;
  sk_abi_version(): number;
  sk_status_name(status: number): number;
  sk_reason_name(reason: number): number;
  sk_operator_parse(name: number, nameLen: number): number;
  sk_murmur3_32(data: number, len: number, seed: number): number;
  sk_bucket(flagKey: number, flagKeyLen: number, userKey: number, userKeyLen: number): number;
  sk_flag_new(
    key: number,
    keyLen: number,
    enabled: number,
    rollout: number,
    version: bigint,
    out: number,
  ): number;
  sk_flag_add_rule(flag: number, attribute: number, attributeLen: number, op: number): number;
  sk_flag_add_value(flag: number, value: number, valueLen: number): number;
  sk_flag_free(flag: number): void;
  sk_store_new(mode: number): number;
  sk_store_free(store: number): void;
  sk_store_upsert(store: number, flag: number): number;
  sk_store_remove(store: number, key: number, keyLen: number, version: bigint): number;
  sk_store_clear(store: number): void;
  sk_store_count(store: number): number;
  sk_store_is_enabled(
    store: number,
    flagKey: number,
    flagKeyLen: number,
    userKey: number,
    userKeyLen: number,
    attributes: number,
    attributeCount: number,
  ): number;
  // Evaluate-by-handle (additive to ABI 1; absent from older cores, then the key path is used).
  sk_store_find?(store: number, key: number, keyLen: number): number;
  sk_flag_is_enabled?(
    flag: number,
    userKey: number,
    userKeyLen: number,
    attributes: number,
    attributeCount: number,
  ): number;
  sk_flag_evaluate?(
    flag: number,
    userKey: number,
    userKeyLen: number,
    attributes: number,
    attributeCount: number,
    out: number,
  ): number;
  sk_store_evaluate(
    store: number,
    flagKey: number,
    flagKeyLen: number,
    userKey: number,
    userKeyLen: number,
    attributes: number,
    attributeCount: number,
    out: number,
  ): number;
}

// sk_status values used here (sidekick.h).
const SK_OK = 0;
const SK_IGNORED_STALE = 1;
const SK_ERR_NOT_FOUND = -10;
const SK_STORE_SINGLE_THREADED = 0;

// Scratch layout. sk_attribute on wasm32 is four 32-bit words; a flag references at most
// SK_MAX_RULES distinct attributes, so 128 slots always suffice.
const MAX_ATTRIBUTES = 128;
const ATTRS_OFFSET = 0;
const EVAL_OFFSET = MAX_ATTRIBUTES * 16; // sk_evaluation: u64 version, i32 reason, rule, bucket, enabled
const OUT_OFFSET = EVAL_OFFSET + 24; // the sk_flag* written by sk_flag_new
const STRINGS_OFFSET = OUT_OFFSET + 8;
const INITIAL_SCRATCH = 64 * 1024;
// Short ASCII strings are copied by a loop (four characters per store): cheaper than a TextEncoder
// call at the lengths of user keys and attribute values.
const ASCII_LOOP_LIMIT = 64;

const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const MAX_RULES = 100;
const MAX_VALUES_PER_RULE = 10000;
const UINT64_MAX = 2n ** 64n - 1n;
const MAX_EXACT_INTEGER = 2 ** 53;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let core: CoreExports | null = null;
// Whether the core can evaluate a flag record found once per write, skipping the key lookup.
let byHandle = false;
let loading: Promise<void> | null = null;
let u8 = new Uint8Array(0);
let i32 = new Int32Array(0);
let scratch = 0;
let scratchEnd = 0;
let reasonNames: Evaluation['reason'][] = [];
// The user key left at the start of the strings area by the previous evaluation: a page usually
// evaluates many flags for one user, so an unchanged key is not copied again. Every other writer
// of that area resets it.
let residentUser: string | null = null;
let residentUserLen = 0;
// Likewise the attribute values written after it, in order: resident while every string before
// them is unchanged too (then they sit where they were written).
// residentCount says how many of them are valid (counted, not truncated: shrinking an array on
// the hot path costs more than the copy it saves).
const residentValues: string[] = [];
const residentValueLens: number[] = [];
let residentCount = 0;
// Reused across calls so the hot path allocates nothing of its own.
const pendingValues: string[] = [];
const pendingSlots: number[] = [];

function refreshViews(): void {
  const buffer = (core as CoreExports).memory.buffer;
  u8 = new Uint8Array(buffer);
  i32 = new Int32Array(buffer);
}

function requireCore(): CoreExports {
  if (core === null) throw new Error('Sidekick: call `await loadCore()` before using the core');
  return core;
}

function alloc(size: number): number {
  const ptr = (core as CoreExports).skw_alloc(size);
  if (ptr === 0) throw new RangeError(`Sidekick: out of wasm memory allocating ${size} bytes`);
  refreshViews();
  return ptr;
}

/** Makes room for `bytes` of strings after STRINGS_OFFSET; contents survive unless it grows. */
function ensureStrings(bytes: number): void {
  if (scratch + STRINGS_OFFSET + bytes <= scratchEnd) {
    if (u8.length === 0) refreshViews(); // memory grew elsewhere and detached the views
    return;
  }
  residentUser = null;
  const size = Math.max(STRINGS_OFFSET + bytes, 2 * (scratchEnd - scratch));
  (core as CoreExports).skw_free(scratch);
  scratch = alloc(size);
  scratchEnd = scratch + size;
}

/** As ensureStrings, for writers other than evaluation: they overwrite the resident user key. */
function reserveStrings(bytes: number): void {
  residentUser = null;
  ensureStrings(bytes);
}

/** Writes s as UTF-8 at address at (room for 3 bytes per UTF-16 unit reserved); returns its length. */
function writeString(s: string, at: number): number {
  const n = s.length;
  if (n <= ASCII_LOOP_LIMIT) {
    let i = 0;
    let seen = 0;
    if ((at & 3) === 0) {
      // Four characters per 32-bit store (wasm memory is little-endian).
      for (let word = at >> 2; i + 4 <= n; i += 4, word++) {
        const a = s.charCodeAt(i);
        const b = s.charCodeAt(i + 1);
        const c = s.charCodeAt(i + 2);
        const d = s.charCodeAt(i + 3);
        seen |= a | b | c | d;
        i32[word] = a | (b << 8) | (c << 16) | (d << 24);
      }
    }
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      seen |= c;
      u8[at + i] = c;
    }
    if (seen <= 0x7f) return n;
  }
  // Not ASCII (what the loop wrote is overwritten), or long: the platform's encoder.
  return encoder.encodeInto(s, u8.subarray(at, at + 3 * n)).written;
}

function readCString(ptr: number): string {
  let end = ptr;
  while (u8[end] !== 0) end++;
  return decoder.decode(u8.subarray(ptr, end));
}

function statusName(status: number): string {
  return readCString((core as CoreExports).sk_status_name(status));
}

/** The contract's conversion of an attribute value to the text the core compares, or undefined. */
function attributeString(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isInteger(value)) return undefined;
      // String(-0) is "0" already; beyond 2^53 String() switches to exponent notation.
      return Math.abs(value) < MAX_EXACT_INTEGER ? String(value) : BigInt(value).toString();
    case 'bigint':
      return value.toString();
    default:
      return undefined;
  }
}

function instantiateWith(module: WebAssembly.Module): Promise<WebAssembly.Instance> {
  // wasi-libc may reference a few WASI functions the core never reaches (no I/O, no exit); give
  // each one a stub so the module instantiates where no WASI runtime exists.
  const imports: Record<string, Record<string, () => number>> = {};
  for (const entry of WebAssembly.Module.imports(module)) {
    if (entry.kind !== 'function') continue;
    const fields = (imports[entry.module] ??= {});
    fields[entry.name] = () => {
      throw new Error(`Sidekick: the wasm core called the host function ${entry.name}`);
    };
  }
  return WebAssembly.instantiate(module, imports);
}

async function compile(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer) return WebAssembly.compile(source);
  if (ArrayBuffer.isView(source)) {
    const view = source;
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    return WebAssembly.compile(bytes.slice());
  }
  const response =
    typeof source === 'string' || source instanceof URL ? fetch(source) : Promise.resolve(source);
  const resolved = await response;
  if (!resolved.ok) throw new Error(`Sidekick: fetching the wasm core failed (${resolved.status})`);
  if (typeof WebAssembly.compileStreaming === 'function') {
    const type = resolved.headers.get('Content-Type') ?? '';
    if (type.startsWith('application/wasm')) return WebAssembly.compileStreaming(resolved);
  }
  return WebAssembly.compile(await resolved.arrayBuffer());
}

async function instantiate(source: WasmSource): Promise<void> {
  const instance = await instantiateWith(await compile(source));
  const exports = instance.exports as unknown as CoreExports;
  exports._initialize?.();
  const abi = exports.sk_abi_version();
  if (abi !== ABI_VERSION) {
    throw new Error(`Sidekick: the wasm core has ABI ${abi}, this glue needs ${ABI_VERSION}`);
  }
  core = exports;
  byHandle =
    typeof exports.sk_store_find === 'function' &&
    typeof exports.sk_flag_is_enabled === 'function' &&
    typeof exports.sk_flag_evaluate === 'function';
  refreshViews();
  scratch = alloc(INITIAL_SCRATCH);
  scratchEnd = scratch + INITIAL_SCRATCH;
  reasonNames = [0, 1, 2, 3].map((r) => readCString(exports.sk_reason_name(r))) as
    Evaluation['reason'][];
}

/**
 * Loads the wasm core once; later calls return the same promise. With no argument the module is
 * fetched from `sidekick.wasm` next to this file; pass a URL, bytes (e.g. read from disk in Node),
 * a Response or a compiled WebAssembly.Module to load it from elsewhere.
 */
export function loadCore(source?: WasmSource): Promise<void> {
  if (loading === null) {
    loading = instantiate(source ?? new URL('./sidekick.wasm', import.meta.url)).catch(
      (error: unknown) => {
        loading = null;
        throw error;
      },
    );
  }
  return loading;
}

/** True once loadCore has finished. */
export function isCoreLoaded(): boolean {
  return core !== null;
}

/** MurmurHash3 x86_32 (unsigned) of a string's UTF-8 bytes, or of raw bytes. */
export function murmur3_32(data: string | Uint8Array, seed = 0): number {
  const c = requireCore();
  let length: number;
  if (typeof data === 'string') {
    reserveStrings(3 * data.length);
    length = writeString(data, scratch + STRINGS_OFFSET);
  } else {
    reserveStrings(data.length);
    u8.set(data, scratch + STRINGS_OFFSET);
    length = data.length;
  }
  return c.sk_murmur3_32(scratch + STRINGS_OFFSET, length, seed >>> 0) >>> 0;
}

/** The rollout bucket 0..99 of a user for a flag. */
export function bucket(flagKey: string, userKey: string): number {
  const c = requireCore();
  reserveStrings(3 * (flagKey.length + userKey.length));
  const keyAt = scratch + STRINGS_OFFSET;
  const keyLen = writeString(flagKey, keyAt);
  const userLen = writeString(userKey, keyAt + keyLen);
  return c.sk_bucket(keyAt, keyLen, keyAt + keyLen, userLen);
}

/** What the glue keeps per stored flag: its wire form and its strings already in wasm memory. */
interface Entry {
  flag: WireFlag;
  block: number;
  keyPtr: number;
  keyLen: number;
  /** The core's record for this key (sk_store_find), refreshed after every write to the key. */
  handle: number;
  names: string[];
  namePtrs: number[];
  nameLens: number[];
}

interface ValidRule {
  attribute: string;
  operator: string;
  values: string[];
}

interface ValidFlag {
  key: string;
  enabled: boolean;
  rollout: number;
  version: number;
  rules: ValidRule[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validateRule(rule: unknown, path: string): ValidRule {
  if (!isPlainObject(rule)) throw new FlagValidationError(path, 'must be an object');
  const { attribute, operator, values } = rule;
  if (typeof attribute !== 'string' || attribute.length === 0) {
    throw new FlagValidationError(`${path}.attribute`, 'must be a non-empty string');
  }
  if (typeof operator !== 'string') {
    throw new FlagValidationError(`${path}.operator`, 'must be a string');
  }
  if (!Array.isArray(values)) throw new FlagValidationError(`${path}.values`, 'must be a list');
  if (values.length > MAX_VALUES_PER_RULE) {
    throw new FlagValidationError(`${path}.values`, `at most ${MAX_VALUES_PER_RULE} values`);
  }
  values.forEach((value: unknown, j) => {
    if (typeof value !== 'string') {
      throw new FlagValidationError(`${path}.values[${j}]`, 'must be a string');
    }
  });
  return { attribute, operator, values: values as string[] };
}

/** Checks the wire types (the core checks ranges and names again) and applies the defaults. */
function validateFlag(flag: unknown): ValidFlag {
  if (!isPlainObject(flag)) throw new FlagValidationError('flag', 'must be an object');
  const { key, is_enabled, rollout_percentage, rules, version } = flag;
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
    throw new FlagValidationError(
      'key',
      'must be 1-100 characters of A-Z a-z 0-9 _ - . starting with a letter or digit',
    );
  }
  if (is_enabled !== undefined && typeof is_enabled !== 'boolean') {
    throw new FlagValidationError('is_enabled', 'must be a boolean');
  }
  let rollout = -1;
  if (rollout_percentage !== undefined && rollout_percentage !== null) {
    if (
      typeof rollout_percentage !== 'number' ||
      !Number.isInteger(rollout_percentage) ||
      rollout_percentage < 0 ||
      rollout_percentage > 100
    ) {
      throw new FlagValidationError('rollout_percentage', 'must be an integer from 0 to 100');
    }
    rollout = rollout_percentage;
  }
  let validRules: ValidRule[] = [];
  if (rules !== undefined) {
    if (!Array.isArray(rules)) throw new FlagValidationError('rules', 'must be a list');
    if (rules.length > MAX_RULES) {
      throw new FlagValidationError('rules', `at most ${MAX_RULES} rules`);
    }
    validRules = rules.map((rule: unknown, i) => validateRule(rule, `rules[${i}]`));
  }
  let validVersion = 0;
  if (version !== undefined && version !== null) {
    if (
      typeof version !== 'number' ||
      !Number.isInteger(version) ||
      version < 0 ||
      BigInt(version) > UINT64_MAX
    ) {
      throw new FlagValidationError('version', 'must be a non-negative integer');
    }
    validVersion = version;
  }
  return { key, enabled: is_enabled === true, rollout, version: validVersion, rules: validRules };
}

function fieldOfStatus(status: number, rule: number): string {
  // sk_status codes from sidekick.h mapped to the wire field they concern.
  switch (status) {
    case -3:
      return 'key';
    case -4:
      return 'rollout_percentage';
    case -5:
      return `rules[${rule}].operator`;
    case -6:
      return `rules[${rule}].attribute`;
    case -7:
      return 'rules';
    case -8:
      return `rules[${rule}].values`;
    default:
      return 'flag';
  }
}

/** Builds an sk_flag from a validated flag; returns its pointer (owned by the caller). */
function buildFlag(c: CoreExports, flag: ValidFlag): number {
  reserveStrings(3 * flag.key.length);
  let at = scratch + STRINGS_OFFSET;
  const keyLen = writeString(flag.key, at);
  const outAt = scratch + OUT_OFFSET;
  const created = c.sk_flag_new(
    at,
    keyLen,
    flag.enabled ? 1 : 0,
    flag.rollout,
    BigInt(flag.version),
    outAt,
  );
  refreshViews();
  if (created !== SK_OK) {
    throw new FlagValidationError(fieldOfStatus(created, 0), `rejected (${statusName(created)})`);
  }
  const handle = i32[outAt >> 2] as number;
  try {
    flag.rules.forEach((rule, i) => {
      reserveStrings(3 * (rule.attribute.length + rule.operator.length));
      at = scratch + STRINGS_OFFSET;
      const opLen = writeString(rule.operator, at);
      const op = c.sk_operator_parse(at, opLen);
      if (op < 0) {
        throw new FlagValidationError(
          `rules[${i}].operator`,
          'must be one of Equals, NotEquals, Contains, StartsWith, EndsWith',
        );
      }
      const attrLen = writeString(rule.attribute, at);
      const added = c.sk_flag_add_rule(handle, at, attrLen, op);
      refreshViews();
      if (added !== SK_OK) {
        throw new FlagValidationError(fieldOfStatus(added, i), `rejected (${statusName(added)})`);
      }
      rule.values.forEach((value, j) => {
        reserveStrings(3 * value.length);
        at = scratch + STRINGS_OFFSET;
        const status = c.sk_flag_add_value(handle, at, writeString(value, at));
        refreshViews();
        if (status !== SK_OK) {
          const field = status === -8 ? `rules[${i}].values` : `rules[${i}].values[${j}]`;
          throw new FlagValidationError(field, `rejected (${statusName(status)})`);
        }
      });
    });
  } catch (error) {
    c.sk_flag_free(handle);
    throw error;
  }
  return handle;
}

/** Copies the key and the distinct rule attribute names into one wasm block for evaluation. */
function makeEntry(flag: WireFlag, valid: ValidFlag): Entry {
  const names = [...new Set(valid.rules.map((rule) => rule.attribute))];
  const encoded = [valid.key, ...names].map((s) => encoder.encode(s));
  const block = alloc(Math.max(1, encoded.reduce((sum, bytes) => sum + bytes.length, 0)));
  let at = block;
  const ptrs: number[] = [];
  const lens: number[] = [];
  for (const bytes of encoded) {
    u8.set(bytes, at);
    ptrs.push(at);
    lens.push(bytes.length);
    at += bytes.length;
  }
  return {
    flag,
    block,
    keyPtr: ptrs[0] as number,
    keyLen: lens[0] as number,
    handle: 0,
    names,
    namePtrs: ptrs.slice(1),
    nameLens: lens.slice(1),
  };
}

/** Refreshes an entry's record handle after a write to its key (records move only on writes). */
function findRecord(store: number, entry: Entry): void {
  if (!byHandle) return;
  entry.handle = (core as CoreExports).sk_store_find!(store, entry.keyPtr, entry.keyLen);
  // A stored key always has a record; if the core ever says otherwise, use the key path.
  if (entry.handle === 0) byHandle = false;
}

interface StoreState {
  store: number;
  entries: Map<string, Entry>;
}

function releaseEntries(state: StoreState): void {
  const c = core as CoreExports;
  for (const entry of state.entries.values()) c.skw_free(entry.block);
  state.entries.clear();
}

const finalizer = new FinalizationRegistry<StoreState>((state) => {
  if (state.store === 0) return;
  releaseEntries(state);
  (core as CoreExports).sk_store_free(state.store);
});

// The flag key and user key of the evaluation being prepared (set by prepare()).
let preparedKeyPtr = 0;
let preparedKeyLen = 0;
let preparedUserLen = 0;

/**
 * Writes one evaluation's strings and sk_attribute array into the scratch region and returns the
 * attribute count. Only the attributes the flag's rules name are converted: an attribute no rule
 * reads cannot change the answer.
 */
function prepare(entry: Entry | undefined, flagKey: string, userKey: string, attrs: unknown): number {
  if (typeof userKey !== 'string') userKey = userKey == null ? '' : String(userKey);
  if (entry === undefined) {
    if (byHandle) {
      preparedUserLen = 0; // the core answers FLAG_NOT_FOUND for the NULL record
      return 0;
    }
    // Not stored: the core answers FLAG_NOT_FOUND; the key still goes through it.
    const key = typeof flagKey === 'string' ? flagKey : String(flagKey);
    reserveStrings(3 * (key.length + userKey.length));
    preparedKeyPtr = scratch + STRINGS_OFFSET;
    preparedKeyLen = writeString(key, preparedKeyPtr);
    preparedUserLen = writeString(userKey, preparedKeyPtr + preparedKeyLen);
    return 0;
  }
  preparedKeyPtr = entry.keyPtr;
  preparedKeyLen = entry.keyLen;
  const names = entry.names;
  let count = 0;
  let units = userKey.length;
  if (names.length !== 0 && typeof attrs === 'object' && attrs !== null) {
    const source = attrs as Record<string, unknown>;
    for (let i = 0; i < names.length; i++) {
      const value = attributeString(source[names[i] as string]);
      if (value === undefined) continue;
      pendingValues[count] = value;
      pendingSlots[count] = i;
      units += value.length;
      count++;
    }
  }
  // Each string starts 4-aligned (for writeString's word stores): up to 3 bytes of padding each.
  ensureStrings(3 * units + 4 * (count + 1));
  let at = scratch + STRINGS_OFFSET;
  let resident = userKey === residentUser;
  if (!resident) {
    residentUserLen = writeString(userKey, at);
    residentUser = userKey;
    residentCount = 0;
  }
  preparedUserLen = residentUserLen;
  at = (at + preparedUserLen + 3) & ~3;
  let word = (scratch + ATTRS_OFFSET) >> 2;
  for (let k = 0; k < count; k++) {
    const slot = pendingSlots[k] as number;
    const value = pendingValues[k] as string;
    let length: number;
    if (resident && k < residentCount && value === residentValues[k]) {
      length = residentValueLens[k] as number;
    } else {
      // From here on every string is rewritten; what followed before now sits elsewhere.
      resident = false;
      length = writeString(value, at);
      residentValues[k] = value;
      residentValueLens[k] = length;
      residentCount = k + 1;
    }
    i32[word] = entry.namePtrs[slot] as number;
    i32[word + 1] = entry.nameLens[slot] as number;
    i32[word + 2] = at;
    i32[word + 3] = length;
    word += 4;
    at = (at + length + 3) & ~3;
  }
  return count;
}

/**
 * Flags by key, evaluated by the wasm core. Writes are version-aware: an older version than the
 * stored (or deleted) one changes nothing. Call `await loadCore()` before creating one.
 */
export class FlagStore {
  readonly #state: StoreState;

  constructor() {
    const c = requireCore();
    const store = c.sk_store_new(SK_STORE_SINGLE_THREADED);
    refreshViews();
    if (store === 0) throw new RangeError('Sidekick: out of wasm memory creating a store');
    this.#state = { store, entries: new Map() };
    finalizer.register(this, this.#state, this);
  }

  #handle(): number {
    const store = this.#state.store;
    if (store === 0) throw new Error('Sidekick: this FlagStore has been freed');
    return store;
  }

  /**
   * Validates a wire flag and stores it. Returns true when applied, false when its version is not
   * newer than the stored or deleted one. Throws FlagValidationError naming the field at fault.
   */
  upsert(flag: WireFlag): boolean {
    const c = requireCore();
    const store = this.#handle();
    const valid = validateFlag(flag);
    const status = c.sk_store_upsert(store, buildFlag(c, valid));
    refreshViews();
    const entries = this.#state.entries;
    const previous = entries.get(valid.key);
    if (status === SK_IGNORED_STALE) {
      if (previous !== undefined) findRecord(store, previous);
      return false;
    }
    if (status !== SK_OK) throw new Error(`Sidekick: upsert of ${valid.key} failed (${statusName(status)})`);
    const entry = makeEntry(structuredClone(flag), valid);
    findRecord(store, entry);
    entries.set(valid.key, entry);
    if (previous !== undefined) c.skw_free(previous.block);
    return true;
  }

  /**
   * Removes a flag. A non-zero version (a DELETE event's) applies only when newer than the stored
   * flag and is remembered, so an older upsert arriving later is ignored. Returns true when a flag
   * was removed.
   */
  delete(key: string, version = 0): boolean {
    const c = requireCore();
    const store = this.#handle();
    if (typeof key !== 'string') return false;
    reserveStrings(3 * key.length);
    const at = scratch + STRINGS_OFFSET;
    const status = c.sk_store_remove(store, at, writeString(key, at), BigInt(version));
    refreshViews();
    const entries = this.#state.entries;
    const entry = entries.get(key);
    if (status === SK_OK) {
      if (entry !== undefined) c.skw_free(entry.block);
      entries.delete(key);
      return true;
    }
    if (status === SK_IGNORED_STALE || status === SK_ERR_NOT_FOUND) {
      if (entry !== undefined) findRecord(store, entry);
      return false;
    }
    throw new Error(`Sidekick: delete of ${key} failed (${statusName(status)})`);
  }

  /** Removes every flag and every remembered delete. */
  clear(): void {
    const c = requireCore();
    c.sk_store_clear(this.#handle());
    releaseEntries(this.#state);
  }

  /** How many flags are stored. */
  get size(): number {
    return requireCore().sk_store_count(this.#handle());
  }

  /** The stored wire flag, or undefined. */
  get(key: string): WireFlag | undefined {
    return this.#state.entries.get(key)?.flag;
  }

  has(key: string): boolean {
    return this.#state.entries.has(key);
  }

  /** Every stored wire flag. */
  flags(): WireFlag[] {
    return [...this.#state.entries.values()].map((entry) => entry.flag);
  }

  /** Whether the flag is on for this user. Never throws for a missing flag or odd attributes. */
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes | null): boolean {
    const store = this.#state.store;
    if (store === 0) return false;
    const entry = this.#state.entries.get(flagKey);
    const count = prepare(entry, flagKey, userKey, attributes);
    const base = scratch;
    if (byHandle) {
      const handle = entry === undefined ? 0 : entry.handle;
      return (
        (core as CoreExports).sk_flag_is_enabled!(
          handle,
          base + STRINGS_OFFSET,
          preparedUserLen,
          base + ATTRS_OFFSET,
          count,
        ) === 1
      );
    }
    return (
      (core as CoreExports).sk_store_is_enabled(
        store,
        preparedKeyPtr,
        preparedKeyLen,
        base + STRINGS_OFFSET,
        preparedUserLen,
        base + ATTRS_OFFSET,
        count,
      ) === 1
    );
  }

  /** As isEnabled, with the reason, the matching rule, the bucket and the flag's version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes | null): Evaluation {
    const store = this.#state.store;
    if (store === 0) {
      return { enabled: false, reason: 'FLAG_NOT_FOUND', ruleIndex: null, bucket: null, version: null };
    }
    const entry = this.#state.entries.get(flagKey);
    const count = prepare(entry, flagKey, userKey, attributes);
    const base = scratch;
    if (byHandle) {
      (core as CoreExports).sk_flag_evaluate!(
        entry === undefined ? 0 : entry.handle,
        base + STRINGS_OFFSET,
        preparedUserLen,
        base + ATTRS_OFFSET,
        count,
        base + EVAL_OFFSET,
      );
    } else {
      (core as CoreExports).sk_store_evaluate(
        store,
        preparedKeyPtr,
        preparedKeyLen,
        base + STRINGS_OFFSET,
        preparedUserLen,
        base + ATTRS_OFFSET,
        count,
        base + EVAL_OFFSET,
      );
    }
    const word = (base + EVAL_OFFSET) >> 2;
    const reason = reasonNames[i32[word + 2] as number] as Evaluation['reason'];
    const ruleIndex = i32[word + 3] as number;
    const bucketValue = i32[word + 4] as number;
    return {
      enabled: i32[word + 5] === 1,
      reason,
      ruleIndex: ruleIndex < 0 ? null : ruleIndex,
      bucket: bucketValue < 0 ? null : bucketValue,
      version:
        reason === 'FLAG_NOT_FOUND'
          ? null
          : ((i32[word] as number) >>> 0) + ((i32[word + 1] as number) >>> 0) * 2 ** 32,
    };
  }

  /** Releases the store's wasm memory now rather than when it is garbage-collected. */
  free(): void {
    const state = this.#state;
    if (state.store === 0) return;
    finalizer.unregister(this);
    releaseEntries(state);
    requireCore().sk_store_free(state.store);
    state.store = 0;
  }
}
