"""Stream v2 behaviour of the Python SDK: persistent cache, Retry-After, goodbye, Last-Event-ID.

The cache tests run against a real server (stopped and started again); the protocol details this
server does not send yet (429 at a stream limit, event ids, goodbye) come from a scripted listener.
"""

from __future__ import annotations

import json

import httpx
import pytest
from sidekick_sdk import SidekickClient

from tests.e2e.sse import wait_until
from tests.sdk_python.scripted_stream import Reply, ScriptedStream, replay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

FAST = {"read_timeout": 5.0, "backoff_initial": 0.05, "backoff_max": 0.2}


def test_a_persistent_cache_answers_with_the_server_down_then_converges(
    server_group, server, tmp_path
):
    admin = httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server_group.admin_key}"},
        timeout=15,
    )
    admin.post("/api/flags", json={"key": "cache_me", "is_enabled": True}).raise_for_status()
    cache = tmp_path / "flags.json"
    with SidekickClient(server.url, sdk_key=server_group.server_key, cache_path=cache) as first:
        assert first.init(timeout=15) == "server"
        assert first.is_enabled("cache_me", "u")
    assert "cache_me" in cache.read_text()

    server.stop()
    try:
        changed: list[list[str]] = []
        client = SidekickClient(
            server.url,
            sdk_key=server_group.server_key,
            cache_path=cache,
            on_flags_changed=changed.append,
            **FAST,
        )
        with client:
            # Before any network: the cache answers and says so.
            assert client.is_ready and client.ready_source == "cache"
            assert client.is_enabled("cache_me", "u")
            assert client.init(timeout=1.0) == "cache"
            assert not client.initialized
            server.start()
            admin.patch("/api/flags/cache_me", json={"is_enabled": False}).raise_for_status()
            wait_until(lambda: not client.is_enabled("cache_me", "u"), 30, "no convergence")
            assert client.ready_source == "server"
            assert ["cache_me"] in changed
        assert '"is_enabled":false' in cache.read_text()  # written on close
    finally:
        if server.process is None:
            server.start()
        admin.close()


def test_a_corrupt_or_foreign_cache_is_ignored(tmp_path):
    cache = tmp_path / "flags.json"
    cache.write_text("{not json")
    client = SidekickClient("http://127.0.0.1:9", sdk_key="k", cache_path=cache)
    assert not client.is_ready and client.flags() == []
    foreign = {"format": "sidekick-flag-cache", "version": 1, "owner": "elsewhere", "flags": []}
    foreign["flags"] = [{"key": "theirs", "is_enabled": True}]
    cache.write_text(json.dumps(foreign))
    client = SidekickClient("http://127.0.0.1:9", sdk_key="k", cache_path=cache)
    assert not client.is_ready and client.get("theirs") is None


def test_429_retry_after_is_waited_out():
    refusal = Reply(429, '{"detail": "too many streams"}', {"Retry-After": "2"})
    with ScriptedStream([refusal]) as s, SidekickClient(s.url, sdk_key="k", **FAST) as client:
        client.start()
        first, second = s.wait_for_requests(2, 15)[:2]
    # Without Retry-After the next attempt would come within the 0.2 s back-off cap.
    assert second.at - first.at >= 1.9


def test_reconnects_send_the_cursor_as_last_event_id():
    script = [Reply(200, replay(["a"], "ep1:4")), Reply(200, replay(["a"]))]
    with ScriptedStream(script) as s, SidekickClient(s.url, sdk_key="k", **FAST) as client:
        client.start()
        first, second = s.wait_for_requests(2, 15)[:2]
        assert client.is_enabled("a", "u")
    assert "Last-Event-ID" not in first.headers
    assert second.headers["Last-Event-ID"] == "ep1:4"


def test_goodbye_sets_the_next_delay_and_revoked_stops():
    goodbye = 'event: goodbye\ndata: {"reason": "max_age", "reconnect_after_ms": 1500}\n\n'
    revoked = 'event: goodbye\ndata: {"reason": "revoked", "reconnect_after_ms": 0}\n\n'
    script = [Reply(200, replay(["a"], "ep1:1") + goodbye), Reply(200, revoked)]
    with ScriptedStream(script) as s:
        with SidekickClient(s.url, sdk_key="k", **FAST) as client:
            client.start()
            first, second = s.wait_for_requests(2, 15)[:2]
            assert client._thread is not None
            client._thread.join(10)
            assert not client._thread.is_alive()
            assert client.stopped_reason == "revoked"
            assert client.is_enabled("a", "u")  # last-known flags stay
        assert len(s.requests) == 2
    assert second.at - first.at >= 1.4


def test_the_first_connection_resumes_from_the_cached_cursor(tmp_path):
    cache = tmp_path / "flags.json"
    with ScriptedStream([Reply(200, replay(["a"], "ep1:9"))]) as s:
        with SidekickClient(s.url, sdk_key="k", cache_path=cache, **FAST) as first:
            assert first.init(timeout=10) == "server"
        resumed = 'event: resumed\ndata: {"revision": 9}\n\n'
        s.replies = [Reply(200, resumed)]
        seen_before = len(s.requests)
        with SidekickClient(s.url, sdk_key="k", cache_path=cache, **FAST) as second:
            assert second.ready_source == "cache" and second.cursor == "ep1:9"
            assert second.init(timeout=10) == "server"  # `resumed` counts as in sync
            assert second.is_enabled("a", "u")  # the cached store was kept
        assert s.requests[seen_before].headers["Last-Event-ID"] == "ep1:9"
