"""A real server's stream, read by the React Native SSE parser, feeds the Flutter binding's calls.

The server (daphne on a private database) is the real one; the stream is parsed by the compiled
TypeScript parser under node; its UPSERT/DELETE payloads go through the Python twin of the Dart
FlagStore into libsidekick; and every answer must equal the server's own `/api/evaluate`.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import ServerGroup, SidekickServer
from tests.mobile import abi_check
from tests.mobile.ffi_store import FfiFlagStore
from tests.mobile.native_library import NativeApi
from tests.service_env import REQUIRE_SERVICES

pytestmark = pytest.mark.e2e

RN_DIR = abi_check.ROOT / "sdks" / "react-native"
COMPILED = abi_check.ROOT / "build" / "mobile" / "rn-ts-live"
EVENT_TIMEOUT = 30.0

# Client-side: the stream below reads them with a client key, as a mobile app does.
FLAGS: list[dict[str, Any]] = [
    {"key": "mobile_on", "is_enabled": True, "client_side": True},
    {
        "key": "mobile_half",
        "is_enabled": True,
        "rollout_percentage": 50,
        "description": "half",
        "client_side": True,
    },
    {
        "key": "mobile_rules",
        "is_enabled": True,
        "client_side": True,
        "rollout_percentage": 0,
        "rules": [
            {"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]},
            {"attribute": "beta", "operator": "Equals", "values": ["true"]},
            {"attribute": "plan", "operator": "NotEquals", "values": ["free", "trial"]},
        ],
    },
    {"key": "mobile_gone", "is_enabled": True, "client_side": True},
]
PROBES: list[tuple[str, dict[str, Any] | None]] = [
    ("u-1", None),
    ("u-2", {"email": "ann@acme.com"}),
    ("u-3", {"beta": True}),
    ("u-4", {"plan": "free", "email": "x@example.com"}),
    ("u-5", {"plan": "pro"}),
    *((f"user-{n}", {"plan": "free"}) for n in range(20)),
]


@pytest.fixture(scope="module")
def compiled_parser() -> Path:
    """The React Native sources compiled to CommonJS, so node can load the SSE parser."""
    tsc = RN_DIR / "node_modules" / ".bin" / "tsc"
    if not tsc.exists() or shutil.which("node") is None:
        message = "node and sdks/react-native/node_modules are needed (make lint-mobile installs)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    # The parser is the shared TypeScript (sdks/shared-ts), copied into the package first.
    vendor = [
        shutil.which("node") or "node",
        str(abi_check.ROOT / "sdks" / "shared-ts" / "vendor.mjs"),
    ]
    subprocess.run([*vendor, str(RN_DIR)], check=True, capture_output=True, timeout=60)
    command = [str(tsc), "-p", str(RN_DIR / "tsconfig.json"), "--outDir", str(COMPILED)]
    command += ["--module", "commonjs", "--moduleResolution", "node10", "--declaration", "false"]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    return COMPILED


class StreamReader:
    """The node process reading /stream; events arrive on a queue as they are parsed."""

    def __init__(self, url: str, key: str, compiled: Path) -> None:
        script = Path(__file__).with_name("stream_events.cjs")
        self.process = subprocess.Popen(
            ["node", str(script), url, key, str(compiled)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.Queue[dict[str, str]] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def next_event(self) -> dict[str, str]:
        try:
            return self.events.get(timeout=EVENT_TIMEOUT)
        except queue.Empty:
            stderr = ""
            if self.process.poll() is not None and self.process.stderr is not None:
                stderr = self.process.stderr.read()
            raise AssertionError(f"no stream event within {EVENT_TIMEOUT} s {stderr}") from None

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def http(server_group: ServerGroup, server: SidekickServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server_group.admin_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        yield client


def apply(store: FfiFlagStore, event: dict[str, str]) -> dict[str, Any] | None:
    """Applies an `update` event as both mobile clients do; returns its message."""
    if event["event"] != "update":
        return None
    message: dict[str, Any] = json.loads(event["data"])
    if message["type"] == "UPSERT":
        store.upsert(message["flag"])
    elif message["type"] == "DELETE":
        store.delete(message["key"], message.get("version") or 0)
    return message


def assert_same_answers(store: FfiFlagStore, http: httpx.Client, keys: list[str]) -> None:
    for key in keys:
        for user, attributes in PROBES:
            body = {"flag": key, "user_key": user, "attributes": attributes or {}}
            response = http.post("/api/evaluate", json=body)
            assert response.status_code == 200, response.text
            server = response.json()
            mobile = store.evaluate(key, user, attributes)
            got = (mobile.enabled, mobile.reason, mobile.rule_index, mobile.version)
            want = (server["enabled"], server["reason"], server["rule_index"], server["version"])
            assert got == want, f"{key}/{user}/{attributes}"


def wait_for_update(reader: StreamReader, store: FfiFlagStore, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + EVENT_TIMEOUT
    while time.monotonic() < deadline:
        message = apply(store, reader.next_event())
        if message is not None and key in (message.get("key"), message.get("flag", {}).get("key")):
            return message
    raise AssertionError(f"no update for {key}")


def test_live_stream_through_the_mobile_bindings_matches_the_server(
    server_group: ServerGroup,
    server: SidekickServer,
    http: httpx.Client,
    api: NativeApi,
    compiled_parser: Path,
) -> None:
    for flag in FLAGS:
        assert http.post("/api/flags", json=flag).status_code in (200, 201)
    assert http.delete("/api/flags/mobile_gone").status_code == 204

    stream_key = server_group.client_key or server_group.admin_key
    reader = StreamReader(server.url, stream_key, compiled_parser)
    store = FfiFlagStore(api)
    try:
        assert reader.next_event() == {"event": "connected", "data": "true", "id": None}
        while (event := reader.next_event())["event"] != "ready":
            apply(store, event)
        assert json.loads(event["data"])["flags"] == 3
        assert len(store) == 3
        assert store.version("mobile_gone") == 0
        keys = ["mobile_on", "mobile_half", "mobile_rules", "mobile_gone"]
        assert_same_answers(store, http, keys)

        assert http.patch("/api/flags/mobile_on", json={"is_enabled": False}).status_code == 200
        assert wait_for_update(reader, store, "mobile_on")["type"] == "UPSERT"
        assert store.evaluate("mobile_on", "u-1").reason == "OFF"

        assert http.delete("/api/flags/mobile_half").status_code == 204
        deleted = wait_for_update(reader, store, "mobile_half")
        assert deleted["type"] == "DELETE"
        assert store.evaluate("mobile_half", "u-1").reason == "FLAG_NOT_FOUND"
        assert_same_answers(store, http, keys)
    finally:
        store.close()
        reader.close()
