"""Input that produced 500s or noise: each gets a 4xx in the error shape and no traceback.

Against a real server on PostgreSQL (a NUL in a query is refused by PostgreSQL, not SQLite).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.server import ServerGroup, SidekickServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def group() -> Iterator[ServerGroup]:
    group = ServerGroup()
    try:
        group.add_server()
        yield group
    finally:
        group.close()


@pytest.fixture(scope="module")
def live(group: ServerGroup) -> SidekickServer:
    return group.servers[0]


@pytest.fixture(scope="module")
def admin(group: ServerGroup, live: SidekickServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {group.admin_key}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=15) as client:
        assert client.post("/api/flags", json={"key": "target"}).status_code == 201
        yield client


def assert_error_shape(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "errors"}
    return body


def assert_no_traceback(server: SidekickServer) -> None:
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, server.log_tail(60)


def test_a_nul_in_a_flag_key_is_not_found(group, admin, live):
    if not group.database.is_postgres:
        pytest.skip("PostgreSQL is unreachable (the harness fails instead when it is required)")
    for method in ("GET", "PATCH", "DELETE"):
        response = admin.request(method, "/api/flags/a%00b", json={} if method == "PATCH" else None)
        assert_error_shape(response, 404)
    assert_error_shape(admin.get("/api/flags/a%00b/history"), 404)
    assert_no_traceback(live)


@pytest.mark.parametrize("tag", ['"²"', "²", '"' + "7" * 5000 + '"', 'W/"٣"'])
def test_an_if_match_naming_no_version_fails_the_precondition(admin, live, tag):
    response = admin.patch(
        "/api/flags/target", json={"description": "x"}, headers={"If-Match": tag.encode()}
    )
    assert_error_shape(response, 412)
    assert admin.get("/api/flags/target").json()["description"] is None
    assert_no_traceback(live)


def test_a_nul_in_a_query_key_on_the_stream_is_401(live):
    for key in ("sk_client_%00abcdefghijkl", "%00", "sk_client_abcdefgh%00ijklmnop"):
        response = httpx.get(f"{live.url}/stream?sdk_key={key}", timeout=10)
        assert_error_shape(response, 401)
    assert_no_traceback(live)


def test_a_wildcard_content_type_is_not_json(admin, live):
    response = admin.post("/api/flags", content=b'{"key": "wild"}', headers={"Content-Type": "*/*"})
    assert_error_shape(response, 415)
    assert admin.get("/api/flags/wild").status_code == 404
    assert_no_traceback(live)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "too deeply"),
        (b'{"key": ' + b"9" * 5000 + b"}", "number too long"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"key": }', "line 1, column 9"),
    ],
)
def test_parse_errors_speak_of_the_body_not_the_interpreter(admin, live, body, expected):
    response = admin.post("/api/flags", content=body, headers={"Content-Type": "application/json"})
    detail = assert_error_shape(response, 400)["detail"]
    assert expected in detail
    for internal in ("codec", "recursion", "int_max_str_digits", "char ", "Exceeds the limit"):
        assert internal not in detail
    assert_no_traceback(live)


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/api/flagz", "/api/flags/target/nope", "/api"])
def test_an_unknown_api_path_answers_json_for_every_method(admin, live, method, path):
    body = assert_error_shape(admin.request(method, path), 404)
    assert body["detail"] == "Not found."
    assert_no_traceback(live)


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_a_trailing_slash_says_which_path_to_use(admin, method):
    body = assert_error_shape(admin.request(method, "/api/flags/target/"), 404)
    assert body["detail"].endswith("use /api/flags/target")
    body = assert_error_shape(admin.request(method, "/api/flags/"), 404)
    assert body["detail"].endswith("use /api/flags")


def test_an_unknown_api_path_with_a_session_cookie_is_still_json(live):
    # What a browser sends: cookies but no CSRF token. Not a CSRF failure page.
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/flags/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid=abc\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 404")
    assert b"application/json" in response
