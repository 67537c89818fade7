"""Fixtures that start real servers: a group of daphne instances on a private database."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.faults import PrivateRedis
from tests.e2e.server import ServerGroup, SidekickServer
from tests.service_env import REQUIRE_SERVICES

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


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own (so it may stop it); needs the redis-server binary."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message} and SIDEKICK_REQUIRE_SERVICES=1 is set")
        pytest.skip(message)
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.close()
