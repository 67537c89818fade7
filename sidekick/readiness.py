"""What this process still lacks before it should get traffic: the registry behind `/readyz`.

A leaf module that any app may import (`flags` and `streaming` alike, without importing each
other). The code that makes a component usable reports it here; `/readyz` asks. Components:

- `store` — the process's flag store is loaded (reported where the hub finishes loading it).
- `channel_layer` — the process joined the updates group (reported where the hub joins it);
  expected only when a channel layer that carries changes between processes is configured.

The database is not reported here: `/readyz` checks it itself, each time it is asked.
"""

from __future__ import annotations

import threading

STORE = "store"
CHANNEL_LAYER = "channel_layer"

_lock = threading.Lock()
_ready: set[str] = set()


def mark_ready(component: str) -> None:
    """Reports that `component` is usable in this process (idempotent; any thread)."""
    with _lock:
        _ready.add(component)


def mark_not_ready(component: str) -> None:
    """Reports that `component` became unusable again (tests; a reload in progress)."""
    with _lock:
        _ready.discard(component)


def is_ready(component: str) -> bool:
    with _lock:
        return component in _ready


def missing(expected: list[str]) -> list[str]:
    """The expected components not reported ready, in the order given."""
    with _lock:
        return [component for component in expected if component not in _ready]
