"""Which implementation `import evalcore` picks, and that the compiled one is used when built."""

from __future__ import annotations

import os
import subprocess
import sys

import evalcore
from evalcore import _core_py
from tests.evalcore.conftest import compiled_core


def picked_in_a_fresh_interpreter(**environment: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", "import evalcore; print(evalcore.IMPLEMENTATION)"],
        env=os.environ | environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return completed.stdout.strip()


def test_the_compiled_core_is_used_when_built() -> None:
    compiled = compiled_core()  # skips when not built; fails under SIDEKICK_REQUIRE_SERVICES=1
    assert compiled.IMPLEMENTATION == "c"
    assert picked_in_a_fresh_interpreter(SIDEKICK_NO_EXTENSIONS="0") == "c"
    if os.environ.get("SIDEKICK_NO_EXTENSIONS") != "1":
        assert evalcore.IMPLEMENTATION == "c"
        assert evalcore.FlagStore is compiled.FlagStore


def test_no_extensions_picks_the_twin() -> None:
    assert picked_in_a_fresh_interpreter(SIDEKICK_NO_EXTENSIONS="1") == "python"
    assert _core_py.IMPLEMENTATION == "python"


def test_both_share_one_evaluation_type() -> None:
    assert evalcore.Evaluation is _core_py.Evaluation
    assert set(evalcore.__all__) == {
        "IMPLEMENTATION",
        "Evaluation",
        "FlagStore",
        "bucket",
        "murmur3_32",
    }
