"""The Sidekick evaluation core for Python: the compiled extension, or its pure-Python twin.

`evalcore._core` (Cython over the C core in src/) is used when it is built, unless the
environment sets SIDEKICK_NO_EXTENSIONS=1; otherwise `evalcore._core_py` answers identically.
`IMPLEMENTATION` says which one was picked ("c" or "python").
"""

from __future__ import annotations

from evalcore._core_py import Evaluation
from evalcore.extensions import extensions_disabled

try:
    if extensions_disabled():
        raise ImportError("SIDEKICK_NO_EXTENSIONS=1")
    from evalcore._core import IMPLEMENTATION, FlagStore, bucket, murmur3_32
except ImportError:
    from evalcore._core_py import (  # type: ignore[assignment]
        IMPLEMENTATION,
        FlagStore,
        bucket,
        murmur3_32,
    )

__all__ = ["IMPLEMENTATION", "Evaluation", "FlagStore", "bucket", "murmur3_32"]
