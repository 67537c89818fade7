"""Keys and roles against every REST endpoint: 401 for bad credentials, 403 for a missing right."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from flags import services
from flags.api_keys import (
    Principal,
    auth_enabled,
    authenticate_bearer,
    authenticate_query_key,
    hash_secret,
)
from flags.models import ApiKey, ChangeRecord
from tests.flags.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

SDK_KEY = "seed-compatible-full-access-key"
FLAG = {"key": "f", "is_enabled": True}

# (name, method, path, body, success status)
ENDPOINTS: list[tuple[str, str, str, Any, int]] = [
    ("list", "get", "/api/flags", None, 200),
    ("create", "post", "/api/flags", {"key": "made"}, 201),
    ("get", "get", "/api/flags/f", None, 200),
    ("patch", "patch", "/api/flags/f", {"rollout_percentage": 5}, 200),
    ("delete", "delete", "/api/flags/f", None, 204),
    ("history", "get", "/api/flags/f/history", None, 200),
    ("evaluate", "post", "/api/evaluate", {"flag": "f", "user_key": "u"}, 200),
]
READS = {"list", "get", "history", "evaluate"}


@pytest.fixture
def world(keys, settings) -> dict[str, str]:
    settings.SDK_KEY = SDK_KEY
    services.flag_upsert(data=FLAG, actor="test")
    return keys


def call(client: APIClient, method: str, path: str, body: Any) -> Any:
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


def expected(kind: str, endpoint: str, success: int) -> int:
    if kind in ("none", "wrong", "revoked", "client_in_query", "admin_in_query", "malformed"):
        return 401
    if kind == "client":
        return 403
    if kind == "server":
        return success if endpoint in READS else 403
    return success  # admin, SDK_KEY


KINDS = [
    "none",
    "wrong",
    "malformed",
    "revoked",
    "client",
    "client_in_query",
    "admin_in_query",
    "server",
    "admin",
    "sdk_key",
]


def client_of(kind: str, keys: dict[str, str]) -> tuple[APIClient, str]:
    """A client for the kind of caller, and a query string to append to every path."""
    if kind == "none":
        return APIClient(), ""
    if kind == "wrong":
        return client_for("sk_admin_" + "x" * 43), ""
    if kind == "malformed":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {keys['admin']}")
        return client, ""
    if kind == "client_in_query":
        return APIClient(), f"?sdk_key={keys['client']}"
    if kind == "admin_in_query":
        return client_for(keys["admin"]), f"?sdk_key={keys['client']}"
    if kind == "sdk_key":
        return client_for(SDK_KEY), ""
    return client_for(keys[kind]), ""


# Status codes only: the test transaction is enough (no commit, so no table flush per case).
@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("endpoint", "method", "path", "body", "success"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_role_matrix(world, kind, endpoint, method, path, body, success) -> None:
    client, query = client_of(kind, world)
    response = call(client, method, path + query, body)
    want = expected(kind, endpoint, success)
    assert response.status_code == want, (kind, endpoint, response.content)
    if want >= 400:
        payload = response.json()
        assert set(payload) == {"detail", "errors"}
    if want == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_schema_is_public_even_with_a_bad_key(world) -> None:
    assert client_for("nonsense").get("/api/schema").status_code == 200


def test_revoked_key_stops_working_at_once(db) -> None:
    key, raw = services.api_key_create(name="ci", role="server")
    client = client_for(raw)
    assert client.get("/api/flags").status_code == 200
    services.api_key_revoke(api_key=key)
    assert client.get("/api/flags").status_code == 401


def test_keys_are_stored_as_hashes_with_a_visible_prefix(db) -> None:
    key, raw = services.api_key_create(name="web", role="client")
    assert raw.startswith("sk_client_")
    assert raw.startswith(key.prefix)
    assert len(key.prefix) == len("sk_client_") + 8
    assert key.secret_sha256 == hash_secret(raw)
    stored = json.dumps(list(ApiKey.objects.values()), default=str)
    assert raw not in stored


def test_authentication_functions(db, settings) -> None:
    settings.SDK_KEY = SDK_KEY
    admin, admin_raw = services.api_key_create(name="ops", role="admin")
    client, client_raw = services.api_key_create(name="web", role="client")
    assert authenticate_bearer(SDK_KEY) == Principal(role="admin", name="SDK_KEY", key_id=None)
    assert authenticate_bearer(admin_raw) == Principal(role="admin", name="ops", key_id=admin.pk)
    assert authenticate_bearer(client_raw) == Principal(role="client", name="web", key_id=client.pk)
    assert authenticate_query_key(client_raw) == Principal(
        role="client", name="web", key_id=client.pk
    )
    # Only client keys travel in URLs; SDK_KEY never does.
    assert authenticate_query_key(admin_raw) is None
    assert authenticate_query_key(SDK_KEY) is None
    # A key with one character changed, a truncated key, a foreign format.
    assert authenticate_bearer(admin_raw[:-1] + ("A" if admin_raw[-1] != "A" else "B")) is None
    assert authenticate_bearer(admin_raw[:-3]) is None
    assert authenticate_bearer("Bearer " + admin_raw) is None
    assert authenticate_bearer("") is None


def test_last_used_is_recorded_at_most_once_a_minute(db, django_assert_num_queries) -> None:
    key, raw = services.api_key_create(name="ci", role="server")
    assert key.last_used_at is None
    with django_assert_num_queries(2):  # lookup + the update
        authenticate_bearer(raw)
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(1):  # lookup only
        authenticate_bearer(raw)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first


def test_revoking_the_last_key_never_switches_authentication_off(db, settings) -> None:
    settings.SDK_KEY = None
    settings.DEBUG = True
    settings.SIDEKICK_AUTH_DISABLED = False
    key, raw = services.api_key_create(name="only", role="admin")
    services.api_key_revoke(api_key=key)
    assert auth_enabled()
    anonymous = APIClient()
    assert anonymous.get("/api/flags").status_code == 401
    made = anonymous.post("/api/flags", json.dumps(FLAG), content_type="application/json")
    assert made.status_code == 401
    revoked = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert revoked.get("/api/flags").status_code == 401
    assert not ChangeRecord.objects.exists()


def test_auth_is_off_only_when_configured_so(db, settings) -> None:
    settings.SDK_KEY = None
    settings.DEBUG = True
    settings.SIDEKICK_AUTH_DISABLED = True
    assert not auth_enabled()
    anonymous = APIClient()
    assert anonymous.get("/api/flags").status_code == 200
    made = anonymous.post("/api/flags", json.dumps(FLAG), content_type="application/json")
    assert made.status_code == 201
    assert ChangeRecord.objects.get().actor == "anonymous"
    # A key that is sent is still checked, even with authentication off.
    key, raw = services.api_key_create(name="revoked", role="admin")
    services.api_key_revoke(api_key=key)
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/flags").status_code == 401
