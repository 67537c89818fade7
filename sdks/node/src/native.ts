/** native.ts — loads the Node-API addon and checks it was built from the expected C ABI. */
import path from 'node:path';

/** The C core's ABI version this package was written against (SK_ABI_VERSION in sidekick.h). */
export const EXPECTED_ABI_VERSION = 2;

/** Word offsets in the shared scratch buffer; must match the layout documented in addon.c. */
export const HDR_SLOT = 0;
export const HDR_USER_LEN = 1;
export const HDR_OUT = 4;
export const HDR_VALUE_LENS = 16;
export const DATA_OFFSET = 512;
export const ABSENT = 0xffffffff;

/** One sk_store and the functions bound to it (see create_store in addon.c). */
export interface NativeStore {
  scratch: ArrayBuffer;
  isEnabled(): boolean;
  evaluate(): void;
  begin(key: string, enabled: boolean, rollout: number, version: number): number;
  addRule(attribute: string, operator: number): number;
  addValues(values: readonly string[]): number;
  commit(slot: number, key: string, names: readonly string[]): number;
  discard(): void;
  remove(key: string, version: number, slot: number): number;
  clear(): void;
  count(): number;
  version(key: string): number;
  grow(bytes: number): ArrayBuffer;
}

export interface NativeModule {
  abiVersion: number;
  createStore(): NativeStore;
  murmur3_32(bytes: Uint8Array, seed: number): number;
  statusName(status: number): string;
  reasonName(reason: number): string;
  operatorParse(name: string): number;
}

/** sk_status values the TypeScript side acts on. */
export const SK_OK = 0;
export const SK_IGNORED_STALE = 1;
export const SK_ERR_NOMEM = -1;
export const SK_ERR_BAD_KEY = -3;
export const SK_ERR_BAD_ROLLOUT = -4;
export const SK_ERR_BAD_OPERATOR = -5;
export const SK_ERR_BAD_ATTRIBUTE = -6;
export const SK_ERR_TOO_MANY_RULES = -7;
export const SK_ERR_TOO_MANY_VALUES = -8;
export const SK_ERR_NOT_FOUND = -10;

function load(): NativeModule {
  // dist/src/native.js -> <package>/build/sidekick.node
  const addonPath = path.resolve(__dirname, '..', '..', 'build', 'sidekick.node');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const native = require(addonPath) as NativeModule;
  if (native.abiVersion !== EXPECTED_ABI_VERSION) {
    throw new Error(
      `@sidekick-flags/node: the native core has ABI version ${native.abiVersion}, ` +
        `this package needs ${EXPECTED_ABI_VERSION}; rebuild it with "npm run build:addon"`,
    );
  }
  return native;
}

export const native: NativeModule = load();
