"""Graceful shutdown on SIGTERM, with real server processes (sidekick/shutdown.py).

The entry point (`python -m sidekick.server`) and `manage.py serve --workers 2` each get SIGTERM
while streams are open and a REST request is half sent: every stream gets `goodbye` `shutdown`
with its own `reconnect_after_ms` within the window, the request still completes, new
connections are refused, and the process exits 0 within SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ServerGroup, SidekickServer
from tests.e2e.sse import StreamRecorder, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

WINDOW_SECONDS = 4.0
TIMEOUT_SECONDS = 10.0
SHUTDOWN_ENV = {
    "SIDEKICK_SHUTDOWN_GOODBYE_WINDOW_SECONDS": str(WINDOW_SECONDS),
    "SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
}


class HeldRequest:
    """A PATCH whose headers the server has parsed (it answered `100 Continue`) and whose body
    is still to come: a request in flight for as long as the test holds it."""

    def __init__(self, server: SidekickServer, key: str, flag: str, body: dict[str, object]):
        self.body = json.dumps(body).encode()
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        head = (
            f"PATCH /api/flags/{flag} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\nExpect: 100-continue\r\n\r\n"
        )
        self.sock.sendall(head.encode())
        interim = self._read_until(b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100"), interim
        self.sock.sendall(self.body[:3])

    def _read_until(self, end: bytes) -> bytes:
        data = b""
        while end not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def finish(self) -> tuple[int, dict[str, object]]:
        """Sends the rest of the body; the response's status and JSON body."""
        self.sock.sendall(self.body[3:])
        response = self._read_until(b"\r\n\r\n")
        head, _, rest = response.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            assert chunk, "the connection closed before the response's body"
            rest += chunk
        self.sock.close()
        return int(head.split(b" ")[1]), json.loads(rest[:length])


def connection_refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def goodbye_of(stream: StreamRecorder) -> dict[str, object] | None:
    farewells = [json.loads(data) for name, data in stream.events if name == "goodbye"]
    return farewells[-1] if farewells else None


def stream_ports_by_pid(server_port: int, pids: list[int]) -> dict[int, int]:
    """How many established connections on `server_port` each process holds (from /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == server_port and fields[3] == "01":  # ESTABLISHED
                inodes.add(fields[9])
    counts = {}
    for pid in pids:
        held = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        counts[pid] = held
    return counts


def shut_down_and_check(
    server: SidekickServer, group: ServerGroup, streams: list[StreamRecorder]
) -> None:
    """SIGTERM with a request held in flight; asserts every outcome of the module docstring."""
    headers = {"Authorization": f"Bearer {group.admin_key}"}
    created = httpx.post(
        f"{server.url}/api/flags", json={"key": "held", "is_enabled": False}, headers=headers
    )
    assert created.status_code == 201
    held = HeldRequest(server, group.admin_key, "held", {"is_enabled": True})
    process = server.process
    assert process is not None
    signalled_at = time.monotonic()
    process.send_signal(signal.SIGTERM)

    for stream in streams:
        stream.wait_for(lambda rec: goodbye_of(rec) is not None, timeout=TIMEOUT_SECONDS)
    # The process is still running (the held request keeps it) and accepts nothing new.
    assert process.poll() is None
    assert connection_refused(server.port)
    status, flag = held.finish()
    assert status == 200, flag
    assert flag["is_enabled"] is True

    process.wait(TIMEOUT_SECONDS + 5)
    elapsed = time.monotonic() - signalled_at
    assert process.returncode == 0, server.log_tail()
    assert elapsed < TIMEOUT_SECONDS, elapsed

    farewells = [goodbye_of(stream) for stream in streams]
    assert all(f is not None and f["reason"] == "shutdown" for f in farewells), farewells
    delays = [f["reconnect_after_ms"] for f in farewells if f is not None]
    assert all(isinstance(d, int) and 0 <= d <= WINDOW_SECONDS * 1000 for d in delays), delays
    for stream in streams:
        stream.wait_closed(timeout=5)
        assert stream.events[-1][0] == "goodbye"
        assert stream.error is None  # ended in good order, not reset
    return None


def test_sigterm_says_goodbye_finishes_requests_and_exits_0(make_server_group):
    group = make_server_group(extra_env=SHUTDOWN_ENV)
    # The server inherits a soft descriptor limit below the hard one, as on many hosts.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard, 1024) - 1, hard))
    try:
        server = group.add_server()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    streams = [StreamRecorder(server.url, bearer=group.server_key) for _ in range(8)]
    # At start the entry point raised its soft limit to the hard one, and logged the limits in
    # use once.
    limits = Path(f"/proc/{server.pid}/limits").read_text()
    (open_files,) = [line.split() for line in limits.splitlines() if "open files" in line]
    assert open_files[3] == open_files[4] == str(hard), open_files
    logged = [line for line in server.log_path.read_text().splitlines() if " limits: " in line]
    assert len(logged) == 1 and f"descriptors {hard}, streams per process" in logged[0], logged
    try:
        for stream in streams:
            stream.wait_for(StreamRecorder.ready)
        shut_down_and_check(server, group, streams)
        delays = [goodbye_of(stream)["reconnect_after_ms"] for stream in streams]
        # One process spreads its streams evenly over the window: each its own delay.
        assert len(set(delays)) == len(streams), delays
    finally:
        for stream in streams:
            stream.close()


def test_sigterm_to_serve_workers_reaches_every_workers_streams(make_server_group, private_redis):
    group = make_server_group(redis_url=private_redis.url, extra_env=SHUTDOWN_ENV)
    server = group.add_server(workers=2)
    workers = server.serving_pids()
    assert len(workers) == 2
    streams: list[StreamRecorder] = []
    try:
        # The kernel hands each connection to whichever worker accepts first: open streams
        # until both workers hold some.
        while len(streams) < 40:
            stream = StreamRecorder(server.url, bearer=group.server_key)
            streams.append(stream)
            stream.wait_for(StreamRecorder.ready)
            held = stream_ports_by_pid(server.port, workers)
            if len(streams) >= 6 and all(count > 0 for count in held.values()):
                break
        held = stream_ports_by_pid(server.port, workers)
        assert all(count > 0 for count in held.values()), held
        shut_down_and_check(server, group, streams)
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers),
            5,
            "a worker outlived its supervisor",
        )
    finally:
        for stream in streams:
            stream.close()
