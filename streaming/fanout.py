"""Fan out: one change, already in this process's store, to every local stream.

Changes are queued in the outbox (from any thread), and one task takes them in order and writes
each to all streams (`LocalStreams.write_to_all`): straight onto the sockets through
`streaming.direct_write` where daphne allows it (one `send_to_all` call for the whole slice),
through each stream's ASGI send otherwise. Keep-alives take the same path.

Streams opened with a client key read the client view (`streaming.protocol.ClientView`): each
change is encoded once for them and once for every other stream, and the streams are kept by
audience (`LocalStreams.audiences`), so each audience is walked with its own bytes exactly as
one set of streams is (a change invisible to client keys skips their walk).

Each stream carries one environment: streams are kept per environment (`EnvironmentStreams`,
with its audiences and its client view), and a change is written only to the streams of the
environment it happened in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from flags.events import ChangeEvent
from flags.store import ProcessFlagStore
from sidekick import metrics
from streaming import direct_write
from streaming.limits import Refusal, StreamSlots
from streaming.protocol import (
    KEEPALIVE_CHUNK,
    ClientView,
    goodbye_chunk,
    snapshot_bytes,
    update_chunk,
)

logger = logging.getLogger(__name__)

# Streams written per slice of the fan-out; the event loop runs between slices.
FAN_OUT_BATCH = 256
# A snapshot larger than the unsent-bytes bound goes out in slices of this size, each once the
# connection holds less than the bound less one slice: see `StreamSubscriber._send_paced`.
SNAPSHOT_SLICE = 64 * 1024
# A stream whose snapshot is not read at all for this long is closed as a slow reader.
SNAPSHOT_STALL_SECONDS = 60.0
# A slow reader's client is asked to come back after 2.5 to 5 s; a max-age one within a second.
SLOW_READER_RECONNECT_MS = 5000
MAX_AGE_RECONNECT_MS = 1000
# A closing stream's socket has this long to take its last bytes before the connection is reset.
CLOSE_GRACE_SECONDS = 15.0

# The ASGI `send` of an open response.
AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]

# One change's bytes for every stream, and for client streams (None: nothing for them).
AudienceChunks = tuple[bytes, bytes | None]
# A queued change: its bytes, and the wall-clock time of its commit (None: unknown, e.g. a
# repair by reconciliation), for the commit-to-first-send metric.
QueuedChange = tuple[int, AudienceChunks, float | None]


def body_message(chunk: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


# The ASGI message that ends a response.
END_MESSAGE: dict[str, Any] = {"type": "http.response.body", "body": b"", "more_body": False}


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
    direct socket path when the server allows it (see `streaming.direct_write`). `buffer`
    measures what the connection holds unsent (daphne only), for the slow-reader bound.
    """

    __slots__ = (
        "buffer",
        "client",
        "environment_id",
        "expires_at",
        "farewell",
        "key_id",
        "pending",
        "pending_bytes",
        "send",
        "writer",
    )

    # What a stream may hold unsent (set from settings by LocalStreams); beyond it the stream is
    # a slow reader and is closed. See docs/stream.md, "Limits".
    max_unsent = 1 << 20

    def __init__(
        self,
        send: AsgiSend,
        key_id: int | None = None,
        client: bool = False,
        environment_id: int | None = None,
    ) -> None:
        self.send = send
        self.key_id = key_id  # the database API key that opened it (None: SDK_KEY, auth off)
        self.client = client  # opened with a client key: reads the client view
        self.environment_id = environment_id  # the one environment whose changes it carries
        self.pending: list[dict[str, Any]] | None = []
        self.pending_bytes = 0
        self.writer: direct_write.DirectWriter | None = None
        self.buffer: direct_write.SendBuffer | None = None
        # Loop time at which the stream reaches its maximum age (inf: never).
        self.expires_at = math.inf
        # The goodbye it is closed with; set once, when the server decides to close it.
        self.farewell: bytes | None = None

    async def deliver(self, message: dict[str, Any]) -> None:
        """Sends one message through the ASGI send (or queues it before the snapshot)."""
        if self.pending is not None:
            self.pending.append(message)
            self.pending_bytes += len(message["body"])
            return
        try:
            await self.send(message)
        except Exception:
            # A connection that broke mid-write is unsubscribed by its disconnect message.
            logger.debug("write to a closing stream failed", exc_info=True)

    def deliver_now(self, delivery: Delivery, batch: direct_write.DirectBatch) -> bool:
        """Queues it, or joins the batch of direct writes; False: `deliver` must be awaited."""
        if self.pending is not None:
            if self.pending_bytes > self.max_unsent:
                return False  # the fan-out finds it a slow reader
            self.pending.append(delivery.message)
            self.pending_bytes += len(delivery.raw)
            return True
        writer = self.writer
        return writer is not None and batch.add(writer)

    def unsent(self) -> int:
        """Bytes this stream holds that its socket has not taken (queued ones included)."""
        buffer = self.buffer
        held = buffer.unsent() if buffer is not None else 0
        return held + self.pending_bytes if self.pending is not None else held

    def too_slow(self) -> bool:
        """Whether the stream holds more than its bound unsent (asked on the slow path only).

        Asked before each write, so one event larger than the bound still reaches a reader that
        keeps up: a stream holds at most the bound plus one event.
        """
        return self.unsent() > self.max_unsent

    async def close_with(self, farewell: bytes) -> None:
        """Sends `farewell` (a `goodbye`) as the response's last bytes and closes the connection.

        A stream still sending its snapshot is closed by `open` once the snapshot is out (a
        goodbye cannot follow half an event). A connection that does not take the goodbye within
        CLOSE_GRACE_SECONDS is reset, so what it holds is freed in any case.
        """
        if self.farewell is not None:
            return
        self.farewell = farewell
        if self.pending is None:
            await self._say_farewell()

    async def _say_farewell(self) -> None:
        assert self.farewell is not None
        try:
            await self.send(
                {"type": "http.response.body", "body": self.farewell, "more_body": False}
            )
        except Exception:
            logger.debug("ending a closing stream failed", exc_info=True)
        if self.buffer is not None:
            self.buffer.close(CLOSE_GRACE_SECONDS)

    async def open(self, snapshot: bytes) -> None:
        """Sends the snapshot, then whatever arrived meanwhile, then delivers live."""
        self.buffer = direct_write.SendBuffer.for_send(self.send)
        if self.buffer is None or len(snapshot) <= self.max_unsent:
            # Within the bound, a private copy costs no more than the bound allows.
            await self.send(body_message(snapshot))
        elif not await self._send_paced(snapshot):
            return
        assert self.pending is not None
        while self.pending and self.farewell is None:
            message = self.pending.pop(0)
            self.pending_bytes -= len(message["body"])
            await self.send(message)
        self.pending = None
        self.pending_bytes = 0
        if self.farewell is not None:
            await self._say_farewell()
            return
        self.writer = direct_write.DirectWriter.for_send(self.send)

    async def _send_paced(self, snapshot: bytes) -> bool:
        """The snapshot a slice at a time, never holding more than `max_unsent` of it unsent.

        Handed over whole, Twisted would join it into one buffer of the stream's own: a copy of
        the shared snapshot per stream, for as long as the client does not read it. False: the
        stream was closed on the way (disconnected, closed by the server, or stalled).
        """
        buffer = self.buffer
        assert buffer is not None
        view = memoryview(snapshot)
        room = max(self.max_unsent - SNAPSHOT_SLICE, 0)
        for start in range(0, len(snapshot), SNAPSHOT_SLICE):
            if not await self._wait_for_room(buffer, room):
                return False
            await self.send(body_message(bytes(view[start : start + SNAPSHOT_SLICE])))
        return True

    async def _wait_for_room(self, buffer: direct_write.SendBuffer, room: int) -> bool:
        """Waits until the connection holds at most `room` unsent bytes (polled, backing off).

        A stream whose snapshot makes no progress for SNAPSHOT_STALL_SECONDS is a slow reader.
        """
        loop = asyncio.get_running_loop()
        pause = 0.005
        last_unsent = buffer.unsent()
        progress_at = loop.time()
        while last_unsent > room:
            if self.farewell is not None or not buffer.open:
                buffer.close(0.0)
                return False
            await asyncio.sleep(pause)
            unsent = buffer.unsent()
            if unsent < last_unsent:
                progress_at, pause = loop.time(), 0.005
            elif loop.time() - progress_at > SNAPSHOT_STALL_SECONDS:
                logger.info("closing a stream whose snapshot made no progress (slow reader)")
                self.farewell = b""
                buffer.close(0.0)
                return False
            else:
                pause = min(pause * 2, 0.5)
            last_unsent = unsent
        return True


