"""SidekickClient against a real server: init, errors, bootstrap, deltas, on_change, reconnects."""

from __future__ import annotations

import threading

import httpx
import pytest
from sidekick_sdk import (
    SidekickAuthError,
    SidekickClient,
    SidekickInitTimeout,
    SidekickUnreachableError,
)

from tests.e2e.server import free_port
from tests.e2e.sse import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

FAST = {"read_timeout": 5.0, "backoff_initial": 0.1, "backoff_max": 1.0}


@pytest.fixture(scope="module")
def admin(server_group, server):
    with httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server_group.admin_key}"},
        timeout=15,
    ) as client:
        yield client


def test_init_returns_after_the_replay_and_evaluates_locally(server_group, server, admin):
    admin.post(
        "/api/flags",
        json={
            "key": "sdk_rules",
            "is_enabled": True,
            "rollout_percentage": 0,
            "rules": [{"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}],
        },
    )
    with SidekickClient(server.url, sdk_key=server_group.server_key, **FAST) as client:
        client.init(timeout=15)
        assert client.initialized and client.connected
        assert client.is_enabled("sdk_rules", "u1", {"email": "ada@acme.com"})
        assert not client.is_enabled("sdk_rules", "u1", {"email": "ada@other.com"})
        assert not client.is_enabled("no_such_flag", "u1")
        assert client.evaluate("sdk_rules", "u1", {"email": "a@acme.com"}).reason == "RULE_MATCH"


def test_deltas_reach_the_client_and_call_on_change(server_group, server, admin):
    changed: list[str] = []
    with SidekickClient(
        server.url, sdk_key=server_group.server_key, on_change=changed.append, **FAST
    ) as client:
        client.init(timeout=15)
        changed.clear()
        admin.post("/api/flags", json={"key": "sdk_delta", "is_enabled": True})
        wait_until(lambda: client.is_enabled("sdk_delta", "u"), 10, "UPSERT not applied")
        admin.patch("/api/flags/sdk_delta", json={"is_enabled": False})
        wait_until(lambda: not client.is_enabled("sdk_delta", "u"), 10, "PATCH not applied")
        admin.delete("/api/flags/sdk_delta")
        wait_until(lambda: client.get("sdk_delta") is None, 10, "DELETE not applied")
        assert changed == ["sdk_delta"] * 3


def test_bootstrap_answers_before_and_without_a_connection():
    bootstrap = [{"key": "boot", "is_enabled": True, "version": 3}]
    client = SidekickClient(f"http://127.0.0.1:{free_port()}", sdk_key="k", bootstrap=bootstrap)
    assert client.is_enabled("boot", "anyone")
    with pytest.raises(SidekickUnreachableError):
        client.init(timeout=1.5)
    assert client.is_enabled("boot", "anyone")  # still the last-known (bootstrapped) state
    client.close()


def test_the_replay_replaces_bootstrapped_flags(server_group, server):
    bootstrap = [{"key": "only_in_bootstrap", "is_enabled": True, "version": 1}]
    with SidekickClient(
        server.url, sdk_key=server_group.server_key, bootstrap=bootstrap, **FAST
    ) as client:
        client.init(timeout=15)
        assert client.get("only_in_bootstrap") is None


@pytest.mark.parametrize("sdk_key", ["sk_server_bogus", None])
def test_a_refused_key_raises_an_auth_error_and_stops_retrying(server, sdk_key):
    client = SidekickClient(server.url, sdk_key=sdk_key, **FAST)
    with pytest.raises(SidekickAuthError) as raised:
        client.init(timeout=15)
    assert raised.value.status_code == 401
    assert client._thread is not None
    client._thread.join(5)
    assert not client._thread.is_alive()


def test_a_server_that_never_finishes_the_replay_times_out():
    # A listener that accepts and answers headers but never sends `ready`.
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            b"17\r\nevent: connected\ndata: true\n\n\r\n"
        )

    threading.Thread(target=serve, daemon=True).start()
    try:
        client = SidekickClient(f"http://127.0.0.1:{port}", sdk_key="k", **FAST)
        with client, pytest.raises(SidekickInitTimeout):
            client.init(timeout=1.5)
    finally:
        for conn in accepted:
            conn.close()
        listener.close()


def test_the_client_survives_a_server_restart_and_converges(server_group, server, admin):
    with SidekickClient(server.url, sdk_key=server_group.server_key, **FAST) as client:
        client.init(timeout=15)
        admin.post("/api/flags", json={"key": "sdk_restart", "is_enabled": True})
        wait_until(lambda: client.is_enabled("sdk_restart", "u"), 10, "flag not streamed")
        server.stop()
        wait_until(lambda: not client.connected, 15, "the client did not notice the stop")
        assert client.is_enabled("sdk_restart", "u")  # last-known state while disconnected
        server.start()
        admin.patch("/api/flags/sdk_restart", json={"is_enabled": False})
        wait_until(lambda: not client.is_enabled("sdk_restart", "u"), 20, "no convergence")
        assert client.connections >= 2
