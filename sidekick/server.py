"""The protected daphne server: `python -m sidekick.server [daphne options] APPLICATION`.

It takes exactly daphne's command line (`-e`, `--fd`, `--proxy-headers`, ...) and runs daphne,
with three protections daphne has no option for, installed at the Twisted level, before anything
reaches Django (docs/security.md):

- Request bodies are bounded (DATA_UPLOAD_MAX_MEMORY_SIZE, 1 MiB by the wire contract). daphne
  reads a whole body before it calls the application, so without this a 600 MB body is read
  into the process before the view can answer 401. A `Content-Length` over the limit is answered
  413 as soon as the headers end; a chunked body is cut as soon as it passes the limit.
- A request must arrive whole (headers and body) within SIDEKICK_REQUEST_READ_TIMEOUT_SECONDS of
  the moment the connection is ready for it (accepted, or its previous response sent); else it
  is answered 408 and closed. Twisted's own timeout only measures silence, so a client sending
  one header line every few seconds would hold the connection (and its descriptor) forever.
- daphne's access log, when it is on (not `-v 0`), goes through sidekick.logs.redact_secrets:
  client keys travel in /stream URLs.

It also shuts down gracefully on SIGTERM (`sidekick.shutdown`: stop accepting, `goodbye`
`shutdown` to every stream, requests in flight finish, exit within
SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS), and at start raises the soft descriptor limit to the hard
one (the stream limits derive from it) and logs the limits in use.

`make run`, `manage.py serve` (each of its workers), the Docker image and docs/deploy.md all
start the server through this module.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
from collections.abc import Callable
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.internet import defer
from twisted.internet.base import DelayedCall
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http

from sidekick import shutdown
from sidekick.logs import redact_secrets

logger = logging.getLogger("sidekick.server")

# How long a refused connection may keep sending (read and dropped, never stored) before it is
# cut: long enough for the client to read the error instead of a reset, short enough to hold
# nothing for long.
LINGER_SECONDS = 2.0


def _error_response(status: int, reason: str, detail: str) -> bytes:
    """A whole HTTP response in the API's error shape; the connection closes after it."""
    body = json.dumps({"detail": detail, "errors": {}}).encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedRequest(WebRequest):
    """daphne's request, refusing a body over the limit instead of storing it."""

    channel: BoundedChannel
    _body_bytes = 0

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.channel.factory.max_body_bytes:
            # Only the declared length: the body itself is never read.
            super().gotLength(0)
            self.channel.refuse_too_large()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.channel.refused:
            return
        self._body_bytes += len(data)
        if self._body_bytes > self.channel.factory.max_body_bytes:
            self.channel.refuse_too_large()
            return
        super().handleContentChunk(data)


class BoundedChannel(http.HTTPChannel):
    """An HTTP/1.1 connection with a deadline on reading each request and a refusal path."""

    factory: BoundedHTTPFactory
    refused = False
    _read_deadline: DelayedCall | None = None
    # Whether any byte of the awaited request has arrived: an idle connection is closed quietly
    # (an unsolicited 408 on a pooled keep-alive connection can confuse a client), a half-sent
    # request is told why.
    _request_begun = False

    def connectionMade(self) -> None:
        super().connectionMade()
        self.factory.channels.add(self)
        self._arm_read_deadline()

    def _arm_read_deadline(self) -> None:
        self._cancel_read_deadline()
        self._request_begun = False
        seconds = self.factory.read_timeout_seconds
        if seconds > 0:
            self._read_deadline = self.callLater(seconds, self._read_deadline_passed)

    def _cancel_read_deadline(self) -> None:
        if self._read_deadline is not None and self._read_deadline.active():
            self._read_deadline.cancel()
        self._read_deadline = None

    def _read_deadline_passed(self) -> None:
        self._read_deadline = None
        if self._request_begun:
            self._refuse(408, "Request Timeout", "The request did not arrive in time.")
        else:
            self.refused = True
            self.loseConnection()
            self.callLater(LINGER_SECONDS, self._abort)

    def refuse_too_large(self) -> None:
        limit = self.factory.max_body_bytes
        self._refuse(413, "Content Too Large", f"The request body is larger than {limit} bytes.")

    def _refuse(self, status: int, reason: str, detail: str) -> None:
        # Typed loosely: Twisted declares transports as zope interfaces mypy cannot call.
        transport: Any = self.transport
        if self.refused or transport is None:
            return
        self.refused = True
        self._cancel_read_deadline()
        self.setTimeout(None)
        transport.write(_error_response(status, reason, detail))
        # Half-close: the client reads the answer while what it still sends is dropped; a
        # full close with unread input would reset the connection and lose the answer.
        lose_write = getattr(transport, "loseWriteConnection", None)
        if lose_write is not None:
            lose_write()
        else:
            transport.loseConnection()
        self.callLater(LINGER_SECONDS, self._abort)

    def _abort(self) -> None:
        transport: Any = self.transport
        if transport is not None and transport.connected:
            transport.abortConnection()

    def _send100Continue(self) -> None:
        # Twisted sends `100 Continue` right after the length is known, which is after a 413
        # for an oversized Content-Length: a refused client must not be invited to send.
        if self.refused:
            return
        super()._send100Continue()

    def dataReceived(self, data: bytes) -> None:
        if self.refused:
            return
        self._request_begun = True
        super().dataReceived(data)

    def rawDataReceived(self, data: bytes) -> None:
        if self.refused:
            return
        super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        if self.refused:
            return
        # The request is whole: from here on it may take as long as it needs (a stream lasts).
        self._cancel_read_deadline()
        super().allContentReceived()

    def requestDone(self, request: http.Request) -> None:
        if self.factory.draining:
            # Shutting down: the connection closes after this response (no further request).
            self.persistent = False
        # Armed before the parent replays a pipelined request, whose arrival disarms it again.
        if self.persistent:
            self._arm_read_deadline()
        super().requestDone(request)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_read_deadline()
        self.factory.channels.discard(self)
        super().connectionLost(reason)


