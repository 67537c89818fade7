/** @sidekick-flags/react-native: feature flags evaluated synchronously by the C core over JSI. */

export { SidekickHttpError, SidekickMobileClient, type SidekickMobileOptions } from './client';
export { EXPECTED_ABI_VERSION, createNativeStore, type NativeStore } from './native';
export { EventStreamParser, type ServerSentEvent } from './sse';
export type {
  AttributeValue,
  Attributes,
  CacheStorage,
  Evaluation,
  FlagChange,
  Operator,
  Reason,
  ReadySource,
  WireFlag,
  WireRule,
} from './types';
