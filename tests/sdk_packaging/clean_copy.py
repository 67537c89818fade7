"""A copy of part of the repository as a fresh clone would have it: no build output, no caches.

The packaging tests install the SDKs from such a copy, so an artefact left over from a developer's
own build (a compiled addon, a dist/ folder, an egg-info) can never make a broken package pass.
The copy takes the working tree's version of every file git tracks or would track (new files not
yet committed included, ignored files excluded), and is itself a git repository, so a test can ask
`git status` what an install left behind.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout


def clean_copy(destination: Path, *paths: str) -> Path:
    """Copies `paths` (and the root .gitignore) into `destination`, commits them, returns it."""
    listed = _git(
        REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths
    )
    names = [name for name in listed.split("\0") if name]
    names.append(".gitignore")
    for name in names:
        source = REPO_ROOT / name
        if not source.is_file():  # deleted in the working tree, not yet in git
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    _git(destination, "init", "--quiet")
    _git(destination, "add", "--all")
    _git(
        destination,
        "-c",
        "user.name=packaging test",
        "-c",
        "user.email=packaging-test@localhost",
        "commit",
        "--quiet",
        "--message",
        "clean copy",
    )
    return destination


def git_status(checkout: Path) -> list[str]:
    """Every untracked, ignored or changed path (`git status --porcelain --ignored`)."""
    return _git(checkout, "status", "--porcelain", "--ignored").splitlines()
