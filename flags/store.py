"""The per-process flag store: every flag this process serves and evaluates, kept by version.

One instance per process (`process_flag_store()`). It is loaded from the database on first use,
updated by every change event (this process's own writes and, through the channel layer, other
instances'), and answers `GET /api/flags`, `/api/evaluate` and the stream's snapshot. Writes are
version-aware, so an event applied twice or out of order changes nothing. Bringing it up to the
database after events were missed is `flags.catch_up`, which may also overrule it
(`ProcessFlagStore.overrule`) where it holds something the database does not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import evalcore
from flags.selectors import flag_list_wire
from flags.wire import WireFlag, encode_json
from sidekick.metrics import report_store

if TYPE_CHECKING:
    from flags.events import ChangeEvent


class Held(NamedTuple):
    """What the store holds for one key: the flag, or None with the version of its delete."""

    flag: WireFlag | None
    version: int  # the flag's version, or its delete's (0: never seen)


class ProcessFlagStore:
    def __init__(self, loader: Callable[[], Iterable[WireFlag]] | None = None) -> None:
        self._lock = threading.RLock()
        self._core = evalcore.FlagStore()
        self._loader = loader
        self._loaded = loader is None
        self._revision = 0
        self._encoded_list: tuple[int, str] | None = None
        # The versions of the deletes the core remembers (its tombstones, which it does not
        # show), so that `holdings` can tell "deleted at 5" from "never seen".
        self._deleted: dict[str, int] = {}

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                assert self._loader is not None
                self._replace_all_locked(self._loader())
                self._loaded = True

    @property
    def revision(self) -> int:
        """A counter bumped by every change that took effect; snapshots are cached per revision."""
        self._ensure_loaded()
        return self._revision

    def apply(self, event: ChangeEvent) -> bool:
        """Applies an UPSERT or DELETE event; returns whether it changed anything."""
        self._ensure_loaded()
        with self._lock:
            if event["type"] == "UPSERT":
                changed = self._core.upsert(event["flag"])
                if changed:
                    self._deleted.pop(event["flag"]["key"], None)
            elif event["type"] == "DELETE":
                key, version = event["key"], int(event["version"])
                absent = self._core.get(key) is None
                changed = self._core.delete(key, version=version)
                if version and (changed or absent):  # when the core keeps a tombstone too
                    self._deleted[key] = max(version, self._deleted.get(key, 0))
            else:
                raise ValueError(f"unknown change event type {event['type']!r}")
            if changed:
                self._revision += 1
                report_store(flags=len(self._core), revision=self._revision)  # ops: metrics
            return changed

    def replace_all(self, flags: Iterable[WireFlag]) -> None:
        """Replaces the whole content, e.g. after reloading from the database."""
        with self._lock:
            self._replace_all_locked(flags)
            self._loaded = True

    def _replace_all_locked(self, flags: Iterable[WireFlag]) -> None:
        self._core.clear()
        self._deleted.clear()
        for flag in flags:
            self._core.upsert(flag)
        self._revision += 1
        report_store(flags=len(self._core), revision=self._revision)  # ops: metrics

    def flags(self) -> list[WireFlag]:
        """Every flag's wire dict, ordered by key."""
        self._ensure_loaded()
        with self._lock:
            return sorted(self._core.flags(), key=lambda flag: flag["key"])

    def get(self, key: str) -> WireFlag | None:
        self._ensure_loaded()
        return self._core.get(key)

    def versions(self) -> dict[str, int]:
        self._ensure_loaded()
        with self._lock:
            return {flag["key"]: int(flag.get("version") or 0) for flag in self._core.flags()}

    def holdings(self) -> dict[str, Held]:
        """Every key held, as a flag or as a delete, read together."""
        self._ensure_loaded()
        with self._lock:
            held = {key: Held(None, version) for key, version in self._deleted.items()}
            for flag in self._core.flags():
                held[flag["key"]] = Held(flag, int(flag.get("version") or 0))
            return held

    def overrule(self, key: str, expected: Held, flag: WireFlag | None, deleted: int = 0) -> bool:
        """Replaces what is held for `key` by `flag` (or removes it), whatever the versions.

        For the reconciliation, where the database disagrees with a store that is ahead of it
        or holds something else: versions cannot settle that. Only if the store still holds
        `expected` (read before the database), so a change that arrived since is never undone;
        returns whether it changed. `deleted`: the database's delete version, kept as the
        tombstone when `flag` is None.
        """
        self._ensure_loaded()
        with self._lock:
            if self._held_locked(key) != expected:
                return False
            if flag is not None:
                # An unversioned write always applies (and drops a tombstone); the versioned one
                # right after then applies over it. Readers never see the key missing.
                self._core.upsert({**flag, "version": 0})
                self._core.upsert(flag)
                self._deleted.pop(key, None)
            else:
                self._core.delete(key)  # unversioned: removes whatever version is held
                self._deleted.pop(key, None)
                if deleted:
                    self._core.delete(key, version=deleted)
                    self._deleted[key] = deleted
            self._revision += 1
            return True

    def _held_locked(self, key: str) -> Held:
        flag = self._core.get(key)
        if flag is not None:
            return Held(flag, int(flag.get("version") or 0))
        return Held(None, self._deleted.get(key, 0))

    def encoded_list(self) -> str:
        """The JSON array of every flag, encoded once per revision and shared by every reader."""
        self._ensure_loaded()
        with self._lock:
            cached = self._encoded_list
            if cached is None or cached[0] != self._revision:
                cached = (self._revision, encode_json(self.flags()))
                self._encoded_list = cached
            return cached[1]

    def flags_at_revision(self) -> tuple[int, list[WireFlag]]:
        """Every flag with the revision they belong to, read together (for per-revision caches)."""
        self._ensure_loaded()
        with self._lock:
            return self._revision, self.flags()

    def evaluate(
        self, flag_key: str, user_key: str, attributes: dict[str, Any] | None = None
    ) -> evalcore.Evaluation:
        self._ensure_loaded()
        return self._core.evaluate(flag_key, user_key, attributes)

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._core)


_store: ProcessFlagStore | None = None
_store_lock = threading.Lock()


def process_flag_store() -> ProcessFlagStore:
    """This process's store, created (and loaded from the database) on first use."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                _store = ProcessFlagStore(loader=flag_list_wire)
    return _store


def reset_process_flag_store() -> None:
    """Forgets the store so that the next use reloads it from the database (tests, reconnects)."""
    global _store
    with _store_lock:
        _store = None
