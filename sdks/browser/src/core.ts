/**
 * The Sidekick evaluation core in WebAssembly: loading it, and a FlagStore over its C API.
 *
 * Every evaluation runs in the C core (evalcore/src compiled to wasm32). This module only turns
 * JavaScript values into the bytes the core reads: strings go into one preallocated scratch region
 * of the module's memory (no allocation per call), flag keys and rule attribute names are copied
 * into wasm memory once per upsert, and only the attributes a flag's rules reference are passed.
 */

import { type CheckedFlag, type CheckedServe, checkFlag, type FlagType, FlagValidationError, VARIANT_ON } from './flag_check.js';

export { FlagValidationError } from './flag_check.js';
export type { Condition, FlagType, Operator, Serve, Variant } from './flag_check.js';

/** The ABI this glue was written against (SK_ABI_VERSION in sidekick.h). */
export const ABI_VERSION = 2;

/** What a flag served and why, as the other SDKs report it. */
export interface Evaluation {
  /** True exactly when a boolean flag serves "on"; false for every other type. */
  enabled: boolean;
  /** The served variant's value (boolean flags: true/false); null when the flag is not found. */
  value: unknown;
  /** The served variant's key ("on"/"off" for boolean flags); null when the flag is not found. */
  variant: string | null;
  reason: 'FLAG_NOT_FOUND' | 'OFF' | 'RULE_MATCH' | 'ROLLOUT';
  /** Index of the matching rule; null unless reason is RULE_MATCH. */
  ruleIndex: number | null;
  /** The user's bucket: 0..99 when a rollout percentage applied, 0..999 when a split did, else null. */
  bucket: number | null;
  /** The evaluated flag's version; null when the flag is not found. */
  version: number | null;
}

/** A rule in the wire format: one condition inline (version 1), or AND-ed `conditions`. */
export type WireRule = import('./flag_check.js').Rule;

/** A flag in the wire format (REST bodies and stream payloads); unknown fields are ignored. */
export interface WireFlag {
  key: string;
  type?: FlagType;
  is_enabled?: boolean;
  rollout_percentage?: number | null;
  rules?: WireRule[];
  variants?: import('./flag_check.js').Variant[] | null;
  off_variant?: string | null;
  fallthrough?: import('./flag_check.js').Serve | null;
  bucket_by?: string | null;
  version?: number;
  description?: string | null;
  updated_at?: string;
  [field: string]: unknown;
}

/** Attribute values: strings, booleans and integral numbers take part; anything else never matches. */
export type Attributes = Record<string, unknown>;

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
  sk_flag_new_typed(
    key: number,
    keyLen: number,
    type: number,
    enabled: number,
    rollout: number,
    variantCount: number,
    version: bigint,
    out: number,
  ): number;
  sk_flag_set_bucket_by(flag: number, attribute: number, attributeLen: number): number;
  sk_flag_set_off_variant(flag: number, variant: number): number;
  sk_flag_begin_rule(flag: number): number;
  sk_flag_add_condition(flag: number, attribute: number, attributeLen: number, op: number, negate: number): number;
  sk_flag_serve_variant(flag: number, target: number, variant: number): number;
  sk_flag_serve_split(flag: number, target: number, variants: number, weights: number, count: number): number;
  sk_flag_evaluate_typed(
    flag: number,
    userKey: number,
    userKeyLen: number,
    attributes: number,
    attributeCount: number,
    out: number,
  ): number;
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
const SK_ERR_TOO_MANY_VALUES = -8;
const SK_SERVE_RULE = 0;
const SK_SERVE_FALLTHROUGH = 1;
const SK_VALUE_TEXT = 0;
const SK_VALUE_NUMBER = 1;
const SK_VALUE_BOOL = 2;
const SK_VALUE_OTHER = 3;
// Typed evaluation: sk_typed_attribute on wasm32 is 32 bytes (four 32-bit words, a double, the
// kind and a reserved word); a flag names at most every condition of every rule and bucket_by.
const MAX_TYPED_ATTRIBUTES = 100 * 20 + 1;
const TYPED_ATTRIBUTE_BYTES = 32;
// sk_typed_evaluation: u64 version, i32 reason, rule, bucket, enabled, variant, type.
const TYPED_EVALUATION_BYTES = 32;

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

