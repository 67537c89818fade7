"""Slow readers under a real daphne: closed past the unsent-bytes bound; memory stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ServerGroup, SidekickServer
from tests.e2e.sse import StreamRecorder, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
# How sidekick.logs writes the slow-reader close (one line per record: time, level, logger).
SLOW_READER_LOG_LINE = " INFO streaming.fanout closing a slow stream reader"

KIB = 1024
MIB = 1024 * KIB


class NonReader:
    """`GET /stream` on a socket with a tiny receive buffer that never reads (until drained)."""

    def __init__(self, server: SidekickServer, key: str, receive_buffer: int = 4096) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connecting, so the advertised window stays small and the server's buffer fills.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect(("127.0.0.1", server.port))
        request = f"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n"
        self.sock.sendall(request.encode())

    def drain(self, timeout: float) -> tuple[bytes, str]:
        """Reads everything until the server closes: (bytes read, "eof" or "reset")."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        received = bytearray()
        try:
            while time.monotonic() < deadline:
                data = self.sock.recv(1 << 20)
                if not data:
                    return bytes(received), "eof"
                received += data
        except ConnectionResetError:
            return bytes(received), "reset"
        except TimeoutError:
            pass
        raise AssertionError(
            f"the server did not close a non-reading stream within {timeout} s "
            f"({len(received)} bytes read)"
        )

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_streams_that_never_read_are_closed_while_a_reader_gets_every_event_in_order(
    make_server_group,
):
    bound = 256 * KIB
    group = make_server_group(extra_env={"SIDEKICK_STREAM_MAX_UNSENT_BYTES": str(bound)})
    server = group.add_server()
    writes = 30
    # ~300 KB per event, ~9 MB in all: more than a socket's buffers hold (4 MB at most here)
    # plus the bound, so each non-reader's unsent bytes pass the bound.
    values = [f"{index:05d}" + "v" * 95 for index in range(3000)]
    rules = [{"attribute": "email", "operator": "Equals", "values": values}]
    headers = {"Authorization": f"Bearer {group.admin_key}"}
    non_readers: list[NonReader] = []
    with (
        httpx.Client(base_url=server.url, headers=headers, timeout=30) as client,
        StreamRecorder(server.url, bearer=group.server_key, read_timeout=60) as reader,
    ):
        assert client.post("/api/flags", json={"key": "slow_probe"}).status_code == 201
        reader.wait_for(StreamRecorder.ready)
        try:
            for _ in range(3):
                non_readers.append(NonReader(server, group.server_key or group.admin_key))
            for index in range(writes):
                body = {"description": f"slow-{index}", "rules": rules}
                assert client.patch("/api/flags/slow_probe", json=body).status_code == 200

            def descriptions() -> list[str]:
                return [
                    update["flag"]["description"]
                    for update in reader.updates()
                    if update["type"] == "UPSERT" and update["flag"]["key"] == "slow_probe"
                ][1:]  # the first is the creation (in the replay or live)

            wait_until(
                lambda: len(descriptions()) >= writes,
                60,
                lambda: f"the reading stream got {len(descriptions())} of {writes} events",
            )
            assert descriptions() == [f"slow-{index}" for index in range(writes)]
            assert not reader.closed

            for non_reader in non_readers:
                data, ending = non_reader.drain(timeout=30)
                assert b"event: ready" in data
                if ending == "eof":
                    # Closed in good order: the goodbye is the response's last event.
                    assert b'event: goodbye\ndata: {"reason":"slow_reader"' in data
                    assert data.endswith(b"\r\n0\r\n\r\n")
        finally:
            for non_reader in non_readers:
                non_reader.close()
        log = server.log_path.read_text()
        closings = [line for line in log.splitlines() if SLOW_READER_LOG_LINE in line]
        assert len(closings) == len(non_readers), "\n".join(closings)
        # The server still serves, streams and REST alike.
        assert client.get("/api/flags").status_code == 200
        reader.wait_for(lambda rec: not rec.closed)


async def _make_large_flags(server: SidekickServer, key: str, count: int) -> None:
    """`count` flags of about 5.5 KB each (a 1,000-code-point description and a long rule)."""
    headers = {"Authorization": f"Bearer {key}"}
    values = [f"user-{index:04d}@" + "e" * 90 + ".example" for index in range(40)]
    semaphore = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:

        async def create(index: int) -> None:
            body = {
                "key": f"large_{index:05d}",
                "is_enabled": True,
                "description": f"{index:05d} " + "d" * 994,
                "rules": [{"attribute": "email", "operator": "Equals", "values": values}],
            }
            async with semaphore:
                response = await client.post("/api/flags", json=body)
                assert response.status_code == 201, response.text

        await asyncio.gather(*(create(index) for index in range(count)))