def _bounded_channel_protocol(factory: http.HTTPFactory) -> Any:
    # The same wrapper Twisted builds around its own channel (it would switch to HTTP/2 after
    # ALPN), around the bounded channel.
    return http._GenericHTTPChannelProtocol(BoundedChannel())


class BoundedHTTPFactory(HTTPFactory):
    """daphne's factory, building bounded channels and requests with the configured limits."""

    protocol = _bounded_channel_protocol

    def __init__(self, server: Server) -> None:
        from django.conf import settings

        super().__init__(server)
        self.max_body_bytes = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        self.read_timeout_seconds = float(settings.SIDEKICK_REQUEST_READ_TIMEOUT_SECONDS)
        # The open connections (graceful shutdown waits for their requests), and whether the
        # process is shutting down (each then closes after its response).
        self.channels: set[BoundedChannel] = set()
        self.draining = False

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BoundedRequest
        return protocol


def _redacting(action_logger: Callable[..., Any]) -> Callable[..., Any]:
    def log_action(protocol: str, action: str, details: dict[str, Any]) -> Any:
        if isinstance(details.get("path"), str):
            details = {**details, "path": redact_secrets(details["path"])}
        return action_logger(protocol, action, details)

    return log_action


def raise_descriptor_limit() -> None:
    """Raises the soft RLIMIT_NOFILE to the hard limit, as servers commonly do.

    Each stream holds a descriptor and the stream limits derive from the soft limit, which is
    often a low 1024 whatever the hard limit allows.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as error:
            logger.warning("cannot raise the descriptor limit from %s to %s: %s", soft, hard, error)


def log_limits() -> None:
    """The limits in use, once at start (docs/stream.md "Limits", docs/operations.md)."""
    from django.conf import settings

    from streaming import limits

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    logger.info(
        "limits: descriptors %s, streams per process %d, per key %d, unsent bytes per stream %d, "
        "stream max age %.0f s, shutdown timeout %.1f s, goodbye window %.1f s",
        soft,
        limits.process_limit(),
        limits.key_limit(),
        int(settings.SIDEKICK_STREAM_MAX_UNSENT_BYTES),
        float(settings.SIDEKICK_STREAM_MAX_AGE_SECONDS),
        shutdown.timeout_seconds(),
        shutdown.goodbye_window_ms() / 1000,
    )


class ProtectedServer(Server):
    """daphne's Server with the bounded factory, the redacting access log and graceful shutdown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("action_logger") is not None:
            kwargs["action_logger"] = _redacting(kwargs["action_logger"])
        super().__init__(*args, **kwargs)
        self._ports: list[Any] = []

    def run(self) -> None:
        log_limits()
        super().run()

    def listen_success(self, port: Any) -> None:
        self._ports.append(port)  # graceful shutdown stops listening on each
        super().listen_success(port)

    def kill_all_applications(self) -> defer.Deferred[Any]:
        """daphne's "before shutdown" trigger, run after the graceful drain (sidekick.shutdown)."""
        shutdown.start_watchdog(shutdown.timeout_seconds())
        factory = self._bounded_factory
        factory.draining = True
        drained = defer.Deferred.fromFuture(
            asyncio.ensure_future(shutdown.drain(self._ports, factory.channels))
        )

        def then_kill(result: Any) -> Any:
            if isinstance(result, Failure):
                logger.error("graceful shutdown failed: %s", result.getErrorMessage())
            return super(ProtectedServer, self).kill_all_applications()

        drained.addBoth(then_kill)
        return drained

    # daphne's run() builds its own factory (`self.http_factory = HTTPFactory(self)`) right before
    # listening; this attribute swaps in the bounded one at that assignment, so the rest of
    # run() (endpoints, timers, the reactor) stays daphne's own.
    @property
    def http_factory(self) -> BoundedHTTPFactory:
        return self._bounded_factory

    @http_factory.setter
    def http_factory(self, factory: HTTPFactory) -> None:
        self._bounded_factory = (
            factory if isinstance(factory, BoundedHTTPFactory) else BoundedHTTPFactory(self)
        )


class ProtectedCommandLine(CommandLineInterface):
    description = "Sidekick's daphne: daphne's options, with request bounds and log redaction"
    server_class = ProtectedServer


def main(argv: list[str] | None = None) -> None:
    raise_descriptor_limit()
    ProtectedCommandLine().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
