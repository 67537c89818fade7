"""Fixtures shared by every test package: the services the suite runs against."""

from __future__ import annotations

import pytest

from tests.service_env import REDIS_URL, REQUIRE_SERVICES, reachable


def require_service(name: str, url: str) -> str:
    """Returns url when the service answers; else skips, or fails when services are required."""
    if reachable(url):
        return url
    message = f"{name} is unreachable at {url}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (SIDEKICK_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    return require_service("Redis", REDIS_URL)


@pytest.fixture
def postgres_required(settings) -> None:
    """For tests whose point is PostgreSQL behaviour (row locks, concurrency)."""
    vendor = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in vendor:
        if REQUIRE_SERVICES:
            pytest.fail("this test needs PostgreSQL and SIDEKICK_REQUIRE_SERVICES=1 is set")
        pytest.skip("this test needs PostgreSQL (DATABASE_URL is not postgres://)")