def _settled_rss_kib(pid: int, timeout: float = 30.0) -> int:
    """The server's RSS once two readings 0.5 s apart differ by less than 1 MiB."""
    deadline = time.monotonic() + timeout
    previous = _rss_kib(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = _rss_kib(pid)
        if abs(current - previous) < 1024:
            return current
        previous = current
    raise AssertionError(f"the server's RSS did not settle within {timeout} s")


def test_streams_that_never_read_a_large_snapshot_hold_at_most_the_bound_each(
    make_server_group, capsys
):
    """1,000 flags (~5.5 MB snapshot), N streams that never read: RSS growth per stream."""
    streams = 40
    group: ServerGroup = make_server_group()
    server = group.add_server()
    asyncio.run(_make_large_flags(server, group.admin_key, 1000))
    pid = server.serving_pids()[0]
    # A stream read to its end first, so the snapshot is encoded and cached before the baseline.
    with StreamRecorder(server.url, bearer=group.server_key, read_timeout=60) as warm:
        warm.wait_for(StreamRecorder.ready, timeout=60)
        snapshot_bytes = sum(len(line) + 1 for line in warm.lines)
    before = _settled_rss_kib(pid)
    non_readers = [NonReader(server, group.server_key or group.admin_key) for _ in range(streams)]
    try:
        # Every non-reader has been answered once a stream opened after them is ready.
        with StreamRecorder(server.url, bearer=group.server_key, read_timeout=60) as after:
            after.wait_for(StreamRecorder.ready, timeout=60)
        held = _settled_rss_kib(pid)
    finally:
        for non_reader in non_readers:
            non_reader.close()
    per_stream_kib = (held - before) / streams
    with capsys.disabled():
        print(
            f"\nsnapshot {snapshot_bytes / MIB:.1f} MiB; RSS {before / 1024:.0f} MiB -> "
            f"{held / 1024:.0f} MiB with {streams} non-reading streams: "
            f"{per_stream_kib:.0f} KiB per stream"
        )
    # The default bound (1 MiB) plus one 64 KiB slice of the snapshot, Twisted's transient copy
    # when it joins its buffers, and allocator slack (1,057-1,456 KiB measured on a loaded
    # machine); a whole snapshot each, without the bound, was 5.4 MiB.
    assert per_stream_kib < 2048, f"{per_stream_kib:.0f} KiB per non-reading stream"


def test_a_slow_reader_that_reads_again_soon_gets_goodbye_slow_reader_then_eof(
    make_server_group,
):
    """Closed in good order: its last event is `goodbye` `slow_reader`, then the connection ends."""
    group = make_server_group(extra_env={"SIDEKICK_STREAM_MAX_UNSENT_BYTES": str(64 * KIB)})
    server = group.add_server()
    values = [f"{index:05d}" + "v" * 95 for index in range(3000)]
    rules = [{"attribute": "email", "operator": "Equals", "values": values}]
    headers = {"Authorization": f"Bearer {group.admin_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        assert client.post("/api/flags", json={"key": "slow_again"}).status_code == 201
        # A window of 64 KiB (not 4 KiB): once it reads again, it drains the ~3 MB the kernel
        # and Twisted hold in well under the 15 s the server gives a closing stream.
        slow = NonReader(server, group.server_key or group.admin_key, 64 * KIB)
        try:
            log_path = server.log_path
            for index in range(40):
                body = {"description": f"again-{index}", "rules": rules}
                assert client.patch("/api/flags/slow_again", json=body).status_code == 200
                if SLOW_READER_LOG_LINE in log_path.read_text():
                    break
            else:
                raise AssertionError("40 events of ~300 KB did not make the stream a slow reader")
            data, ending = slow.drain(timeout=15)
        finally:
            slow.close()
    assert ending == "eof"
    assert data.endswith(b"\r\n0\r\n\r\n")  # the response ended properly (last chunk)
    last_event = data.rsplit(b"event: ", 1)[1]
    assert last_event.startswith(b'goodbye\ndata: {"reason":"slow_reader","reconnect_after_ms":')
