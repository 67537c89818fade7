"""Consistency under load and across instances: a connect/write race, two instances on one Redis."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.clients import admin_client, database_versions, sdk_client, versions
from tests.e2e.sse import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def random_writes(client: httpx.Client, count: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        key = f"race_{rng.randrange(20)}"
        action = rng.random()
        if action < 0.15:
            client.delete(f"/api/flags/{key}")
        else:
            body = {
                "key": key,
                "is_enabled": rng.random() < 0.5,
                "rollout_percentage": rng.randrange(101),
            }
            response = client.post("/api/flags", json=body)
            assert response.status_code in (200, 201), response.text


def test_fifty_clients_connecting_during_two_hundred_writes_end_equal_to_the_database(
    make_server_group,
):
    group = make_server_group(keepalive_seconds=1.0)
    server = group.add_server()
    clients = [sdk_client(group, server) for _ in range(50)]
    writers = [admin_client(group, server) for _ in range(4)]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            writes = [pool.submit(random_writes, w, 50, seed) for seed, w in enumerate(writers)]
            # Clients connect while the writes land, a few at a time.
            for index, client in enumerate(clients):
                client.start()
                if index % 10 == 9:
                    threading.Event().wait(0.05)
            for future in writes:
                future.result()
        expected = writers[0].get("/api/flags").json()
        if group.database.is_postgres:
            assert versions(expected) == database_versions(group)
        for index, client in enumerate(clients):
            wait_until(
                lambda c=client: (
                    c.initialized and sorted(c.flags(), key=lambda f: f["key"]) == expected
                ),
                20,
                lambda i=index, c=client: (
                    f"client {i}: {versions(c.flags())} != {versions(expected)}"
                ),
            )
    finally:
        for client in clients:
            client.close()
        for writer in writers:
            writer.close()


def test_a_write_on_one_instance_reaches_the_other_instances_sdks_and_rest(
    make_server_group, private_redis
):
    group = make_server_group(redis_url=private_redis.url, keepalive_seconds=1.0)
    a, b = group.add_server(), group.add_server()
    with (
        sdk_client(group, b) as on_b,
        admin_client(group, a) as rest_a,
        admin_client(group, b) as rest_b,
    ):
        on_b.init(timeout=15)
        created = rest_a.post("/api/flags", json={"key": "cross", "is_enabled": True}).json()
        wait_until(lambda: on_b.get("cross") == created, 10, "the write on A did not reach B's SDK")
        assert rest_b.get("/api/flags/cross").json() == created
        assert created in rest_b.get("/api/flags").json()
        assert rest_b.delete("/api/flags/cross").status_code == 204
        wait_until(lambda: on_b.get("cross") is None, 10, "B's own delete did not reach B's SDK")
        assert rest_a.get("/api/flags/cross").status_code == 404
