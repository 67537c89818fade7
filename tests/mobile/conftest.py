"""Fixtures for the mobile tests: libsidekick built by CMake, opened the way Dart opens it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The real-server fixtures, for the live stream test.
from tests.e2e.fixtures import server, server_group
from tests.mobile import abi_check
from tests.mobile.ffi_store import FfiFlagStore
from tests.mobile.native_library import NativeApi, build_library

__all__ = ["api", "library_path", "server", "server_group", "store"]


@pytest.fixture(scope="session")
def library_path() -> Path:
    return build_library()


@pytest.fixture(scope="session")
def api(library_path: Path) -> NativeApi:
    return NativeApi(library_path, abi_check.DART_BINDINGS.read_text())


@pytest.fixture
def store(api: NativeApi) -> Iterator[FfiFlagStore]:
    flag_store = FfiFlagStore(api)
    yield flag_store
    flag_store.close()
