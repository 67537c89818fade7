/// FlagStore: one native sk_store, fed wire-format flags and asked for evaluations.
///
/// Only value conversion happens here: a decoded JSON flag becomes sk_flag builder calls, and
/// attribute values become typed attributes (strings as text, numbers by value, booleans as
/// booleans, anything else present without a comparable value) as docs/contract.md says. Every
/// decision is the C core's; variant values never reach C: the core answers with the served
/// variant's index, and this store keeps each flag's values on the Dart side.
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

/// Why the core answered as it did, and what it served.
final class Evaluation {
  const Evaluation({
    required this.enabled,
    required this.value,
    required this.variant,
    required this.reason,
    required this.ruleIndex,
    required this.bucket,
    required this.version,
  });

  /// True exactly when a boolean flag serves `on`; false for every other type.
  final bool enabled;

  /// The served variant's value (`true` / `false` for boolean flags); null when not found.
  final Object? value;

  /// The served variant's key (`on` / `off` for boolean flags); null when not found.
  final String? variant;

  /// FLAG_NOT_FOUND, OFF, RULE_MATCH or ROLLOUT.
  final String reason;

  /// The matching rule's index for RULE_MATCH, else null.
  final int? ruleIndex;

  /// 0..99 when a rollout percentage applied, 0..999 when a split did, else null.
  final int? bucket;

  /// The evaluated flag's version; null when the flag was not found.
  final int? version;

  @override
  String toString() => 'Evaluation(enabled: $enabled, value: $value, variant: $variant, '
      'reason: $reason, ruleIndex: $ruleIndex, bucket: $bucket, version: $version)';
}

// Integral doubles below 2^53 are exact in a double and in an int.
const double _maxExactInteger = 9007199254740992.0;
const int _maxRules = 100;
const int _maxConditions = 20;
const int _maxVariants = 100;
const int _maxValuesPerCondition = 10000;
const int _splitTotal = 1000;
const int _maxJsonValueBytes = 64 * 1024;
const List<String> _flagTypes = ['boolean', 'string', 'number', 'json'];
final RegExp _keyPattern = RegExp(r'^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$');

/// The text version 1 gave an attribute value, or null when it had none. Evaluation now passes
/// typed attributes (see [FlagStore.evaluate]); this stays for callers that convert themselves.
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

String _typeName(Object? value) => value == null ? 'null' : value.runtimeType.toString();

/// A read-only deep copy, so that a caller mutating its decoded JSON (or a value a getter
/// returned) cannot change what the store serves.
Object? _frozen(Object? value) {
  if (value is List<Object?>) {
    return List<Object?>.unmodifiable(value.map(_frozen));
  }
  if (value is Map<String, Object?>) {
    return Map<String, Object?>.unmodifiable(
        value.map((key, item) => MapEntry(key, _frozen(item))));
  }
  return value;
}

/// What the store keeps of a flag on the Dart side: its type and its variants, by index.
final class _Variants {
  const _Variants(this.type, this.keys, this.values);

  static const boolean = _Variants(SkFlagType.boolean, ['off', 'on'], [false, true]);

  final int type;
  final List<String> keys;
  final List<Object?> values;
}

/// A served variant, or a split: parallel lists of variant indexes and weights.
final class _Serve {
  const _Serve.variant(this.variant)
      : splitVariants = const [],
        splitWeights = const [];
  const _Serve.split(this.splitVariants, this.splitWeights) : variant = -1;

  final int variant;
  final List<int> splitVariants;
  final List<int> splitWeights;
}

/// One attribute converted for sk_typed_attribute.
final class _TypedValue {
  const _TypedValue(this.name, this.kind, this.text, this.number);

  final Uint8List name;
  final int kind;
  final Uint8List? text;
  final double number;
}

/// A host value as a typed attribute: strings as text, booleans as booleans, integers by value
/// with their exact decimal digits as text, doubles by value (the core gives integral ones
/// their text), and anything else (null, lists, maps) present without a comparable value.
_TypedValue _typedValue(Uint8List name, Object? value) {
  if (value is String) {
    return _TypedValue(name, SkValueKind.text, _utf8(value), 0);
  }
  if (value is bool) {
    return _TypedValue(name, SkValueKind.boolean, null, value ? 1 : 0);
  }
  if (value is int) {
    return _TypedValue(name, SkValueKind.number, _utf8(value.toString()), value.toDouble());
  }
  if (value is double) {
    return _TypedValue(name, SkValueKind.number, null, value);
  }
  return _TypedValue(name, SkValueKind.other, null, 0);
}

