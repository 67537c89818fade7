"""The `core` fixture: every test in this package runs against both implementations."""

from __future__ import annotations

from types import ModuleType

import pytest

from evalcore import _core_py
from tests.service_env import REQUIRE_SERVICES


def compiled_core() -> ModuleType:
    """evalcore._core; skips when it is not built, fails when services (CI) are required."""
    try:
        from evalcore import _core
    except ImportError as error:
        message = f"the compiled evalcore._core is not built ({error})"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}; SIDEKICK_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    return _core


@pytest.fixture(params=["c", "python"])
def core(request: pytest.FixtureRequest) -> ModuleType:
    if request.param == "c":
        return compiled_core()
    return _core_py
