/// SidekickFlutterClient: the flag set kept in a native store over the stream, evaluated by FFI.
library;

import 'dart:async';
import 'dart:convert';
import 'dart:io';

import 'event_stream.dart';
import 'flag_cache.dart';
import 'flag_store.dart';
import 'stream_state.dart';

/// What changed in the client's flag set.
sealed class FlagChange {
  const FlagChange();
}

/// A flag was created or updated.
final class FlagUpserted extends FlagChange {
  const FlagUpserted(this.key, this.version);
  final String key;
  final int version;
}

/// A flag was deleted.
final class FlagDeleted extends FlagChange {
  const FlagDeleted(this.key, this.version);
  final String key;
  final int version;
}

/// A full flag set replaced the previous one (first connection and every reconnect).
final class FlagsReset extends FlagChange {
  const FlagsReset(this.count);
  final int count;
}

/// Where the client's flags come from: the server, or (until it answers) the persistent cache.
enum ReadySource { server, cache }

/// The server refused the stream for a reason retrying cannot fix (a bad key, a wrong URL).
final class SidekickHttpException implements Exception {
  SidekickHttpException(this.statusCode);
  final int statusCode;

  @override
  String toString() => 'Sidekick stream refused with HTTP $statusCode';
}

/// Feature flags from a Sidekick server, evaluated in-process by the C core.
///
/// ```dart
/// final client = SidekickFlutterClient(
///   serverUrl: 'https://flags.example.com',
///   sdkKey: key,
///   onFlagsChanged: (keys) => rebuild(keys),
///   cache: CacheStorage(get: () => prefs.getString('flags'), set: (t) => prefs.setString('flags', t)),
/// );
/// await client.init();
/// final enabled = client.isEnabled('dark_mode', userId, {'plan': 'pro'});
/// client.close();
/// ```
///
/// The protocol (replay swap, resume by cursor, goodbye) is [StreamState]; the delays are
/// [Backoff]. An `httpClient` passed in (for proxies or certificates) belongs to the client from
/// then on: [close] closes it.
final class SidekickFlutterClient {
  SidekickFlutterClient({
    required this.serverUrl,
    required this.sdkKey,
    List<Map<String, Object?>> bootstrap = const [],
    this.initTimeout = const Duration(seconds: 10),
    this.reconnectInitialDelay = const Duration(seconds: 1),
    this.reconnectMaxDelay = const Duration(seconds: 30),
    this.idleTimeout = const Duration(seconds: 45),
    this.onFlagsChanged,
    this.cache,
    void Function(Object error)? onError,
    HttpClient? httpClient,
  })  : _onError = onError ?? _printError,
        _http = httpClient ?? HttpClient(),
        _bootstrap = bootstrap {
    // A stale bootstrap with one bad flag must not stop the app; the server's set replaces it.
    _state = StreamState(bootstrap, null, _onError);
    _backoff = Backoff(
      initialMs: reconnectInitialDelay.inMilliseconds,
      maxMs: reconnectMaxDelay.inMilliseconds,
    );
    final base = serverUrl.endsWith('/') ? serverUrl : '$serverUrl/';
    _streamUri = Uri.parse(base).resolve('stream');
    _owner = cacheOwner(_streamUri.toString(), sdkKey);
  }

  final String serverUrl;
  final String sdkKey;

  /// How long [init] waits for the first complete flag set.
  final Duration initTimeout;

  /// Reconnect delays grow from this cap, doubling per failed attempt...
  final Duration reconnectInitialDelay;

  /// ...up to this one; each delay is drawn uniformly below its cap (full jitter).
  final Duration reconnectMaxDelay;

  /// A connection silent this long (the server sends keep-alives every 15 s) is reopened.
  final Duration idleTimeout;

  /// Called with the keys each change touched (a delta, or what a replay changed).
  final void Function(List<String> changedKeys)? onFlagsChanged;

  /// Keeps the flags and the resume cursor between launches (opt-in); read by [init].
  final CacheStorage? cache;

  final void Function(Object error) _onError;
  final HttpClient _http;
  final List<Map<String, Object?>> _bootstrap;
  final StreamController<FlagChange> _changes = StreamController<FlagChange>.broadcast();
  late StreamState _state;
  late final Backoff _backoff;
  late final Uri _streamUri;
  late final String _owner;
  ThrottledCacheWriter? _cacheWriter;
  HttpClientRequest? _request;
  StreamSubscription<ServerSentEvent>? _subscription;
  Timer? _reconnectTimer;
  Timer? _idleTimer;
  Completer<ReadySource>? _initialized;
  DateTime? _openedAt;
  bool _closed = false;
  bool _ready = false;
  ReadySource? _readySource;

