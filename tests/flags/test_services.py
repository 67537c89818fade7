"""The write path: versions, tombstones, the audit log, and events only after commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from flags import selectors, services
from flags.exceptions import FlagNotFound, FlagValidationError, VersionMismatch
from flags.models import ChangeRecord, Flag, FlagTombstone, Rule
from flags.store import process_flag_store

pytestmark = pytest.mark.django_db(transaction=True)

RULES = [
    {"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]},
    {"attribute": "plan", "operator": "Equals", "values": ["pro", "team"]},
]


def test_upsert_writes_flag_rules_record_and_event(published) -> None:
    result = services.flag_upsert(
        data={"key": "f", "is_enabled": True, "rules": RULES}, actor="user:alice"
    )
    assert result.created
    assert result.flag["rules"] == RULES
    assert list(Rule.objects.order_by("position").values_list("attribute", flat=True)) == [
        "email",
        "plan",
    ]
    record = ChangeRecord.objects.get()
    assert (record.flag_key, record.version, record.action, record.actor) == (
        "f",
        1,
        "create",
        "user:alice",
    )
    assert record.before is None
    assert record.after == result.flag
    assert published == [{"type": "UPSERT", "flag": result.flag}]
    assert process_flag_store().get("f") == result.flag


def test_key_versions_never_go_backwards_across_deletes(published) -> None:
    services.flag_upsert(data={"key": "f"}, actor="t")
    services.flag_patch(key="f", data={"is_enabled": True}, actor="t")
    assert services.flag_delete(key="f", actor="t") == 3
    assert selectors.deleted_versions() == {"f": 3}
    assert selectors.flag_versions() == {}
    again = services.flag_upsert(data={"key": "f"}, actor="t")
    assert again.created and again.flag["version"] == 4
    assert selectors.deleted_versions() == {}
    assert selectors.flag_versions() == {"f": 4}
    assert services.flag_delete(key="f", actor="t") == 5
    assert FlagTombstone.objects.get(key="f").version == 5
    assert [event.get("version") or event["flag"]["version"] for event in published] == [
        1,
        2,
        3,
        4,
        5,
    ]


def test_selectors_give_the_wire_format_from_the_database() -> None:
    services.flag_upsert(data={"key": "b", "rules": RULES, "description": "d"}, actor="t")
    services.flag_upsert(data={"key": "a", "rollout_percentage": 0}, actor="t")
    flags = selectors.flag_list_wire()
    assert [flag["key"] for flag in flags] == ["a", "b"]
    assert set(flags[0]) == {
        "key",
        "is_enabled",
        "rollout_percentage",
        "description",
        "client_side",
        "rules",
        "version",
        "updated_at",
    }
    assert flags[1]["rules"] == RULES
    assert [flag["client_side"] for flag in flags] == [False, False]  # new flags are private
    assert selectors.flag_versions() == {"a": 1, "b": 1}


def test_nothing_is_published_when_the_surrounding_transaction_rolls_back(published) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        services.flag_upsert(data={"key": "f"}, actor="t")
        raise Abort
    assert published == []
    assert not Flag.objects.exists()
    assert not ChangeRecord.objects.exists()
    assert process_flag_store().get("f") is None


def test_errors_are_values_the_caller_can_act_on(published) -> None:
    with pytest.raises(FlagNotFound):
        services.flag_patch(key="missing", data={}, actor="t")
    with pytest.raises(FlagNotFound):
        services.flag_delete(key="missing", actor="t")
    services.flag_upsert(data={"key": "f"}, actor="t")
    with pytest.raises(VersionMismatch) as mismatch:
        services.flag_patch(key="f", data={}, actor="t", if_match=7)
    assert mismatch.value.current == 1
    with pytest.raises(FlagValidationError) as invalid:
        services.flag_upsert(key="f", data={"key": "g"}, actor="t")
    assert "key" in invalid.value.errors
    assert len(published) == 1


def test_upsert_with_a_url_key_fills_the_body_key() -> None:
    result = services.flag_upsert(key="from_url", data={"is_enabled": True}, actor="t")
    assert result.flag["key"] == "from_url"


def test_api_keys_are_created_and_revoked(revoked_published) -> None:
    key, _ = services.api_key_create(name="  ci  ", role="server")
    assert key.name == "ci" and key.role == "server" and key.revoked_at is None
    revoked = services.api_key_revoke(api_key=key)
    first = revoked.revoked_at
    assert first is not None
    assert revoked_published == [key.pk]
    assert services.api_key_revoke(api_key=key).revoked_at == first
    assert revoked_published == [key.pk]  # revoking again publishes nothing
    with pytest.raises(ValueError):
        services.api_key_create(name="x", role="root")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        services.api_key_create(name=" ", role="admin")
