"""Two deployments on one Redis: each stays equal to its own database, and hears nothing else.

Redis pub/sub ignores the database number, so deployments on `redis://host/1` and
`redis://host/2` share every channel. Each deployment here has its own PostgreSQL database and two
daphne instances (one written to, one holding the streams); both write the same keys at once,
with contents that tell them apart (B: enabled, rollout 50-99; C: disabled, rollout 0-49).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer

from tests.e2e.clients import admin_client, sdk_client
from tests.e2e.server import REPO_ROOT, ServerGroup, SidekickServer
from tests.e2e.sse import StreamRecorder, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SHARED_KEYS = [f"shared_{index}" for index in range(4)]
SETTLED = 20.0


def with_database_number(url: str, number: int) -> str:
    return f"{url.rsplit('/', 1)[0]}/{number}"


def database_flags(group: ServerGroup) -> dict[str, tuple[int, bool, int | None]]:
    """Key -> (version, is_enabled, rollout) as the group's database holds them."""
    with psycopg.connect(group.database.url) as conn:
        rows = conn.execute(
            "SELECT key, version, is_enabled, rollout_percentage FROM flags_flag"
        ).fetchall()
    return {key: (version, enabled, rollout) for key, version, enabled, rollout in rows}


def recorded_changes(group: ServerGroup) -> set[str]:
    """Every change the group's database recorded, as the JSON of the event it stands for."""
    with psycopg.connect(group.database.url) as conn:
        rows = conn.execute("SELECT action, flag_key, version, after FROM flags_changerecord")
        return {
            canonical({"type": "DELETE", "key": key, "version": version})
            if action == "delete"
            else canonical({"type": "UPSERT", "flag": after})
            for action, key, version, after in rows.fetchall()
        }


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def summary(flags: list[dict[str, Any]]) -> dict[str, tuple[int, bool, int | None]]:
    return {f["key"]: (f["version"], f["is_enabled"], f["rollout_percentage"]) for f in flags}


def key_id(group: ServerGroup, name: str) -> int:
    with psycopg.connect(group.database.url) as conn:
        row = conn.execute("SELECT id FROM flags_apikey WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def manage(group: ServerGroup, *arguments: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=REPO_ROOT,
        env=group.env,
        check=True,
        timeout=60,
        capture_output=True,
    )


def write_many(group: ServerGroup, server: SidekickServer, own_key: str, enabled: bool) -> None:
    """Writes every shared key a few times, and a key of its own."""
    base = 50 if enabled else 0
    with admin_client(group, server) as client:
        for round_ in range(3):
            for index, key in enumerate(SHARED_KEYS):
                body = {"key": key, "is_enabled": enabled, "rollout_percentage": base + index}
                body["rollout_percentage"] += round_ * 10
                answer = client.post("/api/flags", json=body)
                assert answer.status_code in (200, 201), answer.text
        answer = client.post("/api/flags", json={"key": own_key, "is_enabled": enabled})
        assert answer.status_code == 201, answer.text
        if enabled:  # B also deletes a key C keeps
            assert client.delete(f"/api/flags/{SHARED_KEYS[-1]}").status_code == 204


def assert_equal_to_own_database(
    group: ServerGroup, streams: SidekickServer, sdk: Any, foreign_key: str
) -> None:
    expected = database_flags(group)
    with admin_client(group, group.servers[0]) as first, admin_client(group, streams) as second:
        for client in (first, second):
            wait_until(
                lambda c=client: summary(c.get("/api/flags").json()) == expected,
                SETTLED,
                lambda c=client: f"{summary(c.get('/api/flags').json())} != {expected}",
            )
        for key, (version, _, _) in expected.items():
            answer = second.post("/api/evaluate", json={"flag": key, "user_key": "u1"}).json()
            assert answer["version"] == version, answer
        foreign = second.post("/api/evaluate", json={"flag": foreign_key, "user_key": "u1"})
        assert foreign.json()["reason"] == "FLAG_NOT_FOUND", foreign.json()
    wait_until(
        lambda: sdk.initialized and summary(sdk.flags()) == expected,
        SETTLED,
        lambda: f"SDK view {summary(sdk.flags())} != {expected}",
    )


