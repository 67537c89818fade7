/** @sidekick-flags/browser: the Sidekick evaluation core in WebAssembly, and its streaming client. */

export {
  ABI_VERSION,
  type Attributes,
  type Evaluation,
  FlagStore,
  FlagValidationError,
  type WasmSource,
  type WireFlag,
  type WireRule,
  bucket,
  isCoreLoaded,
  loadCore,
  murmur3_32,
} from './core.js';
export {
  type ClientOptions,
  type EventSourceFactory,
  type EventSourceLike,
  type InitOptions,
  type ReadySource,
  type StorageLike,
  SidekickBrowserClient,
} from './client.js';
