"""Builds the Python SDK wheel with the evaluation core compiled in.

The core's sources live once, in the repository's `evalcore/`. The project's build backend
(`build_backend/out_of_tree.py`) runs this file in a temporary copy of the project with those
sources staged under `_evalcore/`, because setuptools packages and compiles only what lies under
the project directory; an sdist carries that staged copy, so it builds on its own.
"""

from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

core = Extension(
    "evalcore._core",
    sources=["_evalcore/evalcore/_core.pyx", *sorted(glob("_evalcore/evalcore/src/*.c"))],
    include_dirs=["_evalcore/evalcore/include"],
    extra_compile_args=["-std=c11", "-O3"],
)

setup(ext_modules=cythonize([core], language_level=3))
