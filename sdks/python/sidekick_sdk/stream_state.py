"""The stream protocol's state machine and reconnection policy, free of any I/O.

`StreamState` turns parsed stream events into store changes: a full replay (`connected` …
`ready`) is built into a fresh store and swapped in whole on `ready`; `resumed` keeps the live
store and the deltas that follow apply to it; deltas apply only when newer (the core's version
rule); the cursor is the id of the last applied event that carried one. `Backoff` is the delay
policy: 1 s doubling to 30 s with full jitter, reset after 60 s connected, and a delay the server
asked for (Retry-After, goodbye's `reconnect_after_ms`) used as it is. Both are pinned by
tests/vectors/stream/, which the TypeScript twin (sdks/shared-ts) runs too.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import evalcore
from sidekick_sdk.sse import ServerSentEvent

BACKOFF_INITIAL_MS = 1_000
BACKOFF_MAX_MS = 30_000
BACKOFF_RESET_AFTER_MS = 60_000


@dataclass(slots=True)
class Outcome:
    """What one event did, for the client to act on."""

    changed_keys: list[str] = field(default_factory=list)
    """Keys whose flag changed in the live store (notify the app when non-empty)."""
    synced: bool = False
    """A replay completed (`ready`) or a resume began (`resumed`): the store is current."""
    goodbye_reason: str | None = None
    reconnect_after_ms: int | None = None
    """The delay a `goodbye` asked for before reconnecting."""
    stop: bool = False
    """The server revoked this client: do not reconnect."""
    error: str | None = None
    """Why the event was skipped, when it could not be read."""


class StreamState:
    """The live store, a replay in progress, and the resume cursor."""

    def __init__(
        self,
        flags: Iterable[Mapping[str, Any]] = (),
        cursor: str | None = None,
        *,
        on_invalid_flag: Callable[[Mapping[str, Any], ValueError], None] | None = None,
    ) -> None:
        self._on_invalid_flag = on_invalid_flag
        self.store = evalcore.FlagStore()
        for flag in flags:
            self._upsert(self.store, flag)
        self.cursor = cursor
        self.staging: evalcore.FlagStore | None = None
        self.synced_once = False
        self.stopped = False

    def disconnected(self) -> None:
        """The connection ended: a replay cut short is dropped; the live store stays."""
        self.staging = None

    def handle(self, event: ServerSentEvent) -> Outcome:
        outcome = Outcome()
        kind = event.event
        if kind == "connected":
            self.staging = evalcore.FlagStore()
        elif kind == "resumed":
            self.staging = None
            self.synced_once = True
            outcome.synced = True
        elif kind == "ready":
            self._swap(outcome)
        elif kind == "update":
            payload = _json_object(event.data)
            if payload is None:
                outcome.error = f"unreadable update event: {event.data[:200]!r}"
                return outcome
            self._apply(payload, outcome)
        elif kind == "goodbye":
            payload = _json_object(event.data)
            if payload is None:
                outcome.error = f"unreadable goodbye event: {event.data[:200]!r}"
                return outcome
            reason = str(payload.get("reason", ""))
            outcome.goodbye_reason = reason
            if reason == "revoked":
                self.stopped = outcome.stop = True
            else:
                delay = payload.get("reconnect_after_ms")
                if isinstance(delay, int) and not isinstance(delay, bool) and delay >= 0:
                    outcome.reconnect_after_ms = delay
        # Events of a replay in progress never move the cursor: it must name the live store.
        if event.id is not None and self.staging is None:
            self.cursor = event.id
        return outcome

    def _swap(self, outcome: Outcome) -> None:
        fresh = self.staging
        if fresh is None:
            return
        previous, self.store, self.staging = self.store, fresh, None
        self.synced_once = True
        outcome.synced = True
        outcome.changed_keys = changed_keys(previous, fresh)

    def _apply(self, change: Mapping[str, Any], outcome: Outcome) -> None:
        target = self.staging if self.staging is not None else self.store
        kind = change.get("type")
        if kind == "UPSERT" and isinstance(change.get("flag"), Mapping):
            flag = change["flag"]
            applied = self._upsert(target, flag)
            key = str(flag.get("key"))
        elif kind == "DELETE" and isinstance(change.get("key"), str):
            key = change["key"]
            version = change.get("version") or 0
            applied = target.delete(key, version if isinstance(version, int) else 0)
        else:
            return  # a change type from a newer server: ignore it (forward compatibility)
        if applied and target is self.store:
            outcome.changed_keys = [key]

    def _upsert(self, store: evalcore.FlagStore, flag: Mapping[str, Any]) -> bool:
        try:
            return bool(store.upsert(flag))
        except ValueError as error:
            # One bad flag from the server (or a cache) must not stop the others.
            if self._on_invalid_flag is not None:
                self._on_invalid_flag(flag, error)
            return False


class Backoff:
    """Reconnection delays: full jitter over 1 s doubling to 30 s; a server's delay wins once."""

    def __init__(
        self,
        initial_ms: int = BACKOFF_INITIAL_MS,
        max_ms: int = BACKOFF_MAX_MS,
        reset_after_ms: int = BACKOFF_RESET_AFTER_MS,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.initial_ms = initial_ms
        self.max_ms = max_ms
        self.reset_after_ms = reset_after_ms
        self._random = rand
        self.attempt = 0
        self._server_delay_ms: int | None = None

    def next_delay_ms(self) -> float:
        """The wait before the next connection attempt."""
        if self._server_delay_ms is not None:
            delay, self._server_delay_ms = self._server_delay_ms, None
            return float(delay)
        cap = min(self.max_ms, self.initial_ms * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return self._random() * cap

    def connection_lasted(self, duration_ms: float) -> None:
        """A connection was up this long; a healthy one starts the sequence over."""
        if duration_ms >= self.reset_after_ms:
            self.attempt = 0

    def server_delay(self, delay_ms: int) -> None:
        """The server asked for this delay (Retry-After, goodbye): the next wait is exactly it."""
        self._server_delay_ms = max(0, delay_ms)


def parse_retry_after(value: str | None) -> int | None:
    """A Retry-After header in whole seconds, as milliseconds; None when absent or not seconds."""
    if value is None:
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        return None
    return int(text) * 1000


def changed_keys(before: evalcore.FlagStore, after: evalcore.FlagStore) -> list[str]:
    """The keys whose stored flag differs between two stores, sorted."""
    old = {flag["key"]: flag for flag in before.flags()}
    new = {flag["key"]: flag for flag in after.flags()}
    return sorted(key for key in old.keys() | new.keys() if _differs(old.get(key), new.get(key)))


def _differs(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    if old is None or new is None:
        return old is not new
    old_version, new_version = old.get("version") or 0, new.get("version") or 0
    if old_version and new_version:
        return bool(old_version != new_version)
    return old != new  # unversioned flags (bootstrap files) can only be compared whole


def _json_object(data: str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
