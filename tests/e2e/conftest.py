"""The end-to-end fixtures (shared with the SDK tests, so they live in tests/e2e/fixtures.py)."""

from tests.e2e.fixtures import make_server_group, private_redis, server, server_group

__all__ = ["make_server_group", "private_redis", "server", "server_group"]
