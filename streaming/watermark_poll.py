"""The database watermark poll: each process notices changes it was never told about.

A management command, or another process when no Redis joins them, writes to the database and
its relay reaches nobody here. So every SIDEKICK_WATERMARK_POLL_SECONDS this process reads two
cheap numbers (`flags.catch_up.read_watermarks`: the newest change record id, how many keys are
revoked). When the first moved, it applies the change records written since the last one it saw
to the stores of their environments and fans out what took effect to those environments'
streams, the same path as a relayed change; when the second moved, it ends the streams of the
newly revoked keys. (The poll still follows change-record ids across environments; each record
names its environment.) The periodic reconciliation stays as the
slow safety net (a record that commits after a newer one was read is repaired there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings

from flags.catch_up import (
    EnvironmentEvent,
    Watermarks,
    catch_up_store,
    read_revoked_key_ids,
    read_watermarks,
)

logger = logging.getLogger(__name__)


class WatermarkPoll:
    def __init__(
        self,
        *,
        fan_out: Callable[[list[EnvironmentEvent]], None],
        end_streams_of: Callable[[int], Awaitable[None]],
    ) -> None:
        self._fan_out = fan_out
        self._end_streams_of = end_streams_of
        self._seen = Watermarks(change_id=0, revoked_keys=0)
        self._revoked: set[int] = set()
        self._failing = False

    async def start(self) -> None:
        """Reads where the database stands; call it BEFORE the store loads, so no change is lost."""
        self._seen = await sync_to_async(read_watermarks, thread_sensitive=False)()
        self._revoked = await sync_to_async(read_revoked_key_ids, thread_sensitive=False)()

    async def run(self) -> None:
        period = float(settings.SIDEKICK_WATERMARK_POLL_SECONDS)
        while True:
            await asyncio.sleep(period)
            try:
                await self.poll_once()
            except Exception:
                # Once per outage, not once a second: the database may be down for a while.
                if not self._failing:
                    logger.warning("database poll failed; retrying", exc_info=True)
                self._failing = True
            else:
                if self._failing:
                    logger.info("database poll works again")
                self._failing = False

    async def poll_once(self) -> None:
        now = await sync_to_async(read_watermarks, thread_sensitive=False)()
        if now.change_id > self._seen.change_id:
            events, newest = await sync_to_async(catch_up_store, thread_sensitive=False)(
                self._seen.change_id
            )
            self._seen = self._seen._replace(change_id=newest)
            self._fan_out(events)
        elif now.change_id < self._seen.change_id:  # records removed (a restored backup)
            self._seen = self._seen._replace(change_id=now.change_id)
        if now.revoked_keys != self._seen.revoked_keys:
            revoked = await sync_to_async(read_revoked_key_ids, thread_sensitive=False)()
            for key_id in revoked - self._revoked:
                await self._end_streams_of(key_id)
            self._revoked = revoked
            self._seen = self._seen._replace(revoked_keys=len(revoked))
