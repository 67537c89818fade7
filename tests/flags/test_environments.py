"""Projects and environments through the REST API: per-environment flag routes, definitions
shared by a project's environments, revisions, keys bound to one environment, copy, delete."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from flags import services
from flags.api_keys import authenticate_bearer
from flags.models import ApiKey, ChangeRecord, Environment
from flags.scopes import default_environment, environment_by_path
from tests.flags.conftest import client_for, stored_state

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "/api/projects/shop/environments"
RULE = {"attribute": "plan", "operator": "Equals", "values": ["pro"]}


def send(client: APIClient, method: str, path: str, body: Any = None, **headers: str) -> Any:
    payload = json.dumps(body) if body is not None else None
    return getattr(client, method)(path, payload, content_type="application/json", **headers)


def assert_error(response: Any, status: int, path: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    if path is not None:
        assert path in body["errors"], body
    return body


@pytest.fixture
def shop(admin_client: APIClient) -> APIClient:
    """Project `shop` (development, production) plus a `staging` environment, as admin."""
    created = send(admin_client, "post", "/api/projects", {"key": "shop", "name": "Shop"})
    assert created.status_code == 201, created.content
    assert [e["key"] for e in created.json()["environments"]] == ["development", "production"]
    staging = send(admin_client, "post", SHOP, {"key": "staging", "name": "Staging"})
    assert staging.status_code == 201, staging.content
    return admin_client


def revision(path: str) -> int:
    return environment_by_path(path).revision


def test_a_fresh_install_has_the_default_project_with_two_environments(admin_client) -> None:
    projects = admin_client.get("/api/projects").json()
    default = next(project for project in projects if project["key"] == "default")
    assert [e["key"] for e in default["environments"]] == ["development", "production"]


def test_a_flag_is_created_in_every_environment_and_its_state_is_per_environment(shop) -> None:
    created = send(shop, "post", f"{SHOP}/staging/flags", {"key": "beta", "is_enabled": True})
    assert created.status_code == 201, created.content
    assert created["ETag"] == '"1"'
    for environment in ("development", "production"):
        other = shop.get(f"{SHOP}/{environment}/flags/beta").json()
        assert (other["is_enabled"], other["version"]) == (False, 1)  # off elsewhere
    assert revision("shop/staging") == 1

    changed = send(shop, "patch", f"{SHOP}/production/flags/beta", {"rules": [RULE]})
    assert changed.json()["rules"] == [RULE]
    assert shop.get(f"{SHOP}/staging/flags/beta").json()["rules"] == []
    assert (revision("shop/production"), revision("shop/staging")) == (2, 1)
    # The v1 path is the default project's: this project's flag is not there.
    assert shop.get("/api/flags/beta").status_code == 404
    evaluated = send(
        shop, "post", f"{SHOP}/staging/evaluate", {"flag": "beta", "user_key": "u"}
    ).json()
    assert (evaluated["enabled"], evaluated["reason"]) == (True, "ROLLOUT")


def test_a_definition_change_is_a_change_in_every_environment(shop, published_everywhere) -> None:
    send(shop, "post", f"{SHOP}/staging/flags", {"key": "beta"})
    published_everywhere.clear()
    response = send(
        shop, "patch", f"{SHOP}/staging/flags/beta", {"description": "new", "is_enabled": True}
    )
    assert response.status_code == 200
    shop_ids = set(Environment.objects.filter(project__key="shop").values_list("pk", flat=True))
    assert {p.environment_id for p in published_everywhere} == shop_ids
    for event in published_everywhere:
        assert event.event["flag"]["description"] == "new"
        assert event.event["flag"]["version"] == 2
    for environment in ("development", "production", "staging"):
        history = shop.get(f"{SHOP}/{environment}/flags/beta/history").json()["results"]
        assert [record["version"] for record in history] == [2, 1]
        assert history[0]["after"]["description"] == "new"
    # Only the environment the request named gets the state change.
    assert shop.get(f"{SHOP}/production/flags/beta").json()["is_enabled"] is False


def test_deleting_a_definition_deletes_it_everywhere_and_versions_continue(shop) -> None:
    send(shop, "post", f"{SHOP}/staging/flags", {"key": "beta"})
    send(shop, "patch", f"{SHOP}/staging/flags/beta", {"is_enabled": True})
    stale = shop.delete(f"{SHOP}/staging/flags/beta", HTTP_IF_MATCH='"1"')
    assert_error(stale, 412)
    assert shop.delete(f"{SHOP}/production/flags/beta").status_code == 204
    for environment in ("development", "production", "staging"):
        assert shop.get(f"{SHOP}/{environment}/flags/beta").status_code == 404
    again = send(shop, "post", f"{SHOP}/production/flags", {"key": "beta"}).json()
    assert again["version"] == 3  # after production's DELETE at version 2
    assert shop.get(f"{SHOP}/staging/flags/beta").json()["version"] == 4


def test_a_bound_key_reaches_only_its_environment(shop) -> None:
    staging = environment_by_path("shop/staging")
    _, raw = services.api_key_create(name="svc", role="server", environment=staging)
    server = client_for(raw)
    send(shop, "post", f"{SHOP}/staging/flags", {"key": "beta", "is_enabled": True})
    send(shop, "post", "/api/flags", {"key": "default_only"})
    assert server.get(f"{SHOP}/staging/flags/beta").status_code == 200
    # The v1 paths act on the key's environment.
    assert [flag["key"] for flag in server.get("/api/flags").json()] == ["beta"]
    assert server.get("/api/flags/default_only").status_code == 404
    for path in (
        f"{SHOP}/production/flags",
        f"{SHOP}/production/flags/beta",
        "/api/projects/default/environments/production/flags",
        f"{SHOP}/nowhere/flags",  # does not exist: 403 too, existence is not the key's to learn
    ):
        assert_error(server.get(path), 403)
    assert_error(server.get("/api/projects"), 403)
    assert_error(send(server, "post", f"{SHOP}/staging/flags", {"key": "x"}), 403)


def test_admin_gets_404_for_an_unknown_project_or_environment(shop) -> None:
    assert_error(shop.get("/api/projects/nope"), 404)
    assert_error(shop.get(f"{SHOP}/nope/flags"), 404)
    assert_error(send(shop, "post", "/api/projects/nope/environments", {"key": "e"}), 404)


def test_bad_project_and_environment_input_is_a_400_and_changes_nothing(shop) -> None:
    before = stored_state()
    assert_error(send(shop, "post", "/api/projects", {"key": "has space"}), 400, "key")
    assert_error(send(shop, "post", "/api/projects", {"key": "p", "extra": 1}), 400, "extra")
    assert_error(send(shop, "post", SHOP, {"key": "e", "position": -1}), 400, "position")
    assert_error(send(shop, "post", "/api/projects", {"key": "shop"}), 409, "key")
    assert stored_state() == before


def test_copy_one_flag_lists_every_changed_field_and_a_dry_run_writes_nothing(shop) -> None:
    send(shop, "post", f"{SHOP}/staging/flags", {"key": "beta"})
    send(
        shop,
        "patch",
        f"{SHOP}/staging/flags/beta",
        {"is_enabled": True, "rollout_percentage": 30, "rules": [RULE]},
    )
    body = {"from": "staging", "to": "production", "dry_run": True}
    dry = send(shop, "post", "/api/projects/shop/flags/beta/copy", body)
    assert dry.status_code == 200, dry.content
    expected = [
        {"path": "is_enabled", "before": False, "after": True},
        {"path": "rollout_percentage", "before": None, "after": 30},
        {"path": "rules[0]", "before": None, "after": RULE},
    ]
    assert dry.json()["changes"] == expected
    assert shop.get(f"{SHOP}/production/flags/beta").json()["version"] == 1

    stale = send(
        shop,
        "post",
        "/api/projects/shop/flags/beta/copy",
        {**body, "dry_run": False},
        HTTP_IF_MATCH='"7"',
    )
    assert_error(stale, 412)
    copied = send(
        shop,
        "post",
        "/api/projects/shop/flags/beta/copy",
        {**body, "dry_run": False},
        HTTP_IF_MATCH='"1"',
    )
    assert copied.json()["changes"] == expected
    production = shop.get(f"{SHOP}/production/flags/beta").json()
    assert (production["is_enabled"], production["rules"], production["version"]) == (
        True,
        [RULE],
        2,
    )
    record = ChangeRecord.objects.filter(environment__key="production", flag_key="beta").first()
    assert record is not None and record.actor.startswith("api_key:")
    only = send(
        shop,
        "post",
        "/api/projects/shop/flags/beta/copy",
        {"from": "development", "to": "production", "fields": ["rollout_percentage"]},
    )
    assert only.json()["changes"] == [{"path": "rollout_percentage", "before": 30, "after": None}]
    assert shop.get(f"{SHOP}/production/flags/beta").json()["is_enabled"] is True


def test_copy_an_environment_is_all_or_nothing(shop) -> None:
    for key in ("a", "b"):
        send(shop, "post", f"{SHOP}/staging/flags", {"key": key, "is_enabled": True})
    before = stored_state()
    refused = send(
        shop, "post", f"{SHOP}/production/copy", {"from": "staging", "flags": ["a", "missing"]}
    )
    assert_error(refused, 400, "flags[1]")
    assert stored_state() == before
    copied = send(shop, "post", f"{SHOP}/production/copy", {"from": "staging", "flags": "all"})
    assert copied.status_code == 200, copied.content
    assert [flag["key"] for flag in copied.json()["flags"]] == ["a", "b"]
    production = shop.get(f"{SHOP}/production/flags").json()
    assert all(flag["is_enabled"] for flag in production)
    assert revision("shop/production") == 4  # two creates, two copies


def test_deleting_an_environment_with_bound_keys_is_409_unless_forced(
    shop, revoked_published
) -> None:
    staging = environment_by_path("shop/staging")
    key, raw = services.api_key_create(name="svc", role="client", environment=staging)
    before = stored_state()
    refused = shop.delete(f"{SHOP}/staging")
    assert_error(refused, 409, "api_keys")
    assert stored_state() == before
    assert_error(shop.delete("/api/projects/shop"), 409, "api_keys")
    assert shop.delete(f"{SHOP}/staging?force=true").status_code == 204
    assert authenticate_bearer(raw) is None
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert revoked_published == [key.pk]
    assert shop.get(f"{SHOP}/staging").status_code == 404
    assert shop.delete("/api/projects/shop").status_code == 204
    assert shop.get("/api/projects/shop").status_code == 404


def test_create_api_key_binds_server_and_client_keys(shop) -> None:
    key, _ = services.api_key_create(name="default", role="server")
    assert key.environment is not None and key.environment.path == "default/production"
    admin, _ = services.api_key_create(name="ops", role="admin")
    assert admin.environment is None
    with pytest.raises(ValueError):
        services.api_key_create(
            name="x", role="admin", environment=environment_by_path("shop/staging")
        )


def test_a_default_project_made_on_first_use_protects_its_production_environment(
    settings,
) -> None:
    settings.SIDEKICK_DEFAULT_ENVIRONMENT = "fresh/production"
    production = default_environment()
    environments = {e.key: e.protected for e in production.project.environments.all()}
    assert environments == {"development": False, "production": True}


def test_protected_is_set_on_create_and_by_patch_and_read_back(shop) -> None:
    created = send(shop, "post", SHOP, {"key": "eu", "protected": True})
    assert created.status_code == 201, created.content
    assert created.json()["protected"] is True
    assert shop.get(f"{SHOP}/staging").json()["protected"] is False

    patched = send(shop, "patch", f"{SHOP}/staging", {"protected": True})
    assert patched.status_code == 200, patched.content
    assert shop.get(f"{SHOP}/staging").json()["protected"] is True
    assert environment_by_path("shop/staging").protected is True
    listed = {e["key"]: e["protected"] for e in shop.get(SHOP).json()}
    assert listed == {"development": False, "production": False, "staging": True, "eu": True}

    send(shop, "patch", f"{SHOP}/staging", {"protected": False})
    assert shop.get(f"{SHOP}/staging").json()["protected"] is False


@pytest.mark.parametrize("value", ["true", 1, 0, None, [], {}])
def test_protected_must_be_a_strict_boolean(shop, value: Any) -> None:
    before = {e.key: e.protected for e in Environment.objects.filter(project__key="shop")}
    assert_error(send(shop, "patch", f"{SHOP}/staging", {"protected": value}), 400, "protected")
    assert_error(send(shop, "post", SHOP, {"key": "eu", "protected": value}), 400, "protected")
    after = {e.key: e.protected for e in Environment.objects.filter(project__key="shop")}
    assert after == before


def test_the_schema_documents_protected_on_environments(admin_client) -> None:
    schemas = admin_client.get("/api/schema?format=json").json()["components"]["schemas"]
    assert schemas["Environment"]["properties"]["protected"]["type"] == "boolean"
    assert schemas["PatchedEnvironmentChange"]["properties"]["protected"]["type"] == "boolean"
