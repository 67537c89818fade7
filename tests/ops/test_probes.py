"""/healthz and /readyz on real daphne processes: what each reports, and when it says no."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.server import free_port
from tests.ops.conftest import add_image_server

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def test_ready_with_database_redis_and_store(make_server_group, redis_url):
    group = make_server_group(redis_url=redis_url)
    server = add_image_server(group)

    health = httpx.get(f"{server.url}/healthz")
    ready = httpx.get(f"{server.url}/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    for response in (health, ready):
        # No key needed; nothing about versions, software or settings in the answer.
        assert not any(char.isdigit() for char in response.headers.get("server", ""))
        assert response.headers["cache-control"] == "no-store"


def test_probes_ignore_the_host_header(make_server_group):
    """Kubelets and scrapers address a pod by its IP, which ALLOWED_HOSTS does not list."""
    server = add_image_server(make_server_group())
    headers = {"Host": "10.1.2.3:8000"}

    assert httpx.get(f"{server.url}/healthz", headers=headers).status_code == 200
    assert httpx.get(f"{server.url}/readyz", headers=headers).status_code == 200
    # Everything else still refuses an unknown host, in the error shape under /api/.
    refused = httpx.get(f"{server.url}/api/flags", headers=headers)
    assert refused.status_code == 400
    assert set(refused.json()) == {"detail", "errors"}


def test_database_down_is_not_ready_but_alive(make_server_group):
    group = make_server_group()
    group.prepare()
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/sidekick"
    server = add_image_server(group, env={"DATABASE_URL": dead, "SIDEKICK_DB_POOL_TIMEOUT": "0.5"})

    ready = httpx.get(f"{server.url}/readyz", timeout=30)
    health = httpx.get(f"{server.url}/healthz")

    assert ready.status_code == 503
    body = ready.json()
    assert body["detail"] == "Not ready."
    assert set(body["errors"]) == {"database", "store"}
    assert "127.0.0.1" not in ready.text and "psycopg" not in ready.text
    assert health.status_code == 200


def test_channel_layer_not_joined_is_not_ready(make_server_group):
    group = make_server_group(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    server = add_image_server(group)

    ready = httpx.get(f"{server.url}/readyz", timeout=30)

    assert ready.status_code == 503
    assert set(ready.json()["errors"]) == {"channel_layer"}


def test_channel_layer_joins_when_redis_comes_up(make_server_group, private_redis):
    private_redis.stop()
    group = make_server_group(redis_url=private_redis.url)
    server = add_image_server(group)
    assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 503

    private_redis.start()

    with httpx.Client(base_url=server.url, timeout=30) as client:
        status = poll_status(client, "/readyz", want=200, seconds=20)
    assert status == 200


def poll_status(client: httpx.Client, path: str, *, want: int, seconds: float) -> int:
    """Asks until the answer has status `want` or the time is up; returns the last status."""
    deadline = time.monotonic() + seconds
    status = client.get(path).status_code
    while status != want and time.monotonic() < deadline:
        time.sleep(0.2)
        status = client.get(path).status_code
    return status
