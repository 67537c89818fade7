"""Relay: changes and key revocations between server processes, through the channel layer.

Each process holds one channel in the `sidekick_updates` group (not one per stream), so a change
costs one Redis message per process. A process sends what it published (`send_threadsafe`, or
`send_and_wait` where no hub runs, as in a management command) and receives the others' in
`Relay.run_receive`, handing each to the hub. The layer is watched: a probe sent to its own
channel every PROBE_SECONDS must come back; when probes fail (Redis down or restarted) and later
succeed again, the relay rejoins the group and asks the hub to reconcile at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from flags.events import ChangeEvent
from flags.wire import encode_json
from sidekick import readiness

logger = logging.getLogger(__name__)

UPDATES_GROUP = "sidekick_updates"
# Channels dispatches `type` to a method name; the relay reads it directly.
CHANGE_MESSAGE_TYPE = "flag.change"
PROBE_MESSAGE_TYPE = "sidekick.probe"
# A revoked API key: every process ends the streams it opened and stops trusting it.
REVOKED_MESSAGE_TYPE = "sidekick.key_revoked"
PROBE_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 2.0


def change_message(event: ChangeEvent, environment_id: int, revision: int = 0) -> dict[str, Any]:
    """The group message for a change in one environment; `data` is the SSE payload, encoded
    once for all readers."""
    return {
        "type": CHANGE_MESSAGE_TYPE,
        "event": event,
        "environment_id": environment_id,
        "revision": revision,
        "data": encode_json(event),
    }


def revoked_message(key_id: int) -> dict[str, Any]:
    return {"type": REVOKED_MESSAGE_TYPE, "key_id": key_id}


class Relay:
    """This process's membership of the updates group."""

    def __init__(
        self,
        *,
        on_change: Callable[[ChangeEvent, int, int], None],
        on_revoked: Callable[[int], Awaitable[None]],
        on_back: Callable[[], Awaitable[Any]],
    ) -> None:
        self.layer: Any = get_channel_layer()
        self.channel_name: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._on_change = on_change
        self._on_revoked = on_revoked
        self._on_back = on_back
        self._joined = False
        self._healthy = True
        self._probe_seq = 0
        self._probe_seen = 0
        self._probe_arrived: asyncio.Event | None = None

    @property
    def enabled(self) -> bool:
        return self.layer is not None

    async def join(self) -> bool:
        """Joins the group (on the hub's loop); False while the layer is unreachable."""
        self.loop = asyncio.get_running_loop()
        if self._probe_arrived is None:
            self._probe_arrived = asyncio.Event()
        try:
            if self.channel_name is None:
                self.channel_name = await self.layer.new_channel()
            await self.layer.group_add(UPDATES_GROUP, self.channel_name)
        except Exception:
            logger.warning("cannot join %s yet; will retry", UPDATES_GROUP, exc_info=True)
            self._joined = False
            self._healthy = False
            return False
        self._joined = True
        readiness.mark_ready(readiness.CHANNEL_LAYER)
        return True

    @property
    def joined(self) -> bool:
        return self._joined

    async def leave(self) -> None:
        if self.channel_name is not None and self._joined:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(UPDATES_GROUP, self.channel_name)

    # Sending --------------------------------------------------------------------------------

    def send_threadsafe(self, message: dict[str, Any]) -> bool:
        """Schedules a group_send on the hub's loop without waiting; False if no loop runs here.

        A request thread must not wait for the loop (busy fanning out to thousands of streams)
        just to hand a message to Redis; a send that fails is logged, and other processes
        repair themselves from the database.
        """
        loop = self.loop
        if loop is None or self.layer is None:
            return False

        def start() -> None:
            task = asyncio.ensure_future(self.layer.group_send(UPDATES_GROUP, message))
            task.add_done_callback(_log_send_failure)

        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop closed: the process is exiting
            return False
        return True

    def send_and_wait(self, message: dict[str, Any]) -> None:
        """Sends from a process without a running hub (a management command, a script)."""
        if self.layer is None:
            return
        try:
            async_to_sync(self.layer.group_send)(UPDATES_GROUP, message)
        except Exception:
            logger.exception("relay of %s failed; other processes catch up from the DB", message)

    # Receiving ------------------------------------------------------------------------------

    async def run_receive(self) -> None:
        while True:
            if self.channel_name is None:  # not created yet: Redis was down at start
                await asyncio.sleep(PROBE_SECONDS)
                continue
            try:
                message = await self.layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("channel layer receive failed; retrying", exc_info=True)
                self._healthy = False
                await asyncio.sleep(PROBE_SECONDS)
                continue
            kind = message.get("type")
            if kind == CHANGE_MESSAGE_TYPE:
                event = message.get("event")
                try:
                    self._on_change(
                        event, int(message["environment_id"]), int(message.get("revision") or 0)
                    )
                except (KeyError, ValueError, TypeError):
                    logger.exception("ignoring a malformed change event %r", event)
            elif kind == REVOKED_MESSAGE_TYPE:
                await self._on_revoked(int(message["key_id"]))
            elif kind == PROBE_MESSAGE_TYPE:
                self._probe_seen = max(self._probe_seen, int(message["seq"]))
                assert self._probe_arrived is not None
                self._probe_arrived.set()

    # Watching the layer ---------------------------------------------------------------------

    async def _probe_round_trip(self) -> bool:
        assert self._probe_arrived is not None
        if self.channel_name is None:
            return False
        self._probe_seq += 1
        seq = self._probe_seq
        try:
            await asyncio.wait_for(
                self.layer.send(self.channel_name, {"type": PROBE_MESSAGE_TYPE, "seq": seq}),
                PROBE_TIMEOUT_SECONDS,
            )
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                while self._probe_seen < seq:
                    self._probe_arrived.clear()
                    await self._probe_arrived.wait()
        except asyncio.CancelledError:
            raise
        except Exception:
            return False
        return True

    async def run_probes(self) -> None:
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            if not self._joined and not await self.join():
                continue  # still unreachable (Redis down since start, or lost)
            healthy = await self._probe_round_trip()
            if not healthy:
                if self._healthy:
                    logger.warning("channel layer unreachable; serving the last known flags")
                self._healthy = False
                continue
            if self._healthy:
                continue
            # Back after an outage: messages sent meanwhile are gone, so rejoin (the group
            # may have been lost with Redis) and repair from the database.
            if await self.join():
                logger.info("channel layer is back; reconciling from the database")
                self._healthy = True
                await self._on_back()


def _log_send_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error(
            "relay failed; other processes will catch up from the database",
            exc_info=task.exception(),
        )
