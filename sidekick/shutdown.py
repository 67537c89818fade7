"""Graceful shutdown of one server process on SIGTERM (docs/operations.md, "Shutdown").

Twisted turns SIGTERM (and SIGINT) into `reactor.stop()`, which runs the "before shutdown"
triggers and waits for the Deferreds they return. daphne's own trigger cancels every application
at once; the protected server (`sidekick.server`) runs `drain` before it:

1. it stops listening, so new connections are refused (under `manage.py serve --workers N` the
   supervisor closes its copy of the socket too);
2. idle keep-alive connections are closed, and every other one closes after its response;
3. every stream is sent `goodbye` `shutdown`, their `reconnect_after_ms` spread over
   SIDEKICK_SHUTDOWN_GOODBYE_WINDOW_SECONDS, so clients come back over the window;
4. requests in flight finish, for at most SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS less EXIT_MARGIN;
   connections still open then are reset.

Then daphne cancels what remains and the process exits 0. A watchdog ends the process (code 1)
should all this still run at SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS: the bound holds whatever hangs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

from django.conf import settings

logger = logging.getLogger("sidekick.shutdown")

# Of the shutdown timeout, kept for daphne's cancellation and the interpreter's exit.
EXIT_MARGIN_SECONDS = 2.0
# How often the drain looks whether requests are still in flight.
POLL_SECONDS = 0.05


def timeout_seconds() -> float:
    return float(settings.SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS)


def goodbye_window_ms() -> int:
    return round(float(settings.SIDEKICK_SHUTDOWN_GOODBYE_WINDOW_SECONDS) * 1000)


def start_watchdog(seconds: float) -> None:
    """Ends the process after `seconds` even if the event loop is stuck (a daemon thread)."""

    def expire() -> None:
        logger.error("graceful shutdown did not finish within %.1f s; exiting now", seconds)
        os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def busy(channel: Any) -> bool:
    """Whether a connection has a request in flight (from its first line to its response's end)."""
    return bool(channel.requests)


async def say_goodbye_to_streams() -> int:
    """`goodbye` `shutdown` to every stream of this process's hub (if it ever started)."""
    from streaming.hub import existing_update_hub

    hub = existing_update_hub()
    if hub is None:
        return 0
    return await hub.streams.say_goodbye_to_all("shutdown", goodbye_window_ms())


async def drain(ports: Iterable[Any], channels: set[Any]) -> None:
    """Steps 1-4 of the module docstring; `channels` is the live set of HTTP connections."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, timeout_seconds() - EXIT_MARGIN_SECONDS)
    for port in ports:
        port.stopListening()
    for channel in list(channels):
        if not busy(channel):
            channel.loseConnection()
    streams = await say_goodbye_to_streams()
    in_flight = sum(1 for channel in channels if busy(channel))
    logger.info(
        "shutting down: stopped listening, said goodbye to %d stream(s), %d request(s) in flight",
        streams,
        in_flight,
    )
    while any(busy(channel) for channel in channels) and loop.time() < deadline:
        await asyncio.sleep(POLL_SECONDS)
    left = [channel for channel in channels if busy(channel)]
    if left:
        logger.warning("shutdown timeout: resetting %d connection(s) still busy", len(left))
        for channel in left:
            transport: Any = channel.transport
            if transport is not None:
                transport.abortConnection()
