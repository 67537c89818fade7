"""When the cyclic garbage collector may pause a server process: not over every open stream.

A full collection walks every object the collector tracks, and stops the process meanwhile: no
stream gets an event. Each open stream holds about 100 such objects (daphne's request, Twisted's
transport, the consumer and its tasks), on top of about 110,000 loaded at start; measured under
daphne, a full collection took 80-135 ms with 1,000 streams, and Python starts one whenever the
survivors of younger collections have grown by a quarter: under steady writes, a few times a
minute, each delaying that moment's change by as much.

So what is going to stay is frozen (`gc.freeze`), and full collections skip it: what was loaded
at start, and open streams, at most once a second after new ones opened (their objects are
collected once first, so no garbage of the moment is frozen). The cost: a reference cycle among
frozen objects that later becomes garbage (a closed stream's) waits for the next thaw. Every
`SIDEKICK_GC_THAW_SECONDS` the process thaws everything, collects it all once and freezes again,
at a moment when no change has been fanned out for a second.

The same moments hand malloc's free pages back to the system: bootstrapping streams leave many
megabytes free behind them (`release_free_memory`), which otherwise count as every idle
stream's memory for the life of the process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

from streaming.libc import libc

logger = logging.getLogger(__name__)

# New streams are frozen this long after the first of them opened (not after the last: under
# steady reconnects there is never a second without one).
FREEZE_DELAY_SECONDS = 1.0
# The thaw waits for this long without a change, for at most THAW_MAX_WAIT_SECONDS.
QUIET_SECONDS = 1.0
THAW_MAX_WAIT_SECONDS = 60.0


# glibc's, where there is one: musl and other systems have no malloc_trim.
_GLIBC = libc() if hasattr(libc(), "malloc_trim") else None


def release_free_memory() -> None:
    """Gives the pages malloc holds free back to the system (glibc; elsewhere nothing).

    A stream's snapshot goes out through Twisted, which joins it into one buffer of its own
    until the socket has taken it all: a burst of streams bootstrapping together leaves tens of
    megabytes free in malloc's heap afterwards, which glibc keeps unless asked.
    """
    if _GLIBC is not None:
        _GLIBC.malloc_trim(0)


def freeze_new() -> int:
    """Collects what is not frozen yet, then freezes what survived; returns what was freed.

    Only objects created since the last freeze are walked, so this costs what the automatic
    collections would have spent on them anyway, once. At start-up, that is everything loaded.
    """
    freed = gc.collect()
    gc.freeze()
    release_free_memory()
    return freed


def thaw_and_collect() -> int:
    """Collects everything, frozen or not, then freezes the survivors; returns what was freed."""
    gc.unfreeze()
    freed = gc.collect()
    gc.freeze()
    release_free_memory()
    return freed


class CollectorSchedule:
    """Per process, on the hub's loop: freezes new streams, and thaws and collects periodically.

    `last_change` is the loop time of the last change fanned out (the hub's), so the thaw can
    wait for a quiet moment.
    """

    def __init__(self, thaw_seconds: float, last_change: Callable[[], float]) -> None:
        self.thaw_seconds = thaw_seconds
        self.last_change = last_change
        self.freezes = 0
        self.thaws = 0
        self._freeze_pending: asyncio.TimerHandle | None = None

    def stream_opened(self) -> None:
        if self._freeze_pending is None:
            loop = asyncio.get_running_loop()
            self._freeze_pending = loop.call_later(FREEZE_DELAY_SECONDS, self._freeze)

    def _freeze(self) -> None:
        self._freeze_pending = None
        freeze_new()
        self.freezes += 1

    def cancel(self) -> None:
        if self._freeze_pending is not None:
            self._freeze_pending.cancel()
            self._freeze_pending = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.thaw_seconds)
            deadline = loop.time() + THAW_MAX_WAIT_SECONDS
            while loop.time() - self.last_change() < QUIET_SECONDS and loop.time() < deadline:
                await asyncio.sleep(QUIET_SECONDS / 4)
            started = time.perf_counter()
            freed = thaw_and_collect()
            self.thaws += 1
            logger.info(
                "full garbage collection: %d objects freed in %.0f ms",
                freed,
                (time.perf_counter() - started) * 1000,
            )
