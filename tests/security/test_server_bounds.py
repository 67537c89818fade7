"""Bounds on work done before any check, against a real server (sidekick/server.py under daphne)."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.e2e.server import ServerGroup, SidekickServer
from tests.e2e.sse import StreamRecorder, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ONE_MIB = 1024 * 1024
READ_TIMEOUT_SECONDS = 2.0


@pytest.fixture(scope="module")
def bounded_group():
    group = ServerGroup(
        keepalive_seconds=0.5,
        extra_env={"SIDEKICK_REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT_SECONDS)},
    )
    try:
        group.add_server()
        yield group
    finally:
        group.close()


@pytest.fixture(scope="module")
def bounded(bounded_group: ServerGroup) -> SidekickServer:
    return bounded_group.servers[0]


def _connect(server: SidekickServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _read_response(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout` passes)."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _status_and_body(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def test_content_length_over_the_limit_is_refused_before_the_body(bounded):
    with _connect(bounded) as sock:
        sock.sendall(
            b"POST /api/flags HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 600000000\r\n\r\n"
        )
        # Not one byte of the body is sent: the answer must not wait for it.
        started = time.monotonic()
        response = _read_response(sock, timeout=5.0)
    assert response, "no answer within 5 s: the server waited for the body"
    status, body = _status_and_body(response)
    assert status == 413
    assert set(body) == {"detail", "errors"}
    assert time.monotonic() - started < 5.0


def test_an_oversized_body_is_not_invited_with_100_continue(bounded):
    with _connect(bounded) as sock:
        sock.sendall(
            b"POST /api/flags HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 600000000\r\nExpect: 100-continue\r\n\r\n"
        )
        response = _read_response(sock, timeout=5.0)
    assert response.startswith(b"HTTP/1.1 413")
    assert b"100 Continue" not in response
    assert _status_and_body(response)[1]["errors"] == {}


def test_a_chunked_body_is_cut_at_the_limit(bounded):
    chunk = b"x" * 65536
    frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    # A body that never ends: the answer must come once the limit is passed, not at its end.
    with _connect(bounded) as sock:
        sock.sendall(
            b"POST /api/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + frame * (ONE_MIB // len(chunk) + 1)
        )
        response = _read_response(sock, timeout=5.0)
    status, body = _status_and_body(response)
    assert status == 413
    assert "larger than" in body["detail"]


def test_a_body_within_the_limit_still_reaches_the_api(bounded_group, bounded):
    payload = json.dumps({"key": "bounded_ok", "description": "d" * 900_000}).encode()
    with _connect(bounded) as sock:
        sock.sendall(
            b"POST /api/flags HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + bounded_group.admin_key.encode() + b"\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
        )
        response = _read_response(sock, timeout=10.0)
    status, body = _status_and_body(response)
    # Past the transport bound, the API's own validation answers (a description is short).
    assert status == 400, body
    assert "description" in body["errors"]


def test_headers_that_never_complete_are_cut_after_the_read_timeout(bounded):
    with _connect(bounded) as sock:
        sock.sendall(b"GET /api/flags HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        sock.settimeout(0.5)
        response = b""
        # One header line every half second: never silent, so an idle timeout never fires.
        while time.monotonic() - started < 4 * READ_TIMEOUT_SECONDS:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if not chunk:
                break
            response += chunk
        elapsed = time.monotonic() - started
    assert elapsed < 4 * READ_TIMEOUT_SECONDS, "the half-sent request was never cut"
    status, body = _status_and_body(response)
    assert status == 408
    assert set(body) == {"detail", "errors"}


def test_a_body_that_never_completes_is_cut_after_the_read_timeout(bounded):
    with _connect(bounded) as sock:
        sock.sendall(
            b"POST /api/flags HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        started = time.monotonic()
        sock.settimeout(0.5)
        response = b""
        # One body byte every half second: 1,000 of them would take over eight minutes.
        while time.monotonic() - started < 4 * READ_TIMEOUT_SECONDS:
            try:
                sock.sendall(b" ")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if not chunk:
                break
            response += chunk
        elapsed = time.monotonic() - started
    assert elapsed < 4 * READ_TIMEOUT_SECONDS, "the half-sent body was never cut"
    assert _status_and_body(response)[0] == 408


def test_a_connection_that_sends_nothing_is_closed_quietly_after_the_read_timeout(bounded):
    with _connect(bounded) as sock:
        started = time.monotonic()
        response = _read_response(sock, timeout=4 * READ_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
    assert elapsed < 4 * READ_TIMEOUT_SECONDS, "the idle connection was never closed"
    assert response == b""


def test_an_idle_keep_alive_connection_is_closed_quietly_after_its_response(bounded_group, bounded):
    with _connect(bounded) as sock:
        sock.sendall(b"GET /api/schema HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        started = time.monotonic()
        response = _read_response(sock, timeout=4 * READ_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
    assert elapsed < 4 * READ_TIMEOUT_SECONDS, "the idle keep-alive connection was never closed"
    assert response.startswith(b"HTTP/1.1 200")
    assert b"408" not in response.split(b"\r\n\r\n", 1)[0]
    assert response.count(b"HTTP/1.1 ") == 1


def test_a_stream_outlives_the_read_timeout(bounded_group, bounded):
    # Keep-alives every 0.5 s: ten of them span 2.5 read timeouts after the request was read.
    with StreamRecorder(bounded.url, bearer=bounded_group.server_key) as stream:
        stream.wait_for(StreamRecorder.ready)
        stream.wait_for(lambda rec: rec.lines.count(": keep-alive") >= 10, timeout=15)
    assert stream.error is None


def test_the_access_log_redacts_query_keys(bounded_group, bounded):
    key = bounded_group.client_key
    assert key
    with StreamRecorder(bounded.url, query_key=key) as stream:
        stream.wait_for(StreamRecorder.ready)
    secret_path = f"/api/flags?sdk_key={key}"
    with _connect(bounded) as sock:
        request = f"GET {secret_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        assert _status_and_body(_read_response(sock, timeout=5.0))[0] == 401
    wait_until(
        lambda: "GET /api/flags?sdk_key=[redacted]" in bounded.log_path.read_text(),
        timeout=10,
        message=bounded.log_tail,
    )
    assert key not in bounded.log_path.read_text()


def test_every_serve_worker_runs_the_protected_server(make_server_group, private_redis):
    group = make_server_group(
        redis_url=private_redis.url,
        extra_env={"SIDEKICK_REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT_SECONDS)},
    )
    server = group.add_server(workers=2)
    # Enough connections that both workers (the kernel hands each to whichever accepts) answer.
    for _ in range(6):
        with _connect(server) as sock:
            sock.sendall(
                b"POST /api/flags HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 600000000\r\n\r\n"
            )
            response = _read_response(sock, timeout=5.0)
        assert response, "no answer within 5 s: a worker waited for the body"
        assert _status_and_body(response)[0] == 413