const MAX_EXACT_INTEGER = 2 ** 53;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let core: CoreExports | null = null;
// Whether the core can evaluate a flag record found once per write, skipping the key lookup.
let byHandle = false;
let loading: Promise<void> | null = null;
let u8 = new Uint8Array(0);
let i32 = new Int32Array(0);
let f64 = new Float64Array(0);
// Allocated once at load: the typed attribute array and the typed evaluation's output.
let typedAttrs = 0;
let typedOut = 0;
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
  f64 = new Float64Array(buffer);
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
  typedAttrs = alloc(MAX_TYPED_ATTRIBUTES * TYPED_ATTRIBUTE_BYTES);
  typedOut = alloc(TYPED_EVALUATION_BYTES);
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
  /** Not a version 1 flag: evaluated with typed attributes (sk_flag_evaluate_typed). */
  typed: boolean;
  type: FlagType;
  /** The variants' keys and values by index, as the core numbers them. */
  variantKeys: string[];
  variantValues: unknown[];
}

/** Writes an array of 32-bit integers into the strings area; returns its address. */
function writeInts(values: readonly number[], at: number): number {
  const aligned = (at + 3) & ~3;
  for (let i = 0; i < values.length; i++) i32[(aligned >> 2) + i] = values[i] as number;
  return aligned;
}

/** Throws FlagValidationError at field when a builder call failed. */
function check(status: number, field: string): void {
  if (status !== SK_OK) throw new FlagValidationError(field, `rejected (${statusName(status)})`);
}

function serve(c: CoreExports, handle: number, target: number, chosen: CheckedServe, field: string): void {
  if (chosen.weights === null) {
    check(c.sk_flag_serve_variant(handle, target, chosen.variants[0] as number), field);
    return;
  }
  reserveStrings(8 * chosen.variants.length + 8);
  const variantsAt = writeInts(chosen.variants, scratch + STRINGS_OFFSET);
  const weightsAt = writeInts(chosen.weights, variantsAt + 4 * chosen.variants.length);
  check(c.sk_flag_serve_split(handle, target, variantsAt, weightsAt, chosen.variants.length), field);
  refreshViews();
}

/** Hands one condition's values to the core; a refused value fails at its path. */
function addValues(c: CoreExports, handle: number, values: readonly string[], path: string): void {
  values.forEach((value, j) => {
    reserveStrings(3 * value.length);
    const at = scratch + STRINGS_OFFSET;
    const status = c.sk_flag_add_value(handle, at, writeString(value, at));
    refreshViews();
    if (status !== SK_OK) {
      const field = status === SK_ERR_TOO_MANY_VALUES ? `${path}.values` : `${path}.values[${j}]`;
      throw new FlagValidationError(field, `rejected (${statusName(status)})`);
    }
  });
}

/** Writes a string into the strings area and returns [address, length]. */
function stage(text: string): [number, number] {
  reserveStrings(3 * text.length);
  const at = scratch + STRINGS_OFFSET;
  return [at, writeString(text, at)];
}

function fieldOfStatus(status: number): string {
  // sk_status codes from sidekick.h mapped to the wire field they concern.
  if (status === -3) return 'key';
  if (status === -4) return 'rollout_percentage';
  return 'flag';
}

