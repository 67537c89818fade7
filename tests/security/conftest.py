"""The security tests run real servers: the end-to-end fixtures."""

from tests.e2e.fixtures import make_server_group, private_redis, server, server_group

__all__ = ["make_server_group", "private_redis", "server", "server_group"]
