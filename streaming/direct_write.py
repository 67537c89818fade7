"""The fan-out's fast path: one `send()` per stream instead of daphne's ASGI send.

Under daphne, each ASGI `http.response.body` for an open stream goes through daphne's
`handle_reply`, Twisted's `Request.write` (chunk framing), `writeSequence`, and `startWriting`,
which registers the socket with the event loop (an `epoll_ctl`); the bytes leave on the next
loop turn (`send()`, then another `epoll_ctl` to unregister). Profiled with 1,000 streams, that is
most of the time a change takes to reach the last stream, and it is paid per stream per change.

A stream's socket is almost always writable (an event is a few hundred bytes), so this writes the
framed event straight to the socket when Twisted holds nothing unsent for it, and hands any
remainder (or an error) to the Twisted transport, which buffers, retries and closes exactly as it
would have. Ordering is kept: the direct path is taken only while Twisted's buffers are empty.

It reads daphne's and Twisted's objects (the ASGI send is `partial(Server.handle_reply,
protocol)`; the protocol is a Twisted `Request` whose channel's transport is a TCP connection), so
`DirectWriter.for_send` checks all of that, and the versions it was written against, and returns
None when anything differs (another server, TLS, HTTP/2, a test communicator, an unknown
version): the stream then uses its ordinary ASGI send, which is always correct.
"""

from __future__ import annotations

import array
import asyncio
import functools
import logging
import os
import socket
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from evalcore.extensions import extensions_disabled

logger = logging.getLogger(__name__)

# Major versions whose internals this was written against and tested with (daphne 4.2,
# Twisted 26.10). Another major version uses the ASGI send until checked.
SUPPORTED_MAJORS = {"daphne": {4}, "twisted": set(range(22, 30))}


