/// The stream protocol's state machine and reconnection policy, free of I/O.
///
/// The Dart port of sdks/shared-ts/src/stream_state.ts and backoff.ts, pinned by
/// tests/vectors/stream/ through its line-by-line Python twin (tests/mobile/stream_twin.py): a full
/// replay (`connected` … `ready`) is built into a fresh store and swapped in on `ready`;
/// `resumed` keeps the live store; deltas apply only when the store takes them (newer versions);
/// the cursor is the id of the last applied event that carried one, never one of a replay in
/// progress; `goodbye` asks for a delay, or (`revoked`) for the client to stop.
library;

import 'dart:convert';
import 'dart:math';

import 'event_stream.dart';
import 'flag_store.dart';

/// What one event did, for the client to act on.
final class StreamOutcome {
  List<String> changedKeys = const <String>[];
  bool synced = false;
  String? goodbyeReason;
  int? reconnectAfterMs;
  bool stop = false;
  Object? error;
}

final class _HeldStore {
  _HeldStore(this.store);

  final FlagStore store;
  final Map<String, Map<String, Object?>> held = <String, Map<String, Object?>>{};
}

/// The live store, a replay in progress, and the resume cursor.
final class StreamState {
  StreamState(Iterable<Map<String, Object?>> flags, this.cursor, this._onInvalidFlag)
      : _live = _HeldStore(FlagStore()) {
    for (final flag in flags) {
      _upsert(_live, flag);
    }
  }

  final void Function(Object error) _onInvalidFlag;
  _HeldStore _live;
  _HeldStore? _staging;
  String? cursor;
  bool syncedOnce = false;
  bool stopped = false;

  /// The store evaluations read now.
  FlagStore get store => _live.store;

  /// The live flags as applied (what a persistent cache saves).
  List<Map<String, Object?>> get flags => _live.held.values.toList();

  /// The connection ended: a replay cut short is dropped; the live store stays.
  void disconnected() {
    _dropStaging();
  }

  /// Frees every native store; the state is unusable afterwards.
  void dispose() {
    _dropStaging();
    _live.store.close();
  }

  StreamOutcome handle(ServerSentEvent event) {
    final outcome = StreamOutcome();
    switch (event.event) {
      case 'connected':
        _dropStaging();
        _staging = _HeldStore(FlagStore());
      case 'resumed':
        _dropStaging();
        syncedOnce = true;
        outcome.synced = true;
      case 'ready':
        _swap(outcome);
      case 'update':
        final change = _jsonObject(event.data);
        if (change == null) {
          outcome.error = FormatException('unreadable update event', event.data);
          return outcome;
        }
        _apply(change, outcome);
      case 'goodbye':
        final farewell = _jsonObject(event.data);
        if (farewell == null) {
          outcome.error = FormatException('unreadable goodbye event', event.data);
          return outcome;
        }
        final reason = farewell['reason'];
        outcome.goodbyeReason = reason is String ? reason : '';
        final delay = farewell['reconnect_after_ms'];
        if (reason == 'revoked') {
          stopped = true;
          outcome.stop = true;
        } else if (delay is int && delay >= 0) {
          outcome.reconnectAfterMs = delay;
        }
      default:
        break; // an event type from a newer server: ignore it
    }
    // Events of a replay in progress never move the cursor: it must name the live store.
    final id = event.id;
    if (id != null && _staging == null) {
      cursor = id;
    }
    return outcome;
  }

  void _swap(StreamOutcome outcome) {
    final fresh = _staging;
    if (fresh == null) {
      return;
    }
    final previous = _live;
    _live = fresh;
    _staging = null;
    syncedOnce = true;
    outcome.synced = true;
    outcome.changedKeys = changedKeys(previous.held, fresh.held);
    previous.store.close();
  }

