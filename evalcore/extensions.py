"""The one reader of SIDEKICK_NO_EXTENSIONS, for every C extension of the project.

A deployment that cannot build or load C extensions sets SIDEKICK_NO_EXTENSIONS=1 and runs the
pure-Python twin of each (the evaluation core here, the stream fan-out's send loop on the
server). It lives here because this package is also used without Django (the Python SDK,
offline stores), so it cannot read Django settings.
"""

from __future__ import annotations

import os


def extensions_disabled() -> bool:
    """Whether the environment asks for the pure-Python twins instead of the C extensions."""
    return os.environ.get("SIDEKICK_NO_EXTENSIONS") == "1"