def _major(distribution: str) -> int | None:
    try:
        return int(metadata.version(distribution).split(".", 1)[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


@functools.cache
def _twisted_classes() -> tuple[Any, Any, Any] | None:
    """daphne's request class, Twisted's TCP connection class and Server class, if supported."""
    for distribution, majors in SUPPORTED_MAJORS.items():
        if _major(distribution) not in majors:
            logger.info("direct stream writes not used: %s version not checked", distribution)
            return None
    try:
        from daphne.http_protocol import WebRequest
        from daphne.server import Server
        from twisted.internet.tcp import Connection
    except ImportError:
        return None
    return WebRequest, Connection, Server


@functools.cache
def _announce_once() -> None:
    # Once per process, so a deployment's log shows which path its streams take.
    logger.info("stream events are written directly to the sockets")


def _send_to_all_py(fds: Sequence[int], data: bytes, sent: array.array[int]) -> int:
    """`streaming._fanout.send_to_all` where the extension is not built: the same, per call."""
    incomplete = 0
    for index, fd in enumerate(fds):
        try:
            taken = os.write(fd, data)
        except BlockingIOError:
            taken = 0
        except OSError:
            taken = -1
        sent[index] = taken
        incomplete += taken != len(data)
    return incomplete


# The same switch as the evaluation core's: a deployment that cannot build or load C extensions
# runs the pure-Python twin of each.
try:
    if extensions_disabled():
        raise ImportError("SIDEKICK_NO_EXTENSIONS=1")
    from streaming._fanout import send_to_all
except ImportError:
    send_to_all = _send_to_all_py


def chunk(data: bytes) -> bytes:
    """`data` as one HTTP/1.1 chunk, as Twisted frames a chunked response body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _daphne_request(send: Any) -> Any:
    """daphne's request behind an ASGI send (`partial(Server.handle_reply, request)`), or None."""
    classes = _twisted_classes()
    if classes is None:
        return None
    web_request, _connection, server = classes
    if not isinstance(send, functools.partial) or len(send.args) != 1 or send.keywords:
        return None
    if getattr(send.func, "__func__", None) is not server.handle_reply:
        return None
    request = send.args[0]
    return request if isinstance(request, web_request) else None


class SendBuffer:
    """What one daphne response holds in memory that its socket has not taken yet.

    Twisted's TCP transport keeps unsent bytes in `dataBuffer` (from `offset` on) and in
    `_tempDataBuffer` (`_tempDataLen` bytes); a TLS connection's wrapper encrypts into the TCP
    transport beneath it, which holds the bytes. `for_send` finds that transport, or returns
    None where the send is not daphne's (nothing can then be measured).
    """

    __slots__ = ("channel", "transport")

    def __init__(self, channel: Any, transport: Any) -> None:
        self.channel = channel
        self.transport = transport

    @classmethod
    def for_send(cls, send: Any) -> SendBuffer | None:
        classes = _twisted_classes()
        request = _daphne_request(send)
        if classes is None or request is None:
            return None
        channel = getattr(request, "channel", None)
        transport = getattr(channel, "transport", None)
        for _wrapper in range(3):  # TLS: the TCP connection is the wrapper's own transport
            if isinstance(transport, classes[1]):
                return cls(channel, transport)
            transport = getattr(transport, "transport", None)
        return None

    def unsent(self) -> int:
        transport = self.transport
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

    @property
    def open(self) -> bool:
        transport = self.transport
        return bool(transport.connected) and not transport.disconnecting

    def close(self, grace_seconds: float) -> None:
        """Closes the connection once what it holds is sent; resets it after `grace_seconds`.

        A client that does not read would otherwise keep the connection (and its buffer) open
        for ever: Twisted closes only after the buffer drained.
        """
        if not self.transport.connected:
            return
        # Through the HTTP channel, which first unregisters itself as the transport's producer:
        # a producer paused by a full buffer is resumed when the buffer drains, and Twisted then
        # forgets the pending close.
        self.channel.loseConnection()
        asyncio.get_running_loop().call_later(grace_seconds, self._reset)

    def _reset(self) -> None:
        if self.transport.connected:
            self.transport.abortConnection()


class DirectWriter:
    """Writes response bytes of one open daphne HTTP/1.x response to its socket."""

    __slots__ = ("chunked", "request", "socket", "transport")

    def __init__(self, request: Any, transport: Any, sock: socket.socket) -> None:
        self.request = request
        self.transport = transport
        self.socket = sock
        self.chunked = bool(request.chunked)

    @classmethod
    def for_send(cls, send: Any) -> DirectWriter | None:
        """The writer behind an ASGI send whose response has started, or None (use the send)."""
        classes = _twisted_classes()
        request = _daphne_request(send)
        if classes is None or request is None or not request.startedWriting:
            return None
        connection = classes[1]
        channel = getattr(request, "channel", None)
        transport = getattr(channel, "transport", None)
        # TLS wraps the TCP connection in another protocol, and a connection that started TLS
        # encrypts in `write`: both must go through Twisted.
        if not isinstance(transport, connection) or getattr(transport, "TLS", True):
            return None
        sock = getattr(transport, "socket", None)
        if not isinstance(sock, socket.socket):
            return None
        _announce_once()
        # Events are small and must leave at once. With Nagle's algorithm (daphne leaves it on),
        # an event written while the previous one is unacknowledged waits for that ACK: a round
        # trip, plus up to 40 ms if the client delays it. (Not visible on loopback, where the
        # ACK is back in microseconds.)
        transport.setTcpNoDelay(True)
        return cls(request, transport, sock)

    def usable(self) -> bool:
        """True while the response is open and Twisted has nothing of it waiting to be sent."""
        transport = self.transport
        return (
            transport.connected
            and not transport.disconnecting
            and not transport.dataBuffer
            and not transport._tempDataBuffer
            and not self.request.finished
            and not self.request._disconnected
        )

    def fileno(self) -> int:
        """The socket's descriptor, or -1 once it is closed (so never another socket's)."""
        return self.socket.fileno()

    def finish(self, framed: bytes, sent: int) -> None:
        """Hands what the socket did not take to Twisted, which buffers, retries and closes.

        `sent` < 0 is a broken connection: Twisted's own write fails the same way and closes it
        properly (daphne then delivers http.disconnect, which unsubscribes the stream).
        """
        taken = max(sent, 0)
        if taken < len(framed):
            self.transport.write(framed[taken:])


class DirectBatch:
    """One chunk for many streams' direct writers, sent in one `send_to_all` call per framing.

    Between `add` (which checks each writer and reads its descriptor) and `send`, the caller
    must not yield to the event loop: no connection can then close, and no descriptor be
    reused by another connection, in between.
    """

    __slots__ = ("_framed", "_groups")

    def __init__(self, raw: bytes, chunked: bytes) -> None:
        self._framed = {False: raw, True: chunked}
        self._groups: dict[bool, tuple[list[DirectWriter], array.array[int]]] = {
            False: ([], array.array("i")),
            True: ([], array.array("i")),
        }

    def add(self, writer: DirectWriter) -> bool:
        """Takes the writer into the batch; False if it must use the ASGI send this time."""
        if not writer.usable():
            return False
        fd = writer.fileno()
        if fd < 0:
            return False
        writers, fds = self._groups[writer.chunked]
        writers.append(writer)
        fds.append(fd)
        return True

    def send(self) -> None:
        """Writes to every writer added, hands any remainder to Twisted, and empties the batch."""
        for chunked, (writers, fds) in self._groups.items():
            if not fds:
                continue
            framed = self._framed[chunked]
            sent = array.array("q", bytes(8 * len(fds)))
            if send_to_all(fds, framed, sent):
                for writer, taken in zip(writers, sent, strict=True):
                    if taken != len(framed):
                        writer.finish(framed, taken)
            writers.clear()
            del fds[:]
