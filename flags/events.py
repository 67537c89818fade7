"""Change events: their two shapes, and the one point where committed changes are published.

A flag change travels as an UPSERT (the whole flag, as on the wire) or a DELETE (key and the
version the delete took). `upsert_event` and `delete_event` are the only places these shapes
are written.

`flags.services` publishes every committed change here (from `transaction.on_commit`), naming
the environment it happened in: `publish_flag_change` first applies it to this process's store of
that environment, then tells every listener.
`flags` knows nothing about who listens; the streaming app subscribes when it starts (its
`AppConfig.ready`) and relays the change to other processes and fans it out to local streams.
Key revocations are published the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from flags.store import environment_stores
from flags.wire import WireFlag


class UpsertEvent(TypedDict):
    type: Literal["UPSERT"]
    flag: WireFlag


class DeleteEvent(TypedDict):
    type: Literal["DELETE"]
    key: str
    version: int


ChangeEvent = UpsertEvent | DeleteEvent


def upsert_event(flag: WireFlag) -> UpsertEvent:
    return {"type": "UPSERT", "flag": flag}


def delete_event(key: str, version: int) -> DeleteEvent:
    return {"type": "DELETE", "key": key, "version": version}


@dataclass(frozen=True, slots=True)
class FlagChangePublished:
    """A committed change as its listeners see it."""

    event: ChangeEvent
    # Whether this process's store changed; False when it already held that version.
    took_effect: bool
    environment_id: int
    # Wall-clock time of the commit (published from on_commit): the commit-to-first-send
    # metric measures from it, here and, carried in the relay message, in other processes.
    committed_at: float
    # The environment's revision after this change (0 when not known, e.g. a reconciliation).
    revision: int = 0


FlagChangeListener = Callable[[FlagChangePublished], None]
KeyRevokedListener = Callable[[int], None]
EnvironmentDeletedListener = Callable[[int], None]

_flag_change_listeners: list[FlagChangeListener] = []
_key_revoked_listeners: list[KeyRevokedListener] = []
_environment_deleted_listeners: list[EnvironmentDeletedListener] = []


def on_flag_change(listener: FlagChangeListener) -> Callable[[], None]:
    """Calls `listener` for every published flag change; returns the function that unsubscribes."""
    return _subscribe(_flag_change_listeners, listener)


def on_key_revoked(listener: KeyRevokedListener) -> Callable[[], None]:
    """Calls `listener` with the id of every revoked key; returns the function that unsubscribes."""
    return _subscribe(_key_revoked_listeners, listener)


def on_environment_deleted(listener: EnvironmentDeletedListener) -> Callable[[], None]:
    """Calls `listener` with the id of every deleted environment; returns the unsubscriber."""
    return _subscribe(_environment_deleted_listeners, listener)


def publish_flag_change(event: ChangeEvent, *, environment_id: int, revision: int = 0) -> None:
    """Applies a committed change to this process's store of its environment, then tells every
    listener.

    Call it after the commit: listeners act on it at once (other processes may read the
    database as soon as they hear of it).
    """
    # An environment this process serves nothing of has no store to change (nor streams).
    store = environment_stores().existing(environment_id)
    took_effect = store.apply(event, revision) if store is not None else False
    published = FlagChangePublished(event, took_effect, environment_id, time.time(), revision)
    for listener in tuple(_flag_change_listeners):
        listener(published)


def publish_environment_deleted(environment_id: int) -> None:
    """Forgets the environment's store here and tells every listener (after the commit)."""
    environment_stores().forget(environment_id)
    for listener in tuple(_environment_deleted_listeners):
        listener(environment_id)


def publish_key_revoked(key_id: int) -> None:
    """Tells every listener that a key was revoked (after the commit)."""
    for listener in tuple(_key_revoked_listeners):
        listener(key_id)


def _subscribe(listeners: list[Any], listener: Any) -> Callable[[], None]:
    listeners.append(listener)

    def unsubscribe() -> None:
        if listener in listeners:
            listeners.remove(listener)

    return unsubscribe