class EnvironmentStreams:
    """The open streams of one environment, by audience, and that environment's client view."""

    __slots__ = ("audiences", "client_view")

    def __init__(self) -> None:
        # Indexed by `StreamSubscriber.client`: each change walks each audience with its own
        # bytes, with no per-stream choice in the loop.
        self.audiences: tuple[set[StreamSubscriber], set[StreamSubscriber]] = (set(), set())
        self.client_view = ClientView()


class LocalStreams:
    """This process's open streams, the outbox of changes for them, and their keep-alives."""

    def __init__(self) -> None:
        self.subscribers: set[StreamSubscriber] = set()
        # The same streams by environment, then by audience.
        self.environments: dict[int | None, EnvironmentStreams] = {}
        # Keys revoked while this process runs: a key verified before is not trusted again.
        self.revoked_key_ids: set[int] = set()
        # Loop time of the last change fanned out: the collector waits for a quiet moment.
        self.last_change_at = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        # Chunks to write with their environment and commit time, and futures set once
        # everything queued before them is written.
        self._outbox: asyncio.Queue[QueuedChange | asyncio.Future[None]] | None = None
        self.slots = StreamSlots()
        StreamSubscriber.max_unsent = int(settings.SIDEKICK_STREAM_MAX_UNSENT_BYTES)
        self.max_age = float(settings.SIDEKICK_STREAM_MAX_AGE_SECONDS)
        # Set by `say_goodbye_to_all`: streams that finish opening afterwards are closed too.
        self.closing: tuple[str, int] | None = None
        self.slow_readers_closed = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Binds to the loop that runs `run_outbox` (the hub's)."""
        self.loop = loop
        self._outbox = asyncio.Queue()

    # Subscribers ----------------------------------------------------------------------------

    @property
    def audiences(self) -> tuple[set[StreamSubscriber], set[StreamSubscriber]]:
        """Every environment's streams by audience (every flag, client view)."""
        full: set[StreamSubscriber] = set()
        client: set[StreamSubscriber] = set()
        for environment in self.environments.values():
            full |= environment.audiences[0]
            client |= environment.audiences[1]
        return full, client

    def _environment(self, environment_id: int | None) -> EnvironmentStreams:
        streams = self.environments.get(environment_id)
        if streams is None:
            streams = self.environments[environment_id] = EnvironmentStreams()
        return streams

    def subscribe(
        self,
        send: AsgiSend,
        key_id: int | None = None,
        client: bool = False,
        environment_id: int | None = None,
    ) -> StreamSubscriber | Refusal:
        """Registers a stream before it reads the snapshot; deliveries queue until `open`.

        A stream over the process's or its key's limit is refused (see `streaming.limits`):
        streams of every environment and audience share the same slots.
        """
        refusal = self.slots.take(key_id)
        if refusal is not None:
            metrics.STREAMS_REFUSED.inc()
            return refusal
        metrics.STREAMS_OPENED.inc()
        metrics.STREAMS_OPEN.inc()
        subscriber = StreamSubscriber(send, key_id, client, environment_id)
        if self.max_age > 0 and self.loop is not None:
            # ±20%: streams opened together (after a deploy) do not all leave together.
            subscriber.expires_at = self.loop.time() + self.max_age * random.uniform(0.8, 1.2)
        self.subscribers.add(subscriber)
        self._environment(environment_id).audiences[subscriber.client].add(subscriber)
        return subscriber

    def snapshot_for(self, subscriber: StreamSubscriber, store: ProcessFlagStore) -> bytes:
        """The opening bytes of the subscriber's audience (read after subscribing it)."""
        if subscriber.client:
            return self._environment(subscriber.environment_id).client_view.snapshot(store)
        return snapshot_bytes.of(store)

    def unsubscribe(self, subscriber: StreamSubscriber, reason: str = "client_gone") -> None:
        """Takes a stream out (of its environment's audience too) and gives its slot back; once.

        `reason` labels sidekick_streams_closed_total: client_gone, goodbye (max_age, shutdown,
        slow_reader), revoked, reset (the reconcile overrule), slow_reader (a snapshot that made
        no progress, closed without goodbye), error.
        """
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)
            environment = self.environments.get(subscriber.environment_id)
            if environment is not None:
                # The client view stays: it remembers what client streams of it were sent.
                environment.audiences[subscriber.client].discard(subscriber)
            self.slots.give_back(subscriber.key_id)
            metrics.STREAMS_OPEN.dec()
            metrics.STREAMS_CLOSED.labels(reason=reason).inc()

    async def opened(self, subscriber: StreamSubscriber) -> bool:
        """After the snapshot: closes the stream if it must not stay (False), as it was opening.

        Its key may have been revoked meanwhile, or the process may be saying goodbye to all.
        """
        if subscriber.farewell is not None:
            # Closed on the way, without a goodbye (a stalled snapshot); the others were
            # unsubscribed with their reason already.
            self.unsubscribe(subscriber, "slow_reader")
            return False
        if subscriber.key_id in self.revoked_key_ids:
            self.unsubscribe(subscriber, "revoked")
            metrics.STREAM_GOODBYES.labels(reason="revoked").inc()
            await subscriber.close_with(goodbye_chunk("revoked", 0))
            return False
        if self.closing is not None:
            reason, window_ms = self.closing
            self.unsubscribe(subscriber, "goodbye")
            metrics.STREAM_GOODBYES.labels(reason=reason).inc()
            await subscriber.close_with(goodbye_chunk(reason, random.randint(0, window_ms)))
            return False
        return True

    async def end_streams_of(self, key_id: int) -> None:
        """Ends the streams opened with a revoked key (on the loop), each with `goodbye`."""
        self.revoked_key_ids.add(key_id)
        farewell = goodbye_chunk("revoked", 0)
        # A stream still sending its snapshot is closed by `opened`, which checks
        # revoked_key_ids once the snapshot is out (a response cannot end before it starts).
        ending = [s for s in self.subscribers if s.key_id == key_id and s.pending is None]
        if ending:
            metrics.STREAM_GOODBYES.labels(reason="revoked").inc(len(ending))
        for subscriber in ending:
            self.unsubscribe(subscriber, "revoked")
            await subscriber.close_with(farewell)

    async def end_every_stream(self) -> None:
        """Ends every stream (on the loop), so that each SDK reconnects and starts a fresh set.

        A plain end, without `goodbye`: none of the contract's reasons (`max_age`, `shutdown`,
        `revoked`) says "your state may be wrong", and an SDK must reconnect at once. A stream
        still sending its snapshot (which may predate the reason) is ended right after it.
        """
        for subscriber in list(self.subscribers):
            self.unsubscribe(subscriber, "reset")
            await subscriber.close_with(b"")

    def end_streams_of_threadsafe(self, key_id: int) -> None:
        """`end_streams_of` from any thread; only remembers the key while no loop runs."""
        self.revoked_key_ids.add(key_id)
        loop = self.loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the process is exiting
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self.end_streams_of(key_id)))

    async def say_goodbye_to_all(self, reason: str, window_ms: int) -> int:
        """Closes every stream with `goodbye` (on the loop); returns how many were open.

        Graceful shutdown calls it with reason `shutdown`: each stream is told a different
        `reconnect_after_ms`, spread evenly over `window_ms`, so the clients come back over the
        window instead of all at once. Streams that finish opening afterwards are closed too.
        """
        self.closing = (reason, window_ms)
        subscribers = list(self.subscribers)
        random.shuffle(subscribers)
        count = len(subscribers)
        if count:
            metrics.STREAM_GOODBYES.labels(reason=reason).inc(count)
        for index, subscriber in enumerate(subscribers):
            self.unsubscribe(subscriber, "goodbye")
            delay = window_ms * (index + 0.5) / count
            await subscriber.close_with(goodbye_chunk(reason, round(delay)))
        return count

    async def close_slow_reader(self, subscriber: StreamSubscriber) -> None:
        """A stream holding more than its bound unsent: `goodbye` `slow_reader`, then closed."""
        if subscriber.farewell is not None:
            return  # the keep-alives' walk and a change's walk both found it
        self.unsubscribe(subscriber, "goodbye")
        metrics.STREAM_GOODBYES.labels(reason="slow_reader").inc()
        self.slow_readers_closed += 1
        logger.info(
            "closing a slow stream reader holding %d unsent bytes (bound %d)",
            subscriber.unsent(),
            subscriber.max_unsent,
        )
        # Its client comes back after a while, not at once, and gets a fresh snapshot.
        reconnect_after_ms = random.randint(SLOW_READER_RECONNECT_MS // 2, SLOW_READER_RECONNECT_MS)
        await subscriber.close_with(goodbye_chunk("slow_reader", reconnect_after_ms))

    async def close_expired(self) -> int:
        """Closes the streams past their maximum age (`goodbye` `max_age`); returns how many."""
        assert self.loop is not None
        now = self.loop.time()
        expired = [s for s in self.subscribers if s.expires_at <= now and s.pending is None]
        if expired:
            metrics.STREAM_GOODBYES.labels(reason="max_age").inc(len(expired))
        for subscriber in expired:
            self.unsubscribe(subscriber, "goodbye")
            await subscriber.close_with(
                goodbye_chunk("max_age", random.randint(0, MAX_AGE_RECONNECT_MS))
            )
        return len(expired)

    async def run_max_age(self) -> None:
        """Once a second, closes the streams that reached their maximum age."""
        if self.max_age <= 0:
            return
        period = min(1.0, self.max_age / 4)
        while True:
            await asyncio.sleep(period)
            await self.close_expired()

    # Fan out --------------------------------------------------------------------------------

    def audience_chunks(self, event: ChangeEvent, environment_id: int) -> AudienceChunks:
        """A change's bytes for every stream and for client streams, each encoded once."""
        chunk = update_chunk(event)
        environment = self.environments.get(environment_id)
        if environment is None:  # no stream of it has opened here: their snapshots will hold it
            return chunk, None
        return chunk, environment.client_view.chunk(event, chunk)

    def fan_out(
        self, event: ChangeEvent, environment_id: int, committed_at: float | None = None
    ) -> None:
        """Queues a change that took effect in an environment's store for that environment's
        local streams (on the loop)."""
        assert self._outbox is not None
        self._outbox.put_nowait(
            (environment_id, self.audience_chunks(event, environment_id), committed_at)
        )

    def fan_out_threadsafe(
        self, event: ChangeEvent, environment_id: int, committed_at: float | None = None
    ) -> None:
        """`fan_out` from any thread (a request's commit); nothing while no loop runs."""
        loop = self.loop
        if loop is None:
            return
        chunks: QueuedChange = (
            environment_id,
            self.audience_chunks(event, environment_id),
            committed_at,
        )
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        assert self._outbox is not None
        if running is loop:
            self._outbox.put_nowait(chunks)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed: the process is exiting
                loop.call_soon_threadsafe(self._outbox.put_nowait, chunks)

    async def run_outbox(self) -> None:
        """Takes queued changes in order and writes each to every stream."""
        assert self._outbox is not None
        loop = asyncio.get_running_loop()
        while True:
            item = await self._outbox.get()
            if isinstance(item, asyncio.Future):
                item.set_result(None)
                continue
            environment_id, (chunk, client_chunk), committed_at = item
            delivery = Delivery(chunk)
            if client_chunk is None:
                client_delivery = None
            else:
                client_delivery = delivery if client_chunk is chunk else Delivery(client_chunk)
            self._count_change(environment_id, client_delivery is not None, committed_at)
            await self.write_by_audience(delivery, client_delivery, environment_id)
            self.last_change_at = loop.time()

    def _count_change(
        self, environment_id: int, to_clients: bool, committed_at: float | None
    ) -> None:
        """The fan-out metrics, once per change (never per stream: the walk is the hot loop).

        Recorded right before the walk, whose first slice is written without a pause, so the
        commit-to-first-send time ends at the change's first write.
        """
        environment = self.environments.get(environment_id)
        full_streams, client_streams = environment.audiences if environment else (set(), set())
        reached = len(full_streams) + (len(client_streams) if to_clients else 0)
        metrics.EVENTS_FANNED_OUT.inc()
        if reached:
            metrics.STREAM_DELIVERIES.inc(reached)
            if committed_at is not None:
                metrics.COMMIT_TO_FIRST_SEND.observe(max(0.0, time.time() - committed_at))

    async def flushed(self) -> None:
        """Returns once every change queued before the call has been written to the streams."""
        assert self._outbox is not None
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outbox.put_nowait(written)
        await written

    async def write_to_all(self, delivery: Delivery) -> None:
        """Sends one chunk, the same for every audience, to every stream."""
        await self.write_by_audience(delivery, delivery)

    async def write_by_audience(
        self,
        delivery: Delivery,
        client_delivery: Delivery | None,
        environment_id: int | None = None,
    ) -> None:
        """Sends `delivery` to every stream of an environment (of every environment when None)
        but client streams, which get `client_delivery` (None: nothing)."""
        if environment_id is None:
            full_streams, client_streams = self.audiences
        else:
            environment = self.environments.get(environment_id)
            if environment is None:
                return
            full_streams, client_streams = environment.audiences
        await self._write_to(full_streams, delivery)
        if client_delivery is not None:
            await self._write_to(client_streams, client_delivery)

    async def _write_to(self, streams: set[StreamSubscriber], delivery: Delivery) -> None:
        """Sends one chunk to each of `streams`, a slice at a time.

        Within a slice nothing awaits between collecting the direct writers (`deliver_now`) and
        sending to them (`batch.send`): no connection can close and no descriptor be reused in
        between (see `direct_write.DirectBatch`).
        """
        # A copy: streams that open or close during the awaits do not disturb the walk.
        subscribers = list(streams)
        batch = delivery.direct_batch()
        for start in range(0, len(subscribers), FAN_OUT_BATCH):
            by_asgi = [
                subscriber
                for subscriber in subscribers[start : start + FAN_OUT_BATCH]
                if not subscriber.deliver_now(delivery, batch)
            ]
            batch.send()
            for subscriber in by_asgi:
                if subscriber.too_slow():
                    await self.close_slow_reader(subscriber)
                else:
                    await subscriber.deliver(delivery.message)
            # Let requests (the write that caused this change, among others) and queued
            # socket writes run between slices instead of after the last stream.
            await asyncio.sleep(0)

    async def run_keepalives(self) -> None:
        period = float(settings.SIDEKICK_KEEPALIVE_SECONDS)
        keepalive = Delivery(KEEPALIVE_CHUNK)
        while True:
            await asyncio.sleep(period)
            await self.write_to_all(keepalive)
