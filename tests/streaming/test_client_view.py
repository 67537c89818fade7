"""The client view in-process: which flags client streams hold, and what each change sends them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from flags.events import ChangeEvent, delete_event, upsert_event
from flags.store import ProcessFlagStore
from streaming import hub
from streaming.protocol import ClientView, update_chunk
from tests.streaming.test_stream import close_stream, open_stream, run, stream_scope
from tests.streaming.test_stream import events as stream_events
from tests.streaming.test_stream import fresh_process_state as fresh_process_state


def flag(key: str, version: int, client_side: bool, **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "is_enabled": True,
        "rollout_percentage": None,
        "description": f"what {key} is for",
        "client_side": client_side,
        "rules": [{"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}],
        "version": version,
        "updated_at": "2026-12-04T10:00:00.000Z",
        **fields,
    }


def parse(raw: bytes) -> list[tuple[str, Any]]:
    parsed = []
    for block in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        if "event" in lines:
            parsed.append((lines["event"], json.loads(lines["data"])))
    return parsed


class Applied:
    """A store and a client view that follows it, as the hub drives them: apply, then chunk."""

    def __init__(self, *flags: dict[str, Any]) -> None:
        self.store = ProcessFlagStore()
        for item in flags:
            self.store.apply(upsert_event(item))
        self.view = ClientView()

    def change(self, event: ChangeEvent) -> list[tuple[str, Any]]:
        assert self.store.apply(event)
        chunk = self.view.chunk(event, update_chunk(event))
        return [] if chunk is None else parse(chunk)


def without_description(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name != "description"}


def test_the_client_snapshot_holds_only_client_side_flags_without_descriptions() -> None:
    public, private = flag("public", 3, True), flag("private", 5, False)
    applied = Applied(public, private)

    assert parse(applied.view.snapshot(applied.store)) == [
        ("connected", True),
        ("update", {"type": "UPSERT", "flag": without_description(public)}),
        ("ready", {"flags": 1}),
    ]


def test_a_flag_without_the_field_is_private() -> None:
    legacy = flag("legacy", 1, True)
    del legacy["client_side"]
    applied = Applied(legacy)

    assert parse(applied.view.snapshot(applied.store)) == [
        ("connected", True),
        ("ready", {"flags": 0}),
    ]


def test_changes_to_a_private_flag_send_client_streams_nothing() -> None:
    applied = Applied(flag("private", 1, False))
    applied.view.snapshot(applied.store)

    assert applied.change(upsert_event(flag("private", 2, False, is_enabled=False))) == []
    assert applied.change(delete_event("private", 3)) == []
    assert applied.change(upsert_event(flag("fresh", 1, False))) == []


def test_unmarking_sends_a_delete_at_the_new_version_and_marking_an_upsert() -> None:
    applied = Applied(flag("toggled", 4, True))
    applied.view.snapshot(applied.store)

    assert applied.change(upsert_event(flag("toggled", 5, False))) == [
        ("update", {"type": "DELETE", "key": "toggled", "version": 5})
    ]
    assert applied.change(upsert_event(flag("toggled", 6, False))) == []
    marked = flag("toggled", 7, True)
    assert applied.change(upsert_event(marked)) == [
        ("update", {"type": "UPSERT", "flag": without_description(marked)})
    ]


def test_deleting_a_client_side_flag_sends_the_same_delete_as_every_stream() -> None:
    applied = Applied(flag("gone", 2, True))
    applied.view.snapshot(applied.store)
    event = delete_event("gone", 3)
    full = update_chunk(event)

    assert applied.store.apply(event)
    assert applied.view.chunk(event, full) is full


def test_before_any_client_stream_opened_nothing_is_encoded_for_clients() -> None:
    applied = Applied(flag("early", 1, True))

    assert applied.change(upsert_event(flag("early", 2, False))) == []
    # The first client snapshot starts from the store, so the next change compares with v2.
    assert parse(applied.view.snapshot(applied.store)) == [
        ("connected", True),
        ("ready", {"flags": 0}),
    ]
    assert applied.change(upsert_event(flag("early", 3, False))) == []


def test_changes_that_arrive_out_of_order_end_in_the_newest_state() -> None:
    # Two commits' threads can fan out in either order; the older one must not undo the newer.
    applied = Applied(flag("raced", 1, True))
    applied.view.snapshot(applied.store)
    newer, older = upsert_event(flag("raced", 3, False)), upsert_event(flag("raced", 2, True))
    applied.store.apply(older)
    applied.store.apply(newer)

    newest_first = applied.view.chunk(newer, update_chunk(newer))
    assert newest_first is not None
    assert parse(newest_first) == [("update", {"type": "DELETE", "key": "raced", "version": 3})]
    assert applied.view.chunk(older, update_chunk(older)) is None


def test_a_change_already_in_the_first_client_snapshot_is_not_sent_again() -> None:
    applied = Applied(flag("inflight", 1, True))
    event = upsert_event(flag("inflight", 2, False))
    applied.store.apply(event)  # applied, its fan-out not computed yet
    applied.view.snapshot(applied.store)

    assert applied.view.chunk(event, update_chunk(event)) is None


# Through the consumer in-process (the ASGI send path; the e2e tests cover the direct one) -----


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_client_and_server_streams_in_process_each_get_their_audience(fresh_process_state) -> None:
    from flags.services import api_key_create, flag_patch, flag_upsert

    _, raw = api_key_create(name="page", role="client")
    public = flag_upsert(data={"key": "ip_public", "client_side": True}, actor="t").flag
    flag_upsert(data={"key": "ip_private", "description": "team only"}, actor="t")

    async def read_until(communicator: Any, key: str) -> list[tuple[str, Any]]:
        received: list[tuple[str, Any]] = []
        while not any(
            name == "update" and key in (data.get("key"), data.get("flag", {}).get("key"))
            for name, data in received
        ):
            received += stream_events((await communicator.receive_output(10))["body"])
        return [item for item in received if item[0] == "update"]

    async def scenario() -> None:
        client_stream, _, client_body = await open_stream(
            stream_scope([], f"sdk_key={raw}".encode())
        )
        server_stream, _, server_body = await open_stream()
        assert stream_events(client_body) == [
            ("connected", True),
            ("update", {"type": "UPSERT", "flag": without_description(public)}),
            ("ready", {"flags": 1}),
        ]
        assert [e[1]["flag"]["key"] for e in stream_events(server_body) if e[0] == "update"] == [
            "ip_private",
            "ip_public",
        ]

        def writes() -> list[dict[str, Any]]:
            return [
                flag_patch(key="ip_private", data={"client_side": True}, actor="t"),
                flag_patch(key="ip_public", data={"client_side": False}, actor="t"),
                flag_patch(key="ip_public", data={"description": "now private"}, actor="t"),
                flag_upsert(data={"key": "ip_end", "client_side": True}, actor="t").flag,
            ]

        marked, unmarked, _, end = await sync_to_async(writes)()
        assert await read_until(client_stream, "ip_end") == [
            ("update", {"type": "UPSERT", "flag": without_description(marked)}),
            ("update", {"type": "DELETE", "key": "ip_public", "version": unmarked["version"]}),
            ("update", {"type": "UPSERT", "flag": without_description(end)}),
        ]
        assert len(await read_until(server_stream, "ip_end")) == 4

        streams = hub.update_hub().streams
        assert [len(audience) for audience in streams.audiences] == [1, 1]
        await close_stream(client_stream)
        await close_stream(server_stream)
        assert streams.audiences == (set(), set()) and streams.subscribers == set()

    run(scenario)
