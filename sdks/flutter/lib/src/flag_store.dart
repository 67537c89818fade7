/// FlagStore: one native sk_store, fed wire-format flags and asked for evaluations.
///
/// Only value conversion happens here: a decoded JSON flag becomes sk_flag builder calls, and
/// attribute values become strings as docs/contract.md says. Every decision is the C core's.
library;

import 'dart:convert';
import 'dart:ffi';
import 'dart:typed_data';

import 'package:ffi/ffi.dart';

import 'bindings.dart';

/// A wire flag the core cannot take; [path] names the field (`rules[0].operator`).
final class FlagFormatException implements Exception {
  FlagFormatException(this.path, this.message);

  final String path;
  final String message;

  @override
  String toString() => '$path: $message';
}

/// Why the core answered as it did.
final class Evaluation {
  const Evaluation({
    required this.enabled,
    required this.reason,
    required this.ruleIndex,
    required this.bucket,
    required this.version,
  });

  final bool enabled;

  /// FLAG_NOT_FOUND, OFF, RULE_MATCH or ROLLOUT.
  final String reason;

  /// The matching rule's index for RULE_MATCH, else null.
  final int? ruleIndex;

  /// The user's bucket 0..99 when a percentage between 1 and 99 applied, else null.
  final int? bucket;

  /// The evaluated flag's version; null when the flag was not found.
  final int? version;

  @override
  String toString() => 'Evaluation(enabled: $enabled, reason: $reason, ruleIndex: $ruleIndex, '
      'bucket: $bucket, version: $version)';
}

// Integral doubles below 2^53 are exact in a double and in an int.
const double _maxExactInteger = 9007199254740992.0;

/// Converts an attribute value the way every binding does, or returns null to drop it.
String? attributeText(Object? value) {
  if (value is String) {
    return value;
  }
  if (value is bool) {
    return value ? 'true' : 'false';
  }
  if (value is int) {
    return value.toString();
  }
  if (value is double &&
      value.isFinite &&
      value == value.truncateToDouble() &&
      value.abs() < _maxExactInteger) {
    return value.toInt().toString();
  }
  return null;
}

/// A wire integer: a JSON integer, or a double with an integral value (JSON cannot tell them
/// apart on every platform). Returns null for anything else.
int? _wireInteger(Object? value) {
  if (value is int) {
    return value;
  }
  if (value is double &&
      value.isFinite &&
      value == value.truncateToDouble() &&
      value.abs() < _maxExactInteger) {
    return value.toInt();
  }
  return null;
}

/// Native memory for the UTF-8 strings of one call, reused across calls so that evaluation does
/// not allocate once it has grown to the largest request seen.
final class _Scratch {
  Pointer<Uint8> _bytes = nullptr;
  int _capacity = 0;
  int _used = 0;
  Pointer<SkAttribute> _attributes = nullptr;
  int _attributeCapacity = 0;

  void reset() => _used = 0;

  /// Reserves room for [bytes] bytes and [attributes] attributes; call before any [put].
  void reserve(int bytes, int attributes) {
    if (bytes > _capacity) {
      if (_bytes != nullptr) {
        malloc.free(_bytes);
      }
      _capacity = bytes < 256 ? 256 : bytes * 2;
      _bytes = malloc<Uint8>(_capacity);
    }
    if (attributes > _attributeCapacity) {
      if (_attributes != nullptr) {
        malloc.free(_attributes);
      }
      _attributeCapacity = attributes < 8 ? 8 : attributes * 2;
      _attributes = malloc<SkAttribute>(_attributeCapacity);
    }
    _used = 0;
  }

  /// Copies [data] into the reserved memory and returns where it starts.
  Pointer<Uint8> put(Uint8List data) {
    final start = _bytes + _used;
    if (data.isNotEmpty) {
      start.asTypedList(data.length).setAll(0, data);
    }
    _used += data.length;
    return start;
  }

  Pointer<SkAttribute> get attributes => _attributes;

  void free() {
    if (_bytes != nullptr) {
      malloc.free(_bytes);
    }
    if (_attributes != nullptr) {
      malloc.free(_attributes);
    }
    _bytes = nullptr;
    _attributes = nullptr;
    _capacity = 0;
    _attributeCapacity = 0;
  }
}

/// Flags by key in native memory, evaluated by the C core. Not thread-safe: use it from one
/// isolate (the store is created in single-threaded mode).
final class FlagStore implements Finalizable {
  FlagStore() : this._(SidekickBindings.instance);

  FlagStore._(this._native) : _store = _native.storeNew(SkStoreMode.singleThreaded) {
    if (_store == nullptr) {
      throw StateError('sk_store_new failed: out of memory');
    }
    _finalizer.attach(this, _store.cast(), detach: this);
  }

  static final NativeFinalizer _finalizer =
      NativeFinalizer(SidekickBindings.instance.storeFreePointer.cast());