@pytest.mark.parametrize("database_numbers", [(1, 1), (1, 2)], ids=["same-db", "other-db"])
def test_two_deployments_on_one_redis_stay_equal_to_their_own_databases(
    make_server_group, private_redis, database_numbers
):
    b_number, c_number = database_numbers
    b = make_server_group(redis_url=with_database_number(private_redis.url, b_number))
    c = make_server_group(redis_url=with_database_number(private_redis.url, c_number))
    b_writes, b_streams = b.add_server(), b.add_server()
    c_writes, c_streams = c.add_server(), c.add_server()
    assert key_id(b, "e2e-server") == key_id(c, "e2e-server")  # the same id N in both
    b_sdk, c_sdk = sdk_client(b, b_streams), sdk_client(c, c_streams)
    with (
        StreamRecorder(b_streams.url, bearer=b.server_key) as b_stream,
        StreamRecorder(c_streams.url, bearer=c.server_key) as c_stream,
        b_sdk,
        c_sdk,
    ):
        b_sdk.init(timeout=15)
        c_sdk.init(timeout=15)
        b_stream.wait_for(StreamRecorder.ready)
        c_stream.wait_for(StreamRecorder.ready)
        with ThreadPoolExecutor(max_workers=2) as pool:
            writes = [
                pool.submit(write_many, b, b_writes, "only_b", True),
                pool.submit(write_many, c, c_writes, "only_c", False),
            ]
            for future in writes:
                future.result()

        assert_equal_to_own_database(b, b_streams, b_sdk, "only_c")
        assert_equal_to_own_database(c, c_streams, c_sdk, "only_b")
        for group, stream in ((b, b_stream), (c, c_stream)):
            # Every event the stream carried is one its own database recorded.
            seen = {canonical(update) for update in stream.updates()}
            assert seen <= recorded_changes(group), seen - recorded_changes(group)

        # Revoking key id N on B ends B's streams of key N, never C's.
        manage(b, "revoke_api_key", str(key_id(b, "e2e-server")))
        b_stream.wait_closed(10)
        with admin_client(c, c_writes) as client:
            created = client.post("/api/flags", json={"key": "after_revocation"})
            assert created.status_code == 201, created.text
        c_stream.wait_for(
            lambda rec: any(
                u.get("flag", {}).get("key") == "after_revocation" for u in rec.updates()
            )
        )
        assert not c_stream.closed


def sealed_with(secret: bytes, deployment_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """An envelope as the relay writes it, with a MAC made with `secret`."""
    payload = json.dumps({"deployment": deployment_id, "sent_at": time.time(), "message": message})
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return {"type": "sidekick.relay", "payload": payload, "mac": mac}


def test_a_forged_message_on_the_deployments_group_is_dropped_and_counted(
    make_server_group, private_redis
):
    # Only the relay carries changes between the two instances here (no database poll), so the
    # marker's arrival proves the forged messages, published before it, were received first.
    group = make_server_group(
        redis_url=private_redis.url, extra_env={"SIDEKICK_WATERMARK_POLL_SECONDS": "3600"}
    )
    writes, streams = group.add_server(), group.add_server()
    with psycopg.connect(group.database.url) as conn:
        row = conn.execute("SELECT deployment_id FROM flags_deploymentidentity").fetchone()
    assert row is not None
    deployment_id = row[0]
    forged_flag = {"key": "forged", "is_enabled": True, "rollout_percentage": None, "version": 9}
    change = {"kind": "flag.change", "event": {"type": "UPSERT", "flag": forged_flag}}
    forged = [
        sealed_with(b"not-the-deployment-secret-" * 2, deployment_id, change),
        {**sealed_with(b"x" * 32, deployment_id, change), "mac": None},
        # What the relay accepted before messages were sealed.
        {"type": "flag.change", "event": change["event"]},
    ]

    async def publish() -> None:
        layer = RedisPubSubChannelLayer(hosts=[private_redis.url])
        try:
            for message in forged:
                for group_name in (f"sidekick_updates.{deployment_id}", "sidekick_updates"):
                    await layer.group_send(group_name, message)
        finally:
            await layer.flush()

    with StreamRecorder(streams.url, bearer=group.server_key) as stream:
        stream.wait_for(StreamRecorder.ready)
        asyncio.run(publish())
        with admin_client(group, writes) as client:
            assert client.post("/api/flags", json={"key": "marker"}).status_code == 201
        stream.wait_for(
            lambda rec: any(u.get("flag", {}).get("key") == "marker" for u in rec.updates())
        )
        assert all(u.get("flag", {}).get("key") != "forged" for u in stream.updates())
    listed = httpx.get(
        f"{streams.url}/api/flags",
        headers={"Authorization": f"Bearer {group.admin_key}"},
        timeout=10,
    ).json()
    assert [flag["key"] for flag in listed] == ["marker"]
    wait_until(
        lambda: "dropped 1 relay message(s) not authentic" in streams.log_path.read_text(),
        10,
        lambda: f"no drop logged:\n{streams.log_tail()}",
    )
