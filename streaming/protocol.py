"""Every byte the stream puts on the wire: the Server-Sent Events a connection reads, in order.

A stream opens with the snapshot (`connected`, each flag as an `update` carrying an UPSERT,
`ready`), then carries one `update` per change and a keep-alive comment when idle, and ends with
`goodbye` when the server closes it on purpose. Events are encoded once and the same bytes are
sent to every stream.
"""

from __future__ import annotations

import threading

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


def goodbye_chunk(reason: str, reconnect_after_ms: int) -> bytes:
    """The `goodbye` event: the server is about to close the stream on purpose.

    Reasons: `max_age`, `shutdown`, `revoked`, `slow_reader`. SDKs wait `reconnect_after_ms`
    before reconnecting (and do not reconnect after `revoked`).
    """
    payload = {"reason": reason, "reconnect_after_ms": int(reconnect_after_ms)}
    return sse_event("goodbye", encode_json(payload)).encode()


class SnapshotBytes:
    """The stream's opening bytes, encoded once per store revision.

    Every connection that bootstraps while the revision is current shares these bytes, so a
    thousand clients connecting at once cost one serialisation, not a thousand.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[ProcessFlagStore, int, bytes] | None = None

    def of(self, store: ProcessFlagStore) -> bytes:
        cached = self._cached
        if cached is not None and cached[0] is store and cached[1] == store.revision:
            return cached[2]
        with self._lock:
            revision, flags = store.flags_at_revision()
            parts = [sse_event("connected", "true")]
            parts.extend(sse_event("update", encode_json(upsert_event(flag))) for flag in flags)
            parts.append(sse_event("ready", encode_json({"flags": len(flags)})))
            encoded = "".join(parts).encode()
            self._cached = (store, revision, encoded)
            return encoded


snapshot_bytes = SnapshotBytes()
