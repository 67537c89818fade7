"""PATCH latency through daphne on PostgreSQL: 200 sequential PATCHes of one flag, p50 and p90.

Run from a checkout (or an unpacked older tree, to compare two versions on one machine):

    .venv/bin/python benchmarks/patch_latency.py TREE DATABASE PORT

TREE is the source tree to serve, DATABASE a PostgreSQL database name (dropped and created on
127.0.0.1 as user postgres), PORT a free port. One client, no Redis, DEBUG on.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import httpx

WARM_UP = 20
SAMPLES = 200


def main(tree: str, database: str, port: int) -> None:
    python = sys.executable
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        SIDEKICK_DEBUG="1",
        PYTHONPATH=tree,
    )
    env.pop("REDIS_URL", None)
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q"]
    subprocess.run(
        [*psql, "-c", f"DROP DATABASE IF EXISTS {database}", "-c", f"CREATE DATABASE {database}"],
        check=True,
        capture_output=True,
    )
    manage = [python, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=tree, env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*manage, "create_api_key", "--role", "admin", "--name", "bench", "--quiet-secret-only"],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    daphne = [python, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        [*daphne, "sidekick.asgi:application"],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/api/flags").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        created_flag = client.post("/api/flags", json={"key": "bench", "is_enabled": True})
        assert created_flag.status_code == 201, created_flag.text
        for index in range(WARM_UP):
            client.patch("/api/flags/bench", json={"rollout_percentage": index})
        samples = []
        for index in range(SAMPLES):
            start = time.perf_counter()
            response = client.patch("/api/flags/bench", json={"rollout_percentage": index % 101})
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.text
        samples.sort()
        print(
            f"{tree}: p50 {statistics.median(samples):.2f} ms, "
            f"p90 {samples[int(SAMPLES * 0.9) - 1]:.2f} ms, "
            f"mean {statistics.fmean(samples):.2f} ms"
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
