/// Server-Sent Events parsed from a chunked HTTP response body.
library;

import 'dart:async';
import 'dart:convert';

/// One dispatched event: its name (`message` when the server sent none) and its data.
final class ServerSentEvent {
  const ServerSentEvent(this.event, this.data);

  final String event;
  final String data;
}

/// Turns the body's bytes into events as the text/event-stream format says: UTF-8, lines ending in
/// CRLF, LF or CR (LineSplitter handles all three, across chunk boundaries), `event:` and `data:`
/// fields, `:` comments (the server's keep-alives), a blank line dispatching.
Stream<ServerSentEvent> parseEventStream(Stream<List<int>> body) async* {
  var eventName = '';
  final data = <String>[];
  await for (final line in body.transform(utf8.decoder).transform(const LineSplitter())) {
    if (line.isEmpty) {
      if (data.isNotEmpty) {
        yield ServerSentEvent(eventName.isEmpty ? 'message' : eventName, data.join('\n'));
      }
      eventName = '';
      data.clear();
      continue;
    }
    if (line.startsWith(':')) {
      continue;
    }
    final colon = line.indexOf(':');
    final field = colon < 0 ? line : line.substring(0, colon);
    var value = colon < 0 ? '' : line.substring(colon + 1);
    if (value.startsWith(' ')) {
      value = value.substring(1);
    }
    if (field == 'event') {
      eventName = value;
    } else if (field == 'data') {
      data.add(value);
    }
  }
}
