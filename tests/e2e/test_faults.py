"""Faults: Redis restarted under two instances, PostgreSQL unreachable under a serving instance."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.e2e.clients import admin_client, sdk_client
from tests.e2e.faults import CuttableProxy
from tests.e2e.sse import StreamRecorder, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_no_change_is_lost_across_a_redis_restart(make_server_group, private_redis):
    redis = private_redis
    group = make_server_group(redis_url=redis.url, keepalive_seconds=1.0)
    a, b = group.add_server(), group.add_server()
    with (
        sdk_client(group, a) as on_a,
        sdk_client(group, b) as on_b,
        admin_client(group, a) as rest_a,
        admin_client(group, b) as rest_b,
    ):
        on_a.init(timeout=15)
        on_b.init(timeout=15)
        rest_a.post("/api/flags", json={"key": "before_outage", "is_enabled": True})
        wait_until(lambda: on_b.is_enabled("before_outage", "u"), 10, "baseline")

        redis.stop()
        # Writes while Redis is down succeed (the database is the source of truth) and
        # reach A's own streams at once; B cannot hear about them yet.
        during = rest_a.post("/api/flags", json={"key": "during_outage", "is_enabled": True})
        assert during.status_code == 201, during.text
        assert (
            rest_a.patch("/api/flags/before_outage", json={"is_enabled": False}).status_code == 200
        )
        wait_until(lambda: on_a.is_enabled("during_outage", "u"), 10, "A's own stream")
        assert on_b.is_enabled("before_outage", "u")  # B serves its last-known state

        redis.start()
        back = time.monotonic()
        expected = rest_a.get("/api/flags").json()
        wait_until(
            lambda: (
                rest_b.get("/api/flags").json() == expected
                and sorted(on_b.flags(), key=lambda f: f["key"]) == expected
            ),
            5.0,
            lambda: f"B did not converge: {rest_b.get('/api/flags').json()} vs {expected}",
        )
        converged_in = time.monotonic() - back
        assert converged_in <= 5.0
        # And the layer works again for new writes.
        rest_b.post("/api/flags", json={"key": "after_outage", "is_enabled": True})
        wait_until(lambda: on_a.is_enabled("after_outage", "u"), 10, "after the outage")


def _through(proxy: CuttableProxy, database_url: str) -> str:
    parts = urlsplit(database_url)
    netloc = parts.netloc.rsplit("@", 1)
    credentials = netloc[0] + "@" if len(netloc) == 2 else ""
    return urlunsplit(
        (parts.scheme, f"{credentials}127.0.0.1:{proxy.port}", parts.path, parts.query, "")
    )


def test_writes_get_503_while_streams_and_reads_keep_serving_without_postgres(make_server_group):
    group = make_server_group(keepalive_seconds=1.0)
    if not group.database.is_postgres:
        pytest.skip("needs PostgreSQL to cut (SQLite has no server)")
    target = urlsplit(group.database.url)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432)
    try:
        group.prepare()
        server = group.add_server(env={"DATABASE_URL": _through(proxy, group.database.url)})
        # Reads authenticate with the environment's SDK_KEY, which needs no database.
        with (
            admin_client(group, server) as rest,
            admin_client(group, server, key=group.sdk_key) as reader,
            sdk_client(group, server) as sdk,
            StreamRecorder(server.url, bearer=group.server_key) as stream,
        ):
            rest.post("/api/flags", json={"key": "kept", "is_enabled": True})
            sdk.init(timeout=15)
            stream.wait_for(StreamRecorder.ready)

            proxy.cut()
            refused = reader.post("/api/flags", json={"key": "lost", "is_enabled": True})
            assert refused.status_code == 503, refused.text
            assert set(refused.json()) == {"detail", "errors"}
            listed = reader.get("/api/flags")
            assert listed.status_code == 200
            assert [flag["key"] for flag in listed.json()] == ["kept"]
            keepalives = stream.lines.count(": keep-alive")
            stream.wait_for(lambda rec: rec.lines.count(": keep-alive") > keepalives + 1)
            assert sdk.connected and sdk.is_enabled("kept", "u")
            # A key verified before the outage can still open a new stream.
            with StreamRecorder(server.url, bearer=group.server_key) as late:
                late.wait_for(StreamRecorder.ready)

            proxy.restore()
            wait_until(
                lambda: (
                    reader.post("/api/flags", json={"key": "back", "is_enabled": True}).status_code
                    in (200, 201)
                ),
                20,
                "writes did not recover",
            )
            wait_until(lambda: sdk.is_enabled("back", "u"), 10, "the stream missed the write")
    finally:
        proxy.close()


def test_an_instance_started_while_redis_is_down_serves_and_joins_when_it_is_back(
    make_server_group, private_redis
):
    private_redis.stop()
    group = make_server_group(redis_url=private_redis.url, keepalive_seconds=1.0)
    a = group.add_server()
    with admin_client(group, a) as rest_a, sdk_client(group, a) as on_a:
        assert rest_a.get("/api/flags").status_code == 200
        on_a.init(timeout=15)
        private_redis.start()
        b = group.add_server()
        with admin_client(group, b) as rest_b:
            rest_b.post("/api/flags", json={"key": "written_on_b", "is_enabled": True})
            wait_until(lambda: on_a.is_enabled("written_on_b", "u"), 10, "A never joined")
            assert rest_a.get("/api/flags/written_on_b").status_code == 200
