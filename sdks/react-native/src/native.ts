/** The JSI surface that installSidekickJSI (cpp/SidekickJSI.cpp) defines, and access to it. */

import { NativeModules } from 'react-native';

import type { Attributes, FlagType, Reason, WireFlag } from './types';

/** The sidekick.h ABI this JavaScript was written against (SK_ABI_VERSION). */
export const EXPECTED_ABI_VERSION = 2;

/** The core's answer as the JSI code gives it; src/store.ts maps the variant index to a value. */
export interface NativeEvaluation {
  enabled: boolean;
  reason: Reason;
  ruleIndex: number | null;
  bucket: number | null;
  version: number | null;
  /** The served variant's index (boolean flags: 0 off, 1 on); null when not found. */
  variant: number | null;
  type: FlagType | null;
}

/** One native sk_store; every method runs synchronously on the JavaScript thread. */
export interface NativeStore {
  /** Applies a wire flag; false when its version is not newer. Throws "<field path>: ...". */
  upsert(flag: WireFlag): boolean;
  /** Removes a flag; version 0 is unconditional. True when a flag was removed. */
  remove(key: string, version: number): boolean;
  clear(): void;
  size(): number;
  /** The stored version of a flag, 0 when absent or unversioned. */
  version(key: string): number;
  isEnabled(flagKey: string, userKey: string, attributes?: Attributes): boolean;
  evaluate(flagKey: string, userKey: string, attributes?: Attributes): NativeEvaluation;
}

/** The global object installSidekickJSI defines. */
export interface SidekickJSIModule {
  readonly abiVersion: number;
  createStore(): NativeStore;
}

declare global {
  // Installed by the native side before the bundle runs; absent in Expo Go, Jest, or the web.
  var __SidekickJSI: SidekickJSIModule | undefined;
}

/**
 * Returns the JSI module, asking the native Sidekick module to install it on first use (a
 * synchronous call on the JavaScript thread), or throws saying what native setup is missing.
 */
export function sidekickJSI(): SidekickJSIModule {
  if (globalThis.__SidekickJSI === undefined) {
    // Creating the module lets the New Architecture install the bindings on its own.
    const nativeModule = NativeModules.Sidekick;
    if (globalThis.__SidekickJSI === undefined) {
      nativeModule?.install();
    }
  }
  const module = globalThis.__SidekickJSI;
  if (module === undefined) {
    throw new Error(
      'Sidekick: the native module is not installed (global __SidekickJSI is missing); ' +
        'rebuild the app after installing @sidekick-flags/react-native (see its README)',
    );
  }
  if (module.abiVersion !== EXPECTED_ABI_VERSION) {
    throw new Error(
      `Sidekick: native libsidekick has ABI ${module.abiVersion}, ` +
        `this package expects ${EXPECTED_ABI_VERSION}; rebuild the app after upgrading`,
    );
  }
  return module;
}

/**
 * Creates a native store with its methods looked up once: a JSI host object builds a new
 * function on every property read, so the hot path must not read them again.
 */
export function createNativeStore(): NativeStore {
  const store = sidekickJSI().createStore();
  return {
    upsert: store.upsert,
    remove: store.remove,
    clear: store.clear,
    size: store.size,
    version: store.version,
    isEnabled: store.isEnabled,
    evaluate: store.evaluate,
  };
}
