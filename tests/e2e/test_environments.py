"""Environments against a real daphne: each stream serves one environment, and a write in one
environment never reaches another's streams."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.server import ServerGroup, SidekickServer
from tests.e2e.sse import StreamRecorder

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

WRITES = 200
PROJECT = "/api/projects/e2e"


def api(group: ServerGroup, server: SidekickServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {group.admin_key}"}, timeout=15
    )


def live(stream: StreamRecorder) -> list[dict[str, Any]]:
    """The `update` events after `ready`."""
    at = stream.event_names().index("ready")
    return [json.loads(data) for name, data in stream.events[at + 1 :] if name == "update"]


def has_marker(key: str):
    def holds(stream: StreamRecorder) -> bool:
        return any(
            update["type"] == "UPSERT" and update["flag"]["key"] == key for update in live(stream)
        )

    return holds


def test_two_streams_on_two_environments_each_see_exactly_their_own_writes(
    server_group, server
) -> None:
    with api(server_group, server) as client:
        assert client.post("/api/projects", json={"key": "e2e"}).status_code == 201
        for environment in ("development", "production"):
            created = client.post(
                f"{PROJECT}/environments/{environment}/flags", json={"key": f"f_{environment}"}
            )
            assert created.status_code == 201, created.text
        with (
            StreamRecorder(
                server.url,
                bearer=server_group.admin_key,
                params={"environment": "e2e/development"},
            ) as development,
            StreamRecorder(
                server.url, bearer=server_group.admin_key, params={"environment": "e2e/production"}
            ) as production,
        ):
            for stream in (development, production):
                stream.wait_for(StreamRecorder.ready)
                ready = json.loads(stream.events[stream.event_names().index("ready")][1])
                assert ready == {"flags": 2, "revision": 2}
            expected: dict[str, list[int]] = {"development": [], "production": []}
            for index in range(WRITES):
                environment = "development" if index % 2 == 0 else "production"
                rollout = index % 101
                response = client.patch(
                    f"{PROJECT}/environments/{environment}/flags/f_{environment}",
                    json={"rollout_percentage": rollout},
                )
                assert response.status_code == 200, response.text
                expected[environment].append(rollout)
            # A marker last in each environment: once a stream has it, it has had everything
            # before it (one process fans out in commit order).
            for environment in ("development", "production"):
                marker = client.post(
                    f"{PROJECT}/environments/{environment}/flags",
                    json={"key": f"end_{environment}"},
                )
                assert marker.status_code == 201
            for name, stream in (("development", development), ("production", production)):
                stream.wait_for(has_marker("end_development"), timeout=60)
                stream.wait_for(has_marker("end_production"), timeout=60)
                updates = live(stream)
                own = [
                    update["flag"]["rollout_percentage"]
                    for update in updates
                    if update["type"] == "UPSERT" and update["flag"]["key"] == f"f_{name}"
                ]
                assert own == expected[name]
                # Nothing of the other environment's flag; the markers are definitions, so each
                # environment sees both (off in the one that did not create it).
                keys = {update["flag"]["key"] for update in updates}
                assert keys == {f"f_{name}", "end_development", "end_production"}
                versions = [
                    update["flag"]["version"]
                    for update in updates
                    if update["flag"]["key"] == f"f_{name}"
                ]
                assert versions == list(range(2, WRITES // 2 + 2))


def test_a_bound_key_streams_its_environment_and_may_not_name_another(server_group, server) -> None:
    assert server_group.server_key
    with StreamRecorder(
        server.url, bearer=server_group.server_key, params={"environment": "default/development"}
    ) as elsewhere:
        assert elsewhere.wait_for_status() == 403
        elsewhere.wait_closed()
        assert set(json.loads(elsewhere.body)) == {"detail", "errors"}
    with StreamRecorder(
        server.url, bearer=server_group.admin_key, params={"environment": "nope/nowhere"}
    ) as missing:
        assert missing.wait_for_status() == 404
