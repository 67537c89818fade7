"""`manage.py serve --workers N`: one socket, several daphne workers kept in sync through Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import REPO_ROOT
from tests.e2e.sse import StreamRecorder, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

STREAMS = 12


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except OSError:
        return False


def test_every_stream_and_every_worker_follows_a_write(make_server_group, private_redis):
    group = make_server_group(redis_url=private_redis.url, keepalive_seconds=1.0)
    server = group.add_server(workers=2)
    assert len(server.serving_pids()) == 2
    headers = {"Authorization": f"Bearer {group.admin_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=15) as client:
        assert client.post("/api/flags", json={"key": "workers_flag"}).status_code == 201
    streams = [StreamRecorder(server.url, bearer=group.server_key) for _ in range(STREAMS)]
    try:
        for stream in streams:
            stream.wait_for(StreamRecorder.ready)
        with httpx.Client(base_url=server.url, headers=headers, timeout=15) as client:
            patched = client.patch("/api/flags/workers_flag", json={"is_enabled": True}).json()
        for stream in streams:
            stream.wait_for(
                lambda rec: any(
                    update.get("flag", {}).get("version") == patched["version"]
                    for update in rec.updates()
                )
            )
    finally:
        for stream in streams:
            stream.close()

    def every_answer_is_current() -> bool:
        # A fresh connection per request, so that both workers answer some of them.
        for _ in range(10):
            flag = httpx.get(f"{server.url}/api/flags/workers_flag", headers=headers).json()
            if flag["version"] != patched["version"]:
                return False
        return True

    wait_until(every_answer_is_current, 10, "a worker still serves the old version")


def test_a_dead_worker_is_replaced_and_the_workers_die_with_the_supervisor(
    make_server_group, private_redis
):
    group = make_server_group(redis_url=private_redis.url)
    server = group.add_server(workers=2)
    first, second = server.serving_pids()
    os.kill(first, signal.SIGKILL)
    wait_until(
        lambda: len(server.serving_pids()) == 2 and first not in server.serving_pids(),
        30,
        lambda: f"workers are {server.serving_pids()}",
    )
    replacement = next(pid for pid in server.serving_pids() if pid != second)
    wait_until(
        lambda: httpx.get(f"{server.url}/api/flags", timeout=5).status_code in (200, 401),
        30,
        "the server stopped answering",
    )
    # SIGKILL cannot be forwarded: the workers must notice their supervisor is gone by themselves.
    server.kill()
    wait_until(
        lambda: not _alive(second) and not _alive(replacement),
        30,
        "workers outlived their supervisor",
    )


def test_several_workers_without_redis_are_refused(make_server_group):
    group = make_server_group()
    group.prepare()
    env = dict(group.env)
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "serve", "--workers", "2", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "REDIS_URL" in done.stderr