  final SidekickBindings _native;
  final Pointer<SkStore> _store;
  final _Scratch _scratch = _Scratch();
  final Pointer<SkEvaluation> _evaluation = calloc<SkEvaluation>();
  bool _closed = false;

  /// Applies a decoded wire flag (unknown fields ignored). Returns false when its version is not
  /// newer than the stored or deleted one. Throws [FlagFormatException] and changes nothing when
  /// a field cannot be converted.
  bool upsert(Map<String, Object?> flag) {
    _checkOpen();
    final built = _buildFlag(flag);
    // The store takes the flag whatever it returns.
    final status = _native.storeUpsert(_store, built);
    if (status < 0) {
      throw StateError('sk_store_upsert: ${_statusName(status)}');
    }
    return status == SkStatus.ok;
  }

  /// Removes [key]; [version] is the DELETE event's (0 = unconditional). Returns true when a flag
  /// was removed; a newer stored flag is kept.
  bool delete(String key, {int version = 0}) {
    _checkOpen();
    // A negative version would wrap to a huge uint64_t and delete unconditionally forever after.
    RangeError.checkNotNegative(version, 'version');
    final bytes = _utf8(key);
    _scratch.reserve(bytes.length, 0);
    final status = _native.storeRemove(_store, _scratch.put(bytes), bytes.length, version);
    if (status < 0 && status != SkStatus.errNotFound) {
      throw StateError('sk_store_remove: ${_statusName(status)}');
    }
    return status == SkStatus.ok;
  }

  /// Removes every flag and every remembered delete.
  void clear() {
    _checkOpen();
    _native.storeClear(_store);
  }

  /// How many flags the store holds.
  int get length {
    _checkOpen();
    return _native.storeCount(_store);
  }

  /// The stored version of [key]; 0 when absent or unversioned.
  int version(String key) {
    _checkOpen();
    final bytes = _utf8(key);
    _scratch.reserve(bytes.length, 0);
    return _native.storeVersion(_store, _scratch.put(bytes), bytes.length);
  }

  /// Whether [flagKey] is on for [userKey]; false for a missing flag, never throws.
  bool isEnabled(String flagKey, String userKey, [Map<String, Object?>? attributes]) {
    if (_closed) {
      return false;
    }
    final count = _prepare(flagKey, userKey, attributes);
    return _native.storeIsEnabled(_store, _flagKey, _flagKeyLength, _userKey, _userKeyLength,
            _scratch.attributes, count) !=
        0;
  }

  /// As [isEnabled], with the reason, matching rule, bucket and version.
  Evaluation evaluate(String flagKey, String userKey, [Map<String, Object?>? attributes]) {
    _checkOpen();
    final count = _prepare(flagKey, userKey, attributes);
    _native.storeEvaluate(_store, _flagKey, _flagKeyLength, _userKey, _userKeyLength,
        _scratch.attributes, count, _evaluation);
    final result = _evaluation.ref;
    final reasonPointer = _native.reasonName(result.reason);
    return Evaluation(
      enabled: result.enabled != 0,
      reason: reasonPointer.cast<Utf8>().toDartString(),
      ruleIndex: result.ruleIndex < 0 ? null : result.ruleIndex,
      bucket: result.bucket < 0 ? null : result.bucket,
      version: result.reason == 0 ? null : result.version,
    );
  }

  /// Frees the native store now instead of waiting for garbage collection.
  void close() {
    if (_closed) {
      return;
    }
    _closed = true;
    _finalizer.detach(this);
    _native.storeFree(_store);
    _scratch.free();
    calloc.free(_evaluation);
  }

  Pointer<Uint8> _flagKey = nullptr;
  int _flagKeyLength = 0;
  Pointer<Uint8> _userKey = nullptr;
  int _userKeyLength = 0;

  // Copies the keys and converted attributes into scratch memory; returns the attribute count.
  int _prepare(String flagKey, String userKey, Map<String, Object?>? attributes) {
    final flagBytes = _utf8(flagKey);
    final userBytes = _utf8(userKey);
    final pairs = <Uint8List>[];
    var total = flagBytes.length + userBytes.length;
    if (attributes != null) {
      for (final entry in attributes.entries) {
        final text = attributeText(entry.value);
        if (text == null) {
          continue;
        }
        final name = _utf8(entry.key);
        final value = _utf8(text);
        pairs
          ..add(name)
          ..add(value);
        total += name.length + value.length;
      }
    }
    final count = pairs.length ~/ 2;
    _scratch.reserve(total, count);
    _flagKey = _scratch.put(flagBytes);
    _flagKeyLength = flagBytes.length;
    _userKey = _scratch.put(userBytes);
    _userKeyLength = userBytes.length;
    for (var index = 0; index < count; index++) {
      final name = pairs[2 * index];
      final value = pairs[2 * index + 1];
      final slot = _scratch.attributes[index];
      slot.name = _scratch.put(name);
      slot.nameLen = name.length;
      slot.value = _scratch.put(value);
      slot.valueLen = value.length;
    }
    return count;
  }

