"""`goodbye` in-process: saying goodbye to every stream (graceful shutdown), maximum age, limits."""

from __future__ import annotations

import asyncio

import pytest
from channels.testing import ApplicationCommunicator

from streaming import hub
from streaming.consumers import StreamConsumer
from tests.streaming.test_stream import (
    close_stream,
    create,
    events,
    fresh_process_state,  # noqa: F401  (autouse fixture)
    open_stream,
    run,
    stream_scope,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


async def goodbye_of(communicator: ApplicationCommunicator, timeout: float = 5.0) -> dict:
    """Reads past keep-alives and updates to the stream's last message, which must be goodbye."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await communicator.receive_output(max(deadline - loop.time(), 0.01))
        if not message.get("more_body", False):
            parsed = events(message["body"])
            assert [name for name, _ in parsed] == ["goodbye"], parsed
            return parsed[0][1]


def test_say_goodbye_to_all_spreads_reconnects_over_the_window_and_closes_every_stream():
    create("shutdown_probe")

    async def scenario() -> None:
        streams = [(await open_stream())[0] for _ in range(4)]
        local = hub.update_hub().streams
        assert len(local.subscribers) == 4

        assert await local.say_goodbye_to_all("shutdown", 8000) == 4

        farewells = [await goodbye_of(stream) for stream in streams]
        assert {farewell["reason"] for farewell in farewells} == {"shutdown"}
        # Evenly spread over the window, one slot per stream.
        delays = sorted(farewell["reconnect_after_ms"] for farewell in farewells)
        assert delays == [1000, 3000, 5000, 7000]
        assert local.subscribers == set()
        assert local.slots.total == 0
        # A stream that opens afterwards gets its snapshot, then goodbye at once.
        late, start, body = await open_stream()
        assert start["status"] == 200
        assert events(body)[-1][0] == "ready"
        farewell = await goodbye_of(late)
        assert farewell["reason"] == "shutdown"
        assert 0 <= farewell["reconnect_after_ms"] <= 8000
        for stream in [*streams, late]:
            await close_stream(stream)

    run(scenario)


def test_a_stream_reaching_its_maximum_age_gets_goodbye_max_age(settings):
    settings.SIDEKICK_STREAM_MAX_AGE_SECONDS = 0.6
    create("max_age_probe")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        opened_at = loop.time()
        stream, start, _ = await open_stream()
        assert start["status"] == 200
        (subscriber,) = hub.update_hub().streams.subscribers
        # ±20% jitter around the setting.
        assert 0.48 <= subscriber.expires_at - opened_at <= 0.72 + (loop.time() - opened_at)
        farewell = await goodbye_of(stream, timeout=5.0)
        assert farewell["reason"] == "max_age"
        assert loop.time() - opened_at >= 0.48
        assert 0 <= farewell["reconnect_after_ms"] <= 1000
        assert hub.update_hub().streams.subscribers == set()
        await close_stream(stream)

    run(scenario)


def test_streams_over_a_keys_limit_get_429_and_a_closed_stream_frees_its_slot(settings):
    settings.SIDEKICK_STREAMS_PER_KEY = 2
    settings.SIDEKICK_STREAMS_PER_PROCESS = 3
    settings.SIDEKICK_STREAM_LIMIT_RETRY_AFTER_SECONDS = 4

    async def scenario() -> None:
        first, _, _ = await open_stream()
        second, _, _ = await open_stream()
        refused = ApplicationCommunicator(StreamConsumer.as_asgi(), stream_scope())
        await refused.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await refused.receive_output(5)
        body = await refused.receive_output(5)
        assert start["status"] == 429
        assert dict(start["headers"])[b"retry-after"] == b"4"
        assert dict(start["headers"])[b"content-type"] == b"application/json"
        assert body["body"].startswith(b'{"detail":"This API key holds its limit of 2 streams')
        assert body["body"].endswith(b',"errors":{}}')
        await close_stream(first)
        again, start, _ = await open_stream()
        assert start["status"] == 200
        for stream in (second, again):
            await close_stream(stream)
        assert hub.update_hub().streams.slots.total == 0

    run(scenario)
