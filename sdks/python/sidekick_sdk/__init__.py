"""Sidekick feature flags for Python: a streaming client over the compiled evaluation core."""

from sidekick_sdk.client import (
    SidekickAuthError,
    SidekickClient,
    SidekickError,
    SidekickInitTimeout,
    SidekickUnreachableError,
    SidekickURLError,
)

__all__ = [
    "SidekickAuthError",
    "SidekickClient",
    "SidekickError",
    "SidekickInitTimeout",
    "SidekickURLError",
    "SidekickUnreachableError",
]
__version__ = "0.1.0"
