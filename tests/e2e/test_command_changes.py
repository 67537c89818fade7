"""Changes made by management commands reach a running server without Redis within about a second.

A command runs in its own process: with the in-memory channel layer (the `make run` default) its
broadcast reaches nobody, so the server must notice the change in the database by itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from flags.api_keys import prefix_of
from tests.e2e.server import REPO_ROOT, ServerGroup
from tests.e2e.sse import StreamRecorder, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# Well under the 30 s reconciliation, well over the one-second database poll.
PROMPTLY = 5.0


def manage(group: ServerGroup, *arguments: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=REPO_ROOT,
        env=group.env,
        check=True,
        timeout=60,
        capture_output=True,
    )


def test_revoke_api_key_command_closes_that_keys_streams(make_server_group) -> None:
    group = make_server_group(keepalive_seconds=1.0)
    server = group.add_server()
    assert group.client_key is not None and group.server_key is not None
    with (
        StreamRecorder(server.url, query_key=group.client_key) as revoked,
        StreamRecorder(server.url, bearer=group.server_key) as other,
    ):
        revoked.wait_for(StreamRecorder.ready)
        other.wait_for(StreamRecorder.ready)
        prefix = prefix_of(group.client_key)
        assert prefix is not None
        manage(group, "revoke_api_key", prefix)
        revoked.wait_closed(PROMPTLY)
        assert revoked.error is None, revoked.error
        assert not other.closed
    refused = httpx.get(f"{server.url}/stream", params={"sdk_key": group.client_key}, timeout=10)
    assert refused.status_code == 401


def test_import_flags_command_reaches_rest_and_streams(make_server_group, tmp_path: Path) -> None:
    group = make_server_group(keepalive_seconds=1.0)
    server = group.add_server()
    document = tmp_path / "flags.json"
    document.write_text(json.dumps([{"key": "imported", "is_enabled": True}]), encoding="utf-8")
    headers = {"Authorization": f"Bearer {group.admin_key}"}
    with StreamRecorder(server.url, bearer=group.admin_key) as stream:
        stream.wait_for(StreamRecorder.ready)
        manage(group, "import_flags", str(document))
        stream.wait_for(
            lambda rec: any(
                update.get("flag", {}).get("key") == "imported" for update in rec.updates()
            ),
            PROMPTLY,
        )

    def listed() -> bool:
        answer = httpx.get(f"{server.url}/api/flags", headers=headers, timeout=10)
        return any(flag["key"] == "imported" for flag in answer.json())

    wait_until(listed, PROMPTLY, "GET /api/flags does not list the imported flag")
