"""The per-process flag stores: every flag this process serves and evaluates, kept by version,
one store per environment.

One registry per process (`environment_stores()`), one store per environment in it
(`process_flag_store(environment_id)`; without an id, the default environment's). A store is
loaded from the database on first use,
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
from flags.scopes import default_environment
from flags.selectors import environment_revision, flag_list_wire, project_id_of
from flags.wire import WireFlag, encode_json
from sidekick.metrics import report_store

if TYPE_CHECKING:
    from flags.events import ChangeEvent


class Held(NamedTuple):
    """What the store holds for one key: the flag, or None with the version of its delete."""

    flag: WireFlag | None
    version: int  # the flag's version, or its delete's (0: never seen)


class ProcessFlagStore:
    def __init__(
        self,
        loader: Callable[[], Iterable[WireFlag]] | None = None,
        revision_loader: Callable[[], int] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._core = evalcore.FlagStore()
        self._loader = loader
        self._revision_loader = revision_loader
        self._loaded = loader is None
        self._revision = 0
        self._environment_revision = 0
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
                # Read before the flags: the store then holds at least what this revision names.
                if self._revision_loader is not None:
                    self._environment_revision = max(
                        self._environment_revision, self._revision_loader()
                    )
                self._replace_all_locked(self._loader())
                self._loaded = True

    @property
    def is_loaded(self) -> bool:
        return self._loaded

    @property
    def environment_revision(self) -> int:
        """The newest environment revision (the database's counter) this store is known to hold."""
        self._ensure_loaded()
        return self._environment_revision

    def note_environment_revision(self, revision: int) -> None:
        with self._lock:
            self._environment_revision = max(self._environment_revision, revision)

    @property
    def revision(self) -> int:
        """A counter bumped by every change that took effect; snapshots are cached per revision."""
        self._ensure_loaded()
        return self._revision

    def apply(self, event: ChangeEvent, revision: int = 0) -> bool:
        """Applies an UPSERT or DELETE event (that brought the environment to `revision`, when
        known); returns whether it changed anything."""
        self._ensure_loaded()
        with self._lock:
            self._environment_revision = max(self._environment_revision, revision)
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

    def snapshot(self) -> tuple[int, int, list[WireFlag]]:
        """Store revision, environment revision and every flag, read together."""
        self._ensure_loaded()
        with self._lock:
            return self._revision, self._environment_revision, self.flags()

    def evaluate(
        self, flag_key: str, user_key: str, attributes: dict[str, Any] | None = None
    ) -> evalcore.Evaluation:
        self._ensure_loaded()
        return self._core.evaluate(flag_key, user_key, attributes)

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._core)


class EnvironmentStores:
    """This process's stores, by environment id, each created (and loaded) on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stores: dict[int, ProcessFlagStore] = {}
        self._default_id: int | None = None
        # Environment id -> its project's id; an environment never moves to another project.
        self._project_ids: dict[int, int] = {}

    def store(self, environment_id: int) -> ProcessFlagStore:
        store = self._stores.get(environment_id)
        if store is None:
            with self._lock:
                store = self._stores.get(environment_id)
                if store is None:
                    store = ProcessFlagStore(
                        loader=lambda: flag_list_wire(environment_id=environment_id),
                        revision_loader=lambda: environment_revision(environment_id),
                    )
                    self._stores[environment_id] = store
        return store

    def existing(self, environment_id: int) -> ProcessFlagStore | None:
        """The environment's store if this process has one; None: it serves nothing of it yet
        (its store, once needed, loads everything from the database)."""
        return self._stores.get(environment_id)

    def loaded(self) -> dict[int, ProcessFlagStore]:
        """The stores created so far (the environments this process serves)."""
        with self._lock:
            return dict(self._stores)

    def project_id(self, environment_id: int) -> int | None:
        """The id of the environment's project (None: no such environment), read once."""
        project_id = self._project_ids.get(environment_id)
        if project_id is None:
            project_id = project_id_of(environment_id)
            if project_id is not None:
                self._project_ids[environment_id] = project_id
        return project_id

    def forget(self, environment_id: int) -> None:
        with self._lock:
            self._stores.pop(environment_id, None)
            self._project_ids.pop(environment_id, None)
            if self._default_id == environment_id:
                self._default_id = None

    def default_id(self) -> int:
        """The id of SIDEKICK_DEFAULT_ENVIRONMENT (created when missing), read once."""
        if self._default_id is None:
            self._default_id = default_environment().pk
        return self._default_id


_stores: EnvironmentStores | None = None
_stores_lock = threading.Lock()


def environment_stores() -> EnvironmentStores:
    global _stores
    if _stores is None:
        with _stores_lock:
            if _stores is None:
                _stores = EnvironmentStores()
    return _stores


def process_flag_store(environment_id: int | None = None) -> ProcessFlagStore:
    """This process's store of an environment (default: SIDEKICK_DEFAULT_ENVIRONMENT)."""
    stores = environment_stores()
    return stores.store(stores.default_id() if environment_id is None else environment_id)


def reset_process_flag_store() -> None:
    """Forgets every store so that the next use reloads from the database (tests, reconnects)."""
    global _stores
    with _stores_lock:
        _stores = None
