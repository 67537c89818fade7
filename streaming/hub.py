"""The hub: how one committed change travels from its commit to every socket, per process.

1. publish: `flags.services` commits and calls `flags.events.publish_flag_change`, which applies
   the change to this process's store (`flags.store`) and calls `on_flag_change_published`
   (subscribed by `streaming.apps.StreamingConfig.ready`).
2. fan out, here: if the change took effect, `LocalStreams.fan_out_threadsafe` queues its
   `update` bytes, once per audience (`LocalStreams.audience_chunks`: every flag, and the
   client view of `streaming.protocol.ClientView`); `LocalStreams.run_outbox` takes them in
   order and `LocalStreams.write_by_audience` writes them to every local stream.
3. send: per stream, `StreamSubscriber.deliver_now` joins the direct-socket batch
   (`direct_write.DirectBatch.send`, one `send_to_all` call) or `StreamSubscriber.deliver`
   awaits the ASGI send.
4. relay, to the other processes of this deployment: `Relay.send_threadsafe` seals
   `relay.change_message` (`streaming.envelope`) and puts it on the deployment's group; each
   other process's `Relay.run_receive` opens it and hands it to `UpdateHub.apply_change`,
   which applies it to that process's store and fans it out there (steps 2-3).
5. catch up, for changes no relay brought (a management command, no Redis):
   `WatermarkPoll.poll_once` reads the database watermark about once a second and applies the
   newer change records through `UpdateHub.fan_out_all`, like step 4.
6. reconcile, the slow safety net: `UpdateHub.reconcile` every SIDEKICK_RECONCILE_SECONDS and
   when the channel layer comes back (`Relay.run_probes`) makes the store equal to the database
   in both directions; where it overruled a store ahead of the database, it ends every stream
   (`LocalStreams.end_every_stream`) so that SDKs start a fresh set.

Key revocations follow steps 1, 4 and 5 (`on_key_revoked_published`, `relay.revoked_message`)
and end the key's streams with `goodbye` `revoked` (`LocalStreams.end_streams_of`). Graceful
shutdown calls `LocalStreams.say_goodbye_to_all`; `streaming.limits` bounds how many streams a
process and a key hold, and `StreamSubscriber.too_slow` how much a stream holds unsent.
Whatever brings a change in, it is fanned out exactly once: only when it takes effect in the
store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from flags import events
from flags.catch_up import EnvironmentEvent, load_store, reconcile_store
from flags.store import environment_stores
from sidekick import metrics, readiness
from streaming.collector import CollectorSchedule
from streaming.fanout import LocalStreams
from streaming.relay import Relay, change_message, revoked_message
from streaming.watermark_poll import WatermarkPoll

logger = logging.getLogger(__name__)


class UpdateHub:
    """Per process: the local streams, the relay, the database poll and reconciliation."""

    def __init__(self) -> None:
        self.streams = LocalStreams()
        self.relay = Relay(
            on_change=self.apply_change,
            on_revoked=self.streams.end_streams_of,
            on_back=self.reconcile,
        )
        self.watermark_poll = WatermarkPoll(
            fan_out=self.fan_out_all, end_streams_of=self.streams.end_streams_of
        )
        self.reconciliations = 0
        self.collector: CollectorSchedule | None = None
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def started(self) -> bool:
        return self._started

    async def ensure_started(self) -> None:
        """Joins the group, reads the watermark, loads the store, starts the loops (once).

        In this order, no change published after the load can be missed.
        """
        if self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            if self.streams.loop is None:
                self.streams.bind(asyncio.get_running_loop())
            # A retry after a failed load (database down at start) reuses the channel. With
            # Redis down the process still serves (from the database); the probes join later.
            if self.relay.enabled and not self.relay.joined:
                await self.relay.join()
            await self.watermark_poll.start()
            await sync_to_async(load_store)()
            readiness.mark_ready(readiness.STORE)
            self._started = True
            self._tasks = [
                asyncio.ensure_future(self.streams.run_outbox()),
                asyncio.ensure_future(self.streams.run_keepalives()),
                asyncio.ensure_future(self.streams.run_max_age()),
                asyncio.ensure_future(self.watermark_poll.run()),
                asyncio.ensure_future(self._run_reconciliation()),
            ]
            if self.relay.enabled:
                self._tasks.append(asyncio.ensure_future(self.relay.run_receive()))
                self._tasks.append(asyncio.ensure_future(self.relay.run_probes()))
            if settings.SIDEKICK_GC_FREEZE:
                self.collector = CollectorSchedule(
                    float(settings.SIDEKICK_GC_THAW_SECONDS), lambda: self.streams.last_change_at
                )
                self._tasks.append(asyncio.ensure_future(self.collector.run()))

    async def stop(self) -> None:
        """Cancels the loops and leaves the group (tests; daphne simply exits)."""
        if self.collector is not None:
            self.collector.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self.relay.leave()
        self._started = False

    def stream_opened(self) -> None:
        """A stream's snapshot is out: what it holds from now on is long-lived (see collector)."""
        if self.collector is not None:
            self.collector.stream_opened()

    def apply_change(
        self,
        event: events.ChangeEvent,
        environment_id: int,
        revision: int,
        committed_at: float | None = None,
    ) -> None:
        """A relayed change: into its environment's store, and out to that environment's local
        streams if it took effect."""
        store = environment_stores().existing(environment_id)
        if store is not None and store.apply(event, revision):
            self.streams.fan_out(event, environment_id, committed_at)

    def fan_out_all(self, applied: list[EnvironmentEvent]) -> None:
        """Changes that already took effect in their stores (caught up or reconciled)."""
        for environment_id, event in applied:
            self.streams.fan_out(event, environment_id)

    async def _run_reconciliation(self) -> None:
        period = float(settings.SIDEKICK_RECONCILE_SECONDS)
        while True:
            await asyncio.sleep(period)
            await self.reconcile()

    async def reconcile(self) -> int:
        """Makes the store (and every local stream) equal to the database; returns changes made.

        Where the store held something the database does not (ahead of it, or different), the
        SDKs hold it too and would ignore the repair's older version: once the repairs are
        written, every stream is ended, and each SDK reconnects and starts a fresh set.
        """
        try:
            repaired = await sync_to_async(reconcile_store, thread_sensitive=False)()
        except Exception:
            logger.warning("reconciliation failed; keeping the current flags", exc_info=True)
            return 0
        self.reconciliations += 1
        metrics.RECONCILE_REPAIRS.inc(len(repaired.events))
        self.fan_out_all(repaired.events)
        if repaired.events:
            logger.info("reconciliation repaired %d flag(s)", len(repaired.events))
        if repaired.overruled:
            logger.warning(
                "the flag store held flags the database does not; ending every stream so that "
                "SDKs start again from the database"
            )
            await self.streams.flushed()
            await self.streams.end_every_stream()
        return len(repaired.events)


