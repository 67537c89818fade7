"""`goodbye` under a real daphne: streams reaching their maximum age, and a v1 SDK reading it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ServerGroup
from tests.e2e.sse import StreamRecorder, wait_until

SDK_SOURCE = Path(__file__).resolve().parents[2] / "sdks" / "python"
if str(SDK_SOURCE) not in sys.path:
    sys.path.insert(0, str(SDK_SOURCE))

from sidekick_sdk import SidekickClient  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

MAX_AGE = 1.0


@pytest.fixture(scope="module")
def aging_group() -> Iterator[ServerGroup]:
    group = ServerGroup(extra_env={"SIDEKICK_STREAM_MAX_AGE_SECONDS": str(MAX_AGE)})
    try:
        group.add_server()
        yield group
    finally:
        group.close()


def test_a_stream_at_its_maximum_age_ends_with_goodbye_then_closes(aging_group):
    server = aging_group.servers[0]
    with StreamRecorder(server.url, bearer=aging_group.server_key) as stream:
        stream.wait_for(StreamRecorder.ready)
        stream.wait_closed(timeout=10)
        name, data = stream.events[-1]
        assert name == "goodbye"
        farewell = json.loads(data)
        assert farewell["reason"] == "max_age"
        assert 0 <= farewell["reconnect_after_ms"] <= 1000
        assert stream.error is None  # ended by the server in good order, not cut off


def test_the_v1_python_sdk_reconnects_after_goodbye_and_keeps_following(aging_group):
    """The version 1 SDK ignores `goodbye` and reconnects when the stream ends."""
    server = aging_group.servers[0]
    headers = {"Authorization": f"Bearer {aging_group.admin_key}"}
    with (
        httpx.Client(base_url=server.url, headers=headers, timeout=15) as admin,
        SidekickClient(
            server.url,
            sdk_key=aging_group.server_key,
            read_timeout=5.0,
            backoff_initial=0.1,
            backoff_max=1.0,
        ) as client,
    ):
        client.init(timeout=15)
        wait_until(lambda: client.connections >= 3, 15, "the SDK did not reconnect after goodbye")
        created = admin.post("/api/flags", json={"key": "after_goodbye", "is_enabled": True})
        assert created.status_code == 201
        wait_until(lambda: client.is_enabled("after_goodbye", "u"), 10, "change not applied")
        assert client.initialized
