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
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from flags.events import ChangeEvent
from flags.store import ProcessFlagStore
from streaming import direct_write
from streaming.protocol import KEEPALIVE_CHUNK, ClientView, snapshot_bytes, update_chunk

logger = logging.getLogger(__name__)

# Streams written per slice of the fan-out; the event loop runs between slices.
FAN_OUT_BATCH = 256

# The ASGI `send` of an open response.
AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]

# One change's bytes for every stream, and for client streams (None: nothing for them).
AudienceChunks = tuple[bytes, bytes | None]


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
    direct socket path when the server allows it (see `streaming.direct_write`).
    """

    __slots__ = ("client", "environment_id", "key_id", "pending", "send", "writer")

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
        self.writer: direct_write.DirectWriter | None = None

    async def deliver(self, message: dict[str, Any]) -> None:
        """Sends one message through the ASGI send (or queues it before the snapshot)."""
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
            await self.send(END_MESSAGE)
        except Exception:
            logger.debug("ending a closing stream failed", exc_info=True)

    async def open(self, snapshot: bytes) -> None:
        """Sends the snapshot, then whatever arrived meanwhile, then delivers live."""
        await self.send(body_message(snapshot))
        assert self.pending is not None
        while self.pending:
            await self.send(self.pending.pop(0))
        self.pending = None
        self.writer = direct_write.DirectWriter.for_send(self.send)


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
        # Chunks to write with their environment, and futures set once everything queued
        # before them is written.
        self._outbox: asyncio.Queue[tuple[int, AudienceChunks] | asyncio.Future[None]] | None = None

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
    ) -> StreamSubscriber:
        """Registers a stream before it reads the snapshot; deliveries queue until `open`."""
        subscriber = StreamSubscriber(send, key_id, client, environment_id)
        self.subscribers.add(subscriber)
        self._environment(environment_id).audiences[subscriber.client].add(subscriber)
        return subscriber

    def snapshot_for(self, subscriber: StreamSubscriber, store: ProcessFlagStore) -> bytes:
        """The opening bytes of the subscriber's audience (read after subscribing it)."""
        if subscriber.client:
            return self._environment(subscriber.environment_id).client_view.snapshot(store)
        return snapshot_bytes.of(store)

    def unsubscribe(self, subscriber: StreamSubscriber) -> None:
        self.subscribers.discard(subscriber)
        environment = self.environments.get(subscriber.environment_id)
        if environment is not None:
            environment.audiences[subscriber.client].discard(subscriber)
            # The client view stays: it remembers what client streams of it were sent.

    async def end_streams_of(self, key_id: int) -> None:
        """Ends the streams opened with a revoked key (on the loop)."""
        self.revoked_key_ids.add(key_id)
        # A stream still sending its snapshot is left to its consumer, which checks
        # revoked_key_ids once the snapshot is out (a response cannot end before it starts).
        for subscriber in [s for s in self.subscribers if s.key_id == key_id and s.pending is None]:
            self.unsubscribe(subscriber)
            await subscriber.end()

    async def end_every_stream(self) -> None:
        """Ends every stream (on the loop), so that each SDK reconnects and starts a fresh set."""
        for subscriber in list(self.subscribers):
            self.unsubscribe(subscriber)
            if subscriber.pending is None:
                await subscriber.end()
            else:  # its snapshot may predate the reason to end it: end right after that
                subscriber.pending.append(END_MESSAGE)

    def end_streams_of_threadsafe(self, key_id: int) -> None:
        """`end_streams_of` from any thread; only remembers the key while no loop runs."""
        self.revoked_key_ids.add(key_id)
        loop = self.loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the process is exiting
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self.end_streams_of(key_id)))

    # Fan out --------------------------------------------------------------------------------

    def audience_chunks(self, event: ChangeEvent, environment_id: int) -> AudienceChunks:
        """A change's bytes for every stream and for client streams, each encoded once."""
        chunk = update_chunk(event)
        environment = self.environments.get(environment_id)
        if environment is None:  # no stream of it has opened here: their snapshots will hold it
            return chunk, None
        return chunk, environment.client_view.chunk(event, chunk)

    def fan_out(self, event: ChangeEvent, environment_id: int) -> None:
        """Queues a change that took effect in an environment's store for that environment's
        local streams (on the loop)."""
        assert self._outbox is not None
        self._outbox.put_nowait((environment_id, self.audience_chunks(event, environment_id)))

    def fan_out_threadsafe(self, event: ChangeEvent, environment_id: int) -> None:
        """`fan_out` from any thread (a request's commit); nothing while no loop runs."""
        loop = self.loop
        if loop is None:
            return
        chunks = (environment_id, self.audience_chunks(event, environment_id))
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
            environment_id, (chunk, client_chunk) = item
            delivery = Delivery(chunk)
            if client_chunk is None:
                client_delivery = None
            else:
                client_delivery = delivery if client_chunk is chunk else Delivery(client_chunk)
            await self.write_by_audience(delivery, client_delivery, environment_id)
            self.last_change_at = loop.time()

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
