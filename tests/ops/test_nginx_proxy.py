"""The compose file's nginx configuration in front of two real instances: SSE passes through."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import free_port
from tests.ops.conftest import add_image_server
from tests.ops.test_deploy_files import INSTANCES, NGINX_CONF, _nginx

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

EVENT_TIMEOUT_SECONDS = 10.0


def _start_nginx(workdir: Path, upstream_ports: list[int], port: int) -> subprocess.Popen[bytes]:
    conf = NGINX_CONF.read_text().replace("listen 80;", f"listen 127.0.0.1:{port};")
    for name, upstream_port in zip(INSTANCES, upstream_ports, strict=True):
        conf = conf.replace(f"server {name}:8000", f"server 127.0.0.1:{upstream_port}")
    (workdir / "sidekick.conf").write_text(conf)
    temp = {name: workdir / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    main = workdir / "nginx.conf"
    main.write_text(
        "user root;\n"
        f"pid {workdir / 'nginx.pid'};\n"
        "events {}\n"
        "http {\n"
        f"    access_log {workdir / 'access.log'};\n"
        f"    client_body_temp_path {temp['body']};\n"
        f"    proxy_temp_path {temp['proxy']};\n"
        f"    fastcgi_temp_path {temp['fastcgi']};\n"
        f"    uwsgi_temp_path {temp['uwsgi']};\n"
        f"    scgi_temp_path {temp['scgi']};\n"
        f"    include {workdir / 'sidekick.conf'};\n"
        "}\n"
    )
    error_log = str(workdir / "error.log")
    command = [_nginx(), "-p", str(workdir), "-e", error_log, "-c", str(main), "-g", "daemon off;"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.terminate()
    raise TimeoutError(f"nginx did not answer: {(workdir / 'error.log').read_text()}")


@pytest.fixture
def proxied(make_server_group, redis_url, tmp_path) -> Iterator[tuple[str, str]]:
    group = make_server_group(redis_url=redis_url)
    servers = [add_image_server(group) for _ in INSTANCES]
    port = free_port()
    nginx = _start_nginx(tmp_path, [server.port for server in servers], port)
    try:
        yield f"http://127.0.0.1:{port}", group.admin_key
    finally:
        nginx.terminate()
        nginx.wait(10)


def test_a_change_reaches_a_stream_through_nginx(proxied):
    url, key = proxied
    auth = {"Authorization": f"Bearer {key}"}

    with httpx.Client(base_url=url, headers=auth, timeout=EVENT_TIMEOUT_SECONDS) as client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 404  # scraped per instance, not here
        opened = time.monotonic()
        with client.stream("GET", "/stream") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert any(line.startswith("event: ready") for line in lines)
            replayed = time.monotonic() - opened
            written = httpx.post(
                f"{url}/api/flags", headers=auth, json={"key": "through_nginx", "is_enabled": True}
            )
            assert written.status_code == 201, written.text
            started = time.monotonic()
            received = next(line for line in lines if '"key":"through_nginx"' in line)
            elapsed = time.monotonic() - started

    assert received.startswith("data: ")
    # Promptly through the proxy. (On loopback nginx forwarded these small events at once even
    # with buffering forced on, so this does not prove `proxy_buffering off`: the directive is
    # checked in test_deploy_files.py.)
    assert replayed < 2.0
    assert elapsed < 2.0
