"""The fan-out's send loop, compiled and pure-Python: what each socket took, never more."""

from __future__ import annotations

import array
import socket
from collections.abc import Callable, Iterator

import pytest

from evalcore.extensions import extensions_disabled
from streaming import direct_write
from streaming._fanout import send_to_all as send_to_all_c

SendToAll = Callable[[array.array, bytes, array.array], int]


@pytest.fixture(params=["c", "python"])
def send_to_all(request: pytest.FixtureRequest) -> SendToAll:
    return send_to_all_c if request.param == "c" else direct_write._send_to_all_py


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made = [socket.socketpair() for _ in range(3)]
    for writer, _reader in made:
        writer.setblocking(False)
    yield made
    for writer, reader in made:
        writer.close()
        reader.close()


def _sent(count: int) -> array.array:
    return array.array("q", bytes(8 * count))


def test_every_socket_gets_the_whole_buffer(send_to_all, pairs) -> None:
    fds = array.array("i", [writer.fileno() for writer, _ in pairs])
    sent = _sent(len(fds))

    assert send_to_all(fds, b"event: update\n\n", sent) == 0

    assert list(sent) == [15, 15, 15]
    assert [reader.recv(100) for _, reader in pairs] == [b"event: update\n\n"] * 3


def test_a_full_socket_takes_part_and_the_others_still_get_all(send_to_all, pairs) -> None:
    full_writer = pairs[0][0]
    full_writer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    while True:  # fill its buffer
        try:
            full_writer.send(b"x" * 65536)
        except BlockingIOError:
            break
    fds = array.array("i", [writer.fileno() for writer, _ in pairs])
    sent = _sent(len(fds))
    data = b"y" * 200_000

    assert send_to_all(fds, data, sent) >= 1

    assert 0 <= sent[0] < len(data)
    assert all(0 < taken <= len(data) for taken in sent[1:])


def test_a_broken_connection_reports_an_error_not_a_signal(send_to_all, pairs) -> None:
    reader = pairs[1][1]
    reader.close()
    fds = array.array("i", [w.fileno() for w, _ in pairs])
    sent = _sent(len(fds))

    assert send_to_all(fds, b"data", sent) == 1

    assert sent[1] == -1
    assert sent[0] == sent[2] == 4


def test_the_compiled_loop_is_used_unless_extensions_are_off() -> None:
    # Built by `pip install -e .`; the pure-Python loop is only the fallback.
    off = extensions_disabled()
    expected = direct_write._send_to_all_py if off else send_to_all_c
    assert direct_write.send_to_all is expected
