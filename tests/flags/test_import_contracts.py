"""The import contracts `make lint` checks do bite: a planted reverse import breaks the check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ["flags", "streaming", "sidekick", "evalcore", "sdks/python/sidekick_sdk"]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'sdks' / 'python'}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy_of_the_packages(tmp_path: Path) -> Path:
    """The packages and the contracts, without build products, in a directory of their own."""
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__", "build"),
        )
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_every_contract() -> None:
    done = lint_imports(REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("flags/services.py", "import streaming.hub", "flags does not import streaming"),
        ("evalcore/extensions.py", "import django.conf", "evalcore imports no Django"),
        (
            "sdks/python/sidekick_sdk/__init__.py",
            "from flags import events",
            "the Python SDK imports neither",
        ),
    ],
)
def test_a_planted_import_breaks_its_contract(
    copy_of_the_packages: Path, module: str, planted: str, contract: str
) -> None:
    assert lint_imports(copy_of_the_packages).returncode == 0
    target = copy_of_the_packages / module
    # Inside a function, where a deferred import would hide a cycle: still found.
    target.write_text(
        target.read_text(encoding="utf-8") + f"\n\ndef _planted() -> None:\n    {planted}\n",
        encoding="utf-8",
    )
    done = lint_imports(copy_of_the_packages)
    assert done.returncode != 0
    broken = [line for line in done.stdout.splitlines() if line.endswith("BROKEN")]
    # (The SDK uses evalcore, so Django planted in evalcore also breaks the SDK's contract.)
    assert any(line.startswith(contract) for line in broken), done.stdout
