/** @sidekick-flags/react-native: feature flags evaluated synchronously by the C core over JSI. */

export { SidekickHttpError, SidekickMobileClient, type SidekickMobileOptions } from './client';
export { EXPECTED_ABI_VERSION, createNativeStore, type NativeEvaluation, type NativeStore } from './native';
export { FlagStore } from './store';
export { EventStreamParser, type ServerSentEvent } from './sse';
export type {
  AttributeValue,
  Attributes,
  CacheStorage,
  Evaluation,
  FlagChange,
  FlagType,
  JsonValue,
  Operator,
  Reason,
  ReadySource,
  WireCondition,
  WireFlag,
  WireRule,
  WireServe,
  WireVariant,
} from './types';
