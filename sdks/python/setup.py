"""Builds the Python SDK wheel with the evaluation core compiled in.

The core's sources live once, in the repository's `evalcore/` (C sources, Cython wrapper and the
`evalcore` Python package). Building from the repository copies them into `_evalcore/` beside this
file, because setuptools packages and compiles only what lies under the project directory; an
sdist carries that copy, so it builds on its own.
"""

import shutil
from glob import glob
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
REPOSITORY_CORE = HERE.parent.parent / "evalcore"
STAGED_CORE = HERE / "_evalcore" / "evalcore"
CORE_FILES = ("*.py", "*.pyx", "*.pxd", "*.pyi", "py.typed", "include/*.h", "src/*.c", "src/*.h")


def stage_core() -> None:
    if not (REPOSITORY_CORE / "_core.pyx").exists():
        return  # building from an sdist: the staged copy is already here
    shutil.rmtree(STAGED_CORE, ignore_errors=True)
    for pattern in CORE_FILES:
        for source in REPOSITORY_CORE.glob(pattern):
            target = STAGED_CORE / source.relative_to(REPOSITORY_CORE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


stage_core()

core = Extension(
    "evalcore._core",
    sources=["_evalcore/evalcore/_core.pyx", *sorted(glob("_evalcore/evalcore/src/*.c"))],
    include_dirs=["_evalcore/evalcore/include"],
    extra_compile_args=["-std=c11", "-O3"],
)

setup(ext_modules=cythonize([core], language_level=3))
