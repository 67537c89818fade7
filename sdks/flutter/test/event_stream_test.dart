// parseEventStream over every way a response body can be cut into chunks. Needs a Dart SDK:
// `flutter test test/event_stream_test.dart` (no native library involved).
import 'dart:convert';

import 'package:flutter_test/flutter_test.dart';
import 'package:sidekick_flutter/sidekick_flutter.dart';

const String body = 'event: connected\ndata: true\n\n'
    ': keep-alive\n\n'
    'event: update\r\ndata: {"type":"UPSERT","flag":{"key":"caf\u00e9"}}\r\n\r\n'
    'event: update\rdata: {"type":"DELETE",\rdata: "key":"k","version":3}\r\r'
    'data:no-space\n\n'
    'event: ready\ndata: {"flags": 1}\n\n';

const List<List<String>> expected = [
  ['connected', 'true'],
  ['update', '{"type":"UPSERT","flag":{"key":"caf\u00e9"}}'],
  ['update', '{"type":"DELETE",\n"key":"k","version":3}'],
  ['message', 'no-space'],
  ['ready', '{"flags": 1}'],
];

Future<List<List<String>>> parse(List<List<int>> chunks) => parseEventStream(
      Stream.fromIterable(chunks),
    ).map((event) => [event.event, event.data]).toList();

void main() {
  final bytes = utf8.encode(body);

  test('one chunk', () async {
    expect(await parse([bytes]), expected);
  });

  test('every split point, inside a UTF-8 sequence and between CR and LF too', () async {
    for (var cut = 1; cut < bytes.length; cut++) {
      expect(await parse([bytes.sublist(0, cut), bytes.sublist(cut)]), expected, reason: '$cut');
    }
  });

  test('an event without data is not dispatched', () async {
    expect(await parse([utf8.encode('event: ready\n\nevent: update\ndata: x')]), isEmpty);
  });
}
