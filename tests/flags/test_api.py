"""The REST contract (docs/contract.md): shapes, status codes, ETag/If-Match, and bad input."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from flags.models import ChangeRecord, Flag
from tests.flags.conftest import client_for, stored_state

pytestmark = pytest.mark.django_db(transaction=True)

RULE = {"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}
DARK_MODE = {
    "key": "dark_mode",
    "is_enabled": True,
    "rollout_percentage": 50,
    "description": "Enable dark mode for 50% of users",
    "rules": [RULE],
}


def post(client: APIClient, body: Any, **headers: str) -> Any:
    return client.post("/api/flags", json.dumps(body), content_type="application/json", **headers)


def patch(client: APIClient, key: str, body: Any, **headers: str) -> Any:
    return client.patch(
        f"/api/flags/{key}", json.dumps(body), content_type="application/json", **headers
    )


def assert_error_shape(response: Any, status: int, path: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], dict)
    if path is not None:
        assert path in body["errors"], body
        assert all(isinstance(message, str) for message in body["errors"][path])
    return body


def test_create_returns_201_with_defaults_and_version_1(admin_client, published) -> None:
    response = post(admin_client, {"key": "new_flag"})
    assert response.status_code == 201
    body = response.json()
    assert body["key"] == "new_flag"
    assert body["is_enabled"] is False
    assert body["rollout_percentage"] is None
    assert body["description"] is None
    assert body["rules"] == []
    assert body["version"] == 1
    assert body["updated_at"].endswith("Z")
    assert response["ETag"] == '"1"'
    assert published == [{"type": "UPSERT", "flag": body}]


def test_post_of_an_existing_key_replaces_it_whole(admin_client, published) -> None:
    post(admin_client, DARK_MODE)
    response = post(admin_client, {"key": "dark_mode", "is_enabled": True})
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2
    assert body["rollout_percentage"] is None
    assert body["description"] is None
    assert body["rules"] == []


def test_list_is_served_from_the_process_store_as_a_json_array(
    admin_client, django_assert_num_queries
) -> None:
    post(admin_client, DARK_MODE)
    post(admin_client, {"key": "alpha"})
    admin_client.get("/api/flags")  # the first read may authenticate and load; then no queries
    with django_assert_num_queries(1):  # authentication only: the key lookup
        response = admin_client.get("/api/flags")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    flags = response.json()
    assert [flag["key"] for flag in flags] == ["alpha", "dark_mode"]
    assert flags[1] == {
        **DARK_MODE,
        "client_side": False,
        "version": 1,
        "updated_at": flags[1]["updated_at"],
    }


def test_get_one_sends_a_strong_etag(admin_client) -> None:
    post(admin_client, DARK_MODE)
    patch(admin_client, "dark_mode", {"is_enabled": False})
    response = admin_client.get("/api/flags/dark_mode")
    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    assert response.json()["is_enabled"] is False


def test_unknown_key_is_404_in_the_error_shape(admin_client) -> None:
    assert_error_shape(admin_client.get("/api/flags/missing"), 404)
    assert_error_shape(patch(admin_client, "missing", {"is_enabled": True}), 404)
    assert_error_shape(admin_client.delete("/api/flags/missing"), 404)
    assert_error_shape(admin_client.get("/api/flags/missing/history"), 404)


def test_patch_changes_only_the_fields_sent(admin_client, published) -> None:
    post(admin_client, DARK_MODE)
    response = patch(admin_client, "dark_mode", {"rollout_percentage": None})
    assert response.status_code == 200
    body = response.json()
    assert body["rollout_percentage"] is None
    assert body["is_enabled"] is True
    assert body["rules"] == [RULE]
    assert body["description"] == DARK_MODE["description"]
    assert body["version"] == 2
    assert published[-1] == {"type": "UPSERT", "flag": body}


def test_patch_replaces_rules_whole_and_accepts_what_a_client_read(admin_client) -> None:
    post(admin_client, DARK_MODE)
    read = admin_client.get("/api/flags/dark_mode").json()
    new_rules = [{"attribute": "plan", "operator": "Equals", "values": ["pro", "team"]}]
    response = patch(admin_client, "dark_mode", {**read, "rules": new_rules})
    assert response.status_code == 200
    assert response.json()["rules"] == new_rules
    assert response.json()["version"] == 2


def test_delete_is_204_broadcasts_version_plus_one_and_recreate_continues(
    admin_client, published
) -> None:
    post(admin_client, DARK_MODE)
    patch(admin_client, "dark_mode", {"is_enabled": False})
    response = admin_client.delete("/api/flags/dark_mode")
    assert response.status_code == 204
    assert published[-1] == {"type": "DELETE", "key": "dark_mode", "version": 3}
    assert admin_client.get("/api/flags").json() == []
    recreated = post(admin_client, {"key": "dark_mode"})
    assert recreated.status_code == 201
    assert recreated.json()["version"] == 4


def test_if_match_guards_patch_delete_and_replace(admin_client, published) -> None:
    post(admin_client, DARK_MODE)
    patch(admin_client, "dark_mode", {"is_enabled": False})
    before = stored_state()
    events = len(published)
    for response in (
        patch(admin_client, "dark_mode", {"is_enabled": True}, HTTP_IF_MATCH='"1"'),
        admin_client.delete("/api/flags/dark_mode", HTTP_IF_MATCH='"1"'),
        post(admin_client, DARK_MODE, HTTP_IF_MATCH='"1"'),
        post(admin_client, {"key": "brand_new"}, HTTP_IF_MATCH='"1"'),
        patch(admin_client, "dark_mode", {"is_enabled": True}, HTTP_IF_MATCH='"garbage"'),
    ):
        assert_error_shape(response, 412)
    assert stored_state() == before
    assert len(published) == events

    assert (
        patch(admin_client, "dark_mode", {"is_enabled": True}, HTTP_IF_MATCH='"2"').status_code
        == 200
    )
    assert post(admin_client, DARK_MODE, HTTP_IF_MATCH='W/"3"').status_code == 200
    assert admin_client.delete("/api/flags/dark_mode", HTTP_IF_MATCH="4").status_code == 204


def test_history_is_newest_first_and_paginated(admin_client) -> None:
    post(admin_client, DARK_MODE)
    for rollout in range(1, 4):
        patch(admin_client, "dark_mode", {"rollout_percentage": rollout})
    admin_client.delete("/api/flags/dark_mode")
    response = admin_client.get("/api/flags/dark_mode/history?page_size=2")
    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 5
    assert page["previous"] is None
    assert page["next"]
    first, second = page["results"]
    assert first["action"] == "delete"
    assert first["version"] == 5
    assert first["after"] is None
    assert first["before"]["rollout_percentage"] == 3
    assert first["actor"].startswith("api_key:")
    assert second["action"] == "update"
    assert second["before"]["rollout_percentage"] == 2
    assert second["after"]["rollout_percentage"] == 3
    last = admin_client.get("/api/flags/dark_mode/history?page=3&page_size=2").json()
    assert [record["action"] for record in last["results"]] == ["create"]
    assert last["results"][0]["before"] is None


def test_evaluate_uses_the_core(admin_client, server_client) -> None:
    post(admin_client, DARK_MODE)

    def evaluate(body: dict[str, Any]) -> Any:
        return server_client.post(
            "/api/evaluate", json.dumps(body), content_type="application/json"
        )

    rule = evaluate({"flag": "dark_mode", "user_key": "u1", "attributes": {"email": "x@acme.com"}})
    assert rule.status_code == 200
    assert rule.json() == {
        "flag": "dark_mode",
        "enabled": True,
        "reason": "RULE_MATCH",
        "rule_index": 0,
        "version": 1,
    }
    rollout = evaluate({"flag": "dark_mode", "user_key": "u1"}).json()
    assert rollout["reason"] == "ROLLOUT"
    assert rollout["rule_index"] is None
    missing = evaluate({"flag": "nope", "user_key": "u1", "attributes": None})
    assert missing.status_code == 200
    assert missing.json() == {
        "flag": "nope",
        "enabled": False,
        "reason": "FLAG_NOT_FOUND",
        "rule_index": None,
        "version": None,
    }
    patch(admin_client, "dark_mode", {"is_enabled": False})
    assert evaluate({"flag": "dark_mode", "user_key": "u1"}).json()["reason"] == "OFF"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"user_key": "u"}, "flag"),
        ({"flag": "f", "user_key": 5}, "user_key"),
        ({"flag": "f", "user_key": "u", "attributes": [1]}, "attributes"),
        ({"flag": "f", "user_key": "u", "extra": 1}, "extra"),
    ],
)
def test_evaluate_rejects_bad_requests(server_client, body, path) -> None:
    response = server_client.post(
        "/api/evaluate", json.dumps(body), content_type="application/json"
    )
    assert_error_shape(response, 400, path)


# Each bad body is tried on create and on patch; nothing may change and nothing be published.
BAD_BODIES: list[tuple[str, Any, str | None]] = [
    ("rollout as string", {"rollout_percentage": "50"}, "rollout_percentage"),
    ("rollout as float", {"rollout_percentage": 50.5}, "rollout_percentage"),
    ("rollout as bool", {"rollout_percentage": True}, "rollout_percentage"),
    ("rollout 101", {"rollout_percentage": 101}, "rollout_percentage"),
    ("rollout -5", {"rollout_percentage": -5}, "rollout_percentage"),
    ("enabled as 1", {"is_enabled": 1}, "is_enabled"),
    ("enabled as yes", {"is_enabled": "yes"}, "is_enabled"),
    ("description too long", {"description": "x" * 1001}, "description"),
    ("unknown operator", {"rules": [{**RULE, "operator": "Matches"}]}, "rules[0].operator"),
    ("third rule bad", {"rules": [RULE, RULE, {**RULE, "operator": 1}]}, "rules[2].operator"),
    (
        "value not a string",
        {"rules": [{**RULE, "values": ["a", "b", "c", 4]}]},
        "rules[0].values[3]",
    ),
    ("values not a list", {"rules": [{**RULE, "values": "a"}]}, "rules[0].values"),
    ("rules not a list", {"rules": "all"}, "rules"),
    ("too many rules", {"rules": [RULE] * 101}, "rules"),
    ("too many values", {"rules": [{**RULE, "values": ["v"] * 10_001}]}, "rules[0].values"),
    ("empty attribute", {"rules": [{**RULE, "attribute": ""}]}, "rules[0].attribute"),
    ("unknown field", {"colour": "red"}, "colour"),
    ("unknown rule field", {"rules": [{**RULE, "weight": 2}]}, "rules[0].weight"),
    ("NUL in a value", {"rules": [{**RULE, "values": ["a\x00"]}]}, "rules[0].values[0]"),
]


@pytest.fixture
def existing(admin_client) -> dict[str, Any]:
    return post(admin_client, DARK_MODE).json()


@pytest.mark.parametrize(
    ("body", "path"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES]
)
def test_bad_create_changes_nothing(admin_client, existing, published, body, path) -> None:
    before = stored_state()
    assert_error_shape(post(admin_client, {"key": "other", **body}), 400, path)
    assert_error_shape(post(admin_client, {**DARK_MODE, **body}), 400, path)
    assert stored_state() == before
    assert published == []


@pytest.mark.parametrize(
    ("body", "path"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES]
)
def test_bad_patch_changes_nothing(admin_client, existing, published, body, path) -> None:
    before = stored_state()
    assert_error_shape(patch(admin_client, "dark_mode", body), 400, path)
    assert stored_state() == before
    assert admin_client.get("/api/flags").json() == [existing]
    assert published == []


@pytest.mark.parametrize(
    "key", ["", "-leading-dash", "has space", "a/b", "k" * 101, "ünïcode", "semi;colon"]
)
def test_bad_keys_are_rejected(admin_client, existing, published, key) -> None:
    before = stored_state()
    assert_error_shape(post(admin_client, {"key": key}), 400, "key")
    assert stored_state() == before
    assert published == []


def test_missing_key_and_key_change(admin_client, existing, published) -> None:
    before = stored_state()
    assert_error_shape(post(admin_client, {"is_enabled": True}), 400, "key")
    assert_error_shape(patch(admin_client, "dark_mode", {"key": "renamed"}), 400, "key")
    assert stored_state() == before
    assert published == []


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b"[]", "application/json", 400),
        (b'[{"key": "x"}]', "application/json", 400),
        (b'"dark_mode"', "application/json", 400),
        (b"null", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b'{"key": "x", "rollout_percentage": NaN}', "application/json", 400),
        (b'{"key": "x", "key": "y"}', "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b'{"key": "x", "description": "\\ud800"}', "application/json", 400),
        (
            b'{"key": "x", "rules": [{"attribute": "\\udc00"}]}',
            "application/json",
            400,
        ),
        (b"key=x", "application/x-www-form-urlencoded", 415),
        (b"key: x", "text/plain", 415),
    ],
)
def test_non_object_and_non_json_bodies(
    admin_client, existing, published, raw, content_type, status
) -> None:
    before = stored_state()
    assert_error_shape(admin_client.post("/api/flags", raw, content_type=content_type), status)
    assert_error_shape(
        admin_client.patch("/api/flags/dark_mode", raw, content_type=content_type), status
    )
    assert stored_state() == before
    assert published == []


def test_body_over_one_mebibyte_is_413(admin_client, existing, published) -> None:
    before = stored_state()
    big = json.dumps({"key": "big", "description": "x" * (1024 * 1024)}).encode()
    assert_error_shape(admin_client.post("/api/flags", big, content_type="application/json"), 413)
    assert_error_shape(
        admin_client.patch("/api/flags/dark_mode", big, content_type="application/json"), 413
    )
    assert stored_state() == before
    assert published == []


def test_a_body_just_under_the_limit_is_parsed(admin_client) -> None:
    values = ["v" * 90] * 10_000  # about 0.9 MiB of JSON
    body = {"key": "wide", "rules": [{"attribute": "a", "operator": "Equals", "values": values}]}
    raw = json.dumps(body).encode()
    assert len(raw) < 1024 * 1024
    response = admin_client.post("/api/flags", raw, content_type="application/json")
    assert response.status_code == 201
    assert len(response.json()["rules"][0]["values"]) == 10_000


def test_exact_paths_and_errors_everywhere(admin_client, existing) -> None:
    assert_error_shape(admin_client.get("/api/flags/"), 404)
    assert_error_shape(admin_client.get("/api/unknown"), 404)
    assert_error_shape(admin_client.put("/api/flags/dark_mode", {}, format="json"), 405)
    assert_error_shape(admin_client.delete("/api/flags"), 405)
    assert_error_shape(admin_client.get("/api/evaluate"), 405)
    assert admin_client.get("/api/flags").status_code == 200  # no slash redirect


def test_keys_with_dots_and_dashes_route(admin_client) -> None:
    assert post(admin_client, {"key": "checkout.v2-new_flow"}).status_code == 201
    assert admin_client.get("/api/flags/checkout.v2-new_flow").status_code == 200


def test_schema_and_docs_are_public_and_describe_the_api() -> None:
    client = APIClient()
    schema = client.get("/api/schema?format=json")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    paths = document["paths"]
    assert set(paths) >= {
        "/api/flags",
        "/api/flags/{key}",
        "/api/flags/{key}/history",
        "/api/evaluate",
    }
    assert set(paths["/api/flags"]) >= {"get", "post"}
    assert set(paths["/api/flags/{key}"]) >= {"get", "patch", "delete"}
    assert "put" not in paths["/api/flags/{key}"]
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    # Swagger UI comes from this server (works offline), not from a CDN.
    html = docs.content.decode()
    assert "cdn" not in html.lower()
    scripts = re.findall(r'src="(/static/[^"]+\.js)"', html)
    assert scripts, html
    for script in scripts:
        asset = client.get(script)
        assert asset.status_code == 200
        b"".join(asset.streaming_content)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _drop_connections() -> None:
    """Closes the connection and, when pooled, the pool, so the next query connects afresh."""
    connection.close()
    if connection.pool is not None:
        connection.close_pool()


def test_database_unavailable_gives_503_and_list_keeps_serving(
    postgres_required, keys, admin_client, existing, published
) -> None:
    """A real connection failure: the database connection is pointed at a closed port."""
    assert admin_client.get("/api/flags").json() == [existing]  # store loaded, key seen
    unseen = client_for(keys["server"])
    saved = dict(connection.settings_dict)
    _drop_connections()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    try:
        assert_error_shape(patch(admin_client, "dark_mode", {"is_enabled": False}), 503)
        assert_error_shape(post(admin_client, {"key": "new_one"}), 503)
        assert_error_shape(admin_client.delete("/api/flags/dark_mode"), 503)
        # A key that worked a moment ago keeps reading from memory; one never seen cannot be
        # checked, which is a 503 too, never a 401 that would make an SDK drop a good key.
        assert admin_client.get("/api/flags").json() == [existing]
        assert_error_shape(unseen.get("/api/flags"), 503)
    finally:
        _drop_connections()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert Flag.objects.get(key="dark_mode").version == 1
    assert ChangeRecord.objects.count() == 1
    assert published == []


def test_schema_is_valid_openapi_without_generator_warnings(tmp_path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/flags/{key}/history" in target.read_text()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"flag": "\\ud800", "user_key": "u"}',
        b'{"flag": "f", "user_key": "\\ud800"}',
        b'{"flag": "f", "user_key": "u", "attributes": {"\\udc00": "x"}}',
    ],
)
def test_evaluate_rejects_lone_surrogates(server_client, raw) -> None:
    response = server_client.post("/api/evaluate", raw, content_type="application/json")
    assert_error_shape(response, 400)


def test_escaped_surrogate_pairs_are_ordinary_text(admin_client) -> None:
    raw = b'{"key": "emoji", "description": "\\ud83d\\ude00"}'
    response = admin_client.post("/api/flags", raw, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["description"] == "\U0001f600"
