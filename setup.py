"""Builds the C extensions: evalcore._core (Cython over the C core's sources) and, on Linux,
streaming._fanout (the stream fan-out's send loop; it uses MSG_NOSIGNAL, which other systems
lack, and where it is not built the server uses its pure-Python twin)."""

import sys
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

core = Extension(
    "evalcore._core",
    sources=["evalcore/_core.pyx", *sorted(glob("evalcore/src/*.c"))],
    include_dirs=["evalcore/include"],
    extra_compile_args=["-std=c11", "-O3"],
)

fanout = Extension(
    "streaming._fanout",
    sources=["streaming/_fanout.pyx"],
    extra_compile_args=["-O2"],
)

setup(
    ext_modules=cythonize(
        [core, fanout] if sys.platform.startswith("linux") else [core],
        language_level=3,
        compiler_directives={"embedsignature": True},
    )
)
