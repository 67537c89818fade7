"""`pip install ./sdks/python`, from a clean copy of the repository into a fresh virtual
environment, gives a working SDK with the compiled core and no Django, and leaves the copy exactly
as it was: no `build/`, no `*.egg-info`, no staged sources of the core."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.sdk_packaging.clean_copy import clean_copy, git_status

pytestmark = [pytest.mark.timeout(600)]

# Python's defaults, as on a user's machine: bytecode is written (the suite's own environment may
# turn that off, which would hide a `__pycache__` left in the checkout).
USER_ENVIRONMENT = {
    name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"
}

CHECK = textwrap.dedent(
    """
    import importlib.util, json
    import evalcore
    from sidekick_sdk import SidekickClient
    assert evalcore.IMPLEMENTATION == "c", evalcore.IMPLEMENTATION
    assert importlib.util.find_spec("django") is None, "django must not be installed"
    flag = {"key": "f", "is_enabled": True, "rollout_percentage": 50, "version": 1}
    client = SidekickClient("http://127.0.0.1:9", sdk_key="k", bootstrap=[flag])
    expected = evalcore.bucket("f", "u1") < 50
    assert client.is_enabled("f", "u1") is expected
    print(json.dumps({"implementation": evalcore.IMPLEMENTATION, "file": evalcore.__file__}))
    """
)


def test_the_sdk_installs_alone_and_leaves_the_checkout_clean(tmp_path):
    repository = clean_copy(tmp_path / "repository", "evalcore", "sdks/python")
    assert git_status(repository) == []
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "./sdks/python",
        ],
        cwd=repository,
        env=USER_ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert git_status(repository) == [], "the install left files in the checkout"
    # Run from the temporary directory so the repository's own evalcore cannot be imported.
    done = subprocess.run(
        [str(python), "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(venv) in done.stdout
