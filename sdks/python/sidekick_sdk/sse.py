"""Incremental text/event-stream parser: body bytes in, dispatched events out.

Hand-written rather than httpx-sse because the SDK needs what that library does not give: a
leading byte-order mark dropped, each event's *own* `id:` (the resume cursor must come only from
events that carry one), and a CR that ends one chunk paired with an LF that starts the next. The
same cases pin this parser and the TypeScript one (tests/vectors/stream/sse_parsing.json).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    """The `event:` field; "message" when the server named none."""
    data: str
    """The `data:` lines joined with LF."""
    id: str | None
    """This event's own `id:` field, or None when it carried none."""


class EventStreamParser:
    """Feed it chunks of the body; each call returns the events the chunk completed."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._after_cr = False
        self._bom_checked = False
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.last_event_id: str | None = None
        """The spec's last-event-ID buffer: an `id:` with no data sets it too."""
        self.retry_ms: int | None = None
        """The reconnection time a `retry:` field asked for."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._decoder.decode(chunk)
        if not self._bom_checked and text:
            self._bom_checked = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text.startswith("\n"):
            text = text[1:]  # the LF completing a CRLF whose CR ended the last chunk
        if text:
            self._after_cr = False
        self._buffer += text
        events: list[ServerSentEvent] = []
        start = 0
        buffer = self._buffer
        while True:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr == -1 and lf == -1:
                break
            end = lf if cr == -1 else cr if lf == -1 else min(cr, lf)
            self._line(buffer[start:end], events)
            if end == cr:
                if end + 1 == len(buffer):
                    self._after_cr = True
                    start = end + 1
                    break
                start = end + 2 if buffer[end + 1] == "\n" else end + 1
            else:
                start = end + 1
        self._buffer = buffer[start:]
        return events

    def _line(self, line: str, events: list[ServerSentEvent]) -> None:
        if not line:
            if self._data:
                events.append(
                    ServerSentEvent(self._event or "message", "\n".join(self._data), self._id)
                )
            self._event, self._data, self._id = "", [], None
            return
        if line.startswith(":"):
            return
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
            self.last_event_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
