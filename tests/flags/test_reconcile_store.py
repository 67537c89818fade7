"""Reconciliation makes the process store equal to the database in both directions.

A store can be AHEAD of its database (a foreign deployment's change, a restored backup), hold
other content at the same version, or hold a flag the database never had; the database is the
truth in each case, and catching up from behind keeps working as before.
"""

from __future__ import annotations

import pytest

from flags import services
from flags.catch_up import reconcile_store
from flags.events import delete_event, upsert_event
from flags.selectors import flag_get_wire, flag_list_wire
from flags.store import process_flag_store

# Committed writes, so that each is published to the store as in production (on commit).
pytestmark = pytest.mark.django_db(transaction=True)


def foreign(flag: dict, **changes: object) -> dict:
    """The flag as another deployment wrote it."""
    return {**flag, **changes}


def test_a_store_equal_to_the_database_is_left_alone():
    services.flag_upsert(
        data={
            "key": "a",
            "rules": [{"attribute": "plan", "operator": "Equals", "values": ["pro"]}],
        },
        actor="t",
    )
    services.flag_upsert(data={"key": "b", "is_enabled": True}, actor="t")
    services.flag_delete(key="b", actor="t")
    store = process_flag_store()
    revision = store.revision
    assert reconcile_store() == ([], False)
    assert store.revision == revision


def test_a_store_ahead_of_the_database_is_brought_back_to_it():
    flag = services.flag_upsert(data={"key": "shared", "rollout_percentage": 10}, actor="t").flag
    store = process_flag_store()
    ahead = foreign(flag, version=3, rollout_percentage=90)
    assert store.apply(upsert_event(ahead))

    events, overruled = reconcile_store()

    assert overruled
    assert events == [upsert_event(flag)]
    assert store.get("shared") == flag
    # The database's own next change then applies as usual.
    updated = services.flag_upsert(data={"key": "shared", "rollout_percentage": 20}, actor="t")
    assert store.get("shared") == updated.flag
    assert reconcile_store() == ([], False)


def test_other_content_at_the_same_version_is_replaced_by_the_database_flag():
    flag = services.flag_upsert(data={"key": "same", "is_enabled": False}, actor="t").flag
    store = process_flag_store()
    store.replace_all([foreign(flag, is_enabled=True)])

    events, overruled = reconcile_store()

    assert overruled
    assert events == [upsert_event(flag)]
    assert store.get("same") == flag
    assert store.evaluate("same", "u1").enabled is False


def test_a_flag_the_database_never_had_is_removed():
    services.flag_upsert(data={"key": "mine"}, actor="t")
    store = process_flag_store()
    ghost = foreign(flag_get_wire(key="mine"), key="ghost", version=2)
    assert store.apply(upsert_event(ghost))

    events, overruled = reconcile_store()

    assert overruled
    assert events == [delete_event("ghost", 3)]
    assert store.get("ghost") is None
    assert store.flags() == flag_list_wire()
    # Created later in the database, at version 1, it is not blocked by what the store held.
    created = services.flag_upsert(data={"key": "ghost"}, actor="t").flag
    assert created["version"] == 1
    assert store.get("ghost") == created


def test_a_foreign_delete_of_a_flag_the_database_has_is_undone():
    flag = services.flag_upsert(data={"key": "kept"}, actor="t").flag
    store = process_flag_store()
    assert store.apply(delete_event("kept", 7))  # the store now remembers a delete at 7
    assert store.get("kept") is None

    events, overruled = reconcile_store()

    assert overruled
    assert events == [upsert_event(flag)]
    assert store.get("kept") == flag


def test_a_store_behind_is_caught_up_without_overruling():
    flag = services.flag_upsert(data={"key": "late"}, actor="t").flag
    store = process_flag_store()
    store.replace_all([])  # as if every event had been missed
    events, overruled = reconcile_store()
    assert (events, overruled) == ([upsert_event(flag)], False)
    assert store.get("late") == flag


def test_a_delete_the_store_missed_is_applied_at_the_databases_version():
    held = services.flag_upsert(data={"key": "gone"}, actor="t").flag
    services.flag_delete(key="gone", actor="t")
    store = process_flag_store()
    store.replace_all([held])  # as if the delete's event had been missed
    events, overruled = reconcile_store()
    assert (events, overruled) == ([delete_event("gone", 2)], False)


def test_overrule_leaves_a_key_that_changed_since_it_was_read():
    from flags.store import Held  # here, so that the other tests run on a store without it

    flag = services.flag_upsert(data={"key": "moving"}, actor="t").flag
    store = process_flag_store()
    read = store.holdings()["moving"]
    newer = foreign(flag, version=2, is_enabled=True)
    assert store.apply(upsert_event(newer))  # arrives between the read and the repair
    assert not store.overrule("moving", read, flag)
    assert store.get("moving") == newer
    assert store.overrule("moving", Held(newer, 2), flag)
    assert store.get("moving") == flag
