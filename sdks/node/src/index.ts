/** index.ts — the public surface of @sidekick-flags/node. */
export { FlagStore, murmur3_32, bucket, type Evaluation, type Reason } from './flag_store';
export {
  SidekickClient,
  SidekickAuthError,
  SidekickTimeoutError,
  type FlagChange,
  type ReadySource,
  type SidekickClientOptions,
} from './client';
export { SseParser, type ServerSentEvent } from './sse';
export {
  FlagValidationError,
  attributeText,
  type Attributes,
  type AttributeValue,
  type Flag,
  type Operator,
  type Rule,
} from './wire';
export { EXPECTED_ABI_VERSION as ABI_VERSION } from './native';
