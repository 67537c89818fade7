"""What a two-way reconciliation sends to the streams, seen by a subscriber of the hub.

A repair is fanned out like any change (an UPSERT with the database's flag, a DELETE for a flag
the database does not have). Where the store was ahead of the database, SDKs hold the newer
version too and would ignore the repair, so every stream then ends (the SDK reconnects and
starts a fresh set); catching up from behind leaves the streams open.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from flags import store as flag_store
from flags.events import delete_event, upsert_event
from flags.models import Flag
from flags.services import flag_upsert
from flags.store import process_flag_store
from streaming import hub
from streaming.fanout import StreamSubscriber
from tests.flags.conftest import in_default_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def fresh_process_state():
    flag_store.reset_process_flag_store()
    hub.reset_update_hub()
    yield
    flag_store.reset_process_flag_store()
    hub.reset_update_hub()


class Subscriber:
    """One stream of the hub, recording what the fan-out sends it (through its ASGI send)."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(self, message: dict[str, Any]) -> None:
        await self.messages.put(message)

    async def next_update(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.messages.get(), 10)
        assert message["more_body"], "the stream ended before the update"
        name, data = message["body"].decode().strip().split("\n")
        assert name == "event: update"
        return json.loads(data.removeprefix("data: "))

    async def next_is_the_end(self) -> bool:
        """The stream ended plainly: no `goodbye` (an overrule is none of its reasons)."""
        message = await asyncio.wait_for(self.messages.get(), 10)
        return message["more_body"] is False and message["body"] == b""


def run(scenario: Callable[[hub.UpdateHub, Subscriber], Awaitable[None]]) -> None:
    async def main() -> None:
        the_hub = hub.update_hub()
        await the_hub.ensure_started()
        subscriber = Subscriber()
        # A stream of the default environment (its id is known once the hub has loaded it).
        default = flag_store.environment_stores().default_id()
        opened = the_hub.streams.subscribe(subscriber.send, environment_id=default)
        assert isinstance(opened, StreamSubscriber), opened
        await opened.open(b"")
        assert (await subscriber.messages.get())["body"] == b""  # the (empty) snapshot
        try:
            await scenario(the_hub, subscriber)
        finally:
            await the_hub.stop()

    asyncio.run(main())


def create(key: str, **fields: Any) -> dict[str, Any]:
    return flag_upsert(data={"key": key, **fields}, actor="test").flag


def test_a_store_ahead_is_repaired_for_the_streams_which_then_end():
    flag = create("shared", rollout_percentage=10)

    async def scenario(the_hub: hub.UpdateHub, subscriber: Subscriber) -> None:
        # A foreign deployment's version 3 reached this store (and its streams).
        assert process_flag_store().apply(upsert_event({**flag, "version": 3}))
        assert await the_hub.reconcile() == 1
        assert await subscriber.next_update() == upsert_event(flag)
        assert await subscriber.next_is_the_end()
        assert not the_hub.streams.subscribers
        assert process_flag_store().get("shared") == flag

    run(scenario)


def test_a_store_with_other_content_is_repaired_and_the_streams_end():
    flag = create("same", is_enabled=False)

    async def scenario(the_hub: hub.UpdateHub, subscriber: Subscriber) -> None:
        process_flag_store().replace_all([{**flag, "is_enabled": True}])
        assert await the_hub.reconcile() == 1
        assert await subscriber.next_update() == upsert_event(flag)
        assert await subscriber.next_is_the_end()

    run(scenario)


def test_a_flag_the_database_does_not_have_is_deleted_for_the_streams_which_then_end():
    flag = create("mine")

    async def scenario(the_hub: hub.UpdateHub, subscriber: Subscriber) -> None:
        assert process_flag_store().apply(upsert_event({**flag, "key": "ghost", "version": 4}))
        assert await the_hub.reconcile() == 1
        assert await subscriber.next_update() == delete_event("ghost", 5)
        assert await subscriber.next_is_the_end()
        assert process_flag_store().get("ghost") is None

    run(scenario)


def test_catching_up_from_behind_keeps_the_streams_open():
    flag = create("behind")

    async def scenario(the_hub: hub.UpdateHub, subscriber: Subscriber) -> None:
        def missed_update() -> None:  # a change whose event never arrived
            in_default_environment(Flag).filter(key="behind").update(version=2, is_enabled=True)
            connection.close()  # this worker thread's: the test database is dropped after

        await sync_to_async(missed_update, thread_sensitive=False)()
        assert await the_hub.reconcile() == 1
        repaired = await subscriber.next_update()
        assert repaired["flag"]["version"] == 2 and repaired["flag"]["is_enabled"] is True
        assert the_hub.streams.subscribers  # still subscribed: the stream goes on

        def write_after() -> None:
            create("after", is_enabled=True)
            connection.close()

        await sync_to_async(write_after, thread_sensitive=False)()
        assert (await subscriber.next_update())["flag"]["key"] == "after"
        assert flag["version"] == 1

    run(scenario)
