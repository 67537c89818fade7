"""Helpers shared by the end-to-end tests: an admin REST client and SDK imports from the tree."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from tests.e2e.server import ServerGroup, SidekickServer

SDK_SOURCE = Path(__file__).resolve().parents[2] / "sdks" / "python"
if str(SDK_SOURCE) not in sys.path:
    sys.path.insert(0, str(SDK_SOURCE))

from sidekick_sdk import SidekickClient  # noqa: E402

# Short timeouts so that tests see disconnects and reconnects quickly.
FAST_SDK = {"read_timeout": 5.0, "backoff_initial": 0.1, "backoff_max": 1.0}


def admin_client(
    group: ServerGroup, server: SidekickServer, key: str | None = None
) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {key or group.admin_key}"},
        timeout=20,
    )


def sdk_client(group: ServerGroup, server: SidekickServer, **options: object) -> SidekickClient:
    return SidekickClient(server.url, sdk_key=group.server_key, **{**FAST_SDK, **options})  # type: ignore[arg-type]


def versions(flags: list[dict]) -> dict[str, int]:
    return {flag["key"]: flag["version"] for flag in flags}


def database_versions(group: ServerGroup) -> dict[str, int]:
    """Key -> version in default/production (what the v1 paths serve) straight from the
    database (PostgreSQL groups only)."""
    import psycopg

    query = (
        "SELECT f.key, f.version FROM flags_flag f"
        " JOIN flags_environment e ON e.id = f.environment_id"
        " JOIN flags_project p ON p.id = e.project_id"
        " WHERE p.key = 'default' AND e.key = 'production'"
    )
    with psycopg.connect(group.database.url) as conn:
        return dict(conn.execute(query).fetchall())