  Pointer<SkFlag> _buildFlag(Map<String, Object?> wire) {
    final key = wire['key'];
    if (key is! String) {
      throw FlagFormatException('key', 'must be a string');
    }
    final enabledValue = wire.containsKey('is_enabled') ? wire['is_enabled'] : false;
    if (enabledValue is! bool) {
      throw FlagFormatException('is_enabled', 'must be a boolean');
    }
    var rollout = -1; // null: everyone
    final rolloutValue = wire['rollout_percentage'];
    if (rolloutValue != null) {
      final number = rolloutValue is bool ? null : _wireInteger(rolloutValue);
      if (number == null) {
        throw FlagFormatException('rollout_percentage', 'must be an integer or null');
      }
      if (number < 0 || number > 100) {
        throw FlagFormatException('rollout_percentage', 'must be between 0 and 100');
      }
      rollout = number;
    }
    var version = 0; // unversioned: always applies
    final versionValue = wire['version'];
    if (versionValue != null) {
      final number = versionValue is bool ? null : _wireInteger(versionValue);
      if (number == null || number < 0) {
        throw FlagFormatException('version', 'must be a non-negative integer');
      }
      version = number;
    }
    final rulesValue = wire.containsKey('rules') ? wire['rules'] : const <Object?>[];
    if (rulesValue is! List<Object?>) {
      throw FlagFormatException('rules', 'must be a list');
    }

    final keyBytes = _utf8(key);
    _scratch.reserve(keyBytes.length, 0);
    final out = calloc<Pointer<SkFlag>>();
    try {
      final status =
          _native.flagNew(_scratch.put(keyBytes), keyBytes.length, enabledValue, rollout, version, out);
      if (status == SkStatus.errBadKey) {
        throw FlagFormatException('key',
            'must be 1-100 characters of A-Z a-z 0-9 _ - . starting with a letter or digit');
      }
      if (status != SkStatus.ok) {
        throw StateError('sk_flag_new: ${_statusName(status)}');
      }
      final flag = out.value;
      try {
        for (var index = 0; index < rulesValue.length; index++) {
          _addRule(flag, rulesValue[index], 'rules[$index]');
        }
      } catch (_) {
        _native.flagFree(flag);
        rethrow;
      }
      return flag;
    } finally {
      calloc.free(out);
    }
  }

  void _addRule(Pointer<SkFlag> flag, Object? rule, String path) {
    if (rule is! Map<String, Object?>) {
      throw FlagFormatException(path, 'must be an object');
    }
    final attribute = rule['attribute'];
    if (attribute is! String) {
      throw FlagFormatException('$path.attribute', 'must be a string');
    }
    final operatorName = rule['operator'];
    if (operatorName is! String) {
      throw FlagFormatException('$path.operator', 'must be a string');
    }
    final operatorBytes = _utf8(operatorName);
    _scratch.reserve(operatorBytes.length, 0);
    final op = _native.operatorParse(_scratch.put(operatorBytes), operatorBytes.length);
    if (op < 0) {
      throw FlagFormatException(
          '$path.operator', 'must be one of Equals, NotEquals, Contains, StartsWith, EndsWith');
    }
    final values = rule['values'];
    if (values is! List<Object?>) {
      throw FlagFormatException('$path.values', 'must be a list of strings');
    }
    final attributeBytes = _utf8(attribute);
    _scratch.reserve(attributeBytes.length, 0);
    var status = _native.flagAddRule(flag, _scratch.put(attributeBytes), attributeBytes.length, op);
    if (status == SkStatus.errBadAttribute) {
      throw FlagFormatException('$path.attribute', 'must not be empty');
    }
    if (status == SkStatus.errTooManyRules) {
      throw FlagFormatException('rules', 'at most 100 rules');
    }
    if (status != SkStatus.ok) {
      throw StateError('sk_flag_add_rule: ${_statusName(status)}');
    }
    for (var index = 0; index < values.length; index++) {
      final value = values[index];
      if (value is! String) {
        throw FlagFormatException('$path.values[$index]', 'must be a string');
      }
      final valueBytes = _utf8(value);
      _scratch.reserve(valueBytes.length, 0);
      status = _native.flagAddValue(flag, _scratch.put(valueBytes), valueBytes.length);
      if (status == SkStatus.errTooManyValues) {
        throw FlagFormatException('$path.values', 'at most 10000 values');
      }
      if (status != SkStatus.ok) {
        throw StateError('sk_flag_add_value: ${_statusName(status)}');
      }
    }
  }

  String _statusName(int status) => _native.statusName(status).cast<Utf8>().toDartString();

  void _checkOpen() {
    if (_closed) {
      throw StateError('FlagStore is closed');
    }
  }

  static Uint8List _utf8(String text) => utf8.encoder.convert(text);
}
