"""The Python SDK's SSE parser, state machine and back-off run every tests/vectors/stream case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sidekick_sdk.sse import EventStreamParser, ServerSentEvent
from sidekick_sdk.stream_state import Backoff, StreamState, parse_retry_after

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "stream"


def _cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text(encoding="utf-8"))["cases"]
    return cases


@pytest.mark.parametrize("case", _cases("sse_parsing.json"), ids=lambda case: case["name"])
def test_sse_parsing_at_every_split(case: dict[str, Any]) -> None:
    body = case["input"].encode("utf-8")
    for cut in range(len(body) + 1):
        parser = EventStreamParser()
        events = parser.feed(body[:cut]) + parser.feed(body[cut:])
        got = [{"event": e.event, "data": e.data, "id": e.id} for e in events]
        assert got == case["events"], f"split at byte {cut}"
        assert parser.last_event_id == case["last_event_id"]
        assert parser.retry_ms == case["retry_ms"]


def test_sse_parsing_byte_by_byte() -> None:
    for case in _cases("sse_parsing.json"):
        parser = EventStreamParser()
        body = case["input"].encode("utf-8")
        events = [event for i in range(len(body)) for event in parser.feed(body[i : i + 1])]
        assert [{"event": e.event, "data": e.data, "id": e.id} for e in events] == case["events"]


@pytest.mark.parametrize("case", _cases("state_machine.json"), ids=lambda case: case["name"])
def test_state_machine(case: dict[str, Any]) -> None:
    state = StreamState(case["initial"]["flags"], case["initial"]["cursor"])
    notifications: list[list[str]] = []
    errors = 0
    reconnect_after_ms = None
    for step in case["steps"]:
        if step.get("disconnect"):
            state.disconnected()
            continue
        data = step["data"] if isinstance(step["data"], str) else json.dumps(step["data"])
        outcome = state.handle(ServerSentEvent(step["event"], data, step.get("id")))
        if outcome.changed_keys:
            notifications.append(outcome.changed_keys)
        errors += outcome.error is not None
        if outcome.reconnect_after_ms is not None:
            reconnect_after_ms = outcome.reconnect_after_ms
    expect = case["expect"]
    assert {flag["key"]: flag.get("version", 0) for flag in state.store.flags()} == expect["flags"]
    assert state.cursor == expect["cursor"]
    assert notifications == expect["notifications"]
    assert state.synced_once == expect["ready"]
    assert state.stopped == expect["stopped"]
    assert reconnect_after_ms == expect["reconnect_after_ms"]
    assert errors == expect["errors"]


def _backoff_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VECTORS / "backoff.json").read_text(encoding="utf-8"))
    return document


@pytest.mark.parametrize("case", _backoff_document()["cases"], ids=lambda case: case["name"])
def test_backoff(case: dict[str, Any]) -> None:
    policy = _backoff_document()["policy"]
    draws: list[float] = []
    backoff = Backoff(
        policy["initial_ms"], policy["max_ms"], policy["reset_after_ms"], rand=lambda: draws.pop()
    )
    for step in case["steps"]:
        if step["op"] == "failure":
            draws.append(step["random"])
            delay = backoff.next_delay_ms()
            assert step["min_ms"] <= delay <= step["max_ms"]
            assert delay == pytest.approx(step["delay_ms"], abs=1e-6)
        elif step["op"] == "connected":
            backoff.connection_lasted(step["for_ms"])
        elif step["op"] == "server_delay":
            backoff.server_delay(step["ms"])
        else:
            raise AssertionError(f"unknown op {step['op']}")


@pytest.mark.parametrize("case", _backoff_document()["retry_after"], ids=repr)
def test_retry_after(case: dict[str, Any]) -> None:
    assert parse_retry_after(case["header"]) == case["delay_ms"]
