"""Relays of two deployments on one real Redis: each hears only its own, authentic messages.

Every relay here has its own connection to Redis, as separate server processes would. Redis
delivers a subscriber's messages in the order they were published, so once a marker published
last has arrived, everything published before it has arrived too (or never will).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer

from flags.deployment import Identity
from flags.events import ChangeEvent, delete_event
from streaming.envelope import seal
from streaming.relay import (
    CHANGE_MESSAGE_KIND,
    RejectedMessages,
    Relay,
    change_message,
    revoked_message,
    updates_group,
)

pytestmark = pytest.mark.timeout(60)

A = Identity("deployment-a", b"secret-of-a" * 4)
B = Identity("deployment-b", b"secret-of-b" * 4)


def with_database_number(url: str, number: int) -> str:
    return f"{url.rsplit('/', 1)[0]}/{number}"


class Process:
    """One server process's relay, recording what it hands to its hub."""

    def __init__(self, identity: Identity, redis_url: str) -> None:
        self.changes: list[ChangeEvent] = []
        self.revoked: list[int] = []
        self.arrived = asyncio.Event()
        self.relay = Relay(on_change=self._changed, on_revoked=self._revoked, on_back=self._back)
        self.relay.layer = RedisPubSubChannelLayer(hosts=[redis_url])
        self.relay.identity = identity
        self._task: asyncio.Task[None] | None = None

    def _changed(
        self, event: ChangeEvent, environment_id: int, revision: int, committed_at: float | None
    ) -> None:
        assert (environment_id, revision) == (MARKER_ENVIRONMENT, 1)
        self.changes.append(event)
        self.arrived.set()

    async def _revoked(self, key_id: int) -> None:
        self.revoked.append(key_id)

    async def _back(self) -> None:
        return None

    async def start(self) -> None:
        assert await self.relay.join()
        self._task = asyncio.ensure_future(self.relay.run_receive())

    async def wait_for_change(self, key: str) -> None:
        async with asyncio.timeout(10):
            while not any(event.get("key") == key for event in self.changes):
                self.arrived.clear()
                await self.arrived.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.relay.leave()
        await self.relay.layer.flush()


MARKER_ENVIRONMENT = 7


def marker(key: str) -> ChangeEvent:
    return delete_event(key, 1)


def marker_message(key: str) -> dict[str, Any]:
    return change_message(marker(key), MARKER_ENVIRONMENT, 1)


def run(redis_url: str, scenario: Any) -> None:
    async def main() -> None:
        processes = {
            "a1": Process(A, with_database_number(redis_url, 1)),
            "a2": Process(A, with_database_number(redis_url, 1)),
            "b1": Process(B, with_database_number(redis_url, 2)),
            "b2": Process(B, with_database_number(redis_url, 2)),
        }
        for process in processes.values():
            await process.start()
        try:
            await scenario(processes)
        finally:
            for process in processes.values():
                await process.stop()

    asyncio.run(main())


def test_changes_and_revocations_reach_only_the_same_deployment(redis_url: str) -> None:
    async def scenario(p: dict[str, Process]) -> None:
        assert p["a1"].relay.send_threadsafe(marker_message("from_a"))
        assert p["a1"].relay.send_threadsafe(revoked_message(2))
        assert p["a1"].relay.send_threadsafe(marker_message("a_done"))
        await p["a2"].wait_for_change("a_done")
        assert p["a2"].changes == [marker("from_a"), marker("a_done")]
        assert p["a2"].revoked == [2]
        # B's marker is published after everything A sent: once it arrives, A's would have.
        assert p["b2"].relay.send_threadsafe(marker_message("b_done"))
        await p["b1"].wait_for_change("b_done")
        assert p["b1"].changes == [marker("b_done")]
        assert p["b1"].revoked == []
        assert p["b1"].relay.rejected.total == 0  # not even delivered to B

    run(redis_url, scenario)


def test_forged_messages_on_the_deployments_group_are_dropped_and_counted(redis_url: str) -> None:
    forged_event = {"kind": CHANGE_MESSAGE_KIND, "event": marker("forged")}
    wrong_secret = Identity(A.deployment_id, b"guessed" * 8)

    async def scenario(p: dict[str, Process]) -> None:
        attacker = RedisPubSubChannelLayer(hosts=[with_database_number(redis_url, 1)])
        group = updates_group(A)
        try:
            for message in (
                seal(wrong_secret, forged_event),
                {**seal(A, forged_event), "mac": None},
                {"type": "flag.change", "event": marker("forged")},  # the unsealed shape
                seal(A, forged_event, now=0.0),  # authentic but recorded long ago
                seal(A, {"kind": "key_revoked", "key_id": 2}) | {"mac": "0" * 64},
            ):
                await attacker.group_send(group, message)
        finally:
            await attacker.flush()
        assert p["a1"].relay.send_threadsafe(marker_message("a_done"))
        await p["a2"].wait_for_change("a_done")
        assert p["a2"].changes == [marker("a_done")]
        assert p["a2"].revoked == []
        rejected = p["a2"].relay.rejected
        assert rejected.by_reason == {"bad_signature": 3, "unsealed": 1, "stale": 1}
        assert rejected.total == 5

    run(redis_url, scenario)


def test_drops_are_logged_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    rejected = RejectedMessages(log_seconds=60)
    with caplog.at_level(logging.WARNING, logger="streaming.relay"):
        for moment in (0.0, 1.0, 2.0, 59.0):
            rejected.record("bad_signature", now=moment)
        rejected.record("unsealed", now=61.0)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("dropped 1 relay message(s)")
    assert lines[1].startswith("dropped 4 relay message(s)")
    assert "last reason: unsealed; 5 dropped since start" in lines[1]
    assert rejected.by_reason == {"bad_signature": 4, "unsealed": 1}
