"""The C library, for the few Linux calls Python does not wrap (prctl, malloc_trim)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from typing import Any


@functools.cache
def libc() -> Any:
    """The process's C library on Linux; None elsewhere, or where it cannot be found."""
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    return ctypes.CDLL(name, use_errno=True) if name else None