Uint8List _utf8(String text) => utf8.encoder.convert(text);

/// Native memory for the UTF-8 strings of one call, reused across calls so that evaluation does
/// not allocate once it has grown to the largest request seen.
final class _Scratch {
  Pointer<Uint8> _bytes = nullptr;
  int _capacity = 0;
  int _used = 0;
  Pointer<SkTypedAttribute> _attributes = nullptr;
  int _attributeCapacity = 0;
  Pointer<Int32> _variants = nullptr;
  Pointer<Uint32> _weights = nullptr;
  int _splitCapacity = 0;

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
      _attributes = malloc<SkTypedAttribute>(_attributeCapacity);
    }
    _used = 0;
  }

  /// Room for a split of [count] entries in [variants] and [weights].
  void reserveSplit(int count) {
    if (count > _splitCapacity) {
      if (_variants != nullptr) {
        malloc.free(_variants);
        malloc.free(_weights);
      }
      _splitCapacity = count < _maxVariants ? _maxVariants : count;
      _variants = malloc<Int32>(_splitCapacity);
      _weights = malloc<Uint32>(_splitCapacity);
    }
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

  Pointer<SkTypedAttribute> get attributes => _attributes;
  Pointer<Int32> get variants => _variants;
  Pointer<Uint32> get weights => _weights;

  void free() {
    if (_bytes != nullptr) {
      malloc.free(_bytes);
    }
    if (_attributes != nullptr) {
      malloc.free(_attributes);
    }
    if (_variants != nullptr) {
      malloc.free(_variants);
      malloc.free(_weights);
    }
    _bytes = nullptr;
    _attributes = nullptr;
    _variants = nullptr;
    _weights = nullptr;
    _capacity = 0;
    _attributeCapacity = 0;
    _splitCapacity = 0;
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
  final Pointer<SkTypedEvaluation> _evaluation = calloc<SkTypedEvaluation>();

  /// Each stored flag's type and variant values, changed only when the core applied the write,
  /// so that it always describes the flag the core evaluates.
  final Map<String, _Variants> _variants = {};
  bool _closed = false;

  /// Applies a decoded wire flag (unknown fields ignored). Returns false when its version is not
  /// newer than the stored or deleted one. Throws [FlagFormatException] and changes nothing when
  /// a field cannot be converted.
  bool upsert(Map<String, Object?> flag) {
    _checkOpen();
    final (built, variants) = _buildFlag(flag);
    // The store takes the flag whatever it returns.
    final status = _native.storeUpsert(_store, built);
    if (status < 0) {
      throw StateError('sk_store_upsert: ${_statusName(status)}');
    }
    if (status == SkStatus.ok) {
      _variants[flag['key'] as String] = variants;
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
    if (status == SkStatus.ok) {
      _variants.remove(key);
    }
    return status == SkStatus.ok;
  }

  /// Removes every flag and every remembered delete.
  void clear() {
    _checkOpen();
    _native.storeClear(_store);
    _variants.clear();
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

  /// Whether a boolean flag [flagKey] is on for [userKey]; false for a missing flag or a flag of
  /// another type, never throws.
  bool isEnabled(String flagKey, String userKey, [Map<String, Object?>? attributes]) {
    if (_closed) {
      return false;
    }
    _evaluateNative(flagKey, userKey, attributes);
    return _evaluation.ref.enabled != 0;
  }

  /// The served value and variant with the reason, matching rule, bucket and version.
  Evaluation evaluate(String flagKey, String userKey, [Map<String, Object?>? attributes]) {
    _checkOpen();
    _evaluateNative(flagKey, userKey, attributes);
    final result = _evaluation.ref;
    final reasonPointer = _native.reasonName(result.reason);
    final found = result.variant >= 0;
    final variants = found ? _variants[flagKey] : null;
    return Evaluation(
      enabled: result.enabled != 0,
      value: variants?.values[result.variant],
      variant: variants?.keys[result.variant],
      reason: reasonPointer.cast<Utf8>().toDartString(),
      ruleIndex: result.ruleIndex < 0 ? null : result.ruleIndex,
      bucket: result.bucket < 0 ? null : result.bucket,
      version: found ? result.version : null,
    );
  }

  /// A boolean flag's answer, or [defaultValue] when the flag is missing or of another type.
  bool getBoolean(String flagKey, String userKey, bool defaultValue,
          [Map<String, Object?>? attributes]) =>
      _typed<bool>(SkFlagType.boolean, flagKey, userKey, attributes) ?? defaultValue;

  /// A string flag's served value, or [defaultValue] when missing or of another type.
  String getString(String flagKey, String userKey, String defaultValue,
          [Map<String, Object?>? attributes]) =>
      _typed<String>(SkFlagType.string, flagKey, userKey, attributes) ?? defaultValue;

  /// A number flag's served value, or [defaultValue] when missing or of another type.
  num getNumber(String flagKey, String userKey, num defaultValue,
          [Map<String, Object?>? attributes]) =>
      _typed<num>(SkFlagType.number, flagKey, userKey, attributes) ?? defaultValue;

  /// A json flag's served value (read-only), or [defaultValue] when missing or of another type.
  /// A served JSON `null` is returned as null.
  Object? getJson(String flagKey, String userKey, Object? defaultValue,
      [Map<String, Object?>? attributes]) {
    if (_closed || _variants[flagKey]?.type != SkFlagType.json) {
      return defaultValue;
    }
    _evaluateNative(flagKey, userKey, attributes);
    final variant = _evaluation.ref.variant;
    return variant < 0 ? defaultValue : _variants[flagKey]!.values[variant];
  }

  // The served value when [flagKey] is stored with [type], else null; never throws.
  T? _typed<T extends Object>(
      int type, String flagKey, String userKey, Map<String, Object?>? attributes) {
    if (_closed || _variants[flagKey]?.type != type) {
      return null;
    }
    _evaluateNative(flagKey, userKey, attributes);
    final variant = _evaluation.ref.variant;
    return variant < 0 ? null : _variants[flagKey]!.values[variant] as T;
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
    _variants.clear();
  }

  // Copies the keys and typed attributes into scratch memory and fills _evaluation.
  void _evaluateNative(String flagKey, String userKey, Map<String, Object?>? attributes) {
    final flagBytes = _utf8(flagKey);
    final userBytes = _utf8(userKey);
    final typed = <_TypedValue>[];
    var total = flagBytes.length + userBytes.length;
    if (attributes != null) {
      for (final entry in attributes.entries) {
        final value = _typedValue(_utf8(entry.key), entry.value);
        typed.add(value);
        total += value.name.length + (value.text?.length ?? 0);
      }
    }
    _scratch.reserve(total, typed.length);
    final flag = _scratch.put(flagBytes);
    final user = _scratch.put(userBytes);
    for (var index = 0; index < typed.length; index++) {
      final value = typed[index];
      final slot = _scratch.attributes[index];
      slot.name = _scratch.put(value.name);
      slot.nameLen = value.name.length;
      final text = value.text;
      slot.text = text == null ? nullptr : _scratch.put(text);
      slot.textLen = text?.length ?? 0;
      slot.number = value.number;
      slot.kind = value.kind;
      slot.reserved = 0;
    }
    _native.storeEvaluateTyped(_store, flag, flagBytes.length, user, userBytes.length,
        _scratch.attributes, typed.length, _evaluation);
  }

  (Pointer<SkFlag>, _Variants) _buildFlag(Map<String, Object?> wire) {
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
    final typeName = wire.containsKey('type') ? wire['type'] : 'boolean';
    final type = typeName is String ? _flagTypes.indexOf(typeName) : -1;
    if (type < 0) {
      throw FlagFormatException('type', 'must be one of ${_flagTypes.join(', ')}');
    }
    final boolean = type == SkFlagType.boolean;
    List<Object?> rawVariants = const [];
    if (boolean) {
      for (final field in const ['variants', 'off_variant', 'fallthrough']) {
        if (wire[field] != null) {
          throw FlagFormatException(field, 'is for non-boolean flags only');
        }
      }
    } else {
      if (rollout != -1) {
        throw FlagFormatException('rollout_percentage', 'must be null on a $typeName flag');
      }
      final variantsValue = wire['variants'];
      if (variantsValue is! List<Object?> ||
          variantsValue.isEmpty ||
          variantsValue.length > _maxVariants) {
        throw FlagFormatException(
            'variants', 'must be a list of 1 to $_maxVariants variants on a $typeName flag');
      }
      rawVariants = variantsValue;
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

    final keyBytes = _utf8(key);
    _scratch.reserve(keyBytes.length, 0);
    final out = calloc<Pointer<SkFlag>>();
    try {
      final status = _native.flagNewTyped(_scratch.put(keyBytes), keyBytes.length, type,
          enabledValue, rollout, rawVariants.length, version, out);
      if (status == SkStatus.errBadKey) {
        throw FlagFormatException('key',
            'must be 1-100 characters of A-Z a-z 0-9 _ - . starting with a letter or digit');
      }
      if (status != SkStatus.ok) {
        throw StateError('sk_flag_new_typed: ${_statusName(status)}');
      }
      final flag = out.value;
      try {
        final variants =
            boolean ? _Variants.boolean : _parseVariants(rawVariants, type);
        _finishFlag(flag, wire, variants, typeName as String);
        return (flag, variants);
      } catch (_) {
        _native.flagFree(flag);
        rethrow;
      }
    } finally {
      calloc.free(out);
    }
  }

  // bucket_by, the rules, then (non-boolean flags) the fallthrough and the off variant.
  void _finishFlag(
      Pointer<SkFlag> flag, Map<String, Object?> wire, _Variants variants, String typeName) {
    final bucketBy = wire['bucket_by'];
    if (bucketBy != null) {
      if (bucketBy is! String || bucketBy.isEmpty) {
        throw FlagFormatException('bucket_by', 'must be a non-empty string or null');
      }
      final bytes = _utf8(bucketBy);
      _scratch.reserve(bytes.length, 0);
      _check(_native.flagSetBucketBy(flag, _scratch.put(bytes), bytes.length),
          'sk_flag_set_bucket_by');
    }
    final rulesValue = wire.containsKey('rules') ? wire['rules'] : const <Object?>[];
    if (rulesValue is! List<Object?>) {
      throw FlagFormatException('rules', 'must be a list');
    }
    if (rulesValue.length > _maxRules) {
      throw FlagFormatException('rules', 'at most $_maxRules rules');
    }
    for (var index = 0; index < rulesValue.length; index++) {
      _addRule(flag, rulesValue[index], 'rules[$index]', variants, typeName);
    }
    if (variants.type == SkFlagType.boolean) {
      return;
    }
    final fallthrough = wire['fallthrough'];
    if (fallthrough == null) {
      throw FlagFormatException('fallthrough', 'is required on a $typeName flag');
    }
    _applyServe(flag, SkServeTarget.fallthrough, _parseServe(fallthrough, 'fallthrough', variants));
    final offKey = wire['off_variant'];
    final offVariant = offKey is String ? variants.keys.indexOf(offKey) : -1;
    if (offVariant < 0) {
      throw FlagFormatException('off_variant', 'must name a variant (${variants.keys.join(', ')})');
    }
    _check(_native.flagSetOffVariant(flag, offVariant), 'sk_flag_set_off_variant');
  }

  _Variants _parseVariants(List<Object?> raw, int type) {
    final keys = <String>[];
    final values = <Object?>[];
    for (var index = 0; index < raw.length; index++) {
      final path = 'variants[$index]';
      final variant = raw[index];
      if (variant is! Map<String, Object?>) {
        throw FlagFormatException(path, 'must be an object, got ${_typeName(variant)}');
      }
      final variantKey = variant['key'];
      if (variantKey is! String || !_keyPattern.hasMatch(variantKey)) {
        throw FlagFormatException(
            '$path.key', 'must follow the key rule (1-100 of A-Z a-z 0-9 _ - .)');
      }
      if (keys.contains(variantKey)) {
        throw FlagFormatException('$path.key', 'duplicate variant key $variantKey');
      }
      if (!variant.containsKey('value')) {
        throw FlagFormatException('$path.value', 'is required');
      }
      final value = variant['value'];
      _checkVariantValue(type, value, '$path.value');
      final name = variant['name'];
      if (name != null && name is! String) {
        throw FlagFormatException('$path.name', 'must be a string, got ${_typeName(name)}');
      }
      keys.add(variantKey);
      values.add(_frozen(value));
    }
    return _Variants(type, List.unmodifiable(keys), List.unmodifiable(values));
  }

  static void _checkVariantValue(int type, Object? value, String path) {
    if (type == SkFlagType.string && value is! String) {
      throw FlagFormatException(path, 'must be a string for a string flag, got ${_typeName(value)}');
    }
    if (type == SkFlagType.number) {
      if (value is! num) {
        throw FlagFormatException(
            path, 'must be a number for a number flag, got ${_typeName(value)}');
      }
      if (!value.isFinite) {
        throw FlagFormatException(path, 'must be a finite number, got $value');
      }
    }
    if (type == SkFlagType.json) {
      final String encoded;
      try {
        encoded = jsonEncode(value);
      } on JsonUnsupportedObjectError catch (error) {
        throw FlagFormatException(path, 'must be a JSON value ($error)');
      }
      final size = utf8.encoder.convert(encoded).length;
      if (size > _maxJsonValueBytes) {
        throw FlagFormatException(path, 'at most $_maxJsonValueBytes bytes of JSON, got $size');
      }
    }
  }

  void _addRule(
      Pointer<SkFlag> flag, Object? rule, String path, _Variants variants, String typeName) {
    if (rule is! Map<String, Object?>) {
      throw FlagFormatException(path, 'must be an object, got ${_typeName(rule)}');
    }
    final List<(Map<String, Object?>, String)> conditions;
    if (rule.containsKey('conditions')) {
      for (final short in const ['attribute', 'operator', 'values', 'negate']) {
        if (rule.containsKey(short)) {
          throw FlagFormatException(
              '$path.$short', 'a rule with "conditions" has no "$short" of its own');
        }
      }
      final raw = rule['conditions'];
      if (raw is! List<Object?> || raw.isEmpty || raw.length > _maxConditions) {
        throw FlagFormatException(
            '$path.conditions', 'must be a list of 1 to $_maxConditions conditions');
      }
      conditions = [];
      for (var index = 0; index < raw.length; index++) {
        final where = '$path.conditions[$index]';
        final condition = raw[index];
        if (condition is! Map<String, Object?>) {
          throw FlagFormatException(where, 'must be an object, got ${_typeName(condition)}');
        }
        conditions.add((condition, where));
      }
    } else {
      conditions = [(rule, path)];
    }
    _check(_native.flagBeginRule(flag), 'sk_flag_begin_rule');
    for (final (condition, where) in conditions) {
      _addCondition(flag, condition, where);
    }
    if (rule.containsKey('serve')) {
      _applyServe(flag, SkServeTarget.rule, _parseServe(rule['serve'], '$path.serve', variants));
    } else if (variants.type != SkFlagType.boolean) {
      throw FlagFormatException('$path.serve', 'is required on a $typeName flag');
    }
  }

  void _addCondition(Pointer<SkFlag> flag, Map<String, Object?> condition, String path) {
    final attribute = condition['attribute'];
    if (attribute is! String || attribute.isEmpty) {
      throw FlagFormatException('$path.attribute', 'must be a non-empty string');
    }
    final operatorName = condition['operator'];
    final operatorBytes = operatorName is String ? _utf8(operatorName) : null;
    var op = -1;
    if (operatorBytes != null) {
      _scratch.reserve(operatorBytes.length, 0);
      op = _native.operatorParse(_scratch.put(operatorBytes), operatorBytes.length);
    }
    if (op < 0) {
      throw FlagFormatException('$path.operator',
          'must be one of Equals, NotEquals, Contains, StartsWith, EndsWith, Gt, Gte, Lt, Lte, '
          'SemverEq, SemverGt, SemverLt');
    }
    final values = condition['values'];
    if (values is! List<Object?>) {
      throw FlagFormatException('$path.values', 'must be a list of strings');
    }
    if (values.length > _maxValuesPerCondition) {
      throw FlagFormatException('$path.values', 'at most $_maxValuesPerCondition values');
    }
    for (var index = 0; index < values.length; index++) {
      if (values[index] is! String) {
        throw FlagFormatException('$path.values[$index]', 'must be a string');
      }
    }
    final negate = condition.containsKey('negate') ? condition['negate'] : false;
    if (negate is! bool) {
      throw FlagFormatException('$path.negate', 'must be a boolean');
    }
    final attributeBytes = _utf8(attribute);
    _scratch.reserve(attributeBytes.length, 0);
    _check(
        _native.flagAddCondition(
            flag, _scratch.put(attributeBytes), attributeBytes.length, op, negate),
        'sk_flag_add_condition');
    for (var index = 0; index < values.length; index++) {
      final valueBytes = _utf8(values[index] as String);
      _scratch.reserve(valueBytes.length, 0);
      final status = _native.flagAddValue(flag, _scratch.put(valueBytes), valueBytes.length);
      if (status == SkStatus.errBadValue) {
        throw FlagFormatException('$path.values[$index]',
            operatorName.toString().startsWith('Semver')
                ? 'must be a SemVer 2.0.0 version for $operatorName'
                : "must be a number in JSON's grammar for $operatorName");
      }
      _check(status, 'sk_flag_add_value');
    }
  }

  _Serve _parseServe(Object? raw, String path, _Variants variants) {
    if (raw is! Map<String, Object?>) {
      throw FlagFormatException(path, 'must be an object, got ${_typeName(raw)}');
    }
    if (raw.containsKey('variant') == raw.containsKey('split')) {
      throw FlagFormatException(path, 'must have exactly one of "variant" and "split"');
    }
    if (raw.containsKey('variant')) {
      return _Serve.variant(_variantIndex(raw['variant'], '$path.variant', variants));
    }
    final split = raw['split'];
    if (split is! List<Object?> || split.isEmpty || split.length > _maxVariants) {
      throw FlagFormatException('$path.split', 'must be a list of 1 to $_maxVariants entries');
    }
    final indexes = <int>[];
    final weights = <int>[];
    var total = 0;
    for (var index = 0; index < split.length; index++) {
      final where = '$path.split[$index]';
      final entry = split[index];
      if (entry is! Map<String, Object?>) {
        throw FlagFormatException(where, 'must be an object, got ${_typeName(entry)}');
      }
      indexes.add(_variantIndex(entry['variant'], '$where.variant', variants));
      final weight = entry['weight'];
      if (weight is! int || weight < 0 || weight > _splitTotal) {
        throw FlagFormatException('$where.weight', 'must be an integer from 0 to $_splitTotal');
      }
      weights.add(weight);
      total += weight;
    }
    if (total != _splitTotal) {
      throw FlagFormatException('$path.split', 'weights must add up to $_splitTotal, got $total');
    }
    return _Serve.split(indexes, weights);
  }

  static int _variantIndex(Object? key, String path, _Variants variants) {
    final index = key is String ? variants.keys.indexOf(key) : -1;
    if (index < 0) {
      throw FlagFormatException(path, 'must name a variant (${variants.keys.join(', ')})');
    }
    return index;
  }

  void _applyServe(Pointer<SkFlag> flag, int target, _Serve serve) {
    if (serve.splitVariants.isEmpty) {
      _check(_native.flagServeVariant(flag, target, serve.variant), 'sk_flag_serve_variant');
      return;
    }
    final count = serve.splitVariants.length;
    _scratch.reserveSplit(count);
    for (var index = 0; index < count; index++) {
      _scratch.variants[index] = serve.splitVariants[index];
      _scratch.weights[index] = serve.splitWeights[index];
    }
    _check(_native.flagServeSplit(flag, target, _scratch.variants, _scratch.weights, count),
        'sk_flag_serve_split');
  }

  // The wire checks above leave the core nothing to refuse; a refusal here is a bug or no memory.
  void _check(int status, String function) {
    if (status != SkStatus.ok) {
      throw StateError('$function: ${_statusName(status)}');
    }
  }

  String _statusName(int status) => _native.statusName(status).cast<Utf8>().toDartString();

  void _checkOpen() {
    if (_closed) {
      throw StateError('FlagStore is closed');
    }
  }
}
