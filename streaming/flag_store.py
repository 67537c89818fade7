"""The per-process flag store: every flag this process serves and evaluates, kept by version.

One instance per process (`process_flag_store()`). It is loaded from the database on first use,
updated by every change event (this process's own writes and, through the channel layer, other
instances'), and answers `GET /api/flags`, `/api/evaluate` and the stream's snapshot. Writes are
version-aware, so an event applied twice or out of order changes nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import evalcore
from sidekick.metrics import report_store

FlagDict = dict[str, Any]
ChangeEvent = dict[str, Any]


def encode_json(value: Any) -> str:
    """The one JSON encoding used on the wire: compact, UTF-8 text (no ASCII escaping)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def sse_event(name: str, data: str) -> str:
    """One Server-Sent Event; `data` is compact JSON, so it never spans lines."""
    return f"event: {name}\ndata: {data}\n\n"


def upsert_event(flag: FlagDict) -> ChangeEvent:
    return {"type": "UPSERT", "flag": flag}


def delete_event(key: str, version: int) -> ChangeEvent:
    return {"type": "DELETE", "key": key, "version": version}


class ProcessFlagStore:
    def __init__(self, loader: Callable[[], Iterable[FlagDict]] | None = None) -> None:
        self._lock = threading.RLock()
        self._core = evalcore.FlagStore()
        self._loader = loader
        self._loaded = loader is None
        self._revision = 0
        self._encoded_list: tuple[int, str] | None = None
        self._encoded_snapshot: tuple[int, bytes] | None = None

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
            elif event["type"] == "DELETE":
                changed = self._core.delete(event["key"], version=int(event["version"]))
            else:
                raise ValueError(f"unknown change event type {event['type']!r}")
            if changed:
                self._revision += 1
                report_store(flags=len(self._core), revision=self._revision)  # ops: metrics
            return changed

    def replace_all(self, flags: Iterable[FlagDict]) -> None:
        """Replaces the whole content, e.g. after reloading from the database."""
        with self._lock:
            self._replace_all_locked(flags)
            self._loaded = True

    def _replace_all_locked(self, flags: Iterable[FlagDict]) -> None:
        self._core.clear()
        for flag in flags:
            self._core.upsert(flag)
        self._revision += 1
        report_store(flags=len(self._core), revision=self._revision)  # ops: metrics

    def flags(self) -> list[FlagDict]:
        """Every flag's wire dict, ordered by key."""
        self._ensure_loaded()
        with self._lock:
            return sorted(self._core.flags(), key=lambda flag: flag["key"])

    def get(self, key: str) -> FlagDict | None:
        self._ensure_loaded()
        return self._core.get(key)

    def versions(self) -> dict[str, int]:
        self._ensure_loaded()
        with self._lock:
            return {flag["key"]: int(flag.get("version") or 0) for flag in self._core.flags()}

    def encoded_list(self) -> str:
        """The JSON array of every flag, encoded once per revision and shared by every reader."""
        self._ensure_loaded()
        with self._lock:
            cached = self._encoded_list
            if cached is None or cached[0] != self._revision:
                cached = (self._revision, encode_json(self.flags()))
                self._encoded_list = cached
            return cached[1]

    def encoded_snapshot(self) -> bytes:
        """The stream's opening bytes (connected, each flag as an UPSERT, ready), once per revision.

        Every connection that bootstraps while the revision is current shares these bytes, so a
        thousand clients connecting at once cost one serialisation, not a thousand.
        """
        self._ensure_loaded()
        with self._lock:
            cached = self._encoded_snapshot
            if cached is None or cached[0] != self._revision:
                flags = self.flags()
                parts = [sse_event("connected", "true")]
                parts.extend(sse_event("update", encode_json(upsert_event(f))) for f in flags)
                parts.append(sse_event("ready", encode_json({"flags": len(flags)})))
                cached = (self._revision, "".join(parts).encode())
                self._encoded_snapshot = cached
            return cached[1]

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


def _load_from_database() -> list[FlagDict]:
    from flags.selectors import flag_list_wire

    return flag_list_wire()


def process_flag_store() -> ProcessFlagStore:
    """This process's store, created (and loaded from the database) on first use."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                _store = ProcessFlagStore(loader=_load_from_database)
    return _store


def reset_process_flag_store() -> None:
    """Forgets the store so that the next use reloads it from the database (tests, reconnects)."""
    global _store
    with _store_lock:
        _store = None
