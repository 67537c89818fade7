"""The SDK's tests import it from the source tree (the clean-install test checks the package)."""

from __future__ import annotations

import sys
from pathlib import Path

SDK_SOURCE = Path(__file__).resolve().parents[2] / "sdks" / "python"
if str(SDK_SOURCE) not in sys.path:
    sys.path.insert(0, str(SDK_SOURCE))

pytest_plugins = ["tests.e2e.conftest"]