def on_flag_change_published(published: events.FlagChangePublished) -> None:
    """Step 1 -> 2 and 4: this process's commit goes to its streams, then to the others."""
    hub = update_hub()
    if published.took_effect and hub.started:
        hub.streams.fan_out_threadsafe(
            published.event, published.environment_id, published.committed_at
        )
    _relay(
        hub,
        change_message(
            published.event, published.environment_id, published.revision, published.committed_at
        ),
    )


def on_key_revoked_published(key_id: int) -> None:
    """Ends the key's streams here and, through the relay, in every other process.

    Revocation is immediate for new requests (each checks the database); this also closes the
    streams the key already holds open.
    """
    hub = update_hub()
    hub.streams.end_streams_of_threadsafe(key_id)
    _relay(hub, revoked_message(key_id))


def _relay(hub: UpdateHub, message: dict[str, Any]) -> None:
    # A send that fails is logged, not raised: the write is already committed, and every other
    # process catches up from the database.
    if not (hub.started and hub.relay.send_threadsafe(message)):
        hub.relay.send_and_wait(message)  # no hub runs here (a management command, a script)


_subscribed = False


def subscribe_to_flag_events() -> None:
    """Subscribes the hub to what `flags` publishes (once per process, from the app's ready)."""
    global _subscribed
    if not _subscribed:
        events.on_flag_change(on_flag_change_published)
        events.on_key_revoked(on_key_revoked_published)
        _subscribed = True


_hub: UpdateHub | None = None
_hub_lock = threading.Lock()


def update_hub() -> UpdateHub:
    """This process's hub (created on first use; started by the first request)."""
    global _hub
    if _hub is None:
        with _hub_lock:
            if _hub is None:
                _hub = UpdateHub()
    return _hub


def existing_update_hub() -> UpdateHub | None:
    """This process's hub if one was created (graceful shutdown: nothing to say otherwise)."""
    return _hub


def reset_update_hub() -> None:
    """Forgets the hub (tests that run several event loops in one process)."""
    global _hub
    with _hub_lock:
        _hub = None


class HubStartMiddleware:
    """ASGI middleware: the first request of the process starts the hub before it is served.

    So `GET /api/flags` on a process that never had a stream still follows the others.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await update_hub().ensure_started()
        await self.app(scope, receive, send)
