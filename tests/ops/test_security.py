"""Security settings on real servers: headers, cookies, TLS behind a proxy, errors, admin logins."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.server import ADMIN_USERNAME, free_port
from tests.ops.conftest import add_image_server, log_text

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

FAILURE_LIMIT = 3


def test_security_headers_and_httponly_cookies(make_server_group):
    server = add_image_server(make_server_group())

    page = httpx.get(f"{server.url}/admin/login/")

    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("csrftoken=") and "HttpOnly" in cookie
    assert "Secure" not in cookie  # TLS settings are off by default


def test_tls_behind_a_proxy_when_switched_on(make_server_group):
    env = {
        "SIDEKICK_TRUST_X_FORWARDED_PROTO": "1",
        "SIDEKICK_HTTPS_REDIRECT": "1",
        "SIDEKICK_HSTS_SECONDS": "3600",
        "SIDEKICK_SECURE_COOKIES": "1",
    }
    server = add_image_server(make_server_group(), env=env)

    plain = httpx.get(f"{server.url}/admin/login/")
    proxied = httpx.get(f"{server.url}/admin/login/", headers={"X-Forwarded-Proto": "https"})
    probe = httpx.get(f"{server.url}/readyz")

    assert plain.status_code == 301
    assert plain.headers["location"].startswith("https://")
    assert proxied.status_code == 200
    assert proxied.headers["strict-transport-security"] == "max-age=3600"
    assert "Secure" in proxied.headers["set-cookie"]
    assert probe.status_code == 200  # probes talk plain HTTP to the process


def test_errors_show_no_internals(make_server_group):
    group = make_server_group()
    group.prepare()
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/sidekick"
    server = add_image_server(group, env={"DATABASE_URL": dead, "SIDEKICK_DB_POOL_TIMEOUT": "0.5"})
    key = {"Authorization": f"Bearer {group.sdk_key}"}

    api = httpx.get(f"{server.url}/api/flags", headers=key, timeout=30)
    page = httpx.get(f"{server.url}/admin/", cookies={"sessionid": "x" * 32}, timeout=30)

    assert api.status_code == 503
    assert api.json() == {"detail": "The database is unavailable. Retry later.", "errors": {}}
    assert api.headers["retry-after"] == "5"
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/plain")
    for text in (api.text, page.text):
        assert "Traceback" not in text and "psycopg" not in text and "127.0.0.1" not in text
    assert "Traceback" in log_text(server)  # the details go to the log, not to the client


def _login(client: httpx.Client, username: str, password: str, address: str) -> int:
    form = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, form.text[:300]
    response = client.post(
        "/admin/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token[1]},
        headers={"X-Forwarded-For": address},
    )
    return response.status_code


def test_admin_login_locks_out_an_address_then_a_user_name(make_server_group):
    group = make_server_group()
    server = add_image_server(group, env={"SIDEKICK_LOGIN_FAILURE_LIMIT": str(FAILURE_LIMIT)})
    password = group.admin_password

    with httpx.Client(base_url=server.url) as client:
        # One address guessing several user names is locked out, even with the right password.
        for attempt in range(FAILURE_LIMIT):
            _login(client, f"guess{attempt}", "wrong", "203.0.113.7")
        assert _login(client, ADMIN_USERNAME, password, "203.0.113.7") == 429
        # The user name itself had no failures: from another address it logs in.
        assert _login(client, ADMIN_USERNAME, password, "198.51.100.1") == 302

    with httpx.Client(base_url=server.url) as client:
        # One user name guessed at from many addresses is locked out from every address.
        for attempt in range(FAILURE_LIMIT):
            assert _login(client, ADMIN_USERNAME, "wrong", f"192.0.2.{attempt + 1}") in {200, 429}
        assert _login(client, ADMIN_USERNAME, password, "192.0.2.200") == 429

    log = log_text(server)
    # The audit trace: each failure is logged with the user name and the client address.
    assert re.search(r"AXES: New login failure by .*guess0.*203\.0\.113\.7", log)
    assert re.search(r"AXES: (New|Repeated) login failure by .*admin.*192\.0\.2\.1", log)
    assert password not in log
