"""Every byte the stream puts on the wire: the Server-Sent Events a connection reads, in order.

A stream opens with the snapshot (`connected`, each flag as an `update` carrying an UPSERT,
`ready`), then carries one `update` per change and a keep-alive comment when idle. Events are
encoded once and the same bytes are sent to every stream.
"""

from __future__ import annotations

import threading
import weakref

from flags.events import ChangeEvent, upsert_event
from flags.store import ProcessFlagStore
from flags.wire import encode_json

KEEPALIVE_CHUNK = b": keep-alive\n\n"


def sse_event(name: str, data: str) -> str:
    """One Server-Sent Event; `data` is compact JSON, so it never spans lines."""
    return f"event: {name}\ndata: {data}\n\n"


def update_chunk(event: ChangeEvent) -> bytes:
    """The `update` event carrying one change."""
    return sse_event("update", encode_json(event)).encode()


class SnapshotBytes:
    """The stream's opening bytes, encoded once per store (one per environment) and revision.

    Every connection that bootstraps while the revision is current shares these bytes, so a
    thousand clients connecting at once cost one serialisation, not a thousand. `ready` carries
    the environment's revision as well as the flag count.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: weakref.WeakKeyDictionary[ProcessFlagStore, tuple[int, bytes]] = (
            weakref.WeakKeyDictionary()
        )

    def of(self, store: ProcessFlagStore) -> bytes:
        cached = self._cached.get(store)
        if cached is not None and cached[0] == store.revision:
            return cached[1]
        with self._lock:
            revision, environment_revision, flags = store.snapshot()
            parts = [sse_event("connected", "true")]
            parts.extend(sse_event("update", encode_json(upsert_event(flag))) for flag in flags)
            ready = {"flags": len(flags), "revision": environment_revision}
            parts.append(sse_event("ready", encode_json(ready)))
            encoded = "".join(parts).encode()
            self._cached[store] = (revision, encoded)
            return encoded


snapshot_bytes = SnapshotBytes()
