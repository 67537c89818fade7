"""`pip install ./sdks/python` into a clean virtual environment gives a working SDK, no Django."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(600)]

CHECK = textwrap.dedent(
    """
    import importlib.util, json
    import evalcore
    from sidekick_sdk import SidekickClient
    assert evalcore.IMPLEMENTATION == "c", evalcore.IMPLEMENTATION
    assert importlib.util.find_spec("django") is None, "django must not be installed"
    try:
        import django  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("import django succeeded")
    flag = {"key": "f", "is_enabled": True, "rollout_percentage": 50, "version": 1}
    client = SidekickClient("http://127.0.0.1:9", sdk_key="k", bootstrap=[flag])
    expected = evalcore.bucket("f", "u1") < 50
    assert client.is_enabled("f", "u1") is expected
    print(json.dumps({"implementation": evalcore.IMPLEMENTATION, "file": evalcore.__file__}))
    """
)


def test_the_sdk_installs_alone_with_the_compiled_core(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Build from a copy laid out like the repository, so concurrent runs never share build dirs.
    ignore = shutil.ignore_patterns(
        "build", "_evalcore", "*.egg-info", "__pycache__", "*.so", "_core.c", "tests"
    )
    source = tmp_path / "src"
    shutil.copytree(REPO_ROOT / "evalcore", source / "evalcore", ignore=ignore)
    shutil.copytree(REPO_ROOT / "sdks" / "python", source / "sdks" / "python", ignore=ignore)
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(source / "sdks" / "python"),
        ],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    # Run from the temporary directory so the repository's own evalcore cannot be imported.
    done = subprocess.run(
        [str(python), "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(venv) in done.stdout
