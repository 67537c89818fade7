"""Every byte the stream puts on the wire: the Server-Sent Events a connection reads, in order.

A stream opens with the snapshot (`connected`, each flag as an `update` carrying an UPSERT,
`ready`), then carries one `update` per change and a keep-alive comment when idle, and ends with
`goodbye` when the server closes it on purpose. Events are encoded once per audience and the same
bytes are sent to every stream of that audience.

Two audiences: streams opened with a client key read the client view (`ClientView`: only
`client_side` flags, without their descriptions); every other stream reads every flag.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from flags.events import ChangeEvent, delete_event, upsert_event
from flags.store import ProcessFlagStore
from flags.wire import WireFlag, encode_json

KEEPALIVE_CHUNK = b": keep-alive\n\n"


def sse_event(name: str, data: str) -> str:
    """One Server-Sent Event; `data` is compact JSON, so it never spans lines."""
    return f"event: {name}\ndata: {data}\n\n"


def update_chunk(event: ChangeEvent) -> bytes:
    """The `update` event carrying one change."""
    return sse_event("update", encode_json(event)).encode()


def goodbye_chunk(reason: str, reconnect_after_ms: int) -> bytes:
    """The `goodbye` event: the server is about to close the stream on purpose.

    Reasons: `max_age`, `shutdown`, `revoked`, `slow_reader`. SDKs wait `reconnect_after_ms`
    before reconnecting (and do not reconnect after `revoked`).
    """
    payload = {"reason": reason, "reconnect_after_ms": int(reconnect_after_ms)}
    return sse_event("goodbye", encode_json(payload)).encode()


FlagView = Callable[[list[WireFlag]], list[WireFlag]]


def every_flag(flags: list[WireFlag]) -> list[WireFlag]:
    return flags


class SnapshotBytes:
    """The stream's opening bytes, encoded once per store (one per environment) and revision.

    Every connection that bootstraps while the revision is current shares these bytes, so a
    thousand clients connecting at once cost one serialisation, not a thousand. `view` picks
    and shapes the flags an audience sees (every flag, as they are, by default). `ready`
    carries the environment's revision as well as the flag count.
    """

    def __init__(self, view: FlagView = every_flag) -> None:
        self._view = view
        self._lock = threading.Lock()
        self._cached: weakref.WeakKeyDictionary[ProcessFlagStore, tuple[int, bytes]] = (
            weakref.WeakKeyDictionary()
        )

    def of(self, store: ProcessFlagStore) -> bytes:
        cached = self._cached.get(store)
        if cached is not None and cached[0] == store.revision:
            return cached[1]
        with self._lock:
            revision, environment_revision, all_flags = store.snapshot()
            flags = self._view(all_flags)
            parts = [sse_event("connected", "true")]
            parts.extend(sse_event("update", encode_json(upsert_event(flag))) for flag in flags)
            ready = {"flags": len(flags), "revision": environment_revision}
            parts.append(sse_event("ready", encode_json(ready)))
            encoded = "".join(parts).encode()
            self._cached[store] = (revision, encoded)
            return encoded


snapshot_bytes = SnapshotBytes()


# What a client-side flag shows a client key: what the SDK evaluates with, never what only the
# team reads (the description). A list of what to keep rather than of what to drop, so that a
# field added to the wire later stays private until it is named here; it names the fields the
# version 2 flag adds for evaluation too, so they reach client SDKs when they land.
CLIENT_FIELDS = frozenset(
    {
        "key",
        "is_enabled",
        "rollout_percentage",
        "rules",
        "version",
        "updated_at",
        "client_side",
        "type",
        "variants",
        "bucket_by",
        "off_variant",
        "fallthrough",
    }
)


def is_client_side(flag: WireFlag) -> bool:
    """Whether client keys see the flag (a flag without the field is private)."""
    return flag.get("client_side") is True


def client_flag(flag: WireFlag) -> WireFlag:
    """A client-side flag as client keys receive it."""
    return {name: value for name, value in flag.items() if name in CLIENT_FIELDS}


def client_flags(flags: list[WireFlag]) -> list[WireFlag]:
    """The client view of a flag list: the client-side flags, shaped for client keys."""
    return [client_flag(flag) for flag in flags if is_client_side(flag)]


class ClientView:
    """The stream as client keys see it: a snapshot of client-side flags, and each change as
    it looks from there.

    A change to a flag client streams do not hold sends them nothing; a flag that stops being
    client-side reaches them as a DELETE at its new version (newer than the one they hold, so
    SDKs apply it), and one that becomes client-side as an UPSERT.

    Telling these apart needs what client streams saw before the change, which the store no
    longer has once the change is in: `_seen` keeps, per key, the newest version this view has
    handled and whether it was client-side. It starts from the store when the first client
    stream reads its snapshot (after it subscribed, so every change applied later reaches it
    through `chunk`); a change older than what `_seen` holds is already in every client
    stream's snapshot or superseded, and sends nothing (SDKs would ignore it anyway).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, bool]] | None = None
        self._snapshots = SnapshotBytes(client_flags)

    def snapshot(self, store: ProcessFlagStore) -> bytes:
        """A client stream's opening bytes; call it after subscribing the stream."""
        if self._seen is None:
            with self._lock:
                if self._seen is None:
                    self._seen = {
                        flag["key"]: (_version(flag), is_client_side(flag))
                        for flag in store.flags()
                    }
        return self._snapshots.of(store)

    def chunk(self, event: ChangeEvent, full_chunk: bytes) -> bytes | None:
        """The `update` bytes client streams get for a change (None: nothing).

        `full_chunk` is the change's bytes for every other stream, reused when they are the
        same (a DELETE of a client-side flag).
        """
        with self._lock:
            seen = self._seen
            if seen is None:  # no client stream has opened: their snapshots will hold it
                return None
            flag: WireFlag | None
            if event["type"] == "UPSERT":
                flag = event["flag"]
                key, version = flag["key"], _version(flag)
                if not is_client_side(flag):
                    flag = None
            else:
                flag, key, version = None, event["key"], int(event["version"])
            held_version, was_visible = seen.get(key, (-1, False))
            if version <= held_version:
                return None
            seen[key] = (version, flag is not None)
        if flag is not None:
            return update_chunk(upsert_event(client_flag(flag)))
        if not was_visible:
            return None
        if event["type"] == "DELETE":
            return full_chunk
        return update_chunk(delete_event(key, version))


def _version(flag: WireFlag) -> int:
    return int(flag.get("version") or 0)
