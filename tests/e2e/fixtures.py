"""Fixtures that start real servers: a group of daphne instances on a private database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import require_service
from tests.e2e.server import ServerGroup, SidekickServer
from tests.service_env import REDIS_URL

GroupFactory = Callable[..., ServerGroup]


@pytest.fixture
def make_server_group() -> Iterator[GroupFactory]:
    """Makes server groups (each with its own database) and closes them after the test."""
    groups: list[ServerGroup] = []

    def make(**options: object) -> ServerGroup:
        group = ServerGroup(**options)  # type: ignore[arg-type]
        groups.append(group)
        return group

    yield make
    for group in groups:
        group.close()


@pytest.fixture(scope="module")
def server_group() -> Iterator[ServerGroup]:
    """One group with one started instance, shared by a test module; no Redis."""
    group = ServerGroup(keepalive_seconds=1.0)
    try:
        group.add_server()
        yield group
    finally:
        group.close()


@pytest.fixture(scope="module")
def server(server_group: ServerGroup) -> SidekickServer:
    return server_group.servers[0]


@pytest.fixture(scope="module")
def shared_redis_url() -> str:
    return require_service("Redis", REDIS_URL)
