"""Change events: their two shapes, and the one point where committed changes are published.

A flag change travels as an UPSERT (the whole flag, as on the wire) or a DELETE (key and the
version the delete took). `upsert_event` and `delete_event` are the only places these shapes
are written.

`flags.services` publishes every committed change here (from `transaction.on_commit`):
`publish_flag_change` first applies it to this process's store, then tells every listener.
`flags` knows nothing about who listens; the streaming app subscribes when it starts (its
`AppConfig.ready`) and relays the change to other processes and fans it out to local streams.
Key revocations are published the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from flags.store import process_flag_store
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
    # Wall-clock time of the commit (published from on_commit): the commit-to-first-send
    # metric measures from it, here and, carried in the relay message, in other processes.
    committed_at: float


FlagChangeListener = Callable[[FlagChangePublished], None]
KeyRevokedListener = Callable[[int], None]

_flag_change_listeners: list[FlagChangeListener] = []
_key_revoked_listeners: list[KeyRevokedListener] = []


def on_flag_change(listener: FlagChangeListener) -> Callable[[], None]:
    """Calls `listener` for every published flag change; returns the function that unsubscribes."""
    return _subscribe(_flag_change_listeners, listener)


def on_key_revoked(listener: KeyRevokedListener) -> Callable[[], None]:
    """Calls `listener` with the id of every revoked key; returns the function that unsubscribes."""
    return _subscribe(_key_revoked_listeners, listener)


def publish_flag_change(event: ChangeEvent) -> None:
    """Applies a committed change to this process's store, then tells every listener.

    Call it after the commit: listeners act on it at once (other processes may read the
    database as soon as they hear of it).
    """
    published = FlagChangePublished(event, process_flag_store().apply(event), time.time())
    for listener in tuple(_flag_change_listeners):
        listener(published)


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
