"""Client keys against a real daphne: client streams carry only `client_side` flags, without
descriptions, and see a flag appear (UPSERT) or disappear (DELETE) as it is marked or unmarked;
server streams see every flag and every change."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from flags.store import ProcessFlagStore
from tests.e2e.server import ServerGroup, SidekickServer
from tests.e2e.sse import StreamRecorder

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

RULE = {"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}


def api(group: ServerGroup, server: SidekickServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {group.admin_key}"}, timeout=15
    )


def replayed(stream: StreamRecorder) -> dict[str, dict[str, Any]]:
    """The flags of the opening replay, by key."""
    at = stream.event_names().index("ready")
    flags = [json.loads(data)["flag"] for name, data in stream.events[1:at] if name == "update"]
    return {flag["key"]: flag for flag in flags}


def live(stream: StreamRecorder) -> list[dict[str, Any]]:
    """The `update` events after `ready`."""
    at = stream.event_names().index("ready")
    return [json.loads(data) for name, data in stream.events[at + 1 :] if name == "update"]


def key_of(update: dict[str, Any]) -> str:
    return str(update["key"] if update["type"] == "DELETE" else update["flag"]["key"])


def without_description(flag: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in flag.items() if name != "description"}


def test_a_client_stream_replays_only_client_side_flags_without_descriptions(server_group, server):
    assert server_group.client_key and server_group.server_key
    with api(server_group, server) as client:
        public = client.post(
            "/api/flags",
            json={
                "key": "cv_public",
                "is_enabled": True,
                "client_side": True,
                "description": "shown to the team only",
                "rules": [RULE],
            },
        ).json()
        private = client.post(
            "/api/flags",
            json={"key": "cv_private", "is_enabled": True, "description": "internal"},
        ).json()
    assert public["client_side"] is True and private["client_side"] is False

    with (
        StreamRecorder(server.url, query_key=server_group.client_key) as by_query,
        StreamRecorder(server.url, bearer=server_group.client_key) as by_header,
        StreamRecorder(server.url, bearer=server_group.server_key) as server_stream,
    ):
        for stream in (by_query, by_header, server_stream):
            stream.wait_for(StreamRecorder.ready)
        for stream in (by_query, by_header):
            flags = replayed(stream)
            assert flags["cv_public"] == without_description(public)
            assert "cv_private" not in flags
            assert all(flag["client_side"] is True for flag in flags.values())
            assert not any("description" in flag for flag in flags.values())
            ready = json.loads(stream.events[stream.event_names().index("ready")][1])
            assert ready == {"flags": len(flags)}
        everything = replayed(server_stream)
        assert everything["cv_public"] == public
        assert everything["cv_private"] == private


def test_marking_and_unmarking_reach_client_streams_as_upsert_and_delete(server_group, server):
    with (
        StreamRecorder(server.url, query_key=server_group.client_key) as client_stream,
        StreamRecorder(server.url, bearer=server_group.server_key) as server_stream,
        api(server_group, server) as client,
    ):
        client_stream.wait_for(StreamRecorder.ready)
        server_stream.wait_for(StreamRecorder.ready)
        held = ProcessFlagStore()  # what a client SDK holds: the same version-aware core
        for flag in replayed(client_stream).values():
            held.apply({"type": "UPSERT", "flag": flag})

        path = "/api/flags/cv_toggle"
        writes = [
            client.post("/api/flags", json={"key": "cv_toggle", "description": "secret"}),
            client.patch(path, json={"description": "still private"}),
            client.patch(path, json={"client_side": True}),
            client.patch(path, json={"rollout_percentage": 20}),
            client.patch(path, json={"client_side": False}),
            client.patch(path, json={"is_enabled": True}),
            client.delete(path),
        ]
        assert [response.status_code for response in writes] == [201] + [200] * 5 + [204]
        marked, changed_while_public = writes[2].json(), writes[3].json()
        unmarked_version = writes[4].json()["version"]
        # A client-side flag written last: once it arrives, everything before it has too.
        marker = client.post("/api/flags", json={"key": "cv_marker", "client_side": True}).json()

        def has_marker(stream: StreamRecorder) -> bool:
            return any(key_of(update) == "cv_marker" for update in live(stream))

        client_stream.wait_for(has_marker)
        server_stream.wait_for(has_marker)

    to_clients = [u for u in live(client_stream) if key_of(u) in ("cv_toggle", "cv_marker")]
    assert to_clients == [
        {"type": "UPSERT", "flag": without_description(marked)},
        {"type": "UPSERT", "flag": without_description(changed_while_public)},
        {"type": "DELETE", "key": "cv_toggle", "version": unmarked_version},
        {"type": "UPSERT", "flag": without_description(marker)},
    ]
    # The client SDK takes each of them: the DELETE is newer than the version it held.
    assert [held.apply(update) for update in to_clients] == [True] * 4
    assert held.get("cv_toggle") is None and held.get("cv_marker") is not None

    to_servers = [u for u in live(server_stream) if key_of(u) == "cv_toggle"]
    assert [u["type"] for u in to_servers] == ["UPSERT"] * 6 + ["DELETE"]
    assert [u["flag"]["description"] for u in to_servers[:2]] == ["secret", "still private"]
