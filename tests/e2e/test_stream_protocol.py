"""The stream against a real daphne: opening sequence, replay, deltas, keep-alive, auth, CORS."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.server import ServerGroup, SidekickServer
from tests.e2e.sse import StreamRecorder

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def api(group: ServerGroup, server: SidekickServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {group.admin_key}"}, timeout=15
    )


def test_stream_opens_with_connected_then_replays_every_flag_then_ready(server_group, server):
    with api(server_group, server) as client:
        for key in ("replay_a", "replay_b", "replay_c"):
            assert (
                client.post("/api/flags", json={"key": key, "is_enabled": True}).status_code == 201
            )
        listed = client.get("/api/flags").json()

    with StreamRecorder(server.url, bearer=server_group.server_key) as stream:
        stream.wait_for(StreamRecorder.ready)
        names = stream.event_names()
        assert names[0] == "connected"
        assert stream.events[0][1] == "true"
        ready_at = names.index("ready")
        assert names[1:ready_at] == ["update"] * len(listed)
        replayed = [json.loads(data) for _, data in stream.events[1:ready_at]]
        assert all(update["type"] == "UPSERT" for update in replayed)
        assert sorted((u["flag"]["key"], u["flag"]["version"]) for u in replayed) == sorted(
            (flag["key"], flag["version"]) for flag in listed
        )
        ready = json.loads(stream.events[ready_at][1])
        assert set(ready) == {"flags", "revision"} and ready["flags"] == len(listed)
        assert ready["revision"] >= len(listed)  # at least one change per flag created


def test_upsert_and_delete_deltas_follow_the_replay(server_group, server):
    with (
        StreamRecorder(server.url, bearer=server_group.server_key) as stream,
        api(server_group, server) as client,
    ):
        stream.wait_for(StreamRecorder.ready)
        created = client.post("/api/flags", json={"key": "delta_flag", "is_enabled": True}).json()
        patched = client.patch("/api/flags/delta_flag", json={"rollout_percentage": 30}).json()
        assert client.delete("/api/flags/delta_flag").status_code == 204

        def live(rec: StreamRecorder) -> list[dict]:
            at = rec.event_names().index("ready")
            return [json.loads(d) for n, d in rec.events[at + 1 :] if n == "update"]

        stream.wait_for(lambda rec: any(u["type"] == "DELETE" for u in live(rec)))
        deltas = [
            u for u in live(stream) if u.get("key", u.get("flag", {}).get("key")) == "delta_flag"
        ]
        assert deltas == [
            {"type": "UPSERT", "flag": created},
            {"type": "UPSERT", "flag": patched},
            {"type": "DELETE", "key": "delta_flag", "version": patched["version"] + 1},
        ]


def test_keep_alive_comments_arrive_while_idle(server_group, server):
    # The module's servers use a 1 s keep-alive.
    with StreamRecorder(server.url, bearer=server_group.server_key) as stream:
        stream.wait_for(lambda rec: rec.lines.count(": keep-alive") >= 2, timeout=15)


def test_stream_headers_disable_caching_and_proxy_buffering(server_group, server):
    with StreamRecorder(
        server.url, bearer=server_group.server_key, headers={"Origin": "https://app.example"}
    ) as stream:
        assert stream.wait_for_status() == 200
        headers = stream.response_headers
        assert headers is not None
        assert headers["content-type"].startswith("text/event-stream")
        assert headers["cache-control"] == "no-cache"
        assert headers["x-accel-buffering"] == "no"
        assert headers["access-control-allow-origin"] == "*"


def test_a_client_key_may_open_the_stream_in_the_query_string(server_group, server):
    with StreamRecorder(server.url, query_key=server_group.client_key) as stream:
        stream.wait_for(StreamRecorder.ready)


@pytest.mark.parametrize(
    ("credentials", "status"),
    [
        ({}, 401),
        ({"bearer": "sk_admin_not-a-real-key"}, 401),
        ({"query_key": "sk_client_not-a-real-key"}, 401),
        ({"query_key": "SERVER"}, 403),
        ({"query_key": "ADMIN"}, 403),
    ],
)
def test_refusals_are_json_before_any_stream_bytes(server_group, server, credentials, status):
    credentials = {
        name: {"SERVER": server_group.server_key, "ADMIN": server_group.admin_key}.get(value, value)
        for name, value in credentials.items()
    }
    with StreamRecorder(server.url, **credentials) as stream:
        assert stream.wait_for_status() == status
        stream.wait_for(lambda rec: bool(rec.body))
        assert stream.response_headers is not None
        assert stream.response_headers["content-type"] == "application/json"
        body = json.loads(stream.body)
        assert set(body) == {"detail", "errors"} and body["errors"] == {}


def test_cors_preflight_is_answered_without_credentials(server_group, server):
    response = httpx.options(
        f"{server.url}/stream",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "GET" in response.headers["access-control-allow-methods"]
    assert "Authorization" in response.headers["access-control-allow-headers"]