  /// Why the client stopped for good (a refused or revoked key), or null.
  String? stoppedReason;

  /// Deprecated shape (prefer [onFlagsChanged]): changes applied from the stream.
  Stream<FlagChange> get changes => _changes.stream;

  /// True once the client holds a flag set: the server's, or the persistent cache's.
  bool get isReady => _readySource != null;

  /// [ReadySource.server] once the server's flags are in, [ReadySource.cache] while only the
  /// cache's are, else null.
  ReadySource? get readySource => _readySource;

  /// True once a full flag set has arrived from the server at least once.
  bool get initialized => _ready;

  /// The resume cursor: the id of the last applied stream event that carried one.
  String? get cursor => _state.cursor;

  /// How many flags the client holds.
  int get length => _state.store.length;

  /// Reads the cache (when given), connects, and completes with [ReadySource.server] once the
  /// server's full flag set is loaded. After [initTimeout] it completes with [ReadySource.cache]
  /// when a cache was read, else throws a [TimeoutException] (the client keeps reconnecting in
  /// the background and evaluates the bootstrap or last-known flags meanwhile); it throws a
  /// [SidekickHttpException] when the server refuses the key.
  Future<ReadySource> init() {
    final existing = _initialized;
    if (existing != null) {
      return existing.future;
    }
    final completer = _initialized = Completer<ReadySource>();
    unawaited(_loadCache().then((_) => _connect()));
    return completer.future.timeout(initTimeout, onTimeout: () {
      if (_readySource == ReadySource.cache) {
        return ReadySource.cache;
      }
      throw TimeoutException('no flag set from $_streamUri', initTimeout);
    });
  }

  /// Synchronous and in-process: no network call. False for a missing flag and for a flag that
  /// is not boolean (read those with [getString], [getNumber] or [getJson]).
  bool isEnabled(String flagKey, String userKey, [Map<String, Object?>? attributes]) =>
      _state.store.isEnabled(flagKey, userKey, attributes);

  /// The served value and variant, with the reason, matching rule, bucket and version.
  Evaluation evaluate(String flagKey, String userKey, [Map<String, Object?>? attributes]) =>
      _state.store.evaluate(flagKey, userKey, attributes);

  /// A boolean flag's answer, or [defaultValue] when the flag is missing or of another type.
  bool getBoolean(String flagKey, String userKey, bool defaultValue,
          [Map<String, Object?>? attributes]) =>
      _state.store.getBoolean(flagKey, userKey, defaultValue, attributes);

  /// A string flag's served value, or [defaultValue] when missing or of another type.
  String getString(String flagKey, String userKey, String defaultValue,
          [Map<String, Object?>? attributes]) =>
      _state.store.getString(flagKey, userKey, defaultValue, attributes);

  /// A number flag's served value, or [defaultValue] when missing or of another type.
  num getNumber(String flagKey, String userKey, num defaultValue,
          [Map<String, Object?>? attributes]) =>
      _state.store.getNumber(flagKey, userKey, defaultValue, attributes);

  /// A json flag's served value (read-only), or [defaultValue] when missing or of another type.
  Object? getJson(String flagKey, String userKey, Object? defaultValue,
          [Map<String, Object?>? attributes]) =>
      _state.store.getJson(flagKey, userKey, defaultValue, attributes);

  /// Stops streaming, writes the cache and frees the native store.
  Future<void> close() async {
    if (_closed) {
      return;
    }
    _closed = true;
    _reconnectTimer?.cancel();
    _idleTimer?.cancel();
    _dropConnection();
    _http.close(force: true);
    final initialized = _initialized;
    if (initialized != null && !initialized.isCompleted) {
      initialized.completeError(StateError('client closed before init completed'));
    }
    await _cacheWriter?.flush();
    _state.dispose();
    unawaited(_changes.close());
  }

  Future<void> _loadCache() async {
    final storage = cache;
    if (storage == null) {
      return;
    }
    try {
      final cached = decodeCache(await storage.get(), _owner);
      if (cached != null && !_ready && !_closed) {
        final previous = _state;
        _state = StreamState([...cached.flags, ..._bootstrap], cached.cursor, _onError);
        previous.dispose();
        _readySource = ReadySource.cache;
      }
    } on Object catch (error) {
      // A cache is never fatal: the server's flags replace it.
      _onError(error);
    }
    _cacheWriter = ThrottledCacheWriter(
        () => encodeCache(_owner, _state.flags, _state.cursor), storage.set, _onError);
  }

