"""The direct socket path is only taken behind daphne; anything else keeps the ASGI send."""

from __future__ import annotations

import functools
from typing import Any

from streaming.direct_write import DirectWriter, chunk


async def _plain_send(message: dict[str, Any]) -> None:
    return None


class _NotAServer:
    async def handle_reply(self, protocol: object, message: dict[str, Any]) -> None:
        return None


def test_chunk_frames_like_http11_chunked_encoding():
    assert chunk(b"event: update\n\n") == b"f\r\nevent: update\n\n\r\n"
    assert chunk(b"x" * 300) == b"12c\r\n" + b"x" * 300 + b"\r\n"


def test_a_plain_asgi_send_gets_no_direct_writer():
    assert DirectWriter.for_send(_plain_send) is None


def test_a_partial_of_another_servers_method_gets_no_direct_writer():
    send = functools.partial(_NotAServer().handle_reply, object())
    assert DirectWriter.for_send(send) is None
