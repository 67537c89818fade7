"""Events written straight to the socket under a real daphne are well-framed HTTP, in order."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.e2e.server import ServerGroup, SidekickServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

WRITES = 20


class RawStream:
    """A `GET /stream` over a plain socket, parsed strictly (chunk sizes must be exact)."""

    def __init__(
        self, server: SidekickServer, key: str, version: str, receive_buffer: int | None = None
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            # Before connecting, so the advertised window stays small and the server's buffer fills.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(15)
        self.sock.connect(("127.0.0.1", server.port))
        self.buffer = b""
        self.sock.sendall(
            f"GET /stream HTTP/{version}\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\n\r\n".encode()
        )
        head = self._read_until(b"\r\n\r\n")
        self.status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        self.body = b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the stream")
        self.buffer += data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_body(self) -> None:
        """Reads at least one more piece of the body into `body`."""
        if not self.chunked:
            if not self.buffer:
                self._fill()
            self.body, self.buffer = self.body + self.buffer, b""
            return
        size = int(self._read_until(b"\r\n"), 16)
        assert size > 0, "a stream must not end"
        self.body += self._read_exactly(size)
        assert self._read_exactly(2) == b"\r\n", "chunk not terminated by CRLF"

    def descriptions(self) -> list[str]:
        """Descriptions set by this test's writes, from the live updates after `ready`."""
        found = []
        live = self.body.decode().partition("event: ready\n")[2]
        for block in live.split("\n\n"):
            lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
            if lines.get("event") == "update":
                flag = json.loads(lines["data"]).get("flag") or {}
                if str(flag.get("description", "")).startswith("direct-"):
                    found.append(flag["description"])
        return found

    def close(self) -> None:
        self.sock.close()


def _write_and_read(group: ServerGroup, server: SidekickServer, version: str) -> RawStream:
    stream = RawStream(server, group.server_key or group.admin_key, version)
    headers = {"Authorization": f"Bearer {group.admin_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=15) as client:
        assert client.post("/api/flags", json={"key": f"direct_{version[-1]}"}).status_code == 201
        while b"event: ready" not in stream.body:
            stream.read_body()
        for index in range(WRITES):
            response = client.patch(
                f"/api/flags/direct_{version[-1]}", json={"description": f"direct-{index}"}
            )
            assert response.status_code == 200
    deadline = time.monotonic() + 15
    while len(stream.descriptions()) < WRITES and time.monotonic() < deadline:
        stream.read_body()
    return stream


def test_http11_stream_events_are_exact_chunks_in_write_order(server_group, server):
    stream = _write_and_read(server_group, server, "1.1")
    try:
        assert stream.status_line.startswith("HTTP/1.1 200")
        assert stream.chunked
        assert stream.descriptions() == [f"direct-{index}" for index in range(WRITES)]
    finally:
        stream.close()
    # Under daphne the fan-out takes the direct path (this test is about that path).
    assert "stream events are written directly to the sockets" in server.log_path.read_text()


def test_http10_stream_gets_the_same_events_unframed(server_group, server):
    stream = _write_and_read(server_group, server, "1.0")
    try:
        assert stream.status_line.split()[1] == "200"
        assert not stream.chunked
        assert stream.descriptions() == [f"direct-{index}" for index in range(WRITES)]
    finally:
        stream.close()


def test_a_stream_that_stops_reading_gets_every_event_in_order_once_it_reads_again(
    make_server_group,
):
    """Writes the kernel cannot take go to Twisted's buffer; later events must queue behind them.

    The slow-reader bound is raised above what this test leaves unsent (tests/e2e/
    test_slow_readers.py checks the bound itself).
    """
    server_group = make_server_group(
        extra_env={"SIDEKICK_STREAM_MAX_UNSENT_BYTES": str(64 * 1024 * 1024)}
    )
    server = server_group.add_server()
    writes = 30
    # ~300 KB per event, ~9 MB in all: more than the socket buffers can hold (4 MB at most here).
    values = [f"{index:05d}" + "v" * 95 for index in range(3000)]
    rules = [{"attribute": "email", "operator": "Equals", "values": values}]
    stream = RawStream(server, server_group.server_key or server_group.admin_key, "1.1", 4096)
    headers = {"Authorization": f"Bearer {server_group.admin_key}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            assert client.post("/api/flags", json={"key": "direct_slow"}).status_code == 201
            while b"event: ready" not in stream.body:
                stream.read_body()
            # Not reading while the writes go out.
            for index in range(writes):
                body = {"description": f"direct-{index}", "rules": rules}
                assert client.patch("/api/flags/direct_slow", json=body).status_code == 200
        deadline = time.monotonic() + 60
        while len(stream.descriptions()) < writes and time.monotonic() < deadline:
            stream.read_body()
        assert stream.descriptions() == [f"direct-{index}" for index in range(writes)]
    finally:
        stream.close()
