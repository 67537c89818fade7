"""How many streams one process holds open, in all and per API key (a 429 beyond either).

Every stream holds a file descriptor for as long as it is open. Without a limit, one client key
opening 2,000 streams took every descriptor the process had, and REST requests (the admin's
included) could no longer be accepted. So a process holds at most `process_limit()` streams,
leaving a reserve of descriptors for everything else, and at most `key_limit()` of them per API
key, so one key cannot take every slot.

Limits are per process: with N workers or instances, a deployment holds up to N times as many
streams, and a key's count in one process does not see its streams in the others.
"""

from __future__ import annotations

import resource

from django.conf import settings

# Descriptors kept for what is not a stream: REST connections, the database pool, Redis, logs,
# the listening socket, imported modules' files.
MIN_DESCRIPTOR_RESERVE = 256


def descriptor_reserve(descriptor_limit: int) -> int:
    """A quarter of the descriptors, and at least MIN_DESCRIPTOR_RESERVE."""
    return max(MIN_DESCRIPTOR_RESERVE, descriptor_limit // 4)


def default_process_limit() -> int:
    """The soft RLIMIT_NOFILE less the reserve (at least 1)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(1, soft - descriptor_reserve(soft))


def process_limit() -> int:
    configured = int(settings.SIDEKICK_STREAMS_PER_PROCESS)
    return configured if configured > 0 else default_process_limit()


def key_limit() -> int:
    configured = int(settings.SIDEKICK_STREAMS_PER_KEY)
    return configured if configured > 0 else max(1, process_limit() * 3 // 4)


class Refusal:
    """Why a stream is not admitted: the 429's detail and its Retry-After (seconds)."""

    __slots__ = ("detail", "retry_after")

    def __init__(self, detail: str, retry_after: int) -> None:
        self.detail = detail
        self.retry_after = retry_after


class StreamSlots:
    """Open streams counted per API key; `take` and `give_back` run on the event loop.

    Limits are read once, when the process's hub is created (settings do not change while a
    process runs).
    """

    def __init__(self) -> None:
        self.per_process = process_limit()
        self.per_key = key_limit()
        self.retry_after = int(settings.SIDEKICK_STREAM_LIMIT_RETRY_AFTER_SECONDS)
        self.total = 0
        self._by_key: dict[int | None, int] = {}

    def take(self, key_id: int | None) -> Refusal | None:
        """Counts a new stream of `key_id` (None: SDK_KEY or no auth), or says why not."""
        if self.total >= self.per_process:
            return Refusal(
                f"This server process holds its limit of {self.per_process} streams; "
                "retry later (another process may have room).",
                self.retry_after,
            )
        held = self._by_key.get(key_id, 0)
        if held >= self.per_key:
            return Refusal(
                f"This API key holds its limit of {self.per_key} streams on this server process.",
                self.retry_after,
            )
        self._by_key[key_id] = held + 1
        self.total += 1
        return None

    def give_back(self, key_id: int | None) -> None:
        held = self._by_key.get(key_id, 0)
        if held <= 1:
            self._by_key.pop(key_id, None)
        else:
            self._by_key[key_id] = held - 1
        self.total = max(0, self.total - 1)

    def held_by(self, key_id: int | None) -> int:
        return self._by_key.get(key_id, 0)
