// The repository's shared vectors through the real FlagStore. Needs a Dart SDK (not available on
// the project's build machines, where tests/mobile runs the same calls from Python instead):
//
//   cmake -S ../../evalcore -B ../../build/lib && cmake --build ../../build/lib
//   LD_LIBRARY_PATH=../../build/lib flutter test
import 'dart:convert';
import 'dart:ffi';
import 'dart:io';

import 'package:ffi/ffi.dart';
import 'package:flutter_test/flutter_test.dart';
import 'package:sidekick_flutter/sidekick_flutter.dart';

final Directory vectorsDirectory = Directory('../../tests/vectors');

void main() {
  final hashFile = File('${vectorsDirectory.path}/hash.json');
  final caseFiles = vectorsDirectory
      .listSync(recursive: true)
      .whereType<File>()
      // stream/ pins the stream client, not the core (stream_state_test.dart runs it).
      .where((file) =>
          file.path.endsWith('.json') &&
          file.path != hashFile.path &&
          !file.path.contains('${Platform.pathSeparator}stream${Platform.pathSeparator}'))
      .toList()
    ..sort((a, b) => a.path.compareTo(b.path));

  test('there are vectors to run', () {
    expect(hashFile.existsSync(), isTrue);
    expect(caseFiles, isNotEmpty);
  });

  test('hash vectors', () {
    final bindings = SidekickBindings.instance;
    final cases = _object(jsonDecode(hashFile.readAsStringSync()))['cases'] as List<Object?>;
    for (final raw in cases) {
      final hashCase = _object(raw);
      final bytes = _hex(hashCase['input_hex'] as String);
      final memory = malloc<Uint8>(bytes.isEmpty ? 1 : bytes.length);
      try {
        memory.asTypedList(bytes.length).setAll(0, bytes);
        final hash = bindings.murmurHash3(memory.cast(), bytes.length, hashCase['seed'] as int);
        expect(hash, hashCase['expected'], reason: hashCase['name'] as String);
      } finally {
        malloc.free(memory);
      }
    }
  });

  for (final file in caseFiles) {
    test(file.path, () {
      final cases = _object(jsonDecode(file.readAsStringSync()))['cases'] as List<Object?>;
      for (final raw in cases) {
        final store = FlagStore();
        try {
          _runCase(store, _object(raw));
        } finally {
          store.close();
        }
      }
    });
  }
}

Map<String, Object?> _object(Object? value) => value as Map<String, Object?>;

List<int> _hex(String text) => [
      for (var index = 0; index < text.length; index += 2)
        int.parse(text.substring(index, index + 2), radix: 16),
    ];

void _runCase(FlagStore store, Map<String, Object?> testCase) {
  final name = testCase['name'] as String;
  final applied = <bool?>[];
  for (final raw in testCase['operations'] as List<Object?>) {
    final operation = _object(raw);
    switch (operation['op']) {
      case 'upsert' when operation.containsKey('error'):
        final before = store.length;
        expect(
          () => store.upsert(_object(operation['flag'])),
          throwsA(isA<FlagFormatException>()
              .having((error) => error.path, 'path', operation['error'])),
          reason: name,
        );
        expect(store.length, before, reason: name);
        applied.add(null);
      case 'upsert':
        applied.add(store.upsert(_object(operation['flag'])));
      case 'delete':
        final version = operation['version'] as int? ?? 0;
        applied.add(store.delete(operation['key'] as String, version: version));
      case 'clear':
        store.clear();
        applied.add(null);
      default:
        fail('$name: unknown op ${operation['op']}');
    }
  }
  if (testCase.containsKey('applied')) {
    expect(applied, testCase['applied'], reason: name);
  }
  if (testCase.containsKey('count')) {
    expect(store.length, testCase['count'], reason: name);
  }
  for (final raw in testCase['evaluations'] as List<Object?>? ?? const <Object?>[]) {
    final expected = _object(raw);
    final flag = expected['flag'] as String;
    final user = expected['user_key'] as String;
    final attributes = expected['attributes'] as Map<String, Object?>?;
    final result = store.evaluate(flag, user, attributes);
    final why = '$name: $flag/$user $attributes';
    expect(
      [result.enabled, result.reason, result.ruleIndex, result.bucket, result.version],
      [
        expected['enabled'],
        expected['reason'],
        expected['rule_index'],
        expected['bucket'],
        expected['version'],
      ],
      reason: why,
    );
    // Version 2 files (typed/) also state the served variant and its value, compared as JSON
    // (1 is not true; 1.0 is 1).
    if (expected.containsKey('variant')) {
      expect(result.variant, expected['variant'], reason: why);
    }
    if (expected.containsKey('value')) {
      expect(_sameJson(result.value, expected['value']), isTrue,
          reason: '$why: value ${result.value}');
    }
    expect(store.isEnabled(flag, user, attributes), expected['enabled'], reason: why);
  }
  for (final raw in testCase['getters'] as List<Object?>? ?? const <Object?>[]) {
    final getter = _object(raw);
    final flag = getter['flag'] as String;
    final user = getter['user_key'] as String;
    final attributes = getter['attributes'] as Map<String, Object?>?;
    final defaultValue = getter['default'];
    final Object? got = switch (getter['getter']) {
      'boolean' => store.getBoolean(flag, user, defaultValue as bool, attributes),
      'string' => store.getString(flag, user, defaultValue as String, attributes),
      'number' => store.getNumber(flag, user, defaultValue as num, attributes),
      'json' => store.getJson(flag, user, defaultValue, attributes),
      _ => fail('$name: unknown getter ${getter['getter']}'),
    };
    expect(_sameJson(got, getter['expected']), isTrue, reason: '$name: $getter gave $got');
  }
}

/// JSON equality: booleans never equal numbers, numbers compare by value.
bool _sameJson(Object? a, Object? b) {
  if (a is num && b is num) {
    return a == b;
  }
  if (a is List && b is List) {
    return a.length == b.length &&
        [for (var index = 0; index < a.length; index++) _sameJson(a[index], b[index])]
            .every((same) => same);
  }
  if (a is Map && b is Map) {
    return a.length == b.length &&
        a.keys.every((key) => b.containsKey(key) && _sameJson(a[key], b[key]));
  }
  return a == b;
}
