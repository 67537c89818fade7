"""The client's errors name their cause: a base URL that is not the server root, https:// against
a plain-HTTP port, a refused connection. Each against a real listener: the server, or a plain TCP
socket that speaks HTTP."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sidekick_sdk import SidekickClient, SidekickUnreachableError, SidekickURLError

from tests.e2e.server import free_port

pytestmark = [pytest.mark.timeout(120)]

FAST = {"read_timeout": 5.0, "backoff_initial": 0.1, "backoff_max": 1.0}


@pytest.mark.e2e
@pytest.mark.parametrize("suffix", ["/api", "/api/"])
def test_a_base_url_ending_in_api_names_the_server_root(server_group, server, suffix, caplog):
    client = SidekickClient(server.url + suffix, sdk_key=server_group.server_key, **FAST)
    started = time.monotonic()
    with client, pytest.raises(SidekickURLError) as raised:
        client.init(timeout=30)
    # Raised on the first answer, not after waiting out the timeout.
    assert time.monotonic() - started < 15
    message = str(raised.value)
    assert "base URL must be the server root" in message
    assert f"not {server.url}/api" in message
    assert f"use {server.url}" in message
    assert raised.value.status_code == 404
    assert any("base URL must be the server root" in r.getMessage() for r in caplog.records)


def assert_names_plain_http(error: SidekickUnreachableError, port: int) -> None:
    message = str(error)
    assert "TLS handshake failed" in message, message
    assert "plain HTTP" in message, message
    assert f"http://127.0.0.1:{port}" in message, message


@pytest.mark.e2e
def test_https_against_the_plain_http_server_names_tls(server, caplog):
    port = int(server.url.rsplit(":", 1)[1])
    url = f"https://127.0.0.1:{port}"
    caplog.set_level(logging.WARNING, logger="sidekick_sdk")
    client = SidekickClient(url, sdk_key="k", connect_timeout=1.0, **FAST)
    with client, pytest.raises(SidekickUnreachableError) as raised:
        client.init(timeout=6)
    assert_names_plain_http(raised.value, port)
    assert any("TLS handshake failed" in r.getMessage() for r in caplog.records)


@pytest.mark.e2e
def test_https_names_tls_even_when_init_gives_up_before_the_handshake_does(server):
    port = int(server.url.rsplit(":", 1)[1])
    # The server waits for a request line the TLS hello never completes; the handshake would
    # only time out after connect_timeout, later than init gives up.
    client = SidekickClient(f"https://127.0.0.1:{port}", sdk_key="k", connect_timeout=20.0)
    with client, pytest.raises(SidekickUnreachableError) as raised:
        client.init(timeout=1.5)
    assert_names_plain_http(raised.value, port)


@pytest.fixture
def plain_http_listener() -> Iterator[int]:
    """A plain TCP server that answers 400 to anything that is not HTTP, as many servers do."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                        b"Connection: close\r\n\r\n"
                    )
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def test_https_against_a_plain_http_listener_names_tls(plain_http_listener):
    port = plain_http_listener
    client = SidekickClient(f"https://127.0.0.1:{port}", sdk_key="k", **FAST)
    with client, pytest.raises(SidekickUnreachableError) as raised:
        client.init(timeout=3)
    assert_names_plain_http(raised.value, port)


def test_a_refused_connection_names_the_cause():
    port = free_port()
    client = SidekickClient(f"http://127.0.0.1:{port}", sdk_key="k", **FAST)
    with client, pytest.raises(SidekickUnreachableError) as raised:
        client.init(timeout=1.5)
    message = str(raised.value)
    assert f"connection refused by 127.0.0.1:{port}" in message, message
    assert "None" not in message
