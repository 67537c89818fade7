"""A PEP 517 build backend that runs setuptools in a temporary copy of the project.

setuptools writes `build/`, `*.egg-info` and (for this package) a staged copy of the evaluation
core into the directory it builds, and pip builds in the source directory, so `pip install
./sdks/python` used to leave all of that in the checkout. Every hook here copies the project to a
temporary directory, stages the repository's `evalcore/` sources into the copy's `_evalcore/`,
runs the setuptools hook there and hands back only what the hook returns: the checkout is only
read. Editable installs are not offered: an out-of-tree build has nothing to point back to.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from setuptools import build_meta

# What the wheel needs from the repository's evalcore/: the Python package, the Cython wrapper
# and its stubs, and the C sources and headers.
CORE_FILES = ("*.py", "*.pyx", "*.pxd", "*.pyi", "py.typed", "include/*.h", "src/*.c", "src/*.h")
STAGED_CORE = Path("_evalcore") / "evalcore"
# Build output of older in-tree builds: never carried into the copy.
LEFTOVERS = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "*.so", "_core.c")

ConfigSettings = dict[str, Any] | None

# The frontend's import of this file wrote its bytecode beside it, into the checkout: take it back.
# Nothing else would write there; setuptools itself only ever runs in the copy.
sys.dont_write_bytecode = True
with contextlib.suppress(OSError):
    _bytecode = Path(importlib.util.cache_from_source(__file__))
    _bytecode.unlink()
    _bytecode.parent.rmdir()


def _stage_core(project: Path, copy: Path) -> None:
    """Copies the repository's core into `copy/_evalcore/evalcore` (an sdist already has one)."""
    repository_core = project.parent.parent / "evalcore"
    if not (repository_core / "_core.pyx").exists():
        return  # building from an sdist: the staged copy came with it
    staged = copy / STAGED_CORE
    shutil.rmtree(staged, ignore_errors=True)
    for pattern in CORE_FILES:
        for source in repository_core.glob(pattern):
            target = staged / source.relative_to(repository_core)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


@contextlib.contextmanager
def _in_a_copy() -> Iterator[None]:
    project = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="sidekick-sdk-build-") as scratch:
        copy = Path(scratch) / project.name
        shutil.copytree(project, copy, ignore=LEFTOVERS)
        _stage_core(project, copy)
        os.chdir(copy)
        try:
            yield
        finally:
            os.chdir(project)


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    with _in_a_copy():
        return build_meta.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    with _in_a_copy():
        return build_meta.get_requires_for_build_sdist(config_settings)


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    destination = os.path.abspath(wheel_directory)
    with _in_a_copy():
        return build_meta.build_wheel(destination, config_settings)


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    destination = os.path.abspath(sdist_directory)
    with _in_a_copy():
        return build_meta.build_sdist(destination, config_settings)
