"""The SSE consumer and the hub in-process: opening bytes, deltas, reconciliation, no leaks."""

from __future__ import annotations

import asyncio
import gc
import json
import resource
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import ApplicationCommunicator

from flags import store as flag_store
from flags.models import Flag
from flags.services import api_key_create, api_key_revoke, flag_delete, flag_upsert
from flags.store import ProcessFlagStore, process_flag_store
from streaming import hub, relay
from streaming.consumers import StreamConsumer, verified_keys
from streaming.protocol import SnapshotBytes
from tests.flags.conftest import in_default_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

SDK_KEY = "sk-test-stream"


@pytest.fixture(autouse=True)
def fresh_process_state(settings):
    settings.SDK_KEY = SDK_KEY
    settings.SIDEKICK_KEEPALIVE_SECONDS = 0.2
    flag_store.reset_process_flag_store()
    hub.reset_update_hub()
    verified_keys.clear()
    yield
    flag_store.reset_process_flag_store()
    hub.reset_update_hub()
    verified_keys.clear()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Runs a scenario on a fresh event loop, then stops that loop's hub."""

    async def main() -> None:
        try:
            await scenario()
        finally:
            await hub.update_hub().stop()

    asyncio.run(main())


def stream_scope(headers: list[tuple[bytes, bytes]] | None = None, query: bytes = b"") -> dict:
    return {
        "type": "http",
        "method": "GET",
        "path": "/stream",
        "query_string": query,
        "headers": headers
        if headers is not None
        else [(b"authorization", f"Bearer {SDK_KEY}".encode())],
    }


async def open_stream(scope: dict | None = None) -> tuple[ApplicationCommunicator, dict, bytes]:
    communicator = ApplicationCommunicator(StreamConsumer.as_asgi(), scope or stream_scope())
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(10)
    body = await communicator.receive_output(10)
    return communicator, start, body["body"]


async def close_stream(communicator: ApplicationCommunicator) -> None:
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(10)


def events(raw: bytes) -> list[tuple[str, Any]]:
    parsed = []
    for block in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in lines:
            parsed.append((lines["event"], json.loads(lines["data"])))
    return parsed


def create(key: str, **fields: Any) -> dict:
    return flag_upsert(data={"key": key, "is_enabled": True, **fields}, actor="test").flag


def test_the_snapshot_is_connected_every_flag_then_ready():
    first, second = create("alpha"), create("beta", rollout_percentage=10)

    async def scenario() -> None:
        communicator, start, body = await open_stream()
        assert start["status"] == 200
        assert dict(start["headers"])[b"content-type"].startswith(b"text/event-stream")
        assert events(body) == [
            ("connected", True),
            ("update", {"type": "UPSERT", "flag": first}),
            ("update", {"type": "UPSERT", "flag": second}),
            # Two changes in this environment so far: revision 2.
            ("ready", {"flags": 2, "revision": 2}),
        ]
        await close_stream(communicator)

    run(scenario)


def test_the_snapshot_bytes_are_encoded_once_per_revision():
    store, snapshots = ProcessFlagStore(), SnapshotBytes()
    store.apply({"type": "UPSERT", "flag": {"key": "a", "is_enabled": True, "version": 1}})
    snapshot = snapshots.of(store)
    assert snapshots.of(store) is snapshot
    store.apply({"type": "UPSERT", "flag": {"key": "a", "is_enabled": True, "version": 1}})
    assert snapshots.of(store) is snapshot  # not newer: nothing changed
    store.apply({"type": "UPSERT", "flag": {"key": "a", "is_enabled": False, "version": 2}})
    assert snapshots.of(store) is not snapshot
    assert snapshots.of(ProcessFlagStore()) is not snapshot  # another store, its own bytes


def test_writes_after_the_snapshot_arrive_as_update_events_in_order():
    create("gamma")

    async def scenario() -> None:
        communicator, _, _ = await open_stream()
        patched = await sync_to_async(create)("gamma", is_enabled=False)
        version = await sync_to_async(flag_delete)(key="gamma", actor="test")
        received: list[tuple[str, Any]] = []
        while len([e for e in received if e[0] == "update"]) < 2:
            received += events((await communicator.receive_output(10))["body"])
        assert [e for e in received if e[0] == "update"] == [
            ("update", {"type": "UPSERT", "flag": patched}),
            ("update", {"type": "DELETE", "key": "gamma", "version": version}),
        ]
        await close_stream(communicator)

    run(scenario)


