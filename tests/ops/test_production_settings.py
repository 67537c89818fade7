"""`manage.py check --deploy` with the production environment docs/deploy.md lists."""

from __future__ import annotations

import os
import re
import subprocess

from tests.e2e.server import REPO_ROOT

DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"
CHECK_LINE = "python manage.py check --deploy --fail-level WARNING"


def documented_environment_script() -> str:
    """The shell block of docs/deploy.md's "Production environment" section."""
    section = DEPLOY_DOC.read_text().split("## Production environment", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "docs/deploy.md has no production environment block"
    script = match.group(1)
    assert CHECK_LINE in script
    return script


def run_check(script: str) -> subprocess.CompletedProcess[str]:
    # Only what the block sets: nothing of the test run's own configuration leaks in.
    environment = {"PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-euc", script],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_documented_production_environment_passes_check_deploy():
    done = run_check(documented_environment_script())

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_check_deploy_names_a_tls_setting_left_off():
    script = documented_environment_script().replace(
        "export SIDEKICK_SECURE_COOKIES=1", "export SIDEKICK_SECURE_COOKIES=0"
    )

    done = run_check(script)

    assert done.returncode != 0
    assert "security.W012" in done.stderr and "security.W016" in done.stderr
