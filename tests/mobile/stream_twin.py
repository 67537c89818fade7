"""A line-by-line Python twin of the Flutter stream code, for the stream vectors (no Dart SDK here).

`EventStreamParser` follows sdks/flutter/lib/src/event_stream.dart; `StreamState`, `Backoff` and
`parse_retry_after` follow sdks/flutter/lib/src/stream_state.dart, over the same libsidekick
calls the Dart `FlagStore` makes (`FfiFlagStore`). Keep each method in step with its Dart twin:
tests/mobile/test_stream_twin.py runs every tests/vectors/stream case through this file and
checks that the Dart files still hold the constants and event names it relies on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.mobile.ffi_store import FfiFlagStore, FlagFormatError


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None


class EventStreamParser:
    def __init__(self, on_event: Callable[[ServerSentEvent], None]) -> None:
        self._on_event = on_event
        self._buffer = ""
        self._after_carriage_return = False
        self._bom_checked = False
        self._event_type = ""
        self._data_lines: list[str] = []
        self._event_id: str | None = None
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None

    def push(self, chunk: str) -> None:
        text = chunk
        if not self._bom_checked and text:
            self._bom_checked = True
            if text[0] == "\ufeff":
                text = text[1:]
        if self._after_carriage_return and text.startswith("\n"):
            text = text[1:]
        if text:
            self._after_carriage_return = False
        buffer = self._buffer + text
        start = 0
        while True:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr == -1 and lf == -1:
                break
            end = lf if cr == -1 else (cr if lf == -1 else (cr if cr < lf else lf))
            self._line(buffer[start:end])
            if end == cr:
                if end + 1 == len(buffer):
                    self._after_carriage_return = True
                    start = end + 1
                    break
                start = end + 2 if buffer[end + 1] == "\n" else end + 1
            else:
                start = end + 1
        self._buffer = buffer[start:]

    def _line(self, line: str) -> None:
        if not line:
            if self._data_lines:
                self._on_event(
                    ServerSentEvent(
                        self._event_type or "message", "\n".join(self._data_lines), self._event_id
                    )
                )
            self._event_type = ""
            self._data_lines.clear()
            self._event_id = None
            return
        if line.startswith(":"):
            return
        colon = line.find(":")
        field_name = line if colon < 0 else line[:colon]
        value = "" if colon < 0 else line[colon + 1 :]
        if value.startswith(" "):
            value = value[1:]
        if field_name == "event":
            self._event_type = value
        elif field_name == "data":
            self._data_lines.append(value)
        elif field_name == "id" and "\0" not in value:
            self._event_id = value
            self.last_event_id = value
        elif field_name == "retry" and re.fullmatch(r"[0-9]+", value):
            self.retry_ms = int(value)


@dataclass
class StreamOutcome:
    changed_keys: list[str] = field(default_factory=list)
    synced: bool = False
    goodbye_reason: str | None = None
    reconnect_after_ms: int | None = None
    stop: bool = False
    error: object | None = None


class _HeldStore:
    def __init__(self, store: FfiFlagStore) -> None:
        self.store = store
        self.held: dict[str, Mapping[str, Any]] = {}


class StreamState:
    def __init__(
        self,
        new_store: Callable[[], FfiFlagStore],
        flags: Iterable[Mapping[str, Any]],
        cursor: str | None,
        on_invalid_flag: Callable[[object], None],
    ) -> None:
        self._new_store = new_store  # Dart: FlagStore()
        self._on_invalid_flag = on_invalid_flag
        self._live = _HeldStore(new_store())
        self._staging: _HeldStore | None = None
        self.cursor = cursor
        self.synced_once = False
        self.stopped = False
        for flag in flags:
            self._upsert(self._live, flag)

    @property
    def store(self) -> FfiFlagStore:
        return self._live.store

    @property
    def flags(self) -> list[Mapping[str, Any]]:
        return list(self._live.held.values())

    def disconnected(self) -> None:
        self._drop_staging()

    def dispose(self) -> None:
        self._drop_staging()
        self._live.store.close()

    def handle(self, event: ServerSentEvent) -> StreamOutcome:
        outcome = StreamOutcome()
        if event.event == "connected":
            self._drop_staging()
            self._staging = _HeldStore(self._new_store())
        elif event.event == "resumed":
            self._drop_staging()
            self.synced_once = True
            outcome.synced = True
        elif event.event == "ready":
            self._swap(outcome)
        elif event.event == "update":
            change = _json_object(event.data)
            if change is None:
                outcome.error = ValueError("unreadable update event")
                return outcome
            self._apply(change, outcome)
        elif event.event == "goodbye":
            farewell = _json_object(event.data)
            if farewell is None:
                outcome.error = ValueError("unreadable goodbye event")
                return outcome
            reason = farewell.get("reason")
            outcome.goodbye_reason = reason if isinstance(reason, str) else ""
            delay = farewell.get("reconnect_after_ms")
            if reason == "revoked":
                self.stopped = True
                outcome.stop = True
            elif _is_int(delay) and delay >= 0:
                outcome.reconnect_after_ms = delay
        if event.id is not None and self._staging is None:
            self.cursor = event.id
        return outcome

    def _swap(self, outcome: StreamOutcome) -> None:
        fresh = self._staging
        if fresh is None:
            return
        previous = self._live
        self._live = fresh
        self._staging = None
        self.synced_once = True
        outcome.synced = True
        outcome.changed_keys = changed_keys(previous.held, fresh.held)
        previous.store.close()

    def _apply(self, change: Mapping[str, Any], outcome: StreamOutcome) -> None:
        target = self._staging or self._live
        kind, flag, key = change.get("type"), change.get("flag"), change.get("key")
        if kind == "UPSERT" and isinstance(flag, dict):
            changed = f"{flag.get('key')}"
            applied = self._upsert(target, flag)
        elif kind == "DELETE" and isinstance(key, str):
            changed = key
            version = change.get("version")
            applied = target.store.delete(key, version if _is_int(version) and version > 0 else 0)
            if applied:
                target.held.pop(key, None)
        else:
            return
        if applied and target is self._live:
            outcome.changed_keys = [changed]

    def _upsert(self, target: _HeldStore, flag: Mapping[str, Any]) -> bool:
        try:
            if not target.store.upsert(flag):
                return False
        except FlagFormatError as error:
            self._on_invalid_flag(error)
            return False
        target.held[flag["key"]] = flag
        return True

    def _drop_staging(self) -> None:
        if self._staging is not None:
            self._staging.store.close()
        self._staging = None


def changed_keys(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    keys = [key for key, flag in after.items() if _differs(before.get(key), flag)]
    keys += [key for key in before if key not in after]
    return sorted(keys)


def _differs(old: Mapping[str, Any] | None, fresh: Mapping[str, Any]) -> bool:
    if old is None:
        return True
    old_version, new_version = old.get("version"), fresh.get("version")
    if _is_int(old_version) and old_version != 0 and _is_int(new_version) and new_version != 0:
        return bool(old_version != new_version)
    return json.dumps(old) != json.dumps(fresh)


def _json_object(data: str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Backoff:
    def __init__(
        self,
        initial_ms: int = 1000,
        max_ms: int = 30000,
        reset_after_ms: int = 60000,
        random: Callable[[], float] | None = None,
    ) -> None:
        self.initial_ms = initial_ms
        self.max_ms = max_ms
        self.reset_after_ms = reset_after_ms
        self._random = random
        self._server_delay_ms: int | None = None
        self.attempt = 0

    def next_delay_ms(self) -> float:
        if self._server_delay_ms is not None:
            delay, self._server_delay_ms = self._server_delay_ms, None
            return float(delay)
        cap = min(self.max_ms, self.initial_ms * 2 ** min(self.attempt, 30))
        self.attempt += 1
        assert self._random is not None
        return self._random() * cap

    def connection_lasted(self, duration_ms: int) -> None:
        if duration_ms >= self.reset_after_ms:
            self.attempt = 0

    def server_delay(self, delay_ms: int) -> None:
        self._server_delay_ms = max(0, delay_ms)


def parse_retry_after(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    return int(text) * 1000 if re.fullmatch(r"[0-9]+", text) else None
