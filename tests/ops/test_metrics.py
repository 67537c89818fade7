"""/metrics on real daphne processes: access control, labels, figures, several workers."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import sidekick.metrics  # noqa: F401  (registers every metric)
from tests.e2e.server import REPO_ROOT, SidekickServer
from tests.ops.conftest import add_image_server

TOKEN = "metrics-token-for-tests"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def scrape(server: SidekickServer) -> dict:
    response = httpx.get(f"{server.url}/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


@pytest.mark.e2e
@pytest.mark.postgres
def test_metrics_are_off_without_a_token(make_server_group):
    server = add_image_server(make_server_group())

    response = httpx.get(f"{server.url}/metrics")

    assert response.status_code == 404
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.e2e
@pytest.mark.postgres
def test_metrics_need_the_token(make_server_group):
    server = add_image_server(make_server_group(), env={"SIDEKICK_METRICS_TOKEN": TOKEN})

    missing = httpx.get(f"{server.url}/metrics")
    wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"})

    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "sidekick_" not in missing.text + wrong.text


@pytest.mark.e2e
@pytest.mark.postgres
def test_requests_evaluations_and_store_figures(make_server_group):
    group = make_server_group()
    server = add_image_server(group, env={"SIDEKICK_METRICS_TOKEN": TOKEN})
    admin = {"Authorization": f"Bearer {group.admin_key}"}
    with httpx.Client(base_url=server.url, headers=admin) as client:
        for key, enabled in (("on_flag", True), ("off_flag", False)):
            created = client.post("/api/flags", json={"key": key, "is_enabled": enabled})
            assert created.status_code == 201, created.text
        for key in ("on_flag", "off_flag", "off_flag", "missing_flag"):
            answer = client.post("/api/evaluate", json={"flag": key, "user_key": "u1"})
            assert answer.status_code == 200, answer.text
        reasons = [
            client.post("/api/evaluate", json={"flag": key, "user_key": "u1"}).json()["reason"]
            for key in ("on_flag", "off_flag", "off_flag", "missing_flag")
        ]
        assert client.get("/api/flags/on_flag").status_code == 200
        assert client.get("/api/flags/missing_flag").status_code == 404

    scraped = scrape(server)

    for reason in set(reasons):
        # Each reason was answered twice per flag in the loop above and in `reasons`.
        assert value(scraped, "sidekick_evaluations_total", reason=reason) == 2 * reasons.count(
            reason
        )
    route = "/api/flags/<str:key>"
    assert value(scraped, "sidekick_http_requests_total", route=route, method="GET", status="200")
    assert value(scraped, "sidekick_http_requests_total", route=route, method="GET", status="404")
    # Route templates only: no label holds a raw path.
    assert not any(
        dict(labels).get("route") in {"/api/flags/on_flag", "/api/flags/missing_flag"}
        for _, labels in scraped
    )
    count = value(
        scraped,
        "sidekick_http_request_duration_seconds_count",
        route="/api/evaluate",
        method="POST",
    )
    assert count == 8
    assert value(scraped, "sidekick_store_flags") == 2
    assert value(scraped, "sidekick_store_revision") >= 3
    in_use = value(scraped, "sidekick_db_pool_connections", state="in_use")
    idle = value(scraped, "sidekick_db_pool_connections", state="idle")
    assert in_use + idle >= 1
    # The stream metrics exist before the stream code records them.
    assert ("sidekick_streams_open", frozenset()) in scraped


@pytest.mark.e2e
@pytest.mark.postgres
def test_several_workers_are_summed_in_one_scrape(make_server_group, redis_url):
    group = make_server_group(redis_url=redis_url)
    metrics_dir = group.workdir / "metrics"
    env = {"SIDEKICK_METRICS_TOKEN": TOKEN, "SIDEKICK_METRICS_DIR": str(metrics_dir)}
    server = group.add_server(workers=2, env=env)
    admin = {"Authorization": f"Bearer {group.admin_key}"}
    assert len(server.serving_pids()) == 2
    requests = 40
    for _ in range(requests):
        # A new connection each time, so the kernel spreads them over both workers.
        assert httpx.get(f"{server.url}/api/flags", headers=admin).status_code == 200

    # Whichever worker answers the scrape reports every worker's requests.
    for _ in range(4):
        scraped = scrape(server)
        total = value(
            scraped, "sidekick_http_requests_total", route="/api/flags", method="GET", status="200"
        )
        assert total == requests
    # Both workers run in multiprocess mode: each keeps its own file in the shared directory.
    recorded = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}
    assert {str(pid) for pid in server.serving_pids()} <= recorded


def test_every_metric_is_documented():
    documented = (REPO_ROOT / "docs" / "operations.md").read_text()
    # Counters are collected under their name without `_total`.
    names = {family.name for family in REGISTRY.collect() if family.name.startswith("sidekick_")}

    assert len(names) >= 18
    missing = [
        name
        for name in names
        if f"`{name}`" not in documented and f"`{name}_total`" not in documented
    ]
    assert missing == []


@pytest.mark.e2e
@pytest.mark.postgres
def test_stream_metrics_follow_streams_changes_refusals_revocations_and_repairs(
    make_server_group,
):
    """Each stream metric read back from a real daphne after the thing it counts happened."""
    import psycopg

    from flags.api_keys import prefix_of
    from tests.e2e.sse import StreamRecorder, wait_until
    from tests.e2e.test_command_changes import manage

    group = make_server_group(reconcile_seconds=1.0)
    env = {"SIDEKICK_METRICS_TOKEN": TOKEN, "SIDEKICK_STREAMS_PER_KEY": "2"}
    server = group.add_server(env=env)
    admin = {"Authorization": f"Bearer {group.admin_key}"}
    client_streams = [StreamRecorder(server.url, query_key=group.client_key) for _ in range(2)]
    server_stream = StreamRecorder(server.url, bearer=group.server_key)
    streams = [*client_streams, server_stream]
    try:
        for stream in streams:
            stream.wait_for(StreamRecorder.ready)
        over = StreamRecorder(server.url, query_key=group.client_key)
        assert over.wait_for_status() == 429
        over.close()
        scraped = scrape(server)
        assert value(scraped, "sidekick_streams_open") == 3
        assert value(scraped, "sidekick_streams_opened_total") == 3
        assert value(scraped, "sidekick_streams_refused_total") == 1
        assert value(scraped, "sidekick_stream_events_fanned_out_total") == 0
        # The in-memory layer's probe round-trips once a second.
        wait_until(
            lambda: value(scrape(server), "sidekick_channel_layer_up") == 1,
            10,
            "the channel layer probe never reported up",
        )

        # One change reaches all three streams: counted once, delivered three times, timed.
        created = httpx.post(
            f"{server.url}/api/flags", json={"key": "seen", "client_side": True}, headers=admin
        )
        assert created.status_code == 201
        for stream in streams:
            stream.wait_for(lambda rec: any(u["flag"]["key"] == "seen" for u in rec.updates()))
        scraped = scrape(server)
        assert value(scraped, "sidekick_stream_events_fanned_out_total") == 1
        assert value(scraped, "sidekick_stream_deliveries_total") == 3
        assert value(scraped, "sidekick_stream_commit_to_first_send_seconds_count") == 1
        assert 0 < value(scraped, "sidekick_stream_commit_to_first_send_seconds_sum") < 5

        # A change made behind the server's back is repaired by the reconciliation.
        with psycopg.connect(group.database.url, autocommit=True) as connection:
            connection.execute(
                "UPDATE flags_flag SET is_enabled = true, version = version + 1 WHERE key = 'seen'"
            )
        wait_until(
            lambda: value(scrape(server), "sidekick_reconcile_repairs_total") == 1,
            15,
            "the reconciliation repair was not counted",
        )

        # Revoking the client key ends its two streams with goodbye `revoked`.
        prefix = prefix_of(group.client_key or "")
        assert prefix is not None
        manage(group, "revoke_api_key", prefix)
        for stream in client_streams:
            stream.wait_closed(10)
        scraped = scrape(server)
        assert value(scraped, "sidekick_streams_open") == 1
        assert value(scraped, "sidekick_streams_closed_total", reason="revoked") == 2
        assert value(scraped, "sidekick_stream_goodbyes_total", reason="revoked") == 2

        # A client that leaves gives its stream back.
        server_stream.close()
        wait_until(
            lambda: value(scrape(server), "sidekick_streams_open") == 0,
            10,
            "the closed stream is still counted open",
        )
        scraped = scrape(server)
        assert value(scraped, "sidekick_streams_closed_total", reason="client_gone") == 1
        assert value(scraped, "sidekick_streams_opened_total") == 3
    finally:
        for stream in streams:
            stream.close()