  void _apply(Map<String, Object?> change, StreamOutcome outcome) {
    final target = _staging ?? _live;
    final type = change['type'];
    final flag = change['flag'];
    final key = change['key'];
    String changed;
    bool applied;
    if (type == 'UPSERT' && flag is Map<String, Object?>) {
      changed = '${flag['key']}';
      applied = _upsert(target, flag);
    } else if (type == 'DELETE' && key is String) {
      changed = key;
      final version = change['version'];
      applied = target.store.delete(key, version: version is int && version > 0 ? version : 0);
      if (applied) {
        target.held.remove(key);
      }
    } else {
      return; // a change type from a newer server: ignore it
    }
    if (applied && identical(target, _live)) {
      outcome.changedKeys = <String>[changed];
    }
  }

  bool _upsert(_HeldStore target, Map<String, Object?> flag) {
    try {
      if (!target.store.upsert(flag)) {
        return false;
      }
    } on FlagFormatException catch (error) {
      // One bad flag from the server (or a cache) must not stop the others.
      _onInvalidFlag(error);
      return false;
    }
    target.held[flag['key'] as String] = flag;
    return true;
  }

  void _dropStaging() {
    _staging?.store.close();
    _staging = null;
  }
}

/// The keys whose flag differs between two sets, sorted.
List<String> changedKeys(
    Map<String, Map<String, Object?>> before, Map<String, Map<String, Object?>> after) {
  final keys = <String>[
    for (final entry in after.entries)
      if (_differs(before[entry.key], entry.value)) entry.key,
    for (final key in before.keys)
      if (!after.containsKey(key)) key,
  ];
  keys.sort();
  return keys;
}

bool _differs(Map<String, Object?>? old, Map<String, Object?> fresh) {
  if (old == null) {
    return true;
  }
  final oldVersion = old['version'];
  final newVersion = fresh['version'];
  if (oldVersion is int && oldVersion != 0 && newVersion is int && newVersion != 0) {
    return oldVersion != newVersion;
  }
  // Unversioned flags (bootstrap lists) can only be compared whole.
  return jsonEncode(old) != jsonEncode(fresh);
}

Map<String, Object?>? _jsonObject(String data) {
  try {
    final value = jsonDecode(data);
    return value is Map<String, Object?> ? value : null;
  } on FormatException {
    return null;
  }
}

/// Reconnection delays: the n-th consecutive failure waits random() × min(max, initial × 2^n)
/// (full jitter); a connection up [resetAfterMs] starts over; a server's delay is used once.
final class Backoff {
  Backoff({
    this.initialMs = 1000,
    this.maxMs = 30000,
    this.resetAfterMs = 60000,
    double Function()? random,
  }) : _random = random ?? Random().nextDouble;

  final int initialMs;
  final int maxMs;
  final int resetAfterMs;
  final double Function() _random;
  int? _serverDelayMs;

  /// Consecutive failed attempts since the last healthy connection.
  int attempt = 0;

  /// The wait before the next connection attempt, in milliseconds.
  double nextDelayMs() {
    final serverDelay = _serverDelayMs;
    if (serverDelay != null) {
      _serverDelayMs = null;
      return serverDelay.toDouble();
    }
    final cap = min(maxMs, initialMs * pow(2, min(attempt, 30)));
    attempt += 1;
    return _random() * cap;
  }

  /// A connection was up this long; a healthy one starts the sequence over.
  void connectionLasted(int durationMs) {
    if (durationMs >= resetAfterMs) {
      attempt = 0;
    }
  }

  /// The server asked for this delay (Retry-After, goodbye): the next wait is exactly it.
  void serverDelay(int delayMs) {
    _serverDelayMs = max(0, delayMs);
  }
}

/// A Retry-After header in whole seconds, as milliseconds; null when absent or not seconds.
int? parseRetryAfter(String? value) {
  if (value == null) {
    return null;
  }
  final text = value.trim();
  return RegExp(r'^[0-9]+$').hasMatch(text) ? int.parse(text) * 1000 : null;
}