def test_keep_alive_comments_are_sent_while_idle():
    async def scenario() -> None:
        communicator, _, _ = await open_stream()
        chunk = await communicator.receive_output(10)
        assert chunk["body"] == b": keep-alive\n\n"
        await close_stream(communicator)

    run(scenario)


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ([], b"", 401),
        ([(b"authorization", b"Bearer wrong")], b"", 401),
        ([(b"authorization", b"Basic abc")], b"", 401),
        ([], f"sdk_key={SDK_KEY}".encode(), 403),
    ],
)
def test_refusals_carry_the_json_error_shape(headers, query, status):
    async def scenario() -> None:
        communicator, start, body = await open_stream(stream_scope(headers, query))
        assert start["status"] == status
        assert json.loads(body)["errors"] == {}
        await communicator.wait(10)

    run(scenario)


def test_reconciliation_repairs_missed_events_for_connected_streams():
    kept, dropped = create("kept"), create("dropped")

    async def scenario() -> None:
        communicator, _, _ = await open_stream()

        def miss_events() -> None:
            # Database changes whose events never arrived (as if lost with a Redis restart).
            in_default_environment(Flag).filter(key="kept").update(
                version=kept["version"] + 5, is_enabled=False
            )
            in_default_environment(Flag).filter(key="dropped").delete()

        await sync_to_async(miss_events)()
        assert await hub.update_hub().reconcile() == 2
        received: list[tuple[str, Any]] = []
        while len([e for e in received if e[0] == "update"]) < 2:
            received += events((await communicator.receive_output(10))["body"])
        updates = [data for name, data in received if name == "update"]
        assert (
            updates[0]["type"] == "UPSERT" and updates[0]["flag"]["version"] == kept["version"] + 5
        )
        assert updates[0]["flag"]["is_enabled"] is False
        assert updates[1] == {"type": "DELETE", "key": "dropped", "version": dropped["version"] + 1}
        assert process_flag_store().get("dropped") is None
        assert await hub.update_hub().reconcile() == 0
        await close_stream(communicator)

    run(scenario)


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_ten_thousand_connect_disconnect_cycles_leave_nothing_behind():
    create("leak_probe")

    async def cycles(count: int) -> None:
        for _ in range(count):
            communicator, _, _ = await open_stream()
            await close_stream(communicator)

    async def scenario() -> None:
        the_hub = hub.update_hub()
        await cycles(500)  # warm-up: caches, thread pools, allocator arenas
        gc.collect()
        tasks, rss = len(asyncio.all_tasks()), rss_kib()
        layer = get_channel_layer()
        group = relay.updates_group(the_hub.relay.identity)
        members = len(layer.groups.get(group, {}))
        await cycles(10_000)
        gc.collect()
        assert len(the_hub.streams.subscribers) == 0
        assert len(asyncio.all_tasks()) == tasks
        assert len(layer.groups.get(group, {})) == members == 1
        growth = rss_kib() - rss
        assert growth < 8 * 1024, f"RSS grew by {growth} KiB over 10,000 cycles"

    run(scenario)


def test_revoking_a_key_ends_its_open_streams_and_refuses_it_again():
    key, raw = api_key_create(name="leaked", role="client")
    _, other_raw = api_key_create(name="kept", role="client")

    async def scenario() -> None:
        revoked_stream, start, _ = await open_stream(stream_scope([], f"sdk_key={raw}".encode()))
        kept_stream, _, _ = await open_stream(stream_scope([], f"sdk_key={other_raw}".encode()))
        assert start["status"] == 200

        await sync_to_async(api_key_revoke)(api_key=key)

        # The stream ends with `goodbye` `revoked` (an SDK stops; it does not reconnect).
        ending = await revoked_stream.receive_output(10)
        assert ending["more_body"] is False
        assert events(ending["body"]) == [
            ("goodbye", {"reason": "revoked", "reconnect_after_ms": 0})
        ]
        # The other key's stream still gets changes (of client-side flags: it is a client key).
        patched = await sync_to_async(create)("after_revoke", client_side=True)
        del patched["description"]
        assert events((await kept_stream.receive_output(10))["body"]) == [
            ("update", {"type": "UPSERT", "flag": patched})
        ]
        # The key was verified a moment ago, but a revoked key is never trusted from memory.
        _, refused, _ = await open_stream(stream_scope([], f"sdk_key={raw}".encode()))
        assert refused["status"] == 401
        await close_stream(kept_stream)

    run(scenario)
