"""Bringing this process's store up to the database when change events may have been missed.

Two ways, both returning the change events that took effect, each with the id of the environment
it belongs to (the caller fans them out to that environment's streams):

- `catch_up_store`: quick and cheap, from the change records written after the last one this
  process has seen (a management command's writes, another instance's when no Redis joins them);
- `reconcile_store`: the slow safety net, by comparing every flag's version with the database.

Store versions are compared, never overwritten blindly: an event that already arrived otherwise
changes nothing when it comes again.
"""

from __future__ import annotations

from typing import NamedTuple

from django.db import close_old_connections

from flags.events import ChangeEvent, delete_event, upsert_event
from flags.models import ChangeAction, ChangeRecord
from flags.selectors import (
    change_watermark,
    changes_after,
    deleted_versions,
    flag_list_wire,
    flag_versions,
    revoked_key_count,
    revoked_key_ids,
)
from flags.store import ProcessFlagStore, environment_stores, process_flag_store
from flags.wire import WireFlag

# A change event and the id of the environment it happened in.
EnvironmentEvent = tuple[int, ChangeEvent]


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


def catch_up_store(after_change_id: int) -> tuple[list[EnvironmentEvent], int]:
    """Applies the change records newer than `after_change_id` to the stores of their
    environments (those this process has loaded: any other loads fresh when first used).

    Returns the events that took effect and the newest record id read. A record whose
    transaction commits after a newer one was read is not seen here; the reconciliation
    (`reconcile_store`) repairs that case.
    """
    stores = environment_stores().loaded()
    close_old_connections()
    try:
        records = changes_after(after_change_id)
    finally:
        close_old_connections()
    events: list[EnvironmentEvent] = []
    for record in records:
        store = stores.get(record.environment_id)
        if store is not None:
            event = event_of(record)
            if store.apply(event, int(record.revision)):
                events.append((record.environment_id, event))
    newest = records[-1].pk if records else after_change_id
    return events, newest


def reconcile_store() -> list[EnvironmentEvent]:
    """Applies to every loaded store whatever the database has that it lacks; returns the
    events."""
    events: list[EnvironmentEvent] = []
    for environment_id, store in environment_stores().loaded().items():
        events.extend((environment_id, event) for event in _reconcile_one(environment_id, store))
    return events


def _reconcile_one(environment_id: int, store: ProcessFlagStore) -> list[ChangeEvent]:
    """Applies to one store whatever the database has that it lacks; returns the events.

    Store versions are read BEFORE the database: a flag absent from the database was deleted
    only if the store had it before the read; a flag that arrived since is left alone (its
    delete tombstone, at the version read + 1, is then not newer and changes nothing).
    """
    before = store.versions()
    # This runs on a worker thread outside any request: open a fresh connection, never keep one.
    close_old_connections()
    try:
        database_versions = dict(flag_versions(environment_id=environment_id))
        stale = {
            key
            for key, version in database_versions.items()
            if version > before.get(key, -1) and version > _current_version(store, key)
        }
        fresh = (
            [flag for flag in flag_list_wire(environment_id=environment_id) if flag["key"] in stale]
            if stale
            else []
        )
        gone = [key for key in before if key not in database_versions]
        tombstones = deleted_versions(environment_id=environment_id) if gone else {}
    finally:
        close_old_connections()
    events: list[ChangeEvent] = []
    for flag in fresh:
        upsert = upsert_event(flag)
        if store.apply(upsert):
            events.append(upsert)
    for key in gone:
        # The tombstone's version when the database has one; at least one past what we held.
        version = max(int(tombstones.get(key, 0)), before[key] + 1)
        delete = delete_event(key, version)
        if store.apply(delete):
            events.append(delete)
    return events


def load_store() -> int:
    """Loads the default environment's store from the database now (at start); returns how many
    flags. Other environments' stores load when a request or stream first needs them."""
    close_old_connections()
    try:
        return len(process_flag_store())
    finally:
        close_old_connections()


def _current_version(store: ProcessFlagStore, key: str) -> int:
    flag: WireFlag | None = store.get(key)
    return int(flag.get("version") or 0) if flag is not None else -1
