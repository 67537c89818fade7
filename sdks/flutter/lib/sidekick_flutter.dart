/// Sidekick feature flags for Flutter: the C evaluation core through dart:ffi, kept in sync over
/// Server-Sent Events.
library;

export 'src/bindings.dart' show SidekickBindings, sidekickAbiVersion;
export 'src/client.dart'
    show
        FlagChange,
        FlagDeleted,
        FlagUpserted,
        FlagsReset,
        ReadySource,
        SidekickFlutterClient,
        SidekickHttpException;
export 'src/event_stream.dart' show EventStreamParser, ServerSentEvent, parseEventStream;
export 'src/flag_cache.dart' show CacheStorage;
export 'src/flag_store.dart' show Evaluation, FlagFormatException, FlagStore, attributeText;
