"""`client_side` on a flag: validation, defaults, REST, history, admin, import/export, migration."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations import AddField
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from flags import services
from flags.exceptions import FlagValidationError
from flags.models import ChangeRecord, Flag
from flags.selectors import flag_get_wire, flag_list_wire
from flags.store import ProcessFlagStore
from flags.validation import validate_flag, validate_flag_patch
from tests.flags.conftest import stored_state

RULE = {"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}


# Validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 0, "true", None, [], {}])
def test_client_side_must_be_a_boolean(value: Any) -> None:
    for validate in (validate_flag, validate_flag_patch):
        with pytest.raises(FlagValidationError) as caught:
            validate({"key": "f", "client_side": value})
        assert caught.value.errors == {"client_side": ["Must be a boolean (true or false)."]}


def test_client_side_is_kept_only_when_sent() -> None:
    assert validate_flag({"key": "f", "client_side": True})["client_side"] is True
    assert "client_side" not in validate_flag({"key": "f"})
    assert validate_flag_patch({"client_side": False}) == {"client_side": False}


# REST -----------------------------------------------------------------------------------------

pytestmark = pytest.mark.django_db(transaction=True)


def post(client: APIClient, body: Any) -> Any:
    return client.post("/api/flags", json.dumps(body), content_type="application/json")


def patch(client: APIClient, key: str, body: Any) -> Any:
    return client.patch(f"/api/flags/{key}", json.dumps(body), content_type="application/json")


def test_a_flag_created_without_the_field_is_not_client_side(admin_client) -> None:
    response = post(admin_client, {"key": "fresh", "is_enabled": True})
    assert response.status_code == 201
    assert response.json()["client_side"] is False
    assert Flag.objects.get(key="fresh").client_side is False


def test_a_bad_client_side_is_a_400_with_its_path_and_changes_nothing(admin_client) -> None:
    assert post(admin_client, {"key": "kept", "client_side": True}).status_code == 201
    before = stored_state()
    for response in (
        post(admin_client, {"key": "kept", "client_side": "yes"}),
        patch(admin_client, "kept", {"client_side": 1}),
    ):
        assert response.status_code == 400
        assert response.json()["errors"] == {"client_side": ["Must be a boolean (true or false)."]}
    assert stored_state() == before


def test_patch_toggles_client_side_and_the_history_shows_the_diff(admin_client) -> None:
    created = post(admin_client, {"key": "toggled", "rules": [RULE]}).json()
    marked = patch(admin_client, "toggled", {"client_side": True}).json()
    assert marked["client_side"] is True
    assert marked["version"] == created["version"] + 1
    assert {
        k: v for k, v in marked.items() if k not in ("client_side", "version", "updated_at")
    } == {k: v for k, v in created.items() if k not in ("client_side", "version", "updated_at")}
    history = admin_client.get("/api/flags/toggled/history").json()["results"]
    assert (history[0]["before"]["client_side"], history[0]["after"]["client_side"]) == (
        False,
        True,
    )


def test_a_replace_without_the_field_keeps_the_current_value(admin_client) -> None:
    post(admin_client, {"key": "public", "client_side": True})
    replaced = post(admin_client, {"key": "public", "is_enabled": True}).json()
    assert replaced["client_side"] is True
    assert (
        post(admin_client, {"key": "public", "client_side": False}).json()["client_side"] is False
    )


def test_client_keys_still_cannot_read_flags_over_rest(keys) -> None:
    services.flag_upsert(data={"key": "public", "client_side": True}, actor="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys['client']}")
    assert client.get("/api/flags").status_code == 403
    assert client.get("/api/flags/public").status_code == 403


def test_the_schema_describes_client_side() -> None:
    document = json.loads(APIClient().get("/api/schema?format=json").content)
    schemas = document["components"]["schemas"]
    assert schemas["Flag"]["properties"]["client_side"]["type"] == "boolean"
    assert "client_side" in schemas["Flag"]["required"]
    assert schemas["FlagCreate"]["properties"]["client_side"]["type"] == "boolean"
    assert "client_side" not in schemas["FlagCreate"].get("required", [])


# Admin ----------------------------------------------------------------------------------------


def test_the_admin_flag_page_has_a_client_side_checkbox_that_saves(db: None, published) -> None:
    user = get_user_model().objects.create_superuser("root", "", "pw-for-tests")
    browser = Client()
    browser.force_login(user)
    services.flag_upsert(data={"key": "checkout"}, actor="t")
    url = f"/admin/flags/flag/{Flag.objects.get(key='checkout').pk}/change/"
    page = browser.get(url).content.decode()
    assert 'type="checkbox" name="client_side"' in page
    published.clear()

    response = browser.post(
        url,
        {
            "client_side": "on",
            "rollout_percentage": "",
            "description": "",
            "expected_version": "1",
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "100",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    flag = flag_get_wire(key="checkout")
    assert flag is not None and flag["client_side"] is True and flag["version"] == 2
    assert published == [{"type": "UPSERT", "flag": flag}]


# Import and export ----------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_export_carries_client_side_and_import_sets_it(tmp_path: Path) -> None:
    services.flag_upsert(data={"key": "public", "client_side": True}, actor="t")
    services.flag_upsert(data={"key": "private"}, actor="t")
    exported = json.loads(run("export_flags"))
    assert {flag["key"]: flag["client_side"] for flag in exported} == {
        "private": False,
        "public": True,
    }

    for flag in exported:
        flag["client_side"] = not flag["client_side"]
    source = tmp_path / "flags.json"
    source.write_text(json.dumps(exported))
    assert "0 created, 2 updated, 0 unchanged" in run("import_flags", str(source))
    assert {flag["key"]: flag["client_side"] for flag in flag_list_wire()} == {
        "private": True,
        "public": False,
    }
    assert "0 created, 0 updated, 2 unchanged" in run("import_flags", str(source))


def test_import_without_the_field_creates_private_flags_and_keeps_existing_ones(
    tmp_path: Path,
) -> None:
    services.flag_upsert(data={"key": "public", "client_side": True}, actor="t")
    source = tmp_path / "v1.json"
    source.write_text(json.dumps([{"key": "public"}, {"key": "newcomer"}]))
    assert "1 created, 0 updated, 1 unchanged" in run("import_flags", str(source))
    assert {flag["key"]: flag["client_side"] for flag in flag_list_wire()} == {
        "newcomer": False,
        "public": True,
    }


def test_import_reports_a_bad_client_side_with_its_path(tmp_path: Path) -> None:
    source = tmp_path / "bad.json"
    source.write_text(json.dumps([{"key": "a", "client_side": "true"}]))
    with pytest.raises(Exception, match=r"\[0\]\.client_side: Must be a boolean"):
        run("import_flags", str(source))
    assert not Flag.objects.exists()


# Migration ------------------------------------------------------------------------------------


def _client_side_migration(executor: MigrationExecutor) -> tuple[tuple[str, str], tuple[str, str]]:
    """The migration that adds `client_side`, and the flags migration before it (by content, not
    by number, so renumbering the migrations does not break this test)."""
    for key, migration in executor.loader.disk_migrations.items():
        if key[0] == "flags" and any(
            isinstance(operation, AddField) and operation.name == "client_side"
            for operation in migration.operations
        ):
            previous = next(parent for parent in migration.dependencies if parent[0] == "flags")
            return key, previous
    raise AssertionError("no migration adds Flag.client_side")


USERS = [("alice", {"email": "alice@acme.com"}), ("bob", {"email": "bob@else.org"})] + [
    (f"user-{n}", {}) for n in range(200)
]


def _answers(flags: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    store = ProcessFlagStore()
    for flag in flags:
        store.apply({"type": "UPSERT", "flag": flag})
    return {
        (flag["key"], user): tuple(store.evaluate(flag["key"], user, attributes))
        for flag in flags
        for user, attributes in USERS
    }


def test_the_migration_marks_existing_flags_client_side_and_changes_no_answer() -> None:
    executor = MigrationExecutor(connection)
    added, previous = _client_side_migration(executor)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([previous])
    try:
        old_apps = executor.loader.project_state([previous]).apps
        old_flag = old_apps.get_model("flags", "Flag")
        old_rule = old_apps.get_model("flags", "Rule")
        now = timezone.now()
        rows = [
            old_flag.objects.create(
                key="dark_mode", is_enabled=True, rollout_percentage=50, version=7, updated_at=now
            ),
            old_flag.objects.create(key="off_flag", is_enabled=False, version=3, updated_at=now),
        ]
        old_rule.objects.create(flag=rows[0], position=0, **RULE)
        before = [
            {
                "key": row.key,
                "is_enabled": row.is_enabled,
                "rollout_percentage": row.rollout_percentage,
                "rules": [RULE] if row.key == "dark_mode" else [],
                "version": row.version,
            }
            for row in rows
        ]

        executor = MigrationExecutor(connection)
        executor.migrate([added])

        new_apps = executor.loader.project_state([added]).apps
        migrated = {f.key: f for f in new_apps.get_model("flags", "Flag").objects.all()}
        assert {key: flag.client_side for key, flag in migrated.items()} == {
            "dark_mode": True,
            "off_flag": True,
        }
        assert {key: flag.version for key, flag in migrated.items()} == {
            "dark_mode": 7,
            "off_flag": 3,
        }
        # A row written afterwards without the column (a process still on the old code during
        # a rolling upgrade) is private.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO flags_flag (key, is_enabled, version, created_at, updated_at)"
                " VALUES ('late', false, 1, %s, %s)",
                [now, now],
            )
        assert new_apps.get_model("flags", "Flag").objects.get(key="late").client_side is False
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)

    after = [flag for flag in flag_list_wire() if flag["key"] != "late"]
    assert [flag["version"] for flag in after] == [7, 3]
    assert _answers(after) == _answers(before)
    assert ChangeRecord.objects.count() == 0  # the upgrade is not a change to any flag
