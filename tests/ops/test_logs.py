"""Logs never contain a secret: a real server, every kind of key, the whole log searched."""

from __future__ import annotations

import json
import re
import secrets
import time

import httpx
import pytest

from sidekick.logs import redact_secrets
from tests.ops.conftest import add_image_server, log_text

STREAM_READ_SECONDS = 10.0


def test_redact_secrets_covers_every_form():
    key = "sk_server_AbCd1234" + "s3cr3t-part_of-the-key"
    line = (
        f"GET /stream?environment=a%2Fb&sdk_key={key}&x=1 "
        f"Authorization: Bearer {key} token=plain-token-value Token abcdef123456"
    )

    redacted = redact_secrets(line)

    assert "s3cr3t" not in redacted
    assert "plain-token-value" not in redacted and "abcdef123456" not in redacted
    assert "sdk_key=[redacted]&x=1" in redacted
    assert "Bearer [redacted]" in redacted
    # A bare key keeps its visible prefix: what the admin shows to tell keys apart.
    assert redact_secrets(f"revoked {key}.") == "revoked sk_server_AbCd1234[redacted]."
    assert redact_secrets("GET /api/flags 200") == "GET /api/flags 200"


def _read_stream_until_ready(
    client: httpx.Client, url: str, headers: dict[str, str] | None = None
) -> int:
    deadline = time.monotonic() + STREAM_READ_SECONDS
    with client.stream("GET", url, headers=headers, timeout=STREAM_READ_SECONDS) as response:
        if response.status_code != 200:
            return response.status_code
        for line in response.iter_lines():
            if line.startswith("event: ready") or time.monotonic() > deadline:
                break
        return response.status_code


def _wait_for_log_lines(server, pattern: str, count: int, seconds: float = 10.0) -> int:
    deadline = time.monotonic() + seconds
    found = len(re.findall(pattern, log_text(server)))
    while found < count and time.monotonic() < deadline:
        time.sleep(0.1)
        found = len(re.findall(pattern, log_text(server)))
    return found


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_reaches_the_log(make_server_group, log_format):
    group = make_server_group()
    metrics_token = "metrics-" + secrets.token_urlsafe(16)
    server = add_image_server(
        group,
        env={
            "SIDEKICK_LOG_FORMAT": log_format,
            "SIDEKICK_LOG_LEVEL": "DEBUG",
            "SIDEKICK_METRICS_TOKEN": metrics_token,
        },
    )
    unknown_key = "sk_server_" + secrets.token_urlsafe(32)
    keys = {
        "admin": group.keys["admin"],
        "server": group.keys["server"],
        "client": group.keys["client"],
        "sdk": group.sdk_key,
        "unknown": unknown_key,
    }
    assert all(keys.values()), keys
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for key in keys.values():
            bearer = {"Authorization": f"Bearer {key}"}
            client.get("/api/flags", headers=bearer)
            client.post("/api/evaluate", headers=bearer, json={"flag": "f", "user_key": "u"})
            client.get(f"/api/flags?sdk_key={key}")
            client.get(f"/no/such/page?sdk_key={key}&api_key={key}")
            client.get(f"/metrics?sdk_key={key}", headers={"Authorization": f"Bearer {key}"})
            _read_stream_until_ready(client, f"/stream?sdk_key={key}")
            _read_stream_until_ready(client, "/stream", headers=bearer)
        assert client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
        # An admin login, failed and successful: the password is a secret too.
        login = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token, login.text[:300]
        for password in ("wrong-" + group.admin_password, group.admin_password):
            client.post(
                "/admin/login/",
                data={
                    "username": "admin",
                    "password": password,
                    "csrfmiddlewaretoken": token.group(1),
                },
            )

    # Each stream is logged when it ends: wait for all of them before reading the log.
    stream_lines = _wait_for_log_lines(server, r"GET /stream", 2 * len(keys))
    server.stop()
    log = log_text(server)

    assert stream_lines == 2 * len(keys)
    for name, key in keys.items():
        assert key not in log, f"the {name} key is in the log"
    assert metrics_token not in log
    assert group.admin_password not in log
    assert "sdk_key=[redacted]" in log
    # A stream's line carries the status the server sent (its send is the server's own).
    assert re.search(r'GET /stream\?sdk_key=\[redacted\]\\?" 200 ', log)
    request_lines = [line for line in log.splitlines() if "sidekick.requests" in line]
    assert len(request_lines) >= 7 * len(keys)
    if log_format == "json":
        for line in log.splitlines():
            if line.startswith("{"):
                document = json.loads(line)
                assert {"time", "level", "logger", "message"} <= set(document)
        first = json.loads(next(line for line in request_lines if line.startswith("{")))
        assert {"method", "target", "route", "status", "duration_ms", "client"} <= set(first)


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.redis
def test_no_secret_reaches_the_log_of_serve_workers(make_server_group, redis_url):
    """`manage.py serve --workers N` starts its own daphne processes: their logs too."""
    group = make_server_group(redis_url=redis_url)
    server = group.add_server(workers=2)
    keys = [group.keys["admin"], group.keys["server"], group.keys["client"], group.sdk_key]
    assert all(keys)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for key in keys:
            client.get(f"/api/flags?sdk_key={key}")
            _read_stream_until_ready(client, f"/stream?sdk_key={key}")
    streams = _wait_for_log_lines(server, r"GET /stream", len(keys))
    server.stop()
    log = log_text(server)

    assert streams == len(keys)
    for key in keys:
        assert key not in log
