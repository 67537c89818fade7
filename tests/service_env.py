"""Pytest plugin (loaded with -p before Django is set up): points the suite at real services.

PostgreSQL: when DATABASE_URL is unset and PostgreSQL answers at SIDEKICK_TEST_POSTGRES_URL
(default postgres://postgres@127.0.0.1:5432/sidekick), the whole suite runs on it. With
SIDEKICK_REQUIRE_SERVICES=1 it is used even when it does not answer, so every database test fails
rather than silently falling back to SQLite. Redis: the `redis_url` fixture (tests/conftest.py)
gives SIDEKICK_TEST_REDIS_URL, skipping the test when Redis is unreachable, failing it when
services are required.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

REQUIRE_SERVICES = os.environ.get("SIDEKICK_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get(
    "SIDEKICK_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/sidekick"
)
REDIS_URL = os.environ.get("SIDEKICK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def reachable(url: str, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    default_port = {"postgres": 5432, "postgresql": 5432, "redis": 6379}.get(parts.scheme, 0)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout
        ):
            return True
    except OSError:
        return False


if not os.environ.get("DATABASE_URL") and (REQUIRE_SERVICES or reachable(POSTGRES_URL)):
    os.environ["DATABASE_URL"] = POSTGRES_URL
