"""Builds evalcore._core: the Cython wrapper compiled together with the C core's sources."""

from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

core = Extension(
    "evalcore._core",
    sources=["evalcore/_core.pyx", *sorted(glob("evalcore/src/*.c"))],
    include_dirs=["evalcore/include"],
    extra_compile_args=["-std=c11", "-O3"],
)

setup(
    ext_modules=cythonize(
        [core],
        language_level=3,
        compiler_directives={"embedsignature": True},
    )
)
