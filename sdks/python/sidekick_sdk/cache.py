"""The opt-in persistent cache: the flags and the resume cursor in one JSON file.

Loaded at start so that `is_enabled` answers before the network does, and so that the first
connection resumes from the cursor instead of replaying. Written atomically (a temporary file in
the same folder, then `os.replace`), so a crash mid-write leaves the previous file. A file that
cannot be read, is not ours, or belongs to another server or key is ignored, never fatal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("sidekick_sdk")

CACHE_FORMAT = "sidekick-flag-cache"
CACHE_VERSION = 1


@dataclass(frozen=True, slots=True)
class CachedState:
    flags: list[dict[str, Any]]
    cursor: str | None


def cache_owner(stream_url: str, sdk_key: str | None) -> str:
    """Who a cache belongs to: the stream URL and a digest of the key (never the key itself)."""
    digest = hashlib.sha256((sdk_key or "").encode()).hexdigest()[:16]
    return f"{stream_url}#{digest}"


class FileCache:
    """One client's cache file."""

    def __init__(self, path: str | os.PathLike[str], owner: str) -> None:
        self.path = Path(path)
        self.owner = owner

    def load(self) -> CachedState | None:
        """The cached state, or None when there is none that this client can use."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            logger.warning("ignoring unreadable flag cache %s: %s", self.path, error)
            return None
        if not _is_ours(document, self.owner):
            logger.warning("ignoring flag cache %s: written by another client or format", self.path)
            return None
        cursor = document.get("cursor")
        return CachedState(
            flags=[flag for flag in document["flags"] if isinstance(flag, dict)],
            cursor=cursor if isinstance(cursor, str) else None,
        )

    def save(self, flags: list[dict[str, Any]], cursor: str | None) -> None:
        """Replaces the file with this state, atomically."""
        document = {
            "format": CACHE_FORMAT,
            "version": CACHE_VERSION,
            "owner": self.owner,
            "cursor": cursor,
            "flags": flags,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(document, handle, separators=(",", ":"))
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _is_ours(document: Any, owner: str) -> bool:
    return (
        isinstance(document, dict)
        and document.get("format") == CACHE_FORMAT
        and document.get("version") == CACHE_VERSION
        and document.get("owner") == owner
        and isinstance(document.get("flags"), list)
    )
