/// The persistent cache's content (flags and resume cursor, tagged with its owner) and its write
/// throttle; the app supplies where the string lives (a get/set callback pair).
///
/// The Dart port of sdks/shared-ts/src/cache_format.ts: same JSON, same owner digest, so a cache
/// of another server or key, or one that does not parse, is ignored and never fatal.
library;

import 'dart:async';
import 'dart:convert';

const String _cacheFormat = 'sidekick-flag-cache';
const int _cacheVersion = 1;

/// Where the cache string lives: `get` returns null when nothing is stored.
final class CacheStorage {
  const CacheStorage({required this.get, required this.set});

  final FutureOr<String?> Function() get;
  final FutureOr<void> Function(String text) set;
}

/// What a cache holds.
final class CachedState {
  const CachedState(this.flags, this.cursor);

  final List<Map<String, Object?>> flags;
  final String? cursor;
}

/// Who a cache belongs to: the stream URL and a 64-bit digest of the key (never the key).
String cacheOwner(String streamUrl, String sdkKey) {
  var low = 0x811c9dc5;
  var high = 0x050c5d1f;
  for (final code in sdkKey.codeUnits) {
    low = ((low ^ code) * 0x01000193) & 0xffffffff;
    high = ((high ^ code ^ (low >> 7)) * 0x01000193) & 0xffffffff;
  }
  String hex(int value) => value.toRadixString(16).padLeft(8, '0');
  return '$streamUrl#${hex(high)}${hex(low)}';
}

String encodeCache(String owner, List<Map<String, Object?>> flags, String? cursor) => jsonEncode({
      'format': _cacheFormat,
      'version': _cacheVersion,
      'owner': owner,
      'cursor': cursor,
      'flags': flags,
    });

/// The cached state, or null when the text is absent, unreadable or not this client's.
CachedState? decodeCache(String? text, String owner) {
  if (text == null || text.isEmpty) {
    return null;
  }
  Object? document;
  try {
    document = jsonDecode(text);
  } on FormatException {
    return null;
  }
  if (document is! Map<String, Object?> ||
      document['format'] != _cacheFormat ||
      document['version'] != _cacheVersion ||
      document['owner'] != owner) {
    return null;
  }
  final flags = document['flags'];
  if (flags is! List<Object?>) {
    return null;
  }
  final cursor = document['cursor'];
  return CachedState(
    [
      for (final flag in flags)
        if (flag is Map<String, Object?> && flag['key'] is String) flag,
    ],
    cursor is String ? cursor : null,
  );
}

/// Writes at most once per [interval]; [flush] writes a pending change at once.
final class ThrottledCacheWriter {
  ThrottledCacheWriter(this._snapshot, this._write, this._onError,
      {this.interval = const Duration(seconds: 1)});

  final String Function() _snapshot;
  final FutureOr<void> Function(String text) _write;
  final void Function(Object error) _onError;
  final Duration interval;
  Timer? _timer;
  DateTime? _lastWrite;
  Future<void> _writing = Future<void>.value();

  /// The flags or cursor changed: write now, or once the interval since the last write ends.
  void changed() {
    if (_timer != null) {
      return;
    }
    final last = _lastWrite;
    final wait = last == null ? Duration.zero : interval - DateTime.now().difference(last);
    if (wait <= Duration.zero) {
      _writeNow();
      return;
    }
    _timer = Timer(wait, () {
      _timer = null;
      _writeNow();
    });
  }

  /// Writes a pending change now and completes when every write has finished.
  Future<void> flush() {
    if (_timer != null) {
      _timer!.cancel();
      _timer = null;
      _writeNow();
    }
    return _writing;
  }

  void _writeNow() {
    _lastWrite = DateTime.now();
    final text = _snapshot();
    // Chained, so an older snapshot never lands after a newer one.
    _writing = _writing.then((_) => _write(text)).catchError((Object error) => _onError(error));
  }
}