/** Builds an sk_flag from a validated flag; returns its pointer (owned by the caller). */
function buildFlag(c: CoreExports, flag: CheckedFlag): number {
  const [keyAt, keyLen] = stage(flag.key);
  const outAt = scratch + OUT_OFFSET;
  const created = flag.simple
    ? c.sk_flag_new(keyAt, keyLen, flag.enabled ? 1 : 0, flag.rollout, BigInt(flag.version), outAt)
    : c.sk_flag_new_typed(
        keyAt,
        keyLen,
        flag.typeCode,
        flag.enabled ? 1 : 0,
        flag.rollout,
        flag.type === 'boolean' ? 0 : flag.variantKeys.length,
        BigInt(flag.version),
        outAt,
      );
  refreshViews();
  if (created !== SK_OK) {
    throw new FlagValidationError(fieldOfStatus(created), `rejected (${statusName(created)})`);
  }
  const handle = i32[outAt >> 2] as number;
  try {
    if (!flag.simple) {
      if (flag.bucketBy !== null) check(c.sk_flag_set_bucket_by(handle, ...stage(flag.bucketBy)), 'bucket_by');
      if (flag.type !== 'boolean') check(c.sk_flag_set_off_variant(handle, flag.offVariant), 'off_variant');
      if (flag.fallthrough !== null) serve(c, handle, SK_SERVE_FALLTHROUGH, flag.fallthrough, 'fallthrough');
    }
    flag.rules.forEach((rule, i) => {
      const path = `rules[${i}]`;
      if (flag.simple) {
        const only = rule.conditions[0]!;
        check(c.sk_flag_add_rule(handle, ...stage(only.attribute), only.operator), path);
        refreshViews();
        addValues(c, handle, only.values, path);
        return;
      }
      check(c.sk_flag_begin_rule(handle), path);
      refreshViews();
      rule.conditions.forEach((condition, n) => {
        const where = `${path}.conditions[${n}]`;
        const [at, len] = stage(condition.attribute);
        check(c.sk_flag_add_condition(handle, at, len, condition.operator, condition.negate ? 1 : 0), where);
        refreshViews();
        addValues(c, handle, condition.values, where);
      });
      serve(c, handle, SK_SERVE_RULE, rule.serve, `${path}.serve`);
    });
  } catch (error) {
    c.sk_flag_free(handle);
    throw error;
  }
  return handle;
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

/** Copies the key and the distinct rule attribute names into one wasm block for evaluation. */
function makeEntry(flag: WireFlag, valid: CheckedFlag): Entry {
  const distinct = new Set<string>();
  for (const rule of valid.rules) for (const condition of rule.conditions) distinct.add(condition.attribute);
  if (valid.bucketBy !== null) distinct.add(valid.bucketBy);
  const names = [...distinct];
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
    typed: !valid.simple,
    type: valid.type,
    variantKeys: valid.variantKeys,
    variantValues: frozenCopy(valid.variantValues),
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
 * As prepare, for a typed evaluation: fills the typed attribute array (numbers and booleans by
 * value, strings and a BigInt's digits as text; null, lists and objects present without a
 * comparable value; undefined absent) and writes the user key. Returns the attribute count.
 */
function prepareTyped(entry: Entry, userKey: string, attrs: unknown): number {
  if (typeof userKey !== 'string') userKey = userKey == null ? '' : String(userKey);
  const names = entry.names;
  const source = typeof attrs === 'object' && attrs !== null ? (attrs as Record<string, unknown>) : null;
  let units = userKey.length;
  if (source !== null) {
    for (const name of names) {
      const value = source[name];
      if (typeof value === 'string') units += value.length;
      else if (typeof value === 'bigint') units += 24 + value.toString().length;
    }
  }
  reserveStrings(3 * units + 4);
  let at = scratch + STRINGS_OFFSET;
  preparedUserLen = writeString(userKey, at);
  at += preparedUserLen;
  let count = 0;
  if (source === null) return 0;
  for (let i = 0; i < names.length; i++) {
    const value = source[names[i] as string];
    let kind = SK_VALUE_OTHER;
    let number = 0;
    let text: string | null = null;
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
        continue;
    }
    const base = typedAttrs + count * TYPED_ATTRIBUTE_BYTES;
    const word = base >> 2;
    i32[word] = entry.namePtrs[i] as number;
    i32[word + 1] = entry.nameLens[i] as number;
    if (text === null) {
      i32[word + 2] = 0;
      i32[word + 3] = 0;
    } else {
      const length = writeString(text, at);
      i32[word + 2] = at;
      i32[word + 3] = length;
      at += length;
    }
    f64[(base + 16) >> 3] = number;
    i32[word + 6] = kind;
    i32[word + 7] = 0;
    count++;
  }
  return count;
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
    const valid = checkFlag(flag);
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
    if (entry !== undefined && entry.typed) {
      return entry.type === 'boolean' && this.#evaluateTyped(entry, userKey, attributes).enabled;
    }
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

  /** The served value and variant, with the reason, the matching rule, the bucket and the version. */
  evaluate(flagKey: string, userKey: string, attributes?: Attributes | null): Evaluation {
    const store = this.#state.store;
    if (store === 0) return { ...NOT_FOUND };
    const entry = this.#state.entries.get(flagKey);
    if (entry !== undefined && entry.typed) return this.#evaluateTyped(entry, userKey, attributes);
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
    if (entry === undefined || reason === 'FLAG_NOT_FOUND') return { ...NOT_FOUND };
    const enabled = i32[word + 5] === 1;
    // A version 1 flag's answer is its variant: on exactly when enabled.
    const variant = enabled ? VARIANT_ON : 0;
    return {
      enabled,
      value: entry.variantValues[variant] ?? null,
      variant: entry.variantKeys[variant] ?? null,
      reason,
      ruleIndex: ruleIndex < 0 ? null : ruleIndex,
      bucket: bucketValue < 0 ? null : bucketValue,
      version: ((i32[word] as number) >>> 0) + ((i32[word + 1] as number) >>> 0) * 2 ** 32,
    };
  }

  /** A typed evaluation of a stored flag by sk_flag_evaluate_typed. */
  #evaluateTyped(entry: Entry, userKey: string, attributes: Attributes | null | undefined): Evaluation {
    const count = prepareTyped(entry, userKey, attributes);
    const c = core as CoreExports;
    c.sk_flag_evaluate_typed(entry.handle, scratch + STRINGS_OFFSET, preparedUserLen, typedAttrs, count, typedOut);
    const word = typedOut >> 2;
    const reason = reasonNames[i32[word + 2] as number] as Evaluation['reason'];
    if (reason === 'FLAG_NOT_FOUND') return { ...NOT_FOUND };
    const ruleIndex = i32[word + 3] as number;
    const bucketValue = i32[word + 4] as number;
    const variant = i32[word + 6] as number;
    return {
      enabled: i32[word + 5] === 1,
      value: entry.variantValues[variant] ?? null,
      variant: entry.variantKeys[variant] ?? null,
      reason,
      ruleIndex: ruleIndex < 0 ? null : ruleIndex,
      bucket: bucketValue < 0 ? null : bucketValue,
      version: ((i32[word] as number) >>> 0) + ((i32[word + 1] as number) >>> 0) * 2 ** 32,
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

  /** A json flag's served value (a copy); defaultValue when the flag is missing or of another type. */
  getJson<T = unknown>(flagKey: string, userKey: string, attributes?: Attributes | null, defaultValue: T | null = null): T | null {
    const value = this.#typedGet('json', flagKey, userKey, attributes, defaultValue);
    return value === defaultValue ? defaultValue : (structuredClone(value) as T);
  }

  /** The typed getters' rule: the served value when the flag exists with that type; never throws. */
  #typedGet(type: FlagType, flagKey: string, userKey: string, attributes: Attributes | null | undefined, defaultValue: unknown): unknown {
    const entry = this.#state.store === 0 ? undefined : this.#state.entries.get(flagKey);
    if (entry === undefined || entry.type !== type) return defaultValue;
    try {
      return this.evaluate(flagKey, userKey, attributes).value;
    } catch {
      return defaultValue;
    }
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
