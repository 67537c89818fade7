"""Bringing this process's store up to the database when change events may have been missed.

Two ways, both returning the change events that took effect (the caller fans them out):

- `catch_up_store`: quick and cheap, from the change records written after the last one this
  process has seen (a management command's writes, another instance's when no Redis joins them);
- `reconcile_store`: the slow safety net, by comparing every flag with the database, in both
  directions (the database is the truth: a store ahead of it or holding other content is
  overruled too).

Catching up compares versions, never overwriting blindly: an event that already arrived
otherwise changes nothing when it comes again.
"""

from __future__ import annotations

from typing import NamedTuple

from django.db import close_old_connections, connection, transaction

from flags.events import ChangeEvent, delete_event, upsert_event
from flags.models import ChangeAction, ChangeRecord
from flags.selectors import (
    change_watermark,
    changes_after,
    deleted_versions,
    flag_list_wire,
    revoked_key_count,
    revoked_key_ids,
)
from flags.store import Held, process_flag_store


class Watermarks(NamedTuple):
    """Two numbers that move whenever the database holds something a process may have missed."""

    change_id: int  # the newest change record's id
    revoked_keys: int  # how many keys are revoked


def read_watermarks() -> Watermarks:
    """Two narrow queries; run on a worker thread outside any request."""
    close_old_connections()
    try:
        return Watermarks(change_watermark(), revoked_key_count())
    finally:
        close_old_connections()


def read_revoked_key_ids() -> set[int]:
    close_old_connections()
    try:
        return revoked_key_ids()
    finally:
        close_old_connections()


def event_of(record: ChangeRecord) -> ChangeEvent:
    """The change event a change record stands for."""
    if record.action == ChangeAction.DELETE:
        return delete_event(record.flag_key, int(record.version))
    if not isinstance(record.after, dict):  # every create and update records the flag after it
        raise ValueError(f"change record {record.pk} holds no flag")
    return upsert_event(record.after)


def catch_up_store(after_change_id: int) -> tuple[list[ChangeEvent], int]:
    """Applies the change records newer than `after_change_id` to the process store.

    Returns the events that took effect and the newest record id read. A record whose
    transaction commits after a newer one was read is not seen here; the reconciliation
    (`reconcile_store`) repairs that case.
    """
    store = process_flag_store()
    close_old_connections()
    try:
        records = changes_after(after_change_id)
    finally:
        close_old_connections()
    events = [event for event in map(event_of, records) if store.apply(event)]
    newest = records[-1].pk if records else after_change_id
    return events, newest


class Reconciliation(NamedTuple):
    """What a reconciliation changed in the store."""

    # The events that took effect, to fan out: an UPSERT with the database's flag, a DELETE
    # for a flag the database does not have.
    events: list[ChangeEvent]
    # Whether the store held something the database does not (a version ahead of it, other
    # content at the same version, a flag it never had): SDKs may hold it too, and apply only
    # newer versions, so their streams must start a fresh set (see UpdateHub.reconcile).
    overruled: bool


def reconcile_store() -> Reconciliation:
    """Makes the process store equal to the database, in both directions.

    The database is the truth: a flag the store lacks or holds at an older version is applied
    as usual; a flag it holds ahead of the database, or differently at the same version, is
    overruled by the database's, and one the database does not have is removed. What the store
    holds is read BEFORE the database, and a repair only applies if the key still holds what
    was read (`ProcessFlagStore.overrule`), so a change that arrives during the read is never
    undone (a newer version of it is in the database by then; the next round checks again).
    """
    store = process_flag_store()
    before = store.holdings()
    # This runs on a worker thread outside any request: open a fresh connection, never keep one.
    close_old_connections()
    try:
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            if outermost:  # (only a transaction's first statement may set its isolation)
                _read_one_snapshot()  # flags, rules and tombstones of one moment
            database = {flag["key"]: flag for flag in flag_list_wire()}
            gone = [key for key, held in before.items() if held.flag is not None]
            gone = [key for key in gone if key not in database]
            tombstones = deleted_versions() if gone else {}
    finally:
        close_old_connections()
    events: list[ChangeEvent] = []
    overruled = False
    for key, flag in database.items():
        held = before.get(key, Held(None, 0))
        if held.flag == flag:
            continue
        upsert = upsert_event(flag)
        if held.version < int(flag["version"]):  # behind: the usual versioned apply
            if store.apply(upsert):
                events.append(upsert)
        elif store.overrule(key, held, flag):
            events.append(upsert)
            overruled = True
    for key in gone:
        held = before[key]
        deleted = int(tombstones.get(key, 0))
        if deleted > held.version:  # a delete the store missed
            delete = delete_event(key, deleted)
            if store.apply(delete):
                events.append(delete)
        elif store.overrule(key, held, None, deleted):
            # One past what was held, so an SDK holding that flag drops it.
            events.append(delete_event(key, max(deleted, held.version + 1)))
            overruled = True
    return Reconciliation(events, overruled)


def load_store() -> int:
    """Loads the process store from the database now (at start); returns how many flags."""
    close_old_connections()
    try:
        return len(process_flag_store())
    finally:
        close_old_connections()


def _read_one_snapshot() -> None:
    """Makes the current transaction read one snapshot (PostgreSQL reads each statement's own).

    Without it, a flag read by one query and its rules by the next could belong to two
    versions, and the reconciliation would take that mix for a store that differs. SQLite
    transactions already read one snapshot.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
