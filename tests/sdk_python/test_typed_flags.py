"""SidekickClient with version 2 (typed) wire flags: from a bootstrap list and from a stream."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from sidekick_sdk import SidekickClient

from tests.e2e.sse import wait_until

pytestmark = pytest.mark.timeout(60)

FAST = {"read_timeout": 5.0, "backoff_initial": 0.1, "backoff_max": 1.0}

CHECKOUT = {
    "key": "checkout",
    "type": "string",
    "is_enabled": True,
    "variants": [{"key": "control", "value": "Buy"}, {"key": "bold", "value": "Buy now"}],
    "off_variant": "control",
    "rules": [
        {
            "conditions": [
                {"attribute": "plan", "operator": "Equals", "values": ["pro"]},
                {"attribute": "age", "operator": "Gte", "values": ["18"]},
            ],
            "serve": {"variant": "bold"},
        }
    ],
    "fallthrough": {"variant": "control"},
    "version": 3,
}
LIMIT = {
    "key": "limit",
    "type": "number",
    "is_enabled": True,
    "variants": [{"key": "small", "value": 10}, {"key": "large", "value": 2.5}],
    "off_variant": "small",
    "fallthrough": {
        "split": [{"variant": "small", "weight": 0}, {"variant": "large", "weight": 1000}]
    },
    "version": 1,
}
THEME = {
    "key": "theme",
    "type": "json",
    "is_enabled": False,
    "variants": [{"key": "dark", "value": {"bg": "#000"}}],
    "off_variant": "dark",
    "fallthrough": {"variant": "dark"},
}
BOOLEAN = {"key": "beta", "is_enabled": True, "rollout_percentage": 100, "version": 2}


def offline_client(flags: list[dict[str, object]]) -> SidekickClient:
    return SidekickClient("http://127.0.0.1:9", sdk_key="k", bootstrap=flags)


def test_typed_getters_answer_values_and_defaults():
    client = offline_client([CHECKOUT, LIMIT, THEME, BOOLEAN])
    adult_pro = {"plan": "pro", "age": 30}
    assert client.get_string("checkout", "u", adult_pro, "fallback") == "Buy now"
    assert client.get_string("checkout", "u", {"plan": "pro", "age": 17}) == "Buy"
    assert client.get_number("limit", "u") == 2.5
    assert client.get_json("theme", "u") == {"bg": "#000"}  # off: the off variant's value
    assert client.get_boolean("beta", "u") is True
    # Missing flags and other types: the default, never an exception.
    assert client.get_string("nope", "u", None, "fallback") == "fallback"
    assert client.get_number("checkout", "u", None, -1) == -1
    assert client.get_string("limit", "u", None, "x") == "x"
    assert client.get_boolean("checkout", "u", None, True) is True
    assert client.get_json("beta", "u", None, [1]) == [1]
    assert client.get_string(None, "u", None, "typed") == "typed"  # type: ignore[arg-type]


def test_is_enabled_is_false_for_non_boolean_flags_and_evaluate_serves_variants():
    client = offline_client([CHECKOUT, BOOLEAN])
    assert client.is_enabled("checkout", "u", {"plan": "pro", "age": 30}) is False
    evaluation = client.evaluate("checkout", "u", {"plan": "pro", "age": 30})
    assert (evaluation.variant, evaluation.value) == ("bold", "Buy now")
    assert (evaluation.reason, evaluation.rule_index, evaluation.enabled) == (
        "RULE_MATCH",
        0,
        False,
    )
    assert evaluation.version == 3
    on = client.evaluate("beta", "u")
    assert (on.enabled, on.variant, on.value) == (True, "on", True)
    missing = client.evaluate("nope", "u")
    assert (missing.reason, missing.variant, missing.value) == ("FLAG_NOT_FOUND", None, None)


def test_a_bool_attribute_is_not_the_number_one():
    flag = {
        **CHECKOUT,
        "rules": [
            {"attribute": "n", "operator": "Gte", "values": ["1"], "serve": {"variant": "bold"}}
        ],
    }
    client = offline_client([flag])
    assert client.get_string("checkout", "u", {"n": 1}) == "Buy now"
    assert client.get_string("checkout", "u", {"n": 1.0}) == "Buy now"
    assert client.get_string("checkout", "u", {"n": True}) == "Buy"


def test_typed_flags_arriving_on_the_stream_are_applied():
    # A real listener speaking the stream protocol with v2 payloads, as the server will once it
    # serves typed flags (it validates v1 flags only today).
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    events = [("connected", True)]
    events += [("update", {"type": "UPSERT", "flag": flag}) for flag in (CHECKOUT, LIMIT)]
    events += [("ready", {"flags": 2})]
    events += [
        ("update", {"type": "UPSERT", "flag": {**CHECKOUT, "is_enabled": False, "version": 4}})
    ]

    def chunk(payload: bytes) -> bytes:
        return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"

    def serve() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        conn.recv(65536)
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        body = b"".join(
            chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()) for name, data in events
        )
        conn.sendall(head + body)

    threading.Thread(target=serve, daemon=True).start()
    changed: list[str] = []  # keys the client reports as changed after the replay
    try:
        client = SidekickClient(
            f"http://127.0.0.1:{port}", sdk_key="k", on_change=changed.append, **FAST
        )
        with client:
            client.init(timeout=10)
            assert client.get_number("limit", "u") == 2.5
            wait_until(lambda: "checkout" in changed, 10, "the delta never arrived")
            assert client.get("checkout")["version"] == 4  # type: ignore[index]
            assert client.get_string("checkout", "u", {"plan": "pro", "age": 30}) == "Buy"
    finally:
        for conn in accepted:
            conn.close()
        listener.close()
