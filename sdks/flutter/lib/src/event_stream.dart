/// Server-Sent Events parsed from a chunked HTTP response body.
library;

import 'dart:async';
import 'dart:convert';

/// One dispatched event: its name (`message` when the server sent none), its data, and its own
/// `id:` field (null when it carried none: the resume cursor comes only from events with one).
final class ServerSentEvent {
  const ServerSentEvent(this.event, this.data, [this.id]);

  final String event;
  final String data;
  final String? id;
}

/// The text/event-stream format, fed decoded text in pieces that may end anywhere: lines end in
/// CRLF, LF or CR (also a CR ending one piece and its LF starting the next); a leading byte-order
/// mark is dropped; `event:`, `data:`, `id:` and `retry:` fields; `:` comments (the server's
/// keep-alives); a blank line dispatches. The same rules as sdks/shared-ts/src/sse.ts, pinned by
/// tests/vectors/stream/sse_parsing.json (through the Python twin in tests/mobile/stream_twin.py).
final class EventStreamParser {
  EventStreamParser(this._onEvent);

  final void Function(ServerSentEvent event) _onEvent;
  String _buffer = '';
  bool _afterCarriageReturn = false;
  bool _bomChecked = false;
  String _eventType = '';
  final List<String> _dataLines = <String>[];
  String? _eventId;

  /// The spec's last-event-ID buffer: an `id:` with no data sets it too.
  String? lastEventId;

  /// The reconnection time the server asked for with `retry:`, if any.
  int? retryMs;

  /// Feeds the next piece of the body's text.
  void push(String chunk) {
    var text = chunk;
    if (!_bomChecked && text.isNotEmpty) {
      _bomChecked = true;
      if (text.codeUnitAt(0) == 0xfeff) {
        text = text.substring(1);
      }
    }
    if (_afterCarriageReturn && text.startsWith('\n')) {
      text = text.substring(1);
    }
    if (text.isNotEmpty) {
      _afterCarriageReturn = false;
    }
    final buffer = _buffer + text;
    var start = 0;
    while (true) {
      final cr = buffer.indexOf('\r', start);
      final lf = buffer.indexOf('\n', start);
      if (cr == -1 && lf == -1) {
        break;
      }
      final end = cr == -1 ? lf : (lf == -1 ? cr : (cr < lf ? cr : lf));
      _line(buffer.substring(start, end));
      if (end == cr) {
        if (end + 1 == buffer.length) {
          _afterCarriageReturn = true;
          start = end + 1;
          break;
        }
        start = buffer.codeUnitAt(end + 1) == 0x0a ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
    }
    _buffer = buffer.substring(start);
  }

  void _line(String line) {
    if (line.isEmpty) {
      if (_dataLines.isNotEmpty) {
        _onEvent(ServerSentEvent(
            _eventType.isEmpty ? 'message' : _eventType, _dataLines.join('\n'), _eventId));
      }
      _eventType = '';
      _dataLines.clear();
      _eventId = null;
      return;
    }
    if (line.startsWith(':')) {
      return;
    }
    final colon = line.indexOf(':');
    final field = colon < 0 ? line : line.substring(0, colon);
    var value = colon < 0 ? '' : line.substring(colon + 1);
    if (value.startsWith(' ')) {
      value = value.substring(1);
    }
    if (field == 'event') {
      _eventType = value;
    } else if (field == 'data') {
      _dataLines.add(value);
    } else if (field == 'id' && !value.contains('\u0000')) {
      _eventId = value;
      lastEventId = value;
    } else if (field == 'retry' && RegExp(r'^[0-9]+$').hasMatch(value)) {
      retryMs = int.parse(value);
    }
  }
}

/// Turns the body's bytes into events (UTF-8, decoded across chunk boundaries).
Stream<ServerSentEvent> parseEventStream(Stream<List<int>> body) async* {
  final pending = <ServerSentEvent>[];
  final parser = EventStreamParser(pending.add);
  await for (final text in body.transform(utf8.decoder)) {
    parser.push(text);
    for (final event in pending) {
      yield event;
    }
    pending.clear();
  }
}
