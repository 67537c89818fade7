"""tests/vectors/stream through the Python twin of the Flutter stream code and libsidekick."""

from __future__ import annotations

import codecs
import json
from typing import Any

import pytest

from tests.mobile import abi_check
from tests.mobile.ffi_store import FfiFlagStore
from tests.mobile.native_library import NativeApi
from tests.mobile.stream_twin import (
    Backoff,
    EventStreamParser,
    ServerSentEvent,
    StreamState,
    parse_retry_after,
)

VECTORS = abi_check.ROOT / "tests" / "vectors" / "stream"
DART_SOURCE = abi_check.ROOT / "sdks" / "flutter" / "lib" / "src"


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return document


@pytest.mark.parametrize("case", _load("sse_parsing.json")["cases"], ids=lambda c: c["name"])
def test_sse_parsing(case: dict[str, Any]) -> None:
    body = case["input"].encode("utf-8")
    for cut in range(len(body) + 1):
        events: list[ServerSentEvent] = []
        parser = EventStreamParser(events.append)
        decoder = codecs.getincrementaldecoder("utf-8")()  # Dart: utf8.decoder over the chunks
        parser.push(decoder.decode(body[:cut]))
        parser.push(decoder.decode(body[cut:], final=True))
        got = [{"event": e.event, "data": e.data, "id": e.id} for e in events]
        assert got == case["events"], f"split at byte {cut}"
        assert parser.last_event_id == case["last_event_id"]
        assert parser.retry_ms == case["retry_ms"]


@pytest.mark.parametrize("case", _load("state_machine.json")["cases"], ids=lambda c: c["name"])
def test_state_machine(api: NativeApi, case: dict[str, Any]) -> None:
    errors: list[object] = []
    state = StreamState(
        lambda: FfiFlagStore(api),
        case["initial"]["flags"],
        case["initial"]["cursor"],
        errors.append,
    )
    notifications: list[list[str]] = []
    unreadable = 0
    reconnect_after_ms = None
    for step in case["steps"]:
        if step.get("disconnect"):
            state.disconnected()
            continue
        data = step["data"] if isinstance(step["data"], str) else json.dumps(step["data"])
        outcome = state.handle(ServerSentEvent(step["event"], data, step.get("id")))
        if outcome.changed_keys:
            notifications.append(outcome.changed_keys)
        unreadable += outcome.error is not None
        if outcome.reconnect_after_ms is not None:
            reconnect_after_ms = outcome.reconnect_after_ms
    expect = case["expect"]
    held = {flag["key"]: flag.get("version", 0) for flag in state.flags}
    assert held == expect["flags"]
    # The native store holds exactly those flags at those versions.
    assert len(state.store) == len(expect["flags"])
    assert {key: state.store.version(key) for key in expect["flags"]} == expect["flags"]
    assert state.cursor == expect["cursor"]
    assert notifications == expect["notifications"]
    assert state.synced_once == expect["ready"]
    assert state.stopped == expect["stopped"]
    assert reconnect_after_ms == expect["reconnect_after_ms"]
    assert unreadable == expect["errors"]
    state.dispose()


@pytest.mark.parametrize("case", _load("backoff.json")["cases"], ids=lambda c: c["name"])
def test_backoff(case: dict[str, Any]) -> None:
    policy = _load("backoff.json")["policy"]
    draws: list[float] = []
    backoff = Backoff(
        policy["initial_ms"], policy["max_ms"], policy["reset_after_ms"], random=draws.pop
    )
    for step in case["steps"]:
        if step["op"] == "failure":
            draws.append(step["random"])
            delay = backoff.next_delay_ms()
            assert step["min_ms"] <= delay <= step["max_ms"]
            assert delay == pytest.approx(step["delay_ms"], abs=1e-6)
        elif step["op"] == "connected":
            backoff.connection_lasted(step["for_ms"])
        else:
            backoff.server_delay(step["ms"])


def test_retry_after() -> None:
    for case in _load("backoff.json")["retry_after"]:
        assert parse_retry_after(case["header"]) == case["delay_ms"], case["header"]


def test_the_dart_files_hold_what_the_twin_mirrors() -> None:
    """A coarse guard against drift: the Dart port still names what the twin relies on."""
    state = (DART_SOURCE / "stream_state.dart").read_text()
    for needle in [
        "case 'connected':",
        "case 'resumed':",
        "case 'ready':",
        "case 'update':",
        "case 'goodbye':",
        "reason == 'revoked'",
        "if (id != null && _staging == null)",
        "this.initialMs = 1000",
        "this.maxMs = 30000",
        "this.resetAfterMs = 60000",
        "min(maxMs, initialMs * pow(2, min(attempt, 30)))",
    ]:
        assert needle in state, needle
    parser = (DART_SOURCE / "event_stream.dart").read_text()
    for needle in ["0xfeff", "_afterCarriageReturn", "field == 'id'", "field == 'retry'"]:
        assert needle in parser, needle
    client = (DART_SOURCE / "client.dart").read_text()
    for needle in ["'Last-Event-ID'", "retryAfterHeader", "_backoff.serverDelay", "stoppedReason"]:
        assert needle in client, needle