  Future<void> _connect() async {
    if (_closed || _state.stopped) {
      return;
    }
    _dropConnection();
    _armIdleTimer();
    try {
      final request = await _http.getUrl(_streamUri);
      _request = request;
      request.headers
        ..set(HttpHeaders.authorizationHeader, 'Bearer $sdkKey')
        ..set(HttpHeaders.acceptHeader, 'text/event-stream')
        ..set(HttpHeaders.cacheControlHeader, 'no-cache');
      final cursor = _state.cursor;
      if (cursor != null) {
        request.headers.set('Last-Event-ID', cursor);
      }
      final response = await request.close();
      if (_closed || !identical(request, _request)) {
        await response.drain<void>();
        return;
      }
      if (response.statusCode != HttpStatus.ok) {
        final retryAfter = response.headers.value(HttpHeaders.retryAfterHeader);
        await response.drain<void>();
        _onRefused(response.statusCode, retryAfter);
        return;
      }
      _openedAt = DateTime.now();
      _subscription = parseEventStream(response).listen(
        _onEvent,
        onError: (Object error) => _scheduleReconnect(error),
        onDone: () => _scheduleReconnect(const HttpException('stream ended')),
        cancelOnError: true,
      );
    } on Object catch (error) {
      _scheduleReconnect(error);
    }
  }

  void _onRefused(int statusCode, String? retryAfter) {
    final error = SidekickHttpException(statusCode);
    // Configuration errors stay until someone fixes them: stop and say so.
    if (statusCode == HttpStatus.unauthorized ||
        statusCode == HttpStatus.forbidden ||
        statusCode == HttpStatus.notFound) {
      _idleTimer?.cancel();
      stoppedReason = error.toString();
      _onError(error);
      final initialized = _initialized;
      if (initialized != null && !initialized.isCompleted) {
        initialized.completeError(error);
      }
      return;
    }
    final delay = parseRetryAfter(retryAfter);
    if ((statusCode == HttpStatus.tooManyRequests ||
            statusCode == HttpStatus.serviceUnavailable) &&
        delay != null) {
      _backoff.serverDelay(delay);
    }
    _scheduleReconnect(error);
  }

  void _onEvent(ServerSentEvent event) {
    _armIdleTimer();
    final outcome = _state.handle(event);
    final error = outcome.error;
    if (error != null) {
      _onError(error);
    }
    if (outcome.synced) {
      _ready = true;
      _readySource = ReadySource.server;
      _changes.add(FlagsReset(_state.store.length));
      final initialized = _initialized;
      if (initialized != null && !initialized.isCompleted) {
        initialized.complete(ReadySource.server);
      }
    }
    if (outcome.changedKeys.isNotEmpty) {
      _notify(outcome.changedKeys);
    }
    if (outcome.synced || outcome.changedKeys.isNotEmpty) {
      _cacheWriter?.changed();
    }
    if (outcome.goodbyeReason == null) {
      return;
    }
    if (outcome.stop) {
      stoppedReason = 'the server revoked this key';
      _dropConnection();
      _idleTimer?.cancel();
      _onError(StateError('Sidekick: the server revoked this key; not reconnecting'));
      return;
    }
    final delay = outcome.reconnectAfterMs;
    if (delay != null) {
      _backoff.serverDelay(delay);
    }
    _scheduleReconnect(StateError('Sidekick stream: goodbye (${outcome.goodbyeReason})'));
  }

  void _notify(List<String> keys) {
    final callback = onFlagsChanged;
    if (callback != null) {
      try {
        callback(List<String>.of(keys));
      } on Object catch (error) {
        _onError(error);
      }
    }
    final held = {for (final flag in _state.flags) flag['key']};
    for (final key in keys) {
      final version = _state.store.version(key);
      _changes.add(held.contains(key) ? FlagUpserted(key, version) : FlagDeleted(key, version));
    }
  }

  void _scheduleReconnect(Object reason) {
    _dropConnection();
    _idleTimer?.cancel();
    if (_closed || _state.stopped) {
      return;
    }
    _onError(reason);
    _reconnectTimer?.cancel();
    _reconnectTimer = Timer(Duration(milliseconds: _backoff.nextDelayMs().round()),
        () => unawaited(_connect()));
  }

  void _armIdleTimer() {
    _idleTimer?.cancel();
    _idleTimer = Timer(idleTimeout, () {
      _scheduleReconnect(TimeoutException('no data or keep-alive', idleTimeout));
    });
  }

  void _dropConnection() {
    _state.disconnected();
    final openedAt = _openedAt;
    _openedAt = null;
    if (openedAt != null) {
      _backoff.connectionLasted(DateTime.now().difference(openedAt).inMilliseconds);
    }
    final subscription = _subscription;
    _subscription = null;
    if (subscription != null) {
      unawaited(subscription.cancel());
    }
    final request = _request;
    _request = null;
    request?.abort();
  }

  static void _printError(Object error) {
    stderr.writeln('sidekick: $error');
  }
}
