"""The iOS pods compile every C core source through a forwarder, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.mobile import abi_check

ROOT = abi_check.ROOT
CORE_SOURCES = sorted(p.name for p in (ROOT / "evalcore" / "src").glob("*.c"))
FORWARDER_DIRS = [
    ROOT / "sdks" / "react-native" / "ios" / "core",
    ROOT / "sdks" / "flutter" / "ios" / "Classes",
]


@pytest.mark.parametrize("directory", FORWARDER_DIRS, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_core_source_has_exactly_one_forwarder(directory: Path) -> None:
    assert CORE_SOURCES
    assert sorted(p.name for p in directory.glob("*.c")) == CORE_SOURCES
    for forwarder in directory.glob("*.c"):
        includes = re.findall(r'#include "([^"]+)"', forwarder.read_text())
        assert len(includes) == 1, forwarder
        target = (forwarder.parent / includes[0]).resolve()
        assert target == ROOT / "evalcore" / "src" / forwarder.name


def test_the_flutter_android_build_uses_the_core_cmake_file() -> None:
    gradle = ROOT / "sdks" / "flutter" / "android" / "build.gradle"
    match = re.search(r"\bpath\s+\"([^\"]+)\"", gradle.read_text())
    assert match is not None
    assert (gradle.parent / match.group(1)).resolve() == ROOT / "evalcore" / "CMakeLists.txt"
