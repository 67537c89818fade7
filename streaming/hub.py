"""The process's one subscription to the updates group, fanned out to every local SSE connection.

Redis (or the in-memory layer) carries each change once per server process, not once per
connected client: the hub owns a single channel in the `sidekick_updates` group, applies every
event it receives to the process's flag store, and writes the encoded event to each local stream.
Every change that takes effect in the store is fanned out exactly once, whatever brought it in —
this process's own write (`publish_flag_change`), another instance's event from the group, or a
reconciliation from the database after events may have been missed. So a missed event repairs
the SDKs, not only the store.

It also watches the channel layer: a probe sent to its own channel every PROBE_SECONDS must come
back; when probes fail (Redis down or restarted) and later succeed again, it rejoins the group and
reconciles at once. A periodic reconciliation (SIDEKICK_RECONCILE_SECONDS) backs that up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections

from sidekick import readiness
from streaming import direct_write
from streaming.collector import CollectorSchedule
from streaming.flag_store import (
    ChangeEvent,
    FlagDict,
    delete_event,
    encode_json,
    process_flag_store,
    sse_event,
    upsert_event,
)

logger = logging.getLogger(__name__)

UPDATES_GROUP = "sidekick_updates"
# Channels dispatches `type` to a method name; the hub reads it directly.
CHANGE_MESSAGE_TYPE = "flag.change"
PROBE_MESSAGE_TYPE = "sidekick.probe"
# A revoked API key: every instance ends the streams it opened and stops trusting it.
REVOKED_MESSAGE_TYPE = "sidekick.key_revoked"
PROBE_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 2.0
KEEPALIVE_CHUNK = b": keep-alive\n\n"
# Streams written per slice of the fan-out; the event loop runs between slices.
FAN_OUT_BATCH = 256

# The ASGI `send` of an open response.
AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]


def body_message(chunk: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


def change_message(event: ChangeEvent) -> dict[str, Any]:
    """The group message for an event; `data` is the SSE payload, encoded once for all readers."""
    return {"type": CHANGE_MESSAGE_TYPE, "event": event, "data": encode_json(event)}


def update_chunk(event: ChangeEvent) -> bytes:
    return sse_event("update", encode_json(event)).encode()


class Delivery:
    """One chunk for every stream: its ASGI message and its direct-path bytes, built once."""

    __slots__ = ("chunked", "message", "raw")

    def __init__(self, chunk: bytes) -> None:
        # One message dict shared by every stream: the server only reads it.
        self.message = body_message(chunk)
        self.raw = chunk
        self.chunked = direct_write.chunk(chunk)

    def direct_batch(self) -> direct_write.DirectBatch:
        return direct_write.DirectBatch(self.raw, self.chunked)


class StreamSubscriber:
    """One open SSE response. Messages that arrive before its snapshot is out wait in `pending`.

    `send` is the connection's raw ASGI send: the fan-out is the hot loop (one call per stream
    per change), so it skips the consumer's wrappers. Once the snapshot is out, `writer` is the
    direct socket path when the server allows it (see `streaming.direct_write`).
    """

    __slots__ = ("key_id", "pending", "send", "writer")

    def __init__(self, send: AsgiSend, key_id: int | None = None) -> None:
        self.send = send
        self.key_id = key_id  # the database API key that opened it (None: SDK_KEY, auth off)
        self.pending: list[dict[str, Any]] | None = []
        self.writer: direct_write.DirectWriter | None = None

    async def deliver(self, message: dict[str, Any]) -> None:
        if self.pending is not None:
            self.pending.append(message)
            return
        try:
            await self.send(message)
        except Exception:
            # A connection that broke mid-write is unsubscribed by its disconnect message.
            logger.debug("write to a closing stream failed", exc_info=True)

    def deliver_now(self, delivery: Delivery, batch: direct_write.DirectBatch) -> bool:
        """Queues it, or joins the batch of direct writes; False: `deliver` must be awaited."""
        if self.pending is not None:
            self.pending.append(delivery.message)
            return True
        writer = self.writer
        return writer is not None and batch.add(writer)

    async def end(self) -> None:
        """Ends the response (its key was revoked): the SDK sees the stream close."""
        try:
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:
            logger.debug("ending a closing stream failed", exc_info=True)

    async def open(self, snapshot: bytes) -> None:
        """Writes the snapshot, then whatever arrived meanwhile, then delivers live."""
        await self.send(body_message(snapshot))
        assert self.pending is not None
        while self.pending:
            await self.send(self.pending.pop(0))
        self.pending = None
        self.writer = direct_write.DirectWriter.for_send(self.send)


class UpdateHub:
    """Per process: the group subscription, the fan-out, keep-alives and reconciliation."""

    def __init__(self) -> None:
        self.subscribers: set[StreamSubscriber] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.channel_name: str | None = None
        self.layer: Any = None
        self.reconciliations = 0
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._outbox: asyncio.Queue[bytes] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._joined = False
        self._probe_seq = 0
        self._probe_seen = 0
        self._probe_arrived: asyncio.Event | None = None
        self._layer_healthy = True
        # Keys revoked while this process runs: a key verified before is not trusted again.
        self.revoked_key_ids: set[int] = set()
        # Loop time of the last change fanned out: the collector waits for a quiet moment.
        self.last_change_at = 0.0
        self.collector: CollectorSchedule | None = None

    # Starting -------------------------------------------------------------------------------

    async def ensure_started(self) -> None:
        """Joins the group, then loads the store, then starts the loops (once per process).

        Joining first means no event published after the load can be missed.
        """
        if self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            if self.loop is None:
                self.loop = asyncio.get_running_loop()
                self._outbox = asyncio.Queue()
                self._probe_arrived = asyncio.Event()
                self.layer = get_channel_layer()
            # A retry after a failed load (database down at start) reuses the channel. With
            # Redis down the process still serves (from the database); the probe loop joins later.
            if self.layer is not None and not self._joined:
                await self._join_group()
            await sync_to_async(_load_store)()
            readiness.mark_ready(readiness.STORE)  # ops: /readyz (keep through the refactor)
            self._started = True
            self._tasks = [
                asyncio.ensure_future(self._fan_out_loop()),
                asyncio.ensure_future(self._keepalive_loop()),
                asyncio.ensure_future(self._reconcile_loop()),
            ]
            if self.layer is not None:
                self._tasks.append(asyncio.ensure_future(self._receive_loop()))
                self._tasks.append(asyncio.ensure_future(self._probe_loop()))
            if settings.SIDEKICK_GC_FREEZE:
                self.collector = CollectorSchedule(
                    float(settings.SIDEKICK_GC_THAW_SECONDS), lambda: self.last_change_at
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
        if self.layer is not None and self.channel_name is not None and self._joined:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(UPDATES_GROUP, self.channel_name)
        self._started = False

    async def _join_group(self) -> bool:
        try:
            if self.channel_name is None:
                self.channel_name = await self.layer.new_channel()
            await self.layer.group_add(UPDATES_GROUP, self.channel_name)
        except Exception:
            logger.warning("cannot join %s yet; will retry", UPDATES_GROUP, exc_info=True)
            self._joined = False
            self._layer_healthy = False
            return False
        self._joined = True
        readiness.mark_ready(readiness.CHANNEL_LAYER)  # ops: /readyz (keep through the refactor)
        return True

    # Subscribers ----------------------------------------------------------------------------

    def subscribe(self, send: AsgiSend, key_id: int | None = None) -> StreamSubscriber:
        """Registers a stream before it reads the snapshot; deliveries queue until `open`."""
        subscriber = StreamSubscriber(send, key_id)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: StreamSubscriber) -> None:
        self.subscribers.discard(subscriber)

    def stream_opened(self) -> None:
        """A stream's snapshot is out: what it holds from now on is long-lived (see collector)."""
        if self.collector is not None:
            self.collector.stream_opened()

    def revoke_threadsafe(self, key_id: int) -> None:
        """Ends this process's streams opened with key_id (from any thread)."""
        self.revoked_key_ids.add(key_id)
        loop = self.loop
        if loop is None or not self._started:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the process is exiting
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._end_streams_of(key_id)))

    async def _end_streams_of(self, key_id: int) -> None:
        self.revoked_key_ids.add(key_id)
        # A stream still sending its snapshot is left to its consumer, which checks
        # revoked_key_ids once the snapshot is out (a response cannot end before it starts).
        for subscriber in [s for s in self.subscribers if s.key_id == key_id and s.pending is None]:
            self.unsubscribe(subscriber)
            await subscriber.end()

    # Fan-out --------------------------------------------------------------------------------

    def _emit(self, chunk: bytes) -> None:
        """Queues encoded bytes for every local stream (on the hub's loop)."""
        assert self._outbox is not None
        self._outbox.put_nowait(chunk)

    def emit_threadsafe(self, event: ChangeEvent) -> None:
        """Queues a change that already took effect in the store for every local stream."""
        loop = self.loop
        if loop is None or not self._started:
            return
        chunk = update_chunk(event)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._emit(chunk)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed: the process is exiting
                loop.call_soon_threadsafe(self._emit, chunk)

    def broadcast_threadsafe(self, message: dict[str, Any]) -> bool:
        """Schedules a group_send on the hub's loop without waiting; False if no hub runs here.

        A request thread must not wait for the loop (busy fanning out to thousands of streams)
        just to hand a message to Redis; a broadcast that fails is logged, and other instances
        repair themselves by reconciliation.
        """
        loop = self.loop
        if loop is None or not self._started or self.layer is None:
            return False

        def start() -> None:
            task = asyncio.ensure_future(self.layer.group_send(UPDATES_GROUP, message))
            task.add_done_callback(_log_broadcast_failure)

        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop closed: the process is exiting
            return False
        return True

    async def _fan_out_loop(self) -> None:
        assert self._outbox is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._deliver_to_all(Delivery(await self._outbox.get()))
            self.last_change_at = loop.time()

    async def _deliver_to_all(self, delivery: Delivery) -> None:
        # A copy: streams that open or close during the awaits do not disturb the walk.
        subscribers = list(self.subscribers)
        batch = delivery.direct_batch()
        for start in range(0, len(subscribers), FAN_OUT_BATCH):
            by_asgi = [
                subscriber
                for subscriber in subscribers[start : start + FAN_OUT_BATCH]
                if not subscriber.deliver_now(delivery, batch)
            ]
            batch.send()  # before any await: see DirectBatch
            for subscriber in by_asgi:
                await subscriber.deliver(delivery.message)
            # Let requests (the write that caused this change, among others) and queued
            # socket writes run between slices instead of after the last stream.
            await asyncio.sleep(0)

    async def _keepalive_loop(self) -> None:
        period = float(settings.SIDEKICK_KEEPALIVE_SECONDS)
        keepalive = Delivery(KEEPALIVE_CHUNK)
        while True:
            await asyncio.sleep(period)
            await self._deliver_to_all(keepalive)

    # The channel layer ----------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        store = process_flag_store()
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
                self._layer_healthy = False
                await asyncio.sleep(PROBE_SECONDS)
                continue
            kind = message.get("type")
            if kind == CHANGE_MESSAGE_TYPE:
                event = message["event"]
                try:
                    changed = store.apply(event)
                except (KeyError, ValueError):
                    logger.exception("ignoring a malformed change event %r", event)
                    continue
                if changed:
                    self._emit(update_chunk(event))
            elif kind == REVOKED_MESSAGE_TYPE:
                await self._end_streams_of(int(message["key_id"]))
            elif kind == PROBE_MESSAGE_TYPE:
                self._probe_seen = max(self._probe_seen, int(message["seq"]))
                assert self._probe_arrived is not None
                self._probe_arrived.set()

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

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            if not self._joined and not await self._join_group():
                continue  # still unreachable (Redis down since start, or lost)
            healthy = await self._probe_round_trip()
            if not healthy:
                if self._layer_healthy:
                    logger.warning("channel layer unreachable; serving the last known flags")
                self._layer_healthy = False
                continue
            if self._layer_healthy:
                continue
            # Back after an outage: events published meanwhile are gone, so rejoin (the group
            # may have been lost with Redis) and repair from the database.
            if await self._join_group():
                logger.info("channel layer is back; reconciling from the database")
                self._layer_healthy = True
                await self.reconcile()

    # Reconciliation -------------------------------------------------------------------------

    async def _reconcile_loop(self) -> None:
        period = float(settings.SIDEKICK_RECONCILE_SECONDS)
        while True:
            await asyncio.sleep(period)
            await self.reconcile()

    async def reconcile(self) -> int:
        """Brings the store (and every local stream) up to the database; returns changes made."""
        try:
            events = await sync_to_async(reconcile_store, thread_sensitive=False)()
        except Exception:
            logger.warning("reconciliation failed; keeping the current flags", exc_info=True)
            return 0
        self.reconciliations += 1
        for event in events:
            self._emit(update_chunk(event))
        if events:
            logger.info("reconciliation repaired %d flag(s)", len(events))
        return len(events)


