"""ALLOWED_HOSTS for every route, /stream included, against a real server."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.mark.parametrize("path", ["/stream", "/api/flags", "/admin/login/", "/api/nowhere"])
def test_a_foreign_host_is_refused_everywhere(server_group, server, path):
    headers = {"Host": "evil.example", "Authorization": f"Bearer {server_group.server_key}"}
    answer = httpx.get(server.url + path, headers=headers, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "The Host header names a host this server does not serve.",
        "errors": {},
    }
    assert "Traceback" not in server.log_tail(200)


def test_an_allowed_host_still_opens_the_stream(server_group, server):
    headers = {"Host": "localhost", "Authorization": f"Bearer {server_group.server_key}"}
    with httpx.stream("GET", server.url + "/stream", headers=headers, timeout=10) as answer:
        assert answer.status_code == 200
