"""The collector schedule: new streams frozen once, cycles among them freed at the next thaw."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from streaming import collector


class Node:
    """A reference cycle: garbage only the cyclic collector can free."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_freezing_new_objects_collects_the_garbage_first() -> None:
    garbage = weakref.ref(Node())  # unreachable at once, a cycle: only gc frees it
    assert garbage() is not None

    assert collector.freeze_new() >= 1

    assert garbage() is None
    assert gc.get_freeze_count() > 0


def test_a_cycle_that_dies_frozen_waits_for_the_thaw() -> None:
    stream_state = Node()
    survivor = weakref.ref(stream_state)
    collector.freeze_new()
    del stream_state  # the stream closes while frozen

    gc.collect()
    assert survivor() is not None  # the cost of freezing, bounded by the thaw period

    collector.thaw_and_collect()
    assert survivor() is None
    assert gc.get_freeze_count() > 0  # the survivors are frozen again


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(collector._GLIBC is None, reason="malloc_trim is glibc's")
def test_memory_freed_after_a_burst_goes_back_to_the_system() -> None:
    # Like Twisted's per-stream copies of a snapshot: many malloc'd buffers, all freed, with a
    # later allocation pinning the top of the heap so that free() alone cannot shrink it.
    buffers = [bytes(2000) + bytes([index % 256]) for index in range(20_000)]
    pin = bytes(3000)
    del buffers
    before = _rss_kib()

    collector.release_free_memory()

    assert before - _rss_kib() > 20 * 1024, "less than 20 MiB of the 40 MiB freed went back"
    assert len(pin) == 3000


def test_streams_opening_together_are_frozen_once_a_second_after_the_first(monkeypatch) -> None:
    monkeypatch.setattr(collector, "FREEZE_DELAY_SECONDS", 0.2)

    async def scenario() -> None:
        schedule = collector.CollectorSchedule(3600, lambda: 0.0)
        for _ in range(5):
            schedule.stream_opened()
        async with asyncio.timeout(5):
            while schedule.freezes == 0:
                await asyncio.sleep(0.02)
        assert schedule.freezes == 1
        schedule.stream_opened()
        async with asyncio.timeout(5):
            while schedule.freezes == 1:
                await asyncio.sleep(0.02)

    asyncio.run(scenario())


def test_the_thaw_waits_for_a_quiet_moment(monkeypatch) -> None:
    monkeypatch.setattr(collector, "QUIET_SECONDS", 0.2)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        busy = True
        schedule = collector.CollectorSchedule(0.01, lambda: loop.time() if busy else 0.0)
        task = asyncio.ensure_future(schedule.run())
        try:
            await asyncio.sleep(0.5)  # changes keep coming: it must not collect
            assert schedule.thaws == 0
            busy = False
            async with asyncio.timeout(5):
                while schedule.thaws == 0:
                    await asyncio.sleep(0.02)
        finally:
            task.cancel()

    asyncio.run(scenario())