def _log_broadcast_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error(
            "broadcast failed; other instances will reconcile from the database",
            exc_info=task.exception(),
        )


def _load_store() -> int:
    close_old_connections()
    try:
        return len(process_flag_store())
    finally:
        close_old_connections()


def reconcile_store() -> list[ChangeEvent]:
    """Applies to the process store whatever the database has that it lacks; returns the events.

    Store versions are read BEFORE the database: a flag absent from the database was deleted
    only if the store had it before the read; a flag that arrived since is left alone (its
    delete tombstone, at the version read + 1, is then not newer and changes nothing).
    """
    from flags.selectors import deleted_versions, flag_list_wire, flag_versions

    store = process_flag_store()
    before = store.versions()
    # This runs on a worker thread outside any request: open a fresh connection, never keep one.
    close_old_connections()
    try:
        database_versions = _as_version_map(flag_versions())
        stale = {
            key
            for key, version in database_versions.items()
            if version > before.get(key, -1) and version > _current_version(store.get(key))
        }
        fresh = [flag for flag in flag_list_wire() if flag["key"] in stale] if stale else []
        gone = [key for key in before if key not in database_versions]
        tombstones = deleted_versions() if gone else {}
    finally:
        close_old_connections()
    events: list[ChangeEvent] = []
    for flag in fresh:
        event = upsert_event(flag)
        if store.apply(event):
            events.append(event)
    for key in gone:
        # The tombstone's version when the database has one; at least one past what we held.
        version = max(int(tombstones.get(key, 0)), before[key] + 1)
        event = delete_event(key, version)
        if store.apply(event):
            events.append(event)
    return events


def _current_version(flag: FlagDict | None) -> int:
    return int(flag.get("version") or 0) if flag is not None else -1


def _as_version_map(versions: Any) -> dict[str, int]:
    if isinstance(versions, dict):
        return {str(key): int(value) for key, value in versions.items()}
    return {str(key): int(value) for key, value in versions}


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


def reset_update_hub() -> None:
    """Forgets the hub (tests that run several event loops in one process)."""
    global _hub
    with _hub_lock:
        _hub = None


class HubStartMiddleware:
    """ASGI middleware: the first request of the process starts the hub before it is served.

    So `GET /api/flags` on an instance that never had a stream still follows other instances.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await update_hub().ensure_started()
        await self.app(scope, receive, send)
