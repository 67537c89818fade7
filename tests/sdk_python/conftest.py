"""The SDK's tests import it from the source tree and start real servers (tests/e2e/fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.e2e.fixtures import make_server_group, server, server_group

SDK_SOURCE = Path(__file__).resolve().parents[2] / "sdks" / "python"
if str(SDK_SOURCE) not in sys.path:
    sys.path.insert(0, str(SDK_SOURCE))

__all__ = ["make_server_group", "server", "server_group"]
