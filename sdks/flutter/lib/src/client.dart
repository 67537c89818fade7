/// SidekickFlutterClient: the flag set kept in a native store over the stream, evaluated by FFI.
library;

import 'dart:async';
import 'dart:convert';
import 'dart:io';
import 'dart:math';

import 'event_stream.dart';
import 'flag_store.dart';

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
/// final client = SidekickFlutterClient(serverUrl: 'https://flags.example.com', sdkKey: key);
/// await client.init();
/// final enabled = client.isEnabled('dark_mode', userId, {'plan': 'pro'});
/// client.close();
/// ```
///
/// An `httpClient` passed in (for proxies or certificates) belongs to the client from then on:
/// [close] closes it.
final class SidekickFlutterClient {
  SidekickFlutterClient({
    required this.serverUrl,
    required this.sdkKey,
    List<Map<String, Object?>> bootstrap = const [],
    this.initTimeout = const Duration(seconds: 10),
    this.reconnectInitialDelay = const Duration(seconds: 1),
    this.reconnectMaxDelay = const Duration(seconds: 30),
    this.idleTimeout = const Duration(seconds: 45),
    void Function(Object error)? onError,
    HttpClient? httpClient,
  })  : _onError = onError ?? _printError,
        _http = httpClient ?? HttpClient() {
    for (final flag in bootstrap) {
      try {
        _store.upsert(flag);
      } on FlagFormatException catch (error) {
        // A stale cache with one bad flag must not stop the app; the server's set replaces it.
        _onError(error);
      }
    }
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

  final void Function(Object error) _onError;
  final HttpClient _http;
  final StreamController<FlagChange> _changes = StreamController<FlagChange>.broadcast();
  final Random _random = Random();

  FlagStore _store = FlagStore();
  // Filled during a replay and swapped in on `ready`: evaluation never sees a half-loaded set.
  FlagStore? _staging;
  HttpClientRequest? _request;
  StreamSubscription<ServerSentEvent>? _subscription;
  Timer? _reconnectTimer;
  Timer? _idleTimer;
  Completer<void>? _initialized;
  int _attempt = 0;
  bool _closed = false;
  bool _ready = false;

  /// Changes applied from the stream.
  Stream<FlagChange> get changes => _changes.stream;

  /// True once a full flag set has arrived from the server at least once.
  bool get isReady => _ready;

  /// How many flags the client holds.
  int get length => _store.length;

  /// Connects and completes once the server's full flag set is loaded. Throws a
  /// [TimeoutException] after [initTimeout] (the client keeps reconnecting in the background and
  /// evaluates the bootstrap or last-known flags meanwhile) or a [SidekickHttpException] when the
  /// server refuses the key.
  Future<void> init() {
    final existing = _initialized;
    if (existing != null) {
      return existing.future;
    }
    final completer = _initialized = Completer<void>();
    unawaited(_connect());
    return completer.future.timeout(initTimeout);
  }

  /// Synchronous and in-process: no network call.
  bool isEnabled(String flagKey, String userKey, [Map<String, Object?>? attributes]) =>
      _store.isEnabled(flagKey, userKey, attributes);

  /// As [isEnabled], with the reason, matching rule, bucket and version.
  Evaluation evaluate(String flagKey, String userKey, [Map<String, Object?>? attributes]) =>
      _store.evaluate(flagKey, userKey, attributes);

  /// Stops streaming and frees the native store.
  void close() {
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
    _staging?.close();
    _store.close();
    unawaited(_changes.close());
  }

  Future<void> _connect() async {
    if (_closed) {
      return;
    }
    _dropConnection();
    _staging?.close();
    _staging = null;
    _armIdleTimer();
    try {
      final base = serverUrl.endsWith('/') ? serverUrl : '$serverUrl/';
      final request = await _http.getUrl(Uri.parse(base).resolve('stream'));
      _request = request;
      request.headers
        ..set(HttpHeaders.authorizationHeader, 'Bearer $sdkKey')
        ..set(HttpHeaders.acceptHeader, 'text/event-stream')
        ..set(HttpHeaders.cacheControlHeader, 'no-cache');
      final response = await request.close();
      if (_closed || !identical(request, _request)) {
        await response.drain<void>();
        return;
      }
      if (response.statusCode != HttpStatus.ok) {
        await response.drain<void>();
        _onRefused(response.statusCode);
        return;
      }
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

  void _onRefused(int statusCode) {
    final error = SidekickHttpException(statusCode);
    // Configuration errors stay until someone fixes them: stop and say so.
    if (statusCode == HttpStatus.unauthorized ||
        statusCode == HttpStatus.forbidden ||
        statusCode == HttpStatus.notFound) {
      _idleTimer?.cancel();
      _onError(error);
      final initialized = _initialized;
      if (initialized != null && !initialized.isCompleted) {
        initialized.completeError(error);
      }
      return;
    }
    _scheduleReconnect(error);
  }

  void _onEvent(ServerSentEvent event) {
    _armIdleTimer();
    switch (event.event) {
      case 'connected':
        _staging?.close();
        _staging = FlagStore();
      case 'update':
        _applyUpdate(event.data);
      case 'ready':
        final staging = _staging;
        if (staging != null) {
          final previous = _store;
          _store = staging;
          _staging = null;
          previous.close();
        }
        _ready = true;
        _attempt = 0;
        _changes.add(FlagsReset(_store.length));
        final initialized = _initialized;
        if (initialized != null && !initialized.isCompleted) {
          initialized.complete();
        }
      default:
        break; // future event types are ignored
    }
  }

  void _applyUpdate(String data) {
    final target = _staging ?? _store;
    final live = identical(target, _store);
    try {
      final message = jsonDecode(data);
      if (message is! Map<String, Object?>) {
        return;
      }
      final type = message['type'];
      final flag = message['flag'];
      final key = message['key'];
      if (type == 'UPSERT' && flag is Map<String, Object?>) {
        if (target.upsert(flag) && live) {
          final flagKey = flag['key'] as String;
          _changes.add(FlagUpserted(flagKey, target.version(flagKey)));
        }
      } else if (type == 'DELETE' && key is String) {
        final version = message['version'];
        final deleteVersion = version is int && version > 0 ? version : 0;
        if (target.delete(key, version: deleteVersion) && live) {
          _changes.add(FlagDeleted(key, deleteVersion));
        }
      }
    } on Object catch (error) {
      // One malformed update (bad JSON, a flag the core rejects) must not stop the others; the
      // store changed nothing.
      _onError(error);
    }
  }

  void _scheduleReconnect(Object reason) {
    _dropConnection();
    _idleTimer?.cancel();
    if (_closed) {
      return;
    }
    _onError(reason);
    final initialMs = reconnectInitialDelay.inMilliseconds;
    final capMs = min(reconnectMaxDelay.inMilliseconds, initialMs * (1 << min(_attempt, 16)));
    _attempt += 1;
    _reconnectTimer?.cancel();
    _reconnectTimer = Timer(
        Duration(milliseconds: (_random.nextDouble() * capMs).round()), () => unawaited(_connect()));
  }

  void _armIdleTimer() {
    _idleTimer?.cancel();
    _idleTimer = Timer(idleTimeout, () {
      _scheduleReconnect(TimeoutException('no data or keep-alive', idleTimeout));
    });
  }

  void _dropConnection() {
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
