"""The upgrade from v1: a database populated by the v1 schema keeps every answer, version,
history entry, tombstone and key secret once migrated, all in `default/production`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

import evalcore
from flags import services
from flags.api_keys import authenticate_bearer, hash_secret, new_secret
from flags.models import ApiKey, ChangeRecord, Environment, Flag, FlagDefinition, FlagTombstone
from flags.selectors import flag_history, flag_list_wire
from flags.store import process_flag_store, reset_process_flag_store

pytestmark = pytest.mark.django_db(transaction=True)

LAST_V1_MIGRATION = ("flags", "0001_initial")
AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
USERS = [("u1", {"email": "a@acme.com"}), ("u2", {"email": "b@other.org"}), ("u3", None)]


def populate_v1(apps) -> dict[str, str]:
    """v1 rows through the v1 schema: flags with rules, a tombstone, history, keys."""
    Flag = apps.get_model("flags", "Flag")
    Rule = apps.get_model("flags", "Rule")
    Tombstone = apps.get_model("flags", "FlagTombstone")
    Record = apps.get_model("flags", "ChangeRecord")
    Key = apps.get_model("flags", "ApiKey")
    checkout = Flag.objects.create(
        key="checkout",
        is_enabled=True,
        rollout_percentage=40,
        description="New checkout",
        version=7,
        updated_at=AT,
    )
    Rule.objects.create(
        flag=checkout, position=0, attribute="email", operator="EndsWith", values=["@acme.com"]
    )
    Flag.objects.create(key="dark_mode", is_enabled=False, version=2, updated_at=AT)
    Tombstone.objects.create(key="retired", version=5, deleted_at=AT)
    for version in range(1, 8):
        Record.objects.create(
            flag_key="checkout",
            version=version,
            action="create" if version == 1 else "update",
            actor="user:alice",
            at=AT,
            before=None,
            after={"key": "checkout", "version": version},
        )
    Record.objects.create(
        flag_key="retired",
        version=5,
        action="delete",
        actor="user:bob",
        at=AT,
        before={"key": "retired", "version": 4},
        after=None,
    )
    secrets = {}
    for role in ("admin", "server", "client"):
        raw, prefix = new_secret(role)
        Key.objects.create(
            name=f"{role} key", role=role, prefix=prefix, secret_sha256=hash_secret(raw)
        )
        secrets[role] = raw
    return secrets


def v1_store(apps) -> evalcore.FlagStore:
    """The v1 flags as v1 served them (its wire format), in the evaluation core."""
    store = evalcore.FlagStore()
    for flag in apps.get_model("flags", "Flag").objects.all():
        rules = apps.get_model("flags", "Rule").objects.filter(flag=flag).order_by("position")
        store.upsert(
            {
                "key": flag.key,
                "is_enabled": flag.is_enabled,
                "rollout_percentage": flag.rollout_percentage,
                "description": flag.description,
                "rules": [
                    {"attribute": r.attribute, "operator": r.operator, "values": r.values}
                    for r in rules
                ],
                "version": flag.version,
                "updated_at": "2026-11-01T12:00:00.000Z",
            }
        )
    return store


def answers(store: Any) -> list[tuple[str, str, bool, str, int | None]]:
    result = []
    for key in ("checkout", "dark_mode", "retired"):
        for user, attributes in USERS:
            evaluation = store.evaluate(key, user, attributes)
            result.append((key, user, evaluation.enabled, evaluation.reason, evaluation.version))
    return result


def test_a_populated_v1_database_migrates_with_nothing_lost() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([LAST_V1_MIGRATION])
    v1_apps = MigrationExecutor(connection).loader.project_state([LAST_V1_MIGRATION]).apps
    secrets = populate_v1(v1_apps)
    answers_before = answers(v1_store(v1_apps))
    history_before = list(
        v1_apps.get_model("flags", "ChangeRecord")
        .objects.order_by("id")
        .values("id", "flag_key", "version", "action", "actor", "at", "before", "after")
    )

    call_command("migrate", verbosity=0)
    reset_process_flag_store()

    production = Environment.objects.get(project__key="default", key="production")
    development = Environment.objects.get(project__key="default", key="development")
    assert [e.key for e in production.project.environments.order_by("position")] == [
        "development",
        "production",
    ]
    flags = {flag["key"]: flag for flag in flag_list_wire()}
    assert set(flags) == {"checkout", "dark_mode"}
    checkout = flags["checkout"]
    assert (checkout["is_enabled"], checkout["rollout_percentage"], checkout["version"]) == (
        True,
        40,
        7,
    )
    assert checkout["description"] == "New checkout"
    assert checkout["rules"] == [
        {"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}
    ]
    assert flags["dark_mode"]["version"] == 2
    # Existing flags stay visible to browsers; development has every flag, off.
    assert set(FlagDefinition.objects.values_list("client_side", flat=True)) == {True}
    assert set(
        Flag.objects.filter(environment=development).values_list("key", "is_enabled", "version")
    ) == {("checkout", False, 1), ("dark_mode", False, 1)}
    assert answers(process_flag_store()) == answers_before
    assert answers_before[0] == ("checkout", "u1", True, "RULE_MATCH", 7)

    # History: every record, unchanged, in production, numbered by the revision it made.
    history_after = list(
        ChangeRecord.objects.order_by("id").values(
            "id", "flag_key", "version", "action", "actor", "at", "before", "after"
        )
    )
    assert history_after == history_before
    assert set(ChangeRecord.objects.values_list("environment_id", flat=True)) == {production.pk}
    assert list(ChangeRecord.objects.order_by("id").values_list("revision", flat=True)) == list(
        range(1, 9)
    )
    assert production.revision == 8
    assert [r.version for r in flag_history(key="checkout")] == [7, 6, 5, 4, 3, 2, 1]

    # Tombstones: a re-created key continues after the version its delete took.
    assert FlagTombstone.objects.get(key="retired").environment_id == production.pk
    assert services.flag_upsert(data={"key": "retired"}, actor="t").flag["version"] == 6

    # Keys: the same secrets authenticate; server and client keys are bound to production.
    for role, raw in secrets.items():
        principal = authenticate_bearer(raw)
        assert principal is not None and principal.role == role
        expected = None if role == "admin" else production.pk
        assert principal.environment_id == expected
    assert ApiKey.objects.filter(environment__isnull=True).count() == 1
