"""ALLOWED_HOSTS for every route, /stream included, against a real server."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from flags.api_keys import prefix_of
from tests.e2e.server import REPO_ROOT

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


def test_revoking_every_key_of_a_debug_server_leaves_authentication_on(make_server_group):
    # Debug on, no SDK_KEY: what turned authentication off at run time once the last key went.
    group = make_server_group(extra_env={"SIDEKICK_DEBUG": "1", "SDK_KEY": ""})
    live = group.add_server()
    keys = [group.keys[role] for role in ("admin", "server", "client")]
    assert all(keys)
    for raw in keys:
        subprocess.run(
            [sys.executable, "manage.py", "revoke_api_key", prefix_of(raw)],
            cwd=REPO_ROOT,
            env=group.env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    anonymous = httpx.post(f"{live.url}/api/flags", json={"key": "open_door"}, timeout=10)
    assert anonymous.status_code == 401
    revoked = httpx.get(
        f"{live.url}/api/flags", headers={"Authorization": f"Bearer {keys[0]}"}, timeout=10
    )
    assert revoked.status_code == 401
    with httpx.stream("GET", f"{live.url}/stream", timeout=10) as stream:
        assert stream.status_code == 401
    assert "X-Sidekick-Auth" not in anonymous.headers
